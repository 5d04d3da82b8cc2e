// Differentiable helpers for multi-head attention layouts (used by nn::MultiheadAttention).
#pragma once

#include <cstdint>
#include <vector>

#include "xfmr/autograd/autograd.h"

namespace xfmr {

// Splits a packed projection [A, B, chunks * E] - [T, N, .] when batch_first is false, [N, T, .]
// when true - into `chunks` per-head tensors [N, num_heads, T, E / num_heads]. The results are
// strided views of `packed` (no copy; the attention kernel reads them in place). The backward pass
// writes the gradients of all chunks into one packed [A, B, chunks * E] buffer.
std::vector<Tensor> split_heads(const Tensor& packed, int64_t chunks, int64_t num_heads, bool batch_first);

// The inverse layout change: [N, H, T, D] -> contiguous [T, N, H * D] (or [N, T, H * D]).
Tensor merge_heads(const Tensor& x, bool batch_first);

}  // namespace xfmr
