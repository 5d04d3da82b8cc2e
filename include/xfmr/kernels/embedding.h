// Embedding lookup (row gather) and its gradient (deterministic scatter-add).
#pragma once

#include "xfmr/core/tensor.h"

namespace xfmr::kernels {

// out[..., :] = weight[ids[...], :]; ids i64 or i32; weight f32/f16/bf16 (converted to f32).
// An id outside [0, rows) is an error naming it.
Tensor embedding(const Tensor& weight, const Tensor& ids);
// dweight[rows, dim] = sum of grad rows per id; the row `padding_idx` (if >= 0) gets zero.
Tensor embedding_backward(const Tensor& grad, const Tensor& ids, int64_t num_rows, int64_t padding_idx = -1);

}  // namespace xfmr::kernels
