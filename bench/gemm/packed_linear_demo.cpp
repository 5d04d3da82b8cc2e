// Self-test and timing of the PackedLinear prototype (packed_linear.h): correctness against a
// double-precision reference for odd and even M (1, 3, 16, 77, 128, 512) with bias, the cost of
// construction (pack) and repack, and forward() time against the plain-weight matmul that
// src/kernels/gemm.cpp runs today. Threads: OMP_NUM_THREADS (pin with OMP_PROC_BIND/OMP_PLACES).
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <unordered_map>
#include <vector>

#include "packed_linear.h"

namespace {
using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

template <class F>
double median_us(F f, int reps = 7) {
  f();
  auto t0 = Clock::now();
  int warm = 1;
  while (since(t0) < 0.02) f(), ++warm;
  int iters = std::max(1, static_cast<int>(0.03 / (since(t0) / warm)));
  std::vector<double> v;
  for (int r = 0; r < reps; ++r) {
    auto t = Clock::now();
    for (int i = 0; i < iters; ++i) f();
    v.push_back(since(t) / iters);
  }
  std::sort(v.begin(), v.end());
  return v[v.size() / 2] * 1e6;
}
}  // namespace

int main() {
  using dnnl::memory;
  auto& eng = gemm_bench::PackedLinear::engine();
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(-1, 1);
  int failures = 0;
  std::printf("# PackedLinear prototype, %d threads\n", omp_get_max_threads());
  std::printf("%-10s %5s %12s %12s %12s %10s\n", "N x K", "M", "plain_us", "packed_us", "speedup", "max_err");
  for (auto [n, k] : {std::pair<int64_t, int64_t>{768, 768}, {2304, 768}, {3072, 768}, {768, 3072}}) {
    std::vector<float> w(n * k), b(n);
    for (auto& v : w) v = 0.05f * u(rng);
    for (auto& v : b) v = u(rng);
    auto t0 = Clock::now();
    gemm_bench::PackedLinear lin(w.data(), n, k, b.data());
    double construct_us = since(t0) * 1e6;
    double repack_us = median_us([&] { lin.repack(w.data()); });
    std::printf("# %ldx%ld: construct (pd + reorder primitive + pack) %.0f us, repack %.0f us, %zu bytes\n",
                (long)n, (long)k, construct_us, repack_us, lin.packed_bytes());
    for (int64_t m : {1, 3, 16, 77, 128, 512}) {
      std::vector<float> x(m * k), y(m * n), y2(m * n);
      for (auto& v : x) v = u(rng);
      lin.forward(x.data(), m, y.data());
      double err = 0;
      for (int s = 0; s < 200; ++s) {
        int64_t i = rng() % m, j = rng() % n;
        double ref = b[j], mag = std::fabs(b[j]);
        for (int64_t q = 0; q < k; ++q) ref += double(x[i * k + q]) * w[j * k + q], mag += std::fabs(x[i * k + q] * w[j * k + q]);
        err = std::max(err, std::fabs(ref - y[i * n + j]) / mag);
      }
      if (err > 1e-5) ++failures;
      // Plain weights, as src/kernels/gemm.cpp linear() does today (with bias).
      memory::desc src({m, k}, memory::data_type::f32, memory::dims{k, 1});
      memory::desc wd({k, n}, memory::data_type::f32, memory::dims{1, k});
      memory::desc bd({1, n}, memory::data_type::f32, memory::dims{n, 1});
      memory::desc dst({m, n}, memory::data_type::f32, memory::dims{n, 1});
      dnnl::matmul plain(dnnl::matmul::primitive_desc(dnnl::matmul::desc(src, wd, bd, dst), eng));
      auto run_plain = [&] {
        dnnl::stream s(eng);
        std::unordered_map<int, memory> args{{DNNL_ARG_SRC, memory(src, eng, x.data())},
                                             {DNNL_ARG_WEIGHTS, memory(wd, eng, w.data())},
                                             {DNNL_ARG_BIAS, memory(bd, eng, b.data())},
                                             {DNNL_ARG_DST, memory(dst, eng, y2.data())}};
        plain.execute(s, args);
        s.wait();
      };
      double tp = median_us(run_plain);
      double tk = median_us([&] { lin.forward(x.data(), m, y.data()); });
      std::printf("%4ldx%-5ld %5ld %12.1f %12.1f %11.2fx %10.2g\n", (long)n, (long)k, (long)m, tp, tk, tp / tk, err);
    }
  }
  std::printf("%s\n", failures ? "PackedLinear: FAILED" : "PackedLinear: all results match the reference");
  return failures ? 1 : 0;
}
