// Differentiable losses (torch.nn.functional.cross_entropy / nll_loss / mse_loss), backed by the
// fused kernels in xfmr/kernels/loss.h: cross_entropy never materialises log-softmax, and its
// backward writes d loss / d logits in one pass.
#pragma once

#include <cstdint>

#include "xfmr/autograd/autograd.h"
#include "xfmr/kernels/loss.h"

namespace xfmr {

// input [N, C] (or [C] with a 0-dim target, or [N, C, d1, ...] with target [N, d1, ...]) of raw
// logits; target holds class indices (i64/i32). weight: optional [C] class weights.
// label_smoothing eps mixes in the uniform distribution:
//   loss_i = (1 - eps) * w[t_i] * nll_i + eps / C * sum_c w_c * (-log_softmax(x_i)_c)
// Mean reduction divides by the summed weight of the non-ignored targets (their count without
// weights). Rows with target == ignore_index contribute neither term.
Tensor cross_entropy(const Tensor& input, const Tensor& target, const Tensor& weight = Tensor(),
                     int64_t ignore_index = -100, Reduction reduction = Reduction::Mean, float label_smoothing = 0.0f);

// input: log-probabilities, same layouts as cross_entropy.
Tensor nll_loss(const Tensor& input, const Tensor& target, const Tensor& weight = Tensor(), int64_t ignore_index = -100,
                Reduction reduction = Reduction::Mean);

// (input - target)^2, reduced; differentiable w.r.t. both. Shapes must match.
Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean);

}  // namespace xfmr
