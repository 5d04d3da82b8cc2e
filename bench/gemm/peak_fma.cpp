// Peak arithmetic throughput of this CPU, measured: the yardstick for the GEMM backend table
// (bench/gemm/gemm_backends.cpp prints "% of measured peak" against these figures).
//
//   FP32 AVX-512  vfmadd231ps zmm  (16 lanes x 2 flops)   -- the FP32 peak the GEMM goal refers to
//   FP32 AVX2     vfmadd231ps ymm  (8 lanes x 2 flops)    -- reference (what OpenBLAS "Haswell" can reach)
//   INT8 VNNI     vpdpbusd zmm     (16 lanes x 4 u8*s8 products x 2 ops)
//   memory read bandwidth (sum over a 512 MiB buffer, far beyond L3) -- the M = 1 roofline
//
// Each thread runs an independent chain-free loop with 24 accumulators (FMA latency 4 cycles x
// 2 ports = 8 in flight needed; 24 leaves a margin and keeps everything in registers), so the
// only limit is the number of FMA ports. Threads are OpenMP threads (pin with OMP_PROC_BIND=close
// OMP_PLACES=cores); the figure for T threads is total work / wall time of the parallel region.
// Every figure is the median of --reps runs (default 9).
//
// Output: a table, plus machine-readable lines "PEAK <name> <threads> <value>" for run.sh.
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// The kernels keep their accumulators in registers; the final store into `sink` keeps the
// compiler from discarding the work. Inputs come through volatile reads so nothing is folded.
volatile float g_seed = 1.0f;
volatile int g_iseed = 1;

// Horizontal sums through memory (GCC 12's _mm512_reduce_* trip -Wuninitialized in its headers).
float hsum(__m512 v) {
  alignas(64) float f[16];
  _mm512_store_ps(f, v);
  float s = 0;
  for (float x : f) s += x;
  return s;
}
int hsum(__m512i v) {
  alignas(64) int f[16];
  _mm512_store_si512(f, v);
  int s = 0;
  for (int x : f) s += x;
  return s;
}

#define REP24(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) \
                 X(12) X(13) X(14) X(15) X(16) X(17) X(18) X(19) X(20) X(21) X(22) X(23)

// 24 independent zmm FMAs per iteration: 24 * 16 * 2 = 768 flops.
__attribute__((noinline)) float fma512(int64_t iters) {
  const __m512 a = _mm512_set1_ps(g_seed * 0.999999f), b = _mm512_set1_ps(g_seed * 1e-7f);
#define DECL(i) __m512 c##i = _mm512_set1_ps(g_seed + i);
  REP24(DECL)
#undef DECL
  for (int64_t it = 0; it < iters; ++it) {
#define STEP(i) c##i = _mm512_fmadd_ps(c##i, a, b);
    REP24(STEP)
#undef STEP
    __asm__ volatile("" : "+v"(c0), "+v"(c1), "+v"(c2), "+v"(c3), "+v"(c4), "+v"(c5), "+v"(c6), "+v"(c7));
  }
  __m512 s = c0;
#define SUM(i) s = _mm512_add_ps(s, c##i);
  REP24(SUM)
#undef SUM
  return hsum(s);
}
constexpr double kFlops512 = 24.0 * 16 * 2;

// Same with ymm (AVX2 + FMA3): 24 * 8 * 2 = 384 flops per iteration.
__attribute__((noinline)) float fma256(int64_t iters) {
  const __m256 a = _mm256_set1_ps(g_seed * 0.999999f), b = _mm256_set1_ps(g_seed * 1e-7f);
#define DECL(i) __m256 c##i = _mm256_set1_ps(g_seed + i);
  REP24(DECL)
#undef DECL
  for (int64_t it = 0; it < iters; ++it) {
#define STEP(i) c##i = _mm256_fmadd_ps(c##i, a, b);
    REP24(STEP)
#undef STEP
    __asm__ volatile("" : "+v"(c0), "+v"(c1), "+v"(c2), "+v"(c3), "+v"(c4), "+v"(c5), "+v"(c6), "+v"(c7));
  }
  __m256 s = c0;
#define SUM(i) s = _mm256_add_ps(s, c##i);
  REP24(SUM)
#undef SUM
  float out[8];
  _mm256_storeu_ps(out, s);
  return out[0] + out[7];
}
constexpr double kFlops256 = 24.0 * 8 * 2;

#if defined(__AVX512VNNI__)
// 24 independent vpdpbusd zmm per iteration: 24 * 16 lanes * 4 products * 2 ops = 3072 ops.
__attribute__((noinline)) int vnni512(int64_t iters) {
  const __m512i a = _mm512_set1_epi32(g_iseed * 0x01010101), b = _mm512_set1_epi32(g_iseed * 0x02020202);
#define DECL(i) __m512i c##i = _mm512_set1_epi32(g_iseed + i);
  REP24(DECL)
#undef DECL
  for (int64_t it = 0; it < iters; ++it) {
#define STEP(i) c##i = _mm512_dpbusd_epi32(c##i, a, b);
    REP24(STEP)
#undef STEP
    __asm__ volatile("" : "+v"(c0), "+v"(c1), "+v"(c2), "+v"(c3), "+v"(c4), "+v"(c5), "+v"(c6), "+v"(c7));
  }
  __m512i s = c0;
#define SUM(i) s = _mm512_add_epi32(s, c##i);
  REP24(SUM)
#undef SUM
  return hsum(s);
}
constexpr double kOpsVnni = 24.0 * 16 * 4 * 2;
#endif

#undef REP24

std::vector<float> g_sink(64);

// Runs `kernel(iters)` on `threads` OpenMP threads at once; returns work units per second
// (ops_per_iter * iters * threads / wall time).
template <class F>
double throughput(int threads, int64_t iters, double ops_per_iter, F kernel) {
  Clock::time_point t0;
  double secs = 0;
#pragma omp parallel num_threads(threads)
  {
#pragma omp barrier
#pragma omp master
    t0 = Clock::now();
#pragma omp barrier
    float r = static_cast<float>(kernel(iters));
    g_sink[omp_get_thread_num() % 64] = r;
#pragma omp barrier
#pragma omp master
    secs = seconds_since(t0);
  }
  return ops_per_iter * static_cast<double>(iters) * threads / secs;
}

template <class F>
double measure(int threads, double ops_per_iter, double target_seconds, int reps, F kernel) {
  // Calibrate the iteration count so that one run takes ~target_seconds (also warms up clocks).
  int64_t iters = 1 << 16;
  for (;;) {
    auto t0 = Clock::now();
    kernel(iters);
    double s = seconds_since(t0);
    if (s > target_seconds / 4) {
      iters = static_cast<int64_t>(iters * target_seconds / s);
      break;
    }
    iters *= 4;
  }
  std::vector<double> runs;
  for (int r = 0; r < reps; ++r) runs.push_back(throughput(threads, iters, ops_per_iter, kernel));
  return median(runs);
}

// Read bandwidth: each thread sums its share of a buffer much larger than the L3 (AVX-512 loads,
// 4 independent accumulators). Bytes / wall time, median of reps. Pages are touched once first.
double read_bandwidth(int threads, size_t bytes, int reps) {
  size_t n = bytes / sizeof(float);
  float* buf = static_cast<float*>(std::aligned_alloc(64, n * sizeof(float)));
#pragma omp parallel for num_threads(threads) schedule(static)
  for (size_t i = 0; i < n; ++i) buf[i] = 1.0f;
  std::vector<double> runs;
  for (int r = 0; r < reps + 1; ++r) {
    auto t0 = Clock::now();
    float total = 0;
#pragma omp parallel for num_threads(threads) schedule(static) reduction(+ : total)
    for (int t = 0; t < threads; ++t) {
      size_t lo = n / threads * t, hi = t + 1 == threads ? n : n / threads * (t + 1);
      __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
      size_t i = lo;
      for (; i + 64 <= hi; i += 64) {
        s0 = _mm512_add_ps(s0, _mm512_load_ps(buf + i));
        s1 = _mm512_add_ps(s1, _mm512_load_ps(buf + i + 16));
        s2 = _mm512_add_ps(s2, _mm512_load_ps(buf + i + 32));
        s3 = _mm512_add_ps(s3, _mm512_load_ps(buf + i + 48));
      }
      float part = hsum(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
      for (; i < hi; ++i) part += buf[i];
      total += part;
    }
    double s = seconds_since(t0);
    g_sink[0] = total;
    if (r > 0) runs.push_back(static_cast<double>(n * sizeof(float)) / s);  // first run: warm-up
  }
  std::free(buf);
  return median(runs);
}

}  // namespace

int main(int argc, char** argv) {
  int reps = 9;
  double target = 0.2;
  std::vector<int> thread_counts = {1, 2};
  bool bandwidth = true;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--reps" && i + 1 < argc) reps = std::atoi(argv[++i]);
    else if (a == "--seconds" && i + 1 < argc) target = std::atof(argv[++i]);
    else if (a == "--threads" && i + 1 < argc) {
      thread_counts.clear();
      for (char* p = std::strtok(argv[++i], ","); p; p = std::strtok(nullptr, ",")) thread_counts.push_back(std::atoi(p));
    } else if (a == "--no-bandwidth") bandwidth = false;
    else {
      std::fprintf(stderr, "usage: %s [--reps N] [--seconds S] [--threads 1,2] [--no-bandwidth]\n", argv[0]);
      return 2;
    }
  }
  if (!__builtin_cpu_supports("avx512f")) {
    std::printf("peak_fma: this CPU has no AVX-512; nothing to measure\n");
    return 0;
  }
  const bool has_vnni = __builtin_cpu_supports("avx512vnni");
  std::printf("peak_fma: median of %d runs of ~%.2f s each; OMP_PROC_BIND=%s OMP_PLACES=%s\n", reps, target,
              std::getenv("OMP_PROC_BIND") ? std::getenv("OMP_PROC_BIND") : "(unset)",
              std::getenv("OMP_PLACES") ? std::getenv("OMP_PLACES") : "(unset)");
  std::printf("%-34s %8s %14s %14s\n", "what", "threads", "GFLOP/s|GOP/s", "per thread");
  struct Row {
    const char* name;
    const char* key;
  };
  for (int t : thread_counts) {
    double f512 = measure(t, kFlops512, target, reps, fma512);
    std::printf("%-34s %8d %14.1f %14.1f\n", "FP32 FMA AVX-512 (zmm) GFLOP/s", t, f512 / 1e9, f512 / 1e9 / t);
    std::printf("PEAK\tfp32_avx512\t%d\t%.2f\n", t, f512 / 1e9);
    double f256 = measure(t, kFlops256, target, reps, fma256);
    std::printf("%-34s %8d %14.1f %14.1f\n", "FP32 FMA AVX2 (ymm) GFLOP/s", t, f256 / 1e9, f256 / 1e9 / t);
    std::printf("PEAK\tfp32_avx2\t%d\t%.2f\n", t, f256 / 1e9);
#if defined(__AVX512VNNI__)
    if (has_vnni) {
    double v = measure(t, kOpsVnni, target, reps, vnni512);
    std::printf("%-34s %8d %14.1f %14.1f\n", "INT8 VNNI vpdpbusd (zmm) GOP/s", t, v / 1e9, v / 1e9 / t);
    std::printf("PEAK\tint8_vnni\t%d\t%.2f\n", t, v / 1e9);
    }
#endif
    if (bandwidth) {
      double bw = read_bandwidth(t, size_t(512) << 20, reps);
      std::printf("%-34s %8d %14.1f %14.1f\n", "memory read bandwidth GB/s", t, bw / 1e9, bw / 1e9 / t);
      std::printf("PEAK\tread_gbs\t%d\t%.2f\n", t, bw / 1e9);
    }
  }
  return 0;
}
