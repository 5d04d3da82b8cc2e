// Half-precision-weight linear: convert a block of weight rows to f32, multiply, repeat.
// Work is split over blocks of output features; each thread converts its own blocks into its own
// scratch and runs a single-threaded GEMM on them (oneDNN runs serially inside parallel regions),
// so the weight is read once per call, in parallel, whatever the number of tokens.
#include "xfmr/kernels/linear_lowp.h"

#include <algorithm>
#include <cstring>
#include <vector>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "xfmr/core/parallel.h"
#include "xfmr/kernels/gemm.h"

namespace xfmr::kernels {
namespace {

// Converts n contiguous half values to f32.
void convert_row(DType dt, const uint16_t* src, float* dst, int64_t n) {
  int64_t i = 0;
  if (dt == DType::BF16) {
#if defined(__AVX512F__)
    for (; i + 16 <= n; i += 16) {
      __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i));
      __m512i w = _mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16);
      _mm512_storeu_ps(dst + i, _mm512_castsi512_ps(w));
    }
#endif
    for (; i < n; ++i) dst[i] = bf16_to_f32(src[i]);
  } else {
#if defined(__AVX512F__)
    for (; i + 16 <= n; i += 16) {
      __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i));
      _mm512_storeu_ps(dst + i, _mm512_cvtph_ps(h));
    }
#endif
    for (; i < n; ++i) dst[i] = f16_to_f32(src[i]);
  }
}

float convert_one(DType dt, uint16_t v) { return dt == DType::BF16 ? bf16_to_f32(v) : f16_to_f32(v); }

}  // namespace

Tensor linear_lowp_weight(const Tensor& x, const Tensor& w, const Tensor& bias) {
  const char* op = "linear_lowp_weight";
  if (w.dtype() == DType::F32) return linear(x, w, bias);
  check_dtype(x, DType::F32, op, "input");
  check_dim(w, 2, op, "weight");
  XFMR_CHECK(w.dtype() == DType::F16 || w.dtype() == DType::BF16, op, ": weight must be f16, bf16 or f32, got ",
             w.describe());
  XFMR_CHECK(x.dim() >= 1 && x.size(-1) == w.size(1), op, ": input ", x.describe(), " does not match weight ",
             w.describe(), " (expected last dimension ", w.size(1), ")");
  const int64_t in = w.size(1), outf = w.size(0);
  if (bias.defined()) {
    check_dtype(bias, DType::F32, op, "bias");
    XFMR_CHECK(bias.dim() == 1 && bias.size(0) == outf, op, ": bias ", bias.describe(), " does not match weight ",
               w.describe());
  }
  Tensor x2 = x.reshape({-1, in}).contiguous();
  const int64_t rows = x2.size(0);
  Shape out_shape = x.shape();
  out_shape[out_shape.size() - 1] = outf;
  Tensor out = Tensor::empty(out_shape);
  if (out.numel() == 0) return out;
  Tensor bc = bias.defined() ? bias.contiguous() : Tensor();
  const float* pb = bc.defined() ? bc.data<float>() : nullptr;
  const float* px = x2.data<float>();
  float* po = out.data<float>();
  const DType dt = w.dtype();
  const auto* pw = static_cast<const uint16_t*>(w.raw_data());
  const int64_t s0 = w.stride(0), s1 = w.stride(1);
  const bool row_major = s1 == 1;  // [out, in] rows contiguous (nn.Linear layout)
  const bool col_major = !row_major && s0 == 1;  // transposed view of an [in, out] tensor (Conv1D)
  // ~256 KiB of f32 per block: stays in L2 while the GEMM reads it.
  const int64_t block = std::max<int64_t>(16, std::min<int64_t>(outf, (64 * 1024) / std::max<int64_t>(in, 1)));
  const int64_t nblocks = (outf + block - 1) / block;
  parallel_for(0, nblocks, 1, [&](int64_t lo, int64_t hi) {
    std::vector<float> scratch(static_cast<size_t>(block * in));
    for (int64_t b = lo; b < hi; ++b) {
      const int64_t o0 = b * block, nb = std::min(block, outf - o0);
      float* s = scratch.data();
      if (row_major) {
        // scratch [nb, in] = rows o0.. of w; C = X · S^T
        for (int64_t r = 0; r < nb; ++r) convert_row(dt, pw + (o0 + r) * s0, s + r * in, in);
        sgemm(false, true, rows, nb, in, 1.0f, px, in, s, in, 0.0f, po + o0, outf);
      } else if (col_major) {
        // scratch [in, nb]: column i of the view is row i of the stored [in, out] tensor
        for (int64_t i = 0; i < in; ++i) convert_row(dt, pw + i * s1 + o0, s + i * nb, nb);
        sgemm(false, false, rows, nb, in, 1.0f, px, in, s, nb, 0.0f, po + o0, outf);
      } else {
        for (int64_t r = 0; r < nb; ++r)
          for (int64_t i = 0; i < in; ++i) s[r * in + i] = convert_one(dt, pw[(o0 + r) * s0 + i * s1]);
        sgemm(false, true, rows, nb, in, 1.0f, px, in, s, in, 0.0f, po + o0, outf);
      }
      if (pb)
        for (int64_t m = 0; m < rows; ++m) {
          float* row = po + m * outf + o0;
          for (int64_t j = 0; j < nb; ++j) row[j] += pb[o0 + j];
        }
    }
  });
  return out;
}

}  // namespace xfmr::kernels
