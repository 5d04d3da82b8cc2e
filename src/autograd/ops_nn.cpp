// Neural-network functions: softmax family, normalisation, embedding, dropout, attention.
#include <cmath>

#include "record.h"
#include "xfmr/autograd/ops.h"
#include "xfmr/kernels/kernels.h"

namespace xfmr {

using autograd::BackwardContext;
using autograd::record;
using autograd::saved;
using autograd::should_record;
namespace k = kernels;

Tensor softmax(const Tensor& x, int64_t dim) {
  Tensor y = k::softmax(x, dim);
  if (should_record({&x})) {
    Tensor sy = saved(y);
    record("SoftmaxBackward", {x}, {y}, [sy, dim](const BackwardContext& c) -> std::vector<Tensor> {
      return {k::softmax_backward(c.grad(), sy, dim)};
    });
  }
  return y;
}

Tensor log_softmax(const Tensor& x, int64_t dim) {
  Tensor y = k::log_softmax(x, dim);
  if (should_record({&x})) {
    Tensor sy = saved(y);
    record("LogSoftmaxBackward", {x}, {y}, [sy, dim](const BackwardContext& c) -> std::vector<Tensor> {
      return {k::log_softmax_backward(c.grad(), sy, dim)};
    });
  }
  return y;
}

Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps) {
  auto r = k::layer_norm(x, weight, bias, eps);
  if (should_record({&x, &weight, &bias})) {
    Tensor sx = saved(x), sw = saved(weight), mean = r.mean, rstd = r.rstd;
    bool has_w = weight.defined(), has_b = bias.defined();
    record("LayerNormBackward", {x, weight, bias}, {r.y},
           [sx, sw, mean, rstd, has_w, has_b](const BackwardContext& c) -> std::vector<Tensor> {
             auto g = k::layer_norm_backward(c.grad(), sx, mean, rstd, sw, c.need(1) || c.need(2));
             return {g.dx, has_w ? g.dweight : Tensor(), has_b ? g.dbias : Tensor()};
           });
  }
  return r.y;
}

Tensor rms_norm(const Tensor& x, const Tensor& weight, float eps) {
  auto r = k::rms_norm(x, weight, eps);
  if (should_record({&x, &weight})) {
    Tensor sx = saved(x), sw = saved(weight), rstd = r.rstd;
    record("RmsNormBackward", {x, weight}, {r.y}, [sx, sw, rstd](const BackwardContext& c) -> std::vector<Tensor> {
      auto g = k::rms_norm_backward(c.grad(), sx, rstd, sw);
      return {g.dx, g.dweight};
    });
  }
  return r.y;
}

Tensor embedding(const Tensor& weight, const Tensor& ids, int64_t padding_idx) {
  Tensor y = k::embedding(weight, ids);
  if (should_record({&weight})) {
    Tensor sids = saved(ids);
    int64_t rows = weight.size(0);
    record("EmbeddingBackward", {weight}, {y}, [sids, rows, padding_idx](const BackwardContext& c) -> std::vector<Tensor> {
      return {k::embedding_backward(c.grad(), sids, rows, padding_idx)};
    });
  }
  return y;
}

Tensor dropout(const Tensor& x, float p, bool training, Generator& gen) {
  XFMR_CHECK(p >= 0.0f && p <= 1.0f, "dropout: probability has to be between 0 and 1, got ", p);
  if (!training || p == 0.0f) return x;
  Tensor mask;
  Tensor y = k::dropout(x, p, gen, &mask);
  if (should_record({&x})) {
    record("DropoutBackward", {x}, {y}, [mask, p](const BackwardContext& c) -> std::vector<Tensor> {
      return {k::dropout_backward(c.grad(), mask, p)};
    });
  }
  return y;
}

Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k_, const Tensor& v, const Tensor& additive_mask,
                                    bool causal, float scale, float dropout_p, bool training, Tensor* probs,
                                    Generator& gen) {
  if (scale < 0.0f) scale = 1.0f / std::sqrt(static_cast<float>(q.size(-1)));
  if (training && dropout_p > 0.0f) {
    // Dropout on the probabilities: compose differentiable ops (training-only path).
    Tensor scores = mul(matmul(q, transpose(k_, -2, -1)), scale);
    if (additive_mask.defined()) scores = add(scores, additive_mask);
    if (causal) {
      int64_t L = q.size(-2), S = k_.size(-2);
      Tensor cm = Tensor::zeros({L, S}, DType::Bool);
      auto* pm = static_cast<uint8_t*>(cm.raw_data());
      for (int64_t i = 0; i < L; ++i)
        for (int64_t j = S - L + i + 1; j < S; ++j) pm[i * S + j] = 1;
      scores = masked_fill(scores, cm, -INFINITY);
    }
    Tensor p = dropout(softmax(scores, -1), dropout_p, true, gen);
    if (probs) *probs = p;
    return matmul(p, v);
  }
  bool rec = should_record({&q, &k_, &v});
  auto r = k::scaled_dot_product_attention(q, k_, v, {additive_mask, causal}, scale, rec || probs != nullptr);
  if (probs) *probs = r.probs;
  if (rec) {
    Tensor sq = saved(q), sk = saved(k_), sv = saved(v), sp = r.probs;
    record("ScaledDotProductAttentionBackward", {q, k_, v}, {r.out},
           [sq, sk, sv, sp, scale](const BackwardContext& c) -> std::vector<Tensor> {
             auto g = k::scaled_dot_product_attention_backward(c.grad(), sq, sk, sv, sp, scale);
             return {g.dq, g.dk, g.dv};
           });
  }
  return r.out;
}

}  // namespace xfmr
