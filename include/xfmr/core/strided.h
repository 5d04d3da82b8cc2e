// Iteration over strided N-d index spaces, one innermost row at a time. Kernels use this to support
// arbitrary views (transposed, sliced, broadcast with stride 0) without copying first.
#pragma once

#include <array>
#include <cstdint>

#include "xfmr/core/shape.h"

namespace xfmr {

// Visits every row of `shape` (all dims but the last) and calls
//   fn(const int64_t* offsets, int64_t n, const int64_t* inner_strides)
// where offsets[k] is the element offset of the row's first element in operand k, n the row length
// and inner_strides[k] operand k's stride along the last dim. Adjacent dims that are contiguous in
// every operand are merged first, so contiguous tensors are visited as a single long row.
template <size_t K, typename Fn>
void for_each_row(const Shape& shape, const std::array<Shape, K>& strides, Fn&& fn) {
  // Coalesce dims (from the innermost outwards), dropping size-1 dims.
  int64_t sizes[Shape::kMaxDims];
  int64_t st[K][Shape::kMaxDims];
  int nd = 0;
  for (int d = shape.size() - 1; d >= 0; --d) {
    if (shape[d] == 1) continue;
    if (shape[d] == 0) return;
    bool merge = nd > 0;
    for (size_t k = 0; k < K && merge; ++k) merge = strides[k][d] == st[k][nd - 1] * sizes[nd - 1];
    if (merge) {
      sizes[nd - 1] *= shape[d];
    } else {
      sizes[nd] = shape[d];
      for (size_t k = 0; k < K; ++k) st[k][nd] = strides[k][d];
      ++nd;
    }
  }
  int64_t offsets[K] = {};
  if (nd == 0) {  // a single element
    int64_t one[K] = {};
    fn(offsets, int64_t{1}, one);
    return;
  }
  // sizes[0] / st[k][0] are now the innermost dim.
  int64_t inner[K];
  for (size_t k = 0; k < K; ++k) inner[k] = st[k][0];
  int64_t idx[Shape::kMaxDims] = {};
  for (;;) {
    fn(offsets, sizes[0], inner);
    int d = 1;
    for (; d < nd; ++d) {
      ++idx[d];
      for (size_t k = 0; k < K; ++k) offsets[k] += st[k][d];
      if (idx[d] < sizes[d]) break;
      for (size_t k = 0; k < K; ++k) offsets[k] -= st[k][d] * sizes[d];
      idx[d] = 0;
    }
    if (d >= nd) return;
  }
}

}  // namespace xfmr
