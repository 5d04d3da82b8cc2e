#include "xfmr/nn/layers.h"

#include <cmath>

#include "xfmr/autograd/ops.h"
#include "xfmr/nn/init.h"

namespace xfmr::nn {

Linear::Linear(int64_t in, int64_t out, bool has_bias) : in_features(in), out_features(out) {
  XFMR_CHECK(in > 0 && out > 0, "Linear: features must be positive, got in=", in, " out=", out);
  weight = Tensor::empty({out, in});
  if (has_bias) bias = Tensor::empty({out});
  reset_parameters();
  register_parameter("weight", &weight);
  register_parameter("bias", &bias);
}

void Linear::reset_parameters(Generator& gen) {
  // torch: kaiming_uniform_(weight, a=sqrt(5)) == U(-1/sqrt(in), 1/sqrt(in)); same bound for bias.
  init::kaiming_uniform_(weight, std::sqrt(5.0f), gen);
  if (bias.defined()) {
    float bound = 1.0f / std::sqrt(static_cast<float>(in_features));
    init::uniform_(bias, -bound, bound, gen);
  }
}

Tensor Linear::forward(const Tensor& x) const { return linear(x, weight, bias); }

Embedding::Embedding(int64_t num, int64_t dim, int64_t pad)
    : num_embeddings(num), embedding_dim(dim), padding_idx(pad < 0 && pad != -1 ? pad + num : pad) {
  XFMR_CHECK(num > 0 && dim > 0, "Embedding: sizes must be positive, got ", num, " x ", dim);
  XFMR_CHECK(padding_idx >= -1 && padding_idx < num, "Embedding: padding_idx ", pad, " out of range for ", num,
             " embeddings");
  weight = Tensor::empty({num, dim});
  init::normal_(weight, 0.0f, 1.0f);
  if (padding_idx >= 0) weight.select(0, padding_idx).fill_(0.0);
  register_parameter("weight", &weight);
}

Tensor Embedding::forward(const Tensor& ids) const { return embedding(weight, ids, padding_idx); }

LayerNorm::LayerNorm(int64_t n, float e, bool affine, bool has_bias) : size(n), eps(e) {
  if (affine) {
    weight = Tensor::ones({n});
    if (has_bias) bias = Tensor::zeros({n});
  }
  register_parameter("weight", &weight);
  register_parameter("bias", &bias);
}

Tensor LayerNorm::forward(const Tensor& x) const {
  XFMR_CHECK(x.dim() >= 1 && x.size(-1) == size, "LayerNorm(", size, "): input ", x.describe(),
             " has a different last dimension");
  return layer_norm(x, weight, bias, eps);
}

Dropout::Dropout(float prob) : p(prob) {
  XFMR_CHECK(p >= 0.0f && p <= 1.0f, "Dropout: probability has to be between 0 and 1, but got ", p);
}

Tensor Dropout::forward(const Tensor& x) const {
  return dropout(x, p, is_training(), generator ? *generator : default_generator());
}

Activation activation_from_name(const std::string& name) {
  if (name == "relu") return Activation::Relu;
  if (name == "gelu") return Activation::Gelu;
  if (name == "gelu_new" || name == "gelu_tanh" || name == "gelu_pytorch_tanh" || name == "gelu_fast")
    return Activation::GeluTanh;
  if (name == "silu" || name == "swish") return Activation::Silu;
  if (name == "tanh") return Activation::Tanh;
  if (name == "sigmoid") return Activation::Sigmoid;
  detail::fail("unknown activation function '", name,
               "' (supported: relu, gelu, gelu_new, gelu_pytorch_tanh, silu/swish, tanh, sigmoid)");
}

Tensor apply_activation(Activation a, const Tensor& x) {
  switch (a) {
    case Activation::Relu: return relu(x);
    case Activation::Gelu: return gelu(x, false);
    case Activation::GeluTanh: return gelu(x, true);
    case Activation::Silu: return silu(x);
    case Activation::Tanh: return tanh(x);
    case Activation::Sigmoid: return sigmoid(x);
  }
  detail::fail("apply_activation: unknown activation");
}

}  // namespace xfmr::nn
