// Hand-written AVX-512 kernel for y = x · Wᵀ with W in its natural nn.Linear layout [N, K] row-major
// (no packing). "Dot-product form": a tile of MR rows of x and NR rows of W keeps MR×NR zmm
// accumulators that run along K (both operands are K-contiguous), and is reduced horizontally at
// the end of each K block. Meant for the small-M cases (decode M = 1, short sequences) where a
// packed-GEMM library pays its packing/blocking overheads and the product is bound by reading W.
// Threads split N. K is blocked by 768 so that a tile's operands stay in L1 (48 KiB).
#pragma once

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cstdint>

namespace gemm_bench {

// 4 horizontal sums at once: returns {sum(a), sum(b), sum(c), sum(d)}.
inline __m128 hsum4(__m512 a, __m512 b, __m512 c, __m512 d) {
  auto half = [](__m512 v) { return _mm256_add_ps(_mm512_extractf32x8_ps(v, 0), _mm512_extractf32x8_ps(v, 1)); };
  __m256 ab = _mm256_hadd_ps(half(a), half(b));  // per 128-bit lane: a01 a23 b01 b23
  __m256 cd = _mm256_hadd_ps(half(c), half(d));
  __m256 abcd = _mm256_hadd_ps(ab, cd);  // per lane: a b c d (partial)
  return _mm_add_ps(_mm256_castps256_ps128(abcd), _mm256_extractf128_ps(abcd, 1));
}

// C[MR, NR] (+)= A[MR, k] · W[NR, k]ᵀ. NR is a multiple of 4.
template <int MR, int NR>
inline void dot_tile(const float* a, int64_t lda, const float* w, int64_t ldw, float* c, int64_t ldc, int64_t k,
                     bool accumulate) {
  static_assert(NR % 4 == 0);
  __m512 acc[MR][NR];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < NR; ++j) acc[i][j] = _mm512_setzero_ps();
  int64_t kk = 0;
  for (; kk + 16 <= k; kk += 16) {
    __m512 av[MR];
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) av[i] = _mm512_loadu_ps(a + i * lda + kk);
#pragma GCC unroll 8
    for (int j = 0; j < NR; ++j) {
      __m512 wv = _mm512_loadu_ps(w + j * ldw + kk);
#pragma GCC unroll 8
      for (int i = 0; i < MR; ++i) acc[i][j] = _mm512_fmadd_ps(av[i], wv, acc[i][j]);
    }
  }
  if (kk < k) {
    __mmask16 m = static_cast<__mmask16>((1u << (k - kk)) - 1);
    __m512 av[MR];
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) av[i] = _mm512_maskz_loadu_ps(m, a + i * lda + kk);
#pragma GCC unroll 8
    for (int j = 0; j < NR; ++j) {
      __m512 wv = _mm512_maskz_loadu_ps(m, w + j * ldw + kk);
#pragma GCC unroll 8
      for (int i = 0; i < MR; ++i) acc[i][j] = _mm512_fmadd_ps(av[i], wv, acc[i][j]);
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < NR; j += 4) {
      __m128 s = hsum4(acc[i][j], acc[i][j + 1], acc[i][j + 2], acc[i][j + 3]);
      float* out = c + i * ldc + j;
      if (accumulate) s = _mm_add_ps(s, _mm_loadu_ps(out));
      _mm_storeu_ps(out, s);
    }
}

// Scalar-ish fallback for a ragged N tail (N % 4 rows of W).
inline void dot_tail(int64_t m, const float* a, int64_t lda, const float* w, int64_t ldw, float* c, int64_t ldc,
                     int64_t nr, int64_t k, bool accumulate) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < nr; ++j) {
      __m512 acc = _mm512_setzero_ps();
      int64_t kk = 0;
      for (; kk + 16 <= k; kk += 16)
        acc = _mm512_fmadd_ps(_mm512_loadu_ps(a + i * lda + kk), _mm512_loadu_ps(w + j * ldw + kk), acc);
      float s = _mm_cvtss_f32(hsum4(acc, acc, acc, acc));
      for (; kk < k; ++kk) s += a[i * lda + kk] * w[j * ldw + kk];
      c[i * ldc + j] = accumulate ? c[i * ldc + j] + s : s;
    }
}

// One thread's share: rows [n0, n1) of W (columns of y), all m rows of x. x is [m, k], W is [n, k],
// y is [m, n], all row-major and dense.
inline void linear_nt_range(int64_t m, int64_t n, int64_t k, int64_t n0, int64_t n1, const float* x,
                            const float* w, float* y) {
  constexpr int64_t kKc = 768;
  const int64_t kc = k <= 1024 ? k : kKc;
  for (int64_t k0 = 0; k0 < k; k0 += kc) {
    const int64_t kb = std::min(kc, k - k0);
    const bool acc = k0 > 0;
    if (m == 1) {  // decode: 8 W rows at a time, 8 accumulators, W streamed once
      int64_t j = n0;
      for (; j + 8 <= n1; j += 8) dot_tile<1, 8>(x + k0, k, w + j * k + k0, k, y + j, n, kb, acc);
      for (; j + 4 <= n1; j += 4) dot_tile<1, 4>(x + k0, k, w + j * k + k0, k, y + j, n, kb, acc);
      if (j < n1) dot_tail(1, x + k0, k, w + j * k + k0, k, y + j, n, n1 - j, kb, acc);
      continue;
    }
    int64_t j = n0;
    for (; j + 4 <= n1; j += 4) {  // 4 W rows (stay in L1) against all x rows, 6 at a time
      const float* wj = w + j * k + k0;
      int64_t i = 0;
      for (; i + 6 <= m; i += 6) dot_tile<6, 4>(x + i * k + k0, k, wj, k, y + i * n + j, n, kb, acc);
      switch (m - i) {
        case 5: dot_tile<5, 4>(x + i * k + k0, k, wj, k, y + i * n + j, n, kb, acc); break;
        case 4: dot_tile<4, 4>(x + i * k + k0, k, wj, k, y + i * n + j, n, kb, acc); break;
        case 3: dot_tile<3, 4>(x + i * k + k0, k, wj, k, y + i * n + j, n, kb, acc); break;
        case 2: dot_tile<2, 4>(x + i * k + k0, k, wj, k, y + i * n + j, n, kb, acc); break;
        case 1: dot_tile<1, 4>(x + i * k + k0, k, wj, k, y + i * n + j, n, kb, acc); break;
        default: break;
      }
    }
    if (j < n1) dot_tail(m, x + k0, k, w + j * k + k0, k, y + j, n, n1 - j, kb, acc);
  }
}

// y[m, n] = x[m, k] · W[n, k]ᵀ on `threads` OpenMP threads (static split of N in multiples of 8).
inline void linear_nt(int64_t m, int64_t n, int64_t k, const float* x, const float* w, float* y, int threads) {
  if (threads <= 1) return linear_nt_range(m, n, k, 0, n, x, w, y);
#pragma omp parallel num_threads(threads)
  {
    int t = omp_get_thread_num(), nt = omp_get_num_threads();
    int64_t blocks = (n + 7) / 8;
    int64_t b0 = blocks * t / nt, b1 = blocks * (t + 1) / nt;
    linear_nt_range(m, n, k, std::min(n, b0 * 8), std::min(n, b1 * 8), x, w, y);
  }
}


// ---------------------------------------------------------------------------------------------
// Packed variant (own_packed): W re-laid out once into panels of 32 output features, k-major
// (panel p, step k holds W[32p .. 32p+31][k] contiguously: two zmm). Micro-kernel: MR rows of x
// (broadcast, read in place) × 32 features, 2·MR zmm accumulators along K; MR = 12 uses 24
// accumulators, 2 vector loads + 12 broadcasts per 24 FMAs. Threads split the panels.
constexpr int64_t kPanel = 32;

inline int64_t packed_floats(int64_t n, int64_t k) { return (n + kPanel - 1) / kPanel * kPanel * k; }

// out must hold packed_floats(n, k) floats. The N tail of the last panel is zero-filled.
inline void pack_w32(const float* w, int64_t n, int64_t k, float* out, int threads) {
  const int64_t panels = (n + kPanel - 1) / kPanel;
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t p = 0; p < panels; ++p) {
    float* dst = out + p * kPanel * k;
    const int64_t rows = std::min(kPanel, n - p * kPanel);
    for (int64_t k0 = 0; k0 < k; k0 += 64)  // 32 x 64 blocks: reads 32 rows, writes k-major
      for (int64_t j = 0; j < kPanel; ++j) {
        const float* src = w + (p * kPanel + j) * k;
        for (int64_t q = k0; q < std::min(k, k0 + 64); ++q) dst[q * kPanel + j] = j < rows ? src[q] : 0.0f;
      }
  }
}

template <int MR>
inline void micro_32(const float* x, int64_t ldx, const float* wp, int64_t kb, float* y, int64_t ldy, int64_t cols,
                     bool accumulate) {
  __m512 c0[MR], c1[MR];
#pragma GCC unroll 12
  for (int i = 0; i < MR; ++i) c0[i] = _mm512_setzero_ps(), c1[i] = _mm512_setzero_ps();
  for (int64_t q = 0; q < kb; ++q) {
    const __m512 b0 = _mm512_load_ps(wp + q * kPanel), b1 = _mm512_load_ps(wp + q * kPanel + 16);
#pragma GCC unroll 12
    for (int i = 0; i < MR; ++i) {
      const __m512 a = _mm512_set1_ps(x[i * ldx + q]);
      c0[i] = _mm512_fmadd_ps(a, b0, c0[i]);
      c1[i] = _mm512_fmadd_ps(a, b1, c1[i]);
    }
  }
  const __mmask16 m0 = cols >= 16 ? 0xffff : static_cast<__mmask16>((1u << cols) - 1);
  const __mmask16 m1 = cols >= 32 ? 0xffff : cols <= 16 ? 0 : static_cast<__mmask16>((1u << (cols - 16)) - 1);
#pragma GCC unroll 12
  for (int i = 0; i < MR; ++i) {
    float* out = y + i * ldy;
    if (accumulate) {
      c0[i] = _mm512_add_ps(c0[i], _mm512_maskz_loadu_ps(m0, out));
      c1[i] = _mm512_add_ps(c1[i], _mm512_maskz_loadu_ps(m1, out + 16));
    }
    _mm512_mask_storeu_ps(out, m0, c0[i]);
    _mm512_mask_storeu_ps(out + 16, m1, c1[i]);
  }
}

template <int MR>
inline void micro_32_rows(int64_t rows, const float* x, int64_t ldx, const float* wp, int64_t kb, float* y,
                          int64_t ldy, int64_t cols, bool acc) {
  if constexpr (MR > 1) {
    if (rows < MR) return micro_32_rows<MR - 1>(rows, x, ldx, wp, kb, y, ldy, cols, acc);
  }
  micro_32<MR>(x, ldx, wp, kb, y, ldy, cols, acc);
}

// y[m, n] = x[m, k] · Wᵀ with W packed by pack_w32.
inline void linear_packed32(int64_t m, int64_t n, int64_t k, const float* x, const float* wp, float* y, int threads) {
  constexpr int kMr = 12;
  const int64_t kc = k <= 512 ? k : 384;
  const int64_t panels = (n + kPanel - 1) / kPanel;
#pragma omp parallel num_threads(threads)
  {
    const int t = omp_get_thread_num(), nt = omp_get_num_threads();
    const int64_t p0 = panels * t / nt, p1 = panels * (t + 1) / nt;
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t cols = std::min(kPanel, n - p * kPanel);
      for (int64_t k0 = 0; k0 < k; k0 += kc) {
        const int64_t kb = std::min(kc, k - k0);
        const float* panel = wp + p * kPanel * k + k0 * kPanel;
        for (int64_t i = 0; i < m; i += kMr)
          micro_32_rows<kMr>(std::min<int64_t>(kMr, m - i), x + i * k + k0, k, panel, kb, y + i * n + p * kPanel, n,
                             cols, k0 > 0);
      }
    }
  }
}

}  // namespace gemm_bench
