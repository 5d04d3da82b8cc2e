// Fused scaled-dot-product attention: out = softmax(scale * q k^T + mask) v.
//
// q [B, H, L, D], k [B, H, S, D], v [B, H, S, Dv] (any strides with unit inner stride). Query rows are
// processed in blocks, so the [H, L, S] score tensor is never materialised unless the caller asks for
// the probabilities (need_weights, or training which needs them for the backward pass).
#pragma once

#include "xfmr/core/tensor.h"

namespace xfmr::kernels {

struct AttentionMask {
  // Additive f32 mask broadcastable to [B, H, L, S] (0 = keep, -inf = drop); undefined = none.
  Tensor additive;
  // Causal: query i (absolute position past + i) sees keys j <= past + i, with past = S - L.
  bool causal = false;
};

struct AttentionResult {
  Tensor out;    // [B, H, L, Dv]
  Tensor probs;  // [B, H, L, S] when requested
};

// scale: multiplier of q·k (PyTorch/HF use 1/sqrt(D); T5 uses 1).
AttentionResult scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                             const AttentionMask& mask, float scale, bool return_probs);

struct AttentionGrads {
  Tensor dq, dk, dv;
};
// Gradients from the saved probabilities (as returned by the forward pass). Attention with dropout on
// the probabilities is composed from separate ops by the autograd layer instead.
AttentionGrads scaled_dot_product_attention_backward(const Tensor& grad_out, const Tensor& q, const Tensor& k,
                                                     const Tensor& v, const Tensor& probs, float scale);

}  // namespace xfmr::kernels
