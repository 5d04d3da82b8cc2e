// Fused loss kernels (f32): cross-entropy over logits (log-softmax + NLL + label smoothing +
// ignore_index + class weights in one pass per row, no [N, C] log-probability tensor), NLL over
// log-probabilities, and mean-squared error. Semantics follow torch.nn.functional (PyTorch 1.13).
#pragma once

#include <cstdint>

#include "xfmr/core/tensor.h"

namespace xfmr {

// How a per-element loss is reduced (torch's reduction='none' | 'mean' | 'sum').
enum class Reduction { None, Mean, Sum };
// "none", "mean", "sum" (throws naming the value otherwise).
Reduction reduction_from_name(const char* name);

namespace kernels {

struct CrossEntropyResult {
  Tensor loss;   // scalar (mean/sum) or [N] (none)
  Tensor lse;    // [N] f32 log-sum-exp of every row (saved for the backward pass)
  double denom;  // mean: sum of the target weights of the non-ignored rows (their count without
                 // class weights); 1 for sum/none
};

// logits [N, C] (any strides; rows are made contiguous once), target [N] i64/i32 class indices,
// weight [C] f32 or undefined. Rows whose target == ignore_index contribute nothing (mean divides
// by the weight of the other rows; all rows ignored gives NaN like PyTorch).
//   loss_i = (1 - eps) * w[t_i] * (lse_i - x[i, t_i]) + eps / C * sum_c w_c (lse_i - x[i, c])
CrossEntropyResult cross_entropy(const Tensor& logits, const Tensor& target, const Tensor& weight,
                                 int64_t ignore_index, Reduction reduction, float label_smoothing);

// d loss / d logits [N, C] for the upstream gradient `grad` (scalar for mean/sum, [N] for none).
Tensor cross_entropy_backward(const Tensor& grad, const Tensor& logits, const Tensor& target, const Tensor& weight,
                              const Tensor& lse, int64_t ignore_index, Reduction reduction, float label_smoothing,
                              double denom);

struct NllLossResult {
  Tensor loss;
  double denom;
};
// log_probs [N, C], target [N]: loss_i = -w[t_i] * log_probs[i, t_i] (ignored rows: 0).
NllLossResult nll_loss(const Tensor& log_probs, const Tensor& target, const Tensor& weight, int64_t ignore_index,
                       Reduction reduction);
Tensor nll_loss_backward(const Tensor& grad, const Shape& input_shape, const Tensor& target, const Tensor& weight,
                         int64_t ignore_index, Reduction reduction, double denom);

// Mean-squared error between same-shape tensors: (x - y)^2 reduced. Accumulates in f64.
Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction);
// Gradient w.r.t. input (the gradient w.r.t. target is its negation): 2 (x - y) g [/ numel].
Tensor mse_loss_backward(const Tensor& grad, const Tensor& input, const Tensor& target, Reduction reduction);

}  // namespace kernels
}  // namespace xfmr
