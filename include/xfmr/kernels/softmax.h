// Numerically stable softmax / log-softmax along one dimension (max subtracted first).
#pragma once

#include "xfmr/core/tensor.h"

namespace xfmr::kernels {

Tensor softmax(const Tensor& x, int64_t dim = -1);
Tensor log_softmax(const Tensor& x, int64_t dim = -1);
// dx = y * (dy - sum(dy * y))
Tensor softmax_backward(const Tensor& grad_y, const Tensor& y, int64_t dim = -1);
// dx = dy - exp(y) * sum(dy)
Tensor log_softmax_backward(const Tensor& grad_y, const Tensor& y, int64_t dim = -1);

}  // namespace xfmr::kernels
