// torch.nn.utils.clip_grad_norm_: rescales the gradients of `params` so that their total norm is at
// most max_norm, and returns the total norm before clipping.
#pragma once

#include <vector>

#include "xfmr/core/tensor.h"

namespace xfmr::optim {

// total = || (||g_p||)_p ||  over the parameters that have a gradient (norm_type 2 by default,
// INFINITY for the max-norm); coef = max_norm / (total + 1e-6); every gradient is multiplied by
// coef when coef < 1. Like PyTorch, the per-parameter and total norms are f32 values. A non-finite
// total throws when error_if_nonfinite (and otherwise propagates NaN into the gradients, as torch).
float clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type = 2.0,
                      bool error_if_nonfinite = false);

// torch.nn.utils.clip_grad_value_: clamps every gradient element to [-clip_value, clip_value].
void clip_grad_value_(const std::vector<Tensor>& params, double clip_value);

}  // namespace xfmr::optim
