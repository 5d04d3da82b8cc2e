// Reductions on f32 tensors (sum/mean/max accumulate in double-free, fixed order: results are
// identical for a given thread count).
#pragma once

#include <vector>

#include "xfmr/core/tensor.h"

namespace xfmr::kernels {

// Sum / mean over `dims` (empty = all). keepdim keeps reduced dims with size 1.
Tensor sum(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor mean(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
// Sums `x` down to `shape` (the inverse of broadcasting; used by backward passes).
Tensor sum_to_shape(const Tensor& x, const Shape& shape);

// Max along one dim: values and (i64) indices of the first maximum.
struct MaxResult {
  Tensor values, indices;
};
MaxResult max(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim = false);
float max_all(const Tensor& x);

// k largest (or smallest) along `dim`, sorted descending (ascending); ties keep the lower index
// first, like torch.topk on CPU.
struct TopKResult {
  Tensor values, indices;
};
TopKResult topk(const Tensor& x, int64_t k, int64_t dim = -1, bool largest = true);

// Sum of squares of all elements (f64 accumulation) - for gradient-norm clipping.
double sum_of_squares(const Tensor& x);

}  // namespace xfmr::kernels
