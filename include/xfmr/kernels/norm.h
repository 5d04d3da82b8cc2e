// Layer normalisation over the last dimension (PyTorch's F.layer_norm: biased variance, eps inside
// the square root) and T5's RMS norm.
#pragma once

#include "xfmr/core/tensor.h"

namespace xfmr::kernels {

struct LayerNormResult {
  Tensor y;
  Tensor mean, rstd;  // [rows] f32, saved for the backward pass
};
// weight/bias may be undefined (no affine transform).
LayerNormResult layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps);

struct LayerNormGrads {
  Tensor dx, dweight, dbias;
};
LayerNormGrads layer_norm_backward(const Tensor& grad_y, const Tensor& x, const Tensor& mean, const Tensor& rstd,
                                   const Tensor& weight, bool need_weight_grads);

// y = x / sqrt(mean(x^2) + eps) * weight (no mean subtraction, no bias).
struct RmsNormResult {
  Tensor y, rstd;
};
RmsNormResult rms_norm(const Tensor& x, const Tensor& weight, float eps);
struct RmsNormGrads {
  Tensor dx, dweight;
};
RmsNormGrads rms_norm_backward(const Tensor& grad_y, const Tensor& x, const Tensor& rstd, const Tensor& weight);

}  // namespace xfmr::kernels
