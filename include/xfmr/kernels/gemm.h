// Matrix products on f32, backed by oneDNN's matmul primitive (chosen by measurement, see
// docs/performance.md). Primitives are created once per shape and cached. All matrices are
// row-major; a transposed operand is read through its strides, never copied.
#pragma once

#include <cstdint>

#include "xfmr/core/tensor.h"

namespace xfmr::kernels {

// C[m,n] = alpha * op(A)[m,k] op(B)[k,n] + beta * C, op(X) = X or X^T. lda/ldb/ldc are row strides
// of A, B, C as stored. When beta == 0, C is not read (it may hold garbage or NaN).
void sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
           const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

// `batch` independent products; operand i starts at base + i * stride_x.
void sgemm_batched(int64_t batch, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                   const float* a, int64_t lda, int64_t stride_a, const float* b, int64_t ldb, int64_t stride_b,
                   float beta, float* c, int64_t ldc, int64_t stride_c);

// torch.matmul semantics: 1-D x 1-D dot, 2-D x 2-D, batched with broadcast of leading dims.
// Inputs of any layout (non-unit inner strides are copied first).
Tensor matmul(const Tensor& a, const Tensor& b);

// y[..., out] = x[..., in] · w[out, in]^T + bias[out] (torch.nn.functional.linear).
Tensor linear(const Tensor& x, const Tensor& w, const Tensor& bias = Tensor());

// Number of oneDNN primitives currently cached (for tests and diagnostics).
size_t gemm_cache_size();

}  // namespace xfmr::kernels
