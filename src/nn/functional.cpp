#include "xfmr/nn/functional.h"

#include <cmath>

#include "xfmr/kernels/elementwise.h"

namespace xfmr::nn::functional {

Tensor cross_entropy(const Tensor& input, const Tensor& target, const CrossEntropyOptions& o) {
  return xfmr::cross_entropy(input, target, o.weight, o.ignore_index, o.reduction, o.label_smoothing);
}

Tensor nll_loss(const Tensor& input, const Tensor& target, const NllLossOptions& o) {
  return xfmr::nll_loss(input, target, o.weight, o.ignore_index, o.reduction);
}

Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction) {
  return xfmr::mse_loss(input, target, reduction);
}

Tensor generate_square_subsequent_mask(int64_t n) {
  XFMR_CHECK(n >= 0, "generate_square_subsequent_mask: size must be non-negative, got ", n);
  Tensor m = Tensor::zeros({n, n});
  float* p = m.data<float>();
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = i + 1; j < n; ++j) p[i * n + j] = -INFINITY;
  return m;
}

Tensor to_additive_mask(const Tensor& mask) {
  XFMR_CHECK(mask.defined(), "to_additive_mask: undefined mask");
  if (mask.dtype() == DType::Bool || mask.dtype() == DType::U8) {
    Tensor m = mask.dtype() == DType::Bool ? mask : mask.to(DType::Bool);
    return kernels::masked_fill(Tensor::zeros(mask.shape()), m, -INFINITY);
  }
  XFMR_CHECK(is_floating(mask.dtype()), "to_additive_mask: only bool, uint8 and floating masks are supported, got ",
             mask.describe());
  return mask.dtype() == DType::F32 ? mask : mask.to(DType::F32);
}

}  // namespace xfmr::nn::functional
