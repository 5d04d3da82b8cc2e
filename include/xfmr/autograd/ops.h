// Differentiable tensor operations (the torch.* / torch.nn.functional building blocks). Each op
// computes with the CPU kernels and, when gradients are being recorded and an input requires
// them, records its backward function. Semantics (broadcasting, dims, defaults) follow PyTorch.
#pragma once

#include <vector>

#include "xfmr/autograd/autograd.h"
#include "xfmr/core/random.h"
#include "xfmr/core/tensor.h"

namespace xfmr {

// ---- arithmetic (broadcasting) ----
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor add(const Tensor& a, float s);
Tensor mul(const Tensor& a, float s);
Tensor neg(const Tensor& a);
inline Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
inline Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
inline Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
inline Tensor operator+(const Tensor& a, float s) { return add(a, s); }
inline Tensor operator-(const Tensor& a, float s) { return add(a, -s); }
inline Tensor operator*(const Tensor& a, float s) { return mul(a, s); }
inline Tensor operator*(float s, const Tensor& a) { return mul(a, s); }
inline Tensor operator/(const Tensor& a, float s) { return mul(a, 1.0f / s); }
inline Tensor operator-(const Tensor& a) { return neg(a); }

// ---- element-wise functions ----
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor rsqrt(const Tensor& x);
Tensor square(const Tensor& x);
Tensor pow(const Tensor& x, float exponent);
Tensor tanh(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor relu(const Tensor& x);
Tensor gelu(const Tensor& x, bool tanh_approximation = false);  // F.gelu(x, approximate="none"|"tanh")
Tensor silu(const Tensor& x);
// x where mask is false, value where it is true (mask not differentiable).
Tensor masked_fill(const Tensor& x, const Tensor& mask, float value);

// ---- linear algebra ----
Tensor matmul(const Tensor& a, const Tensor& b);
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());

// ---- reductions ----
Tensor sum(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor mean(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);

// ---- shape (views where the core allows; gradients flow back through them) ----
Tensor reshape(const Tensor& x, const Shape& shape);
Tensor transpose(const Tensor& x, int64_t d0, int64_t d1);
Tensor permute(const Tensor& x, const std::vector<int64_t>& dims);
Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length);
Tensor select(const Tensor& x, int64_t dim, int64_t index);
Tensor unsqueeze(const Tensor& x, int64_t dim);
Tensor squeeze(const Tensor& x, int64_t dim);
Tensor expand(const Tensor& x, const Shape& shape);
Tensor contiguous(const Tensor& x);
Tensor flatten(const Tensor& x, int64_t start_dim = 0, int64_t end_dim = -1);
Tensor cat(const std::vector<Tensor>& xs, int64_t dim);
Tensor stack(const std::vector<Tensor>& xs, int64_t dim);
std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t dim);

// ---- neural-network functions ----
Tensor softmax(const Tensor& x, int64_t dim = -1);
Tensor log_softmax(const Tensor& x, int64_t dim = -1);
Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps = 1e-5f);
Tensor rms_norm(const Tensor& x, const Tensor& weight, float eps = 1e-6f);
// Rows of `weight` for integer ids; gradient rows of padding_idx stay zero.
Tensor embedding(const Tensor& weight, const Tensor& ids, int64_t padding_idx = -1);
// Identity unless training && p > 0.
Tensor dropout(const Tensor& x, float p, bool training, Generator& gen = default_generator());

// Scaled dot-product attention on [B, H, L, D] tensors. `additive_mask` broadcastable to
// [B, H, L, S] (0 / -inf or large negative); `causal` hides future keys. When `probs` is non-null
// it receives the attention probabilities [B, H, L, S] (after dropout, as PyTorch returns them).
// Dropout on the probabilities (training) falls back to separate differentiable ops.
Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                    const Tensor& additive_mask = Tensor(), bool causal = false,
                                    float scale = -1.0f,  // < 0: 1/sqrt(D)
                                    float dropout_p = 0.0f, bool training = false, Tensor* probs = nullptr,
                                    Generator& gen = default_generator());

}  // namespace xfmr
