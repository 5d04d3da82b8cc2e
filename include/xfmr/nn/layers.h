// Basic layers with torch.nn's constructor arguments, defaults, initialisation and state_dict
// names: Linear, Embedding, LayerNorm, Dropout, ReLU, GELU.
#pragma once

#include <cstdint>
#include <string>

#include "xfmr/core/random.h"
#include "xfmr/nn/module.h"

namespace xfmr::nn {

// y = x W^T + b; weight [out_features, in_features], bias [out_features].
class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, bool bias = true);
  Tensor forward(const Tensor& x) const;
  Tensor operator()(const Tensor& x) const { return forward(x); }
  std::string type_name() const override { return "Linear"; }
  void reset_parameters(Generator& gen = default_generator());

  int64_t in_features, out_features;
  Tensor weight, bias;
};

// Lookup table; the padding_idx row is initialised to zero and receives no gradient.
class Embedding : public Module {
 public:
  Embedding(int64_t num_embeddings, int64_t embedding_dim, int64_t padding_idx = -1);
  Tensor forward(const Tensor& ids) const;
  Tensor operator()(const Tensor& ids) const { return forward(ids); }
  std::string type_name() const override { return "Embedding"; }

  int64_t num_embeddings, embedding_dim, padding_idx;
  Tensor weight;
};

// Normalises over the last dimension (normalized_shape = [size]).
class LayerNorm : public Module {
 public:
  explicit LayerNorm(int64_t size, float eps = 1e-5f, bool elementwise_affine = true, bool bias = true);
  Tensor forward(const Tensor& x) const;
  Tensor operator()(const Tensor& x) const { return forward(x); }
  std::string type_name() const override { return "LayerNorm"; }

  int64_t size;
  float eps;
  Tensor weight, bias;
};

// Zeroes elements with probability p in training mode (scaling the rest by 1/(1-p)); identity in
// eval mode. Draws from `generator` (default: xfmr::default_generator()).
class Dropout : public Module {
 public:
  explicit Dropout(float p = 0.5f);
  Tensor forward(const Tensor& x) const;
  Tensor operator()(const Tensor& x) const { return forward(x); }
  std::string type_name() const override { return "Dropout"; }

  float p;
  Generator* generator = nullptr;
};

// Activation by name: "relu", "gelu" (erf), "gelu_tanh"/"gelu_new"/"gelu_pytorch_tanh", "silu"/"swish",
// "tanh", "sigmoid"; unknown names throw naming the activation.
enum class Activation { Relu, Gelu, GeluTanh, Silu, Tanh, Sigmoid };
Activation activation_from_name(const std::string& name);
Tensor apply_activation(Activation a, const Tensor& x);

}  // namespace xfmr::nn
