// Linear layers whose weights stay in their stored half-precision dtype (f16 / bf16), e.g. a
// memory-mapped f16 checkpoint used without upcasting it at load (half the resident memory).
// Blocks of weight rows are converted to f32 in a per-thread scratch buffer and multiplied with
// oneDNN's f32 GEMM, so results are exactly those of the upcast f32 weight (the conversion is exact).
#pragma once

#include "xfmr/core/tensor.h"

namespace xfmr::kernels {

// y[..., out] = x[..., in] · w[out, in]^T + bias[out]. x f32; w f16/bf16/f32 with any strides
// (e.g. the transposed view of a GPT-2 Conv1D [in, out] weight); bias f32 (or undefined).
// Not differentiable (inference path).
Tensor linear_lowp_weight(const Tensor& x, const Tensor& w, const Tensor& bias = Tensor());

}  // namespace xfmr::kernels
