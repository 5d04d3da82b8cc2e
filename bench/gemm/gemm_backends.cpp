// GEMM backends on Transformer shapes: y[M, N] = x[M, K] · W[N, K]ᵀ (nn.Linear, W row-major [N, K]).
//
// One source, built once per library (bench/gemm/bench.cmake) so that libraries exporting the same
// BLAS symbols never meet in one process, and so that load-time settings (OPENBLAS_CORETYPE,
// BLIS_ARCH_TYPE) can differ per process:
//   GEMM_BENCH_DNNL      dnnl_sgemm, oneDNN matmul with plain weights (= src/kernels/gemm.cpp today),
//                        oneDNN matmul with pre-packed weights (format_tag::any + reorder), and our
//                        own AVX-512 dot-product kernel (own_kernel.h); plus the overhead and
//                        training (re-pack every step) studies.
//   GEMM_BENCH_OPENBLAS  cblas_sgemm, cblas_sgemv (M = 1)
//   GEMM_BENCH_BLIS      bli_sgemm, bli_sgemv (M = 1)
//
// Method: per (backend, shape, threads) a warm-up, then --reps repetitions of a timed loop of at
// least --min-ms; the figure is the median time per call (spread = (max - min) / median over the
// reps). "hot": the same W every call (L2/L3-resident, as in a benchmark loop). "cold" (M <= 16):
// the calls rotate over copies of W totalling --cold-mb MiB (> 2 x L3), so each call streams W from
// DRAM as in a real model forward. Every backend's result is checked against a double-precision
// reference on sampled entries before timing.
//
// Output: readable lines plus tab-separated records for bench/gemm/run.sh:
//   ROW  backend mode M N K threads us_per_call GFLOP/s pct_of_peak spread_pct other_cpu_pct best_GFLOP/s
//        (median figures; other_cpu_pct: CPU time other processes used during the measurement, % of
//        one CPU; best: the fastest repetition)
//   PACK backend N K threads us                 (weight packing cost, excluded from ROW)
//   OVH  what threads us                         (primitive creation / call overheads)
//   TRAIN pass N K M threads plain_us packed_us reorder_us   (forward and backward-data products)
//   LOWP dtype M N K threads us GOP/s implementation     (int8 / bf16 packed matmul, for later)
#include <omp.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#if defined(GEMM_BENCH_DNNL)
#include <dnnl.hpp>

#include "own_kernel.h"
#endif
#if defined(GEMM_BENCH_OPENBLAS)
#include <cblas.h>
#endif
#if defined(GEMM_BENCH_BLIS)
#include <blis.h>
#endif

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// CPU time used by other processes while we measure: total busy time of all CPUs (/proc/stat)
// minus our own (getrusage), as a percentage of one CPU. Tells which rows were disturbed by
// teammates' compilers on this shared 2-vCPU machine.
struct CpuSample {
  double busy_s = 0, own_s = 0;
};
CpuSample cpu_sample() {
  CpuSample c;
  if (FILE* f = std::fopen("/proc/stat", "r")) {
    unsigned long long v[8] = {};
    if (std::fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
                    &v[6], &v[7]) == 8)
      c.busy_s = static_cast<double>(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / sysconf(_SC_CLK_TCK);
    std::fclose(f);
  }
  rusage r{};
  getrusage(RUSAGE_SELF, &r);
  c.own_s = r.ru_utime.tv_sec + r.ru_stime.tv_sec + 1e-6 * (r.ru_utime.tv_usec + r.ru_stime.tv_usec);
  return c;
}
double other_load_pct(const CpuSample& a, const CpuSample& b, double wall_s) {
  double other = (b.busy_s - a.busy_s) - (b.own_s - a.own_s);
  return std::max(0.0, 100.0 * other / std::max(wall_s, 1e-3));
}

struct Stats {
  double median = 0, min = 0, max = 0;
};
Stats stats(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return {n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]), v.front(), v.back()};
}

struct Options {
  std::vector<int> threads{1, 2};
  int reps = 7;
  double min_ms = 40;
  std::map<int, double> peak;  // FP32 GFLOP/s per thread count (from peak_fma)
  std::string tag;             // appended to backend names (e.g. the OpenBLAS core type)
  double cold_mb = 256;
  bool cold = true, main_table = true, small = true, overhead = true, train = true, lowp = true;
  std::string only;  // run only backends whose name contains this
};
Options opt;

// Times fn(i) (i counts calls) as described above; returns seconds per call.
Stats time_calls(const std::function<void(size_t)>& fn) {
  size_t counter = 0;
  auto t0 = Clock::now();
  int warm = 0;
  while (warm < 3 || seconds_since(t0) < 0.02) fn(counter++), ++warm;
  double per_call = seconds_since(t0) / warm;
  size_t iters = std::max<size_t>(1, static_cast<size_t>(opt.min_ms * 1e-3 / std::max(per_call, 1e-9)));
  std::vector<double> runs;
  for (int r = 0; r < opt.reps; ++r) {
    auto t1 = Clock::now();
    for (size_t i = 0; i < iters; ++i) fn(counter++);
    runs.push_back(seconds_since(t1) / iters);
  }
  return stats(runs);
}

float* alloc_floats(size_t n) {
  size_t bytes = (n * sizeof(float) + 63) / 64 * 64;
  auto* p = static_cast<float*>(std::aligned_alloc(64, std::max<size_t>(bytes, 64)));
  std::memset(p, 0, bytes);  // first touch here, not in the timed loop
  return p;
}
struct FreeDeleter {
  void operator()(float* p) const { std::free(p); }
};
using Buffer = std::unique_ptr<float, FreeDeleter>;

struct Problem {
  int64_t m, n, k;
  const float* a;               // [m, k]
  std::vector<const float*> w;  // copies of W [n, k] (1 when hot)
  float* c;                     // [m, n]
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;
  virtual bool supports(int64_t m) const { return true; }
  virtual void set_threads(int t) { omp_set_num_threads(t); }
  virtual void prepare(const Problem& p) {}  // after set_threads; not timed
  virtual void run(const Problem& p, size_t wi) = 0;
  virtual void release() {}
  // Packing cost of the last prepare() in microseconds (median), or < 0 when not applicable.
  virtual double pack_us() const { return -1; }
};

// ---------------------------------------------------------------------------------------------
#if defined(GEMM_BENCH_DNNL)
using dnnl::memory;
dnnl::engine& eng() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

// dims/strides for y = x · Wᵀ with W stored [N, K] row-major: the weights operand is [K, N] "ba".
memory::desc md_rowmajor(int64_t r, int64_t c) { return memory::desc({r, c}, memory::data_type::f32, memory::dims{c, 1}); }
memory::desc md_w_ba(int64_t n, int64_t k) {
  return memory::desc({k, n}, memory::data_type::f32, memory::dims{1, k});
}

class DnnlSgemm : public Backend {
 public:
  std::string name() const override { return "dnnl_sgemm"; }
  void run(const Problem& p, size_t wi) override {
    dnnl_sgemm('N', 'T', p.m, p.n, p.k, 1.0f, p.a, p.k, p.w[wi], p.k, 0.0f, p.c, p.n);
  }
};

// Exactly what src/kernels/gemm.cpp does per call today: cached primitive, but a new stream,
// three memory objects and an argument map per call, and plain [N, K] weights.
class DnnlMatmulPlain : public Backend {
 public:
  std::string name() const override { return "dnnl_matmul_plain"; }
  void prepare(const Problem& p) override {
    a_ = md_rowmajor(p.m, p.k);
    b_ = md_w_ba(p.n, p.k);
    c_ = md_rowmajor(p.m, p.n);
    prim_ = dnnl::matmul(dnnl::matmul::primitive_desc(dnnl::matmul::desc(a_, b_, c_), eng()));
  }
  void run(const Problem& p, size_t wi) override {
    dnnl::stream s(eng());
    std::unordered_map<int, memory> args{{DNNL_ARG_SRC, memory(a_, eng(), const_cast<float*>(p.a))},
                                         {DNNL_ARG_WEIGHTS, memory(b_, eng(), const_cast<float*>(p.w[wi]))},
                                         {DNNL_ARG_DST, memory(c_, eng(), p.c)}};
    prim_.execute(s, args);
    s.wait();
  }
  void release() override { prim_ = dnnl::matmul(); }

 private:
  memory::desc a_, b_, c_;
  dnnl::matmul prim_;
};

// Weights reordered once into the layout the matmul implementation asks for (format_tag::any).
// Per call it does the same stream/memory-object work as the plain variant, so the difference
// between the two rows is the packing alone.
class DnnlMatmulPacked : public Backend {
 public:
  std::string name() const override { return "dnnl_matmul_packed"; }
  void prepare(const Problem& p) override {
    a_ = md_rowmajor(p.m, p.k);
    c_ = md_rowmajor(p.m, p.n);
    memory::desc w_any({p.k, p.n}, memory::data_type::f32, memory::format_tag::any);
    dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a_, w_any, c_), eng());
    b_ = pd.weights_desc();
    prim_ = dnnl::matmul(pd);
    // Pack every copy of W; time the reorder (primitive creation excluded) on the first one.
    dnnl::stream s(eng());
    memory::desc plain = md_w_ba(p.n, p.k);
    dnnl::reorder re(dnnl::reorder::primitive_desc(eng(), plain, eng(), b_));
    packed_.clear();
    std::vector<double> t;
    for (size_t i = 0; i < p.w.size(); ++i) {
      memory src(plain, eng(), const_cast<float*>(p.w[i]));
      packed_.emplace_back(b_, eng());
      int times = i == 0 ? 6 : 1;
      for (int r = 0; r < times; ++r) {
        auto t0 = Clock::now();
        re.execute(s, src, packed_.back());
        s.wait();
        if (i == 0 && r > 0) t.push_back(seconds_since(t0));
      }
    }
    pack_us_ = stats(t).median * 1e6;
  }
  void run(const Problem& p, size_t wi) override {
    dnnl::stream s(eng());
    std::unordered_map<int, memory> args{{DNNL_ARG_SRC, memory(a_, eng(), const_cast<float*>(p.a))},
                                         {DNNL_ARG_WEIGHTS, memory(b_, eng(), packed_[wi].get_data_handle())},
                                         {DNNL_ARG_DST, memory(c_, eng(), p.c)}};
    prim_.execute(s, args);
    s.wait();
  }
  void release() override {
    packed_.clear();
    prim_ = dnnl::matmul();
  }
  double pack_us() const override { return pack_us_; }

 private:
  memory::desc a_, b_, c_;
  dnnl::matmul prim_;
  std::vector<memory> packed_;
  double pack_us_ = -1;
};

class OwnAvx512 : public Backend {
 public:
  std::string name() const override { return "own_avx512"; }
  void set_threads(int t) override {
    omp_set_num_threads(t);
    threads_ = t;
  }
  void run(const Problem& p, size_t wi) override {
    gemm_bench::linear_nt(p.m, p.n, p.k, p.a, p.w[wi], p.c, threads_);
  }

 private:
  int threads_ = 1;
};

// Our own packed GEMM (own_kernel.h, linear_packed32): W re-laid out once in 32-feature panels.
class OwnPacked : public Backend {
 public:
  std::string name() const override { return "own_packed"; }
  void set_threads(int t) override {
    omp_set_num_threads(t);
    threads_ = t;
  }
  void prepare(const Problem& p) override {
    packed_.clear();
    std::vector<double> t;
    for (size_t i = 0; i < p.w.size(); ++i) {
      packed_.emplace_back(alloc_floats(gemm_bench::packed_floats(p.n, p.k)));
      for (int r = 0; r < (i == 0 ? 6 : 1); ++r) {
        auto t0 = Clock::now();
        gemm_bench::pack_w32(p.w[i], p.n, p.k, packed_.back().get(), threads_);
        if (i == 0 && r > 0) t.push_back(seconds_since(t0));
      }
    }
    pack_us_ = stats(t).median * 1e6;
  }
  void run(const Problem& p, size_t wi) override {
    gemm_bench::linear_packed32(p.m, p.n, p.k, p.a, packed_[wi].get(), p.c, threads_);
  }
  void release() override { packed_.clear(); }
  double pack_us() const override { return pack_us_; }

 private:
  int threads_ = 1;
  std::vector<Buffer> packed_;
  double pack_us_ = -1;
};
#endif  // GEMM_BENCH_DNNL

// ---------------------------------------------------------------------------------------------
#if defined(GEMM_BENCH_OPENBLAS)
class OpenblasSgemm : public Backend {
 public:
  std::string name() const override { return "openblas_sgemm"; }
  void set_threads(int t) override {
    omp_set_num_threads(t);
    openblas_set_num_threads(t);
  }
  void run(const Problem& p, size_t wi) override {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, p.m, p.n, p.k, 1.0f, p.a, p.k, p.w[wi], p.k, 0.0f, p.c,
                p.n);
  }
};
class OpenblasSgemv : public OpenblasSgemm {
 public:
  std::string name() const override { return "openblas_sgemv"; }
  bool supports(int64_t m) const override { return m == 1; }
  void run(const Problem& p, size_t wi) override {
    cblas_sgemv(CblasRowMajor, CblasNoTrans, p.n, p.k, 1.0f, p.w[wi], p.k, p.a, 1, 0.0f, p.c, 1);
  }
};
#endif

#if defined(GEMM_BENCH_BLIS)
class BlisSgemm : public Backend {
 public:
  std::string name() const override { return "blis_sgemm"; }
  void set_threads(int t) override {
    omp_set_num_threads(t);
    bli_thread_set_num_threads(t);
  }
  void run(const Problem& p, size_t wi) override {
    float one = 1.0f, zero = 0.0f;
    bli_sgemm(BLIS_NO_TRANSPOSE, BLIS_TRANSPOSE, p.m, p.n, p.k, &one, const_cast<float*>(p.a), p.k, 1,
              const_cast<float*>(p.w[wi]), p.k, 1, &zero, p.c, p.n, 1);
  }
};
class BlisSgemv : public BlisSgemm {
 public:
  std::string name() const override { return "blis_sgemv"; }
  bool supports(int64_t m) const override { return m == 1; }
  void run(const Problem& p, size_t wi) override {
    float one = 1.0f, zero = 0.0f;
    bli_sgemv(BLIS_NO_TRANSPOSE, BLIS_NO_CONJUGATE, p.n, p.k, &one, const_cast<float*>(p.w[wi]), p.k, 1,
              const_cast<float*>(p.a), 1, &zero, p.c, 1);
  }
};
#endif

std::vector<std::unique_ptr<Backend>> make_backends() {
  std::vector<std::unique_ptr<Backend>> v;
#if defined(GEMM_BENCH_OPENBLAS)
  v.emplace_back(new OpenblasSgemm);
  v.emplace_back(new OpenblasSgemv);
#endif
#if defined(GEMM_BENCH_BLIS)
  v.emplace_back(new BlisSgemm);
  v.emplace_back(new BlisSgemv);
#endif
#if defined(GEMM_BENCH_DNNL)
  v.emplace_back(new DnnlSgemm);
  v.emplace_back(new DnnlMatmulPlain);
  v.emplace_back(new DnnlMatmulPacked);
  v.emplace_back(new OwnAvx512);
  v.emplace_back(new OwnPacked);
#endif
  std::vector<std::unique_ptr<Backend>> out;
  for (auto& b : v)
    if (opt.only.empty() || b->name().find(opt.only) != std::string::npos) out.push_back(std::move(b));
  return out;
}

void fill(float* p, size_t n, float scale, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-scale, scale);
  for (size_t i = 0; i < n; ++i) p[i] = d(rng);
}

// Max relative error over sampled entries, relative to sum |x||w| of that entry.
double check(const Problem& p) {
  std::mt19937 rng(7);
  double worst = 0;
  for (int s = 0; s < 64; ++s) {
    int64_t i = rng() % p.m, j = rng() % p.n;
    double ref = 0, mag = 0;
    for (int64_t q = 0; q < p.k; ++q) {
      double x = p.a[i * p.k + q], w = p.w[0][j * p.k + q];
      ref += x * w;
      mag += std::fabs(x * w);
    }
    worst = std::max(worst, std::fabs(ref - p.c[i * p.n + j]) / std::max(mag, 1e-30));
  }
  return worst;
}

std::string peak_pct(double gflops, int threads) {
  auto it = opt.peak.find(threads);
  if (it == opt.peak.end() || it->second <= 0) return "-";
  char b[32];
  std::snprintf(b, sizeof b, "%.1f", 100.0 * gflops / it->second);
  return b;
}

void run_table(const std::vector<std::tuple<int64_t, int64_t, int64_t>>& shapes, const char* group) {
  auto backends = make_backends();
  for (auto [m, n, k] : shapes) {
    Buffer a(alloc_floats(m * k)), c(alloc_floats(m * n)), w0(alloc_floats(n * k));
    fill(a.get(), m * k, 1.0f, 1);
    fill(w0.get(), n * k, 0.05f, 2);
    // cold copies (only for M <= 16 in the main table)
    std::vector<Buffer> copies;
    bool cold = opt.cold && m <= 16 && std::string(group) == "main";
    if (cold) {
      size_t per = n * k * sizeof(float);
      size_t count = std::max<size_t>(2, static_cast<size_t>(opt.cold_mb * (1 << 20) / per));
      for (size_t i = 0; i < count; ++i) {
        copies.emplace_back(alloc_floats(n * k));
        std::memcpy(copies.back().get(), w0.get(), per);
      }
    }
    for (const char* mode : {"hot", "cold"}) {
      bool is_cold = std::string(mode) == "cold";
      if (is_cold && !cold) continue;
      Problem p{m, n, k, a.get(), {}, c.get()};
      if (is_cold)
        for (auto& b : copies) p.w.push_back(b.get());
      else
        p.w.push_back(w0.get());
      for (int t : opt.threads)
        for (auto& be : backends) {
          if (!be->supports(m)) continue;
          std::string name = be->name() + opt.tag;
          be->set_threads(t);
          be->prepare(p);
          std::memset(c.get(), 0, m * n * sizeof(float));
          be->run(p, 0);
          double err = check(p);
          if (err > 1e-4) {
            std::printf("ERROR %s %s M=%ld N=%ld K=%ld threads=%d: relative error %.3g\n", name.c_str(), mode,
                        (long)m, (long)n, (long)k, t, err);
            be->release();
            continue;
          }
          size_t nw = p.w.size();
          CpuSample c0 = cpu_sample();
          auto w0t = Clock::now();
          Stats s = time_calls([&](size_t i) { be->run(p, i % nw); });
          double other = other_load_pct(c0, cpu_sample(), seconds_since(w0t));
          double gf = 2.0 * m * n * k / s.median / 1e9;
          double spread = 100.0 * (s.max - s.min) / s.median;
          std::printf("ROW\t%s\t%s\t%ld\t%ld\t%ld\t%d\t%.2f\t%.2f\t%s\t%.1f\t%.0f\t%.2f\n", name.c_str(),
                      is_cold ? "cold" : group, (long)m, (long)n, (long)k, t, s.median * 1e6, gf,
                      peak_pct(gf, t).c_str(), spread, other, 2.0 * m * n * k / s.min / 1e9);
          if (be->pack_us() >= 0 && !is_cold && std::string(group) == "main" && m == 128)
            std::printf("PACK\t%s\t%ld\t%ld\t%d\t%.2f\n", name.c_str(), (long)n, (long)k, t, be->pack_us());
          std::fflush(stdout);
          be->release();
        }
    }
  }
}

#if defined(GEMM_BENCH_DNNL)
// ---------------------------------------------------------------------------------------------
// Overheads: primitive creation and per-call cost for small products (attention calls small GEMMs
// per head), and the batched alternative.
void run_overhead() {
  for (int t : opt.threads) {
    omp_set_num_threads(t);
    auto report = [&](const char* what, double secs) {
      std::printf("OVH\t%s\t%d\t%.2f\n", what, t, secs * 1e6);
      std::fflush(stdout);
    };
    // Creation: pd + primitive, with oneDNN's own primitive cache disabled (a real JIT) and enabled
    // (second creation of an identical primitive is a cache hit).
    for (auto [m, n, k, label] : {std::tuple<int64_t, int64_t, int64_t, const char*>{64, 64, 64, "64x64x64"},
                                  {128, 768, 768, "128x768x768"},
                                  {512, 3072, 768, "512x3072x768"}}) {
      for (bool packed : {false, true}) {
        auto create = [&] {
          memory::desc w = packed ? memory::desc({k, n}, memory::data_type::f32, memory::format_tag::any)
                                  : md_w_ba(n, k);
          dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(md_rowmajor(m, k), w, md_rowmajor(m, n)), eng());
          dnnl::matmul prim(pd);
        };
        int cap = dnnl::get_primitive_cache_capacity();
        dnnl::set_primitive_cache_capacity(0);
        std::vector<double> cold;
        for (int r = 0; r < 7; ++r) {
          auto t0 = Clock::now();
          create();
          cold.push_back(seconds_since(t0));
        }
        dnnl::set_primitive_cache_capacity(cap);
        create();
        std::vector<double> hit;
        for (int r = 0; r < 7; ++r) {
          auto t0 = Clock::now();
          create();
          hit.push_back(seconds_since(t0));
        }
        std::string base = std::string("create ") + label + (packed ? " (weights any)" : " (plain)");
        report((base + ", no oneDNN cache").c_str(), stats(cold).median);
        report((base + ", oneDNN cache hit").c_str(), stats(hit).median);
      }
    }
    // Per-call cost of small products.
    for (auto [m, n, k] : {std::tuple<int64_t, int64_t, int64_t>{1, 1, 1}, {64, 64, 64}, {128, 128, 64}}) {
      Buffer a(alloc_floats(m * k)), w(alloc_floats(n * k)), c(alloc_floats(m * n));
      fill(a.get(), m * k, 1, 1);
      fill(w.get(), n * k, 1, 2);
      memory::desc ad = md_rowmajor(m, k), wd = md_w_ba(n, k), cd = md_rowmajor(m, n);
      dnnl::matmul prim(dnnl::matmul::primitive_desc(dnnl::matmul::desc(ad, wd, cd), eng()));
      char label[128];
      // (a) as gemm.cpp: new stream + memory objects + map per call
      Stats s1 = time_calls([&](size_t) {
        dnnl::stream s(eng());
        std::unordered_map<int, memory> args{{DNNL_ARG_SRC, memory(ad, eng(), a.get())},
                                             {DNNL_ARG_WEIGHTS, memory(wd, eng(), w.get())},
                                             {DNNL_ARG_DST, memory(cd, eng(), c.get())}};
        prim.execute(s, args);
        s.wait();
      });
      // (b) persistent stream and memory objects: execute + wait only
      dnnl::stream st(eng());
      memory am(ad, eng(), a.get()), wm(wd, eng(), w.get()), cm(cd, eng(), c.get());
      std::unordered_map<int, memory> args{{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, wm}, {DNNL_ARG_DST, cm}};
      Stats s2 = time_calls([&](size_t) {
        prim.execute(st, args);
        st.wait();
      });
      // (c) persistent stream, memory objects re-pointed with set_data_handle (what a cache keyed by
      // shape would do when the pointers change every call)
      Stats s3 = time_calls([&](size_t) {
        am.set_data_handle(a.get());
        wm.set_data_handle(w.get());
        cm.set_data_handle(c.get());
        prim.execute(st, args);
        st.wait();
      });
      Stats s4 = time_calls([&](size_t) {
        dnnl_sgemm('N', 'T', m, n, k, 1.0f, a.get(), k, w.get(), k, 0.0f, c.get(), n);
      });
      Stats s5 = time_calls([&](size_t) { gemm_bench::linear_nt(m, n, k, a.get(), w.get(), c.get(), t); });
      std::snprintf(label, sizeof label, "execute %ldx%ldx%ld, gemm.cpp style (stream+memory per call)", (long)m,
                    (long)n, (long)k);
      report(label, s1.median);
      std::snprintf(label, sizeof label, "execute %ldx%ldx%ld, persistent stream+memory", (long)m, (long)n, (long)k);
      report(label, s2.median);
      std::snprintf(label, sizeof label, "execute %ldx%ldx%ld, persistent + set_data_handle", (long)m, (long)n,
                    (long)k);
      report(label, s3.median);
      std::snprintf(label, sizeof label, "dnnl_sgemm %ldx%ldx%ld", (long)m, (long)n, (long)k);
      report(label, s4.median);
      std::snprintf(label, sizeof label, "own_avx512 %ldx%ldx%ld", (long)m, (long)n, (long)k);
      report(label, s5.median);
    }
    // Attention-shaped: 12 heads, S = 128, head dim 64. scores = Q·Kᵀ per head ([128,64]·[64,128])
    // and ctx = P·V per head ([128,128]·[128,64]): 12 calls vs one batched primitive.
    {
      const int64_t h = 12, s = 128, d = 64;
      Buffer q(alloc_floats(h * s * d)), kk(alloc_floats(h * s * d)), sc(alloc_floats(h * s * s)),
          v(alloc_floats(h * s * d)), ctx(alloc_floats(h * s * d));
      fill(q.get(), h * s * d, 1, 1);
      fill(kk.get(), h * s * d, 1, 2);
      fill(v.get(), h * s * d, 1, 3);
      fill(sc.get(), h * s * s, 1, 4);
      dnnl::stream st(eng());
      // Q·Kᵀ, per head: src [s,d], weights = Kᵀ [d,s] read from K [s,d] row-major ("ba")
      memory::desc qd = md_rowmajor(s, d), kd = md_w_ba(s, d), sd = md_rowmajor(s, s);
      dnnl::matmul qk(dnnl::matmul::primitive_desc(dnnl::matmul::desc(qd, kd, sd), eng()));
      memory qm(qd, eng(), q.get()), km(kd, eng(), kk.get()), sm(sd, eng(), sc.get());
      std::unordered_map<int, memory> qargs{{DNNL_ARG_SRC, qm}, {DNNL_ARG_WEIGHTS, km}, {DNNL_ARG_DST, sm}};
      Stats per_head = time_calls([&](size_t) {
        for (int64_t i = 0; i < h; ++i) {
          qm.set_data_handle(q.get() + i * s * d);
          km.set_data_handle(kk.get() + i * s * d);
          sm.set_data_handle(sc.get() + i * s * s);
          qk.execute(st, qargs);
        }
        st.wait();
      });
      memory::desc qbd({h, s, d}, memory::data_type::f32, memory::dims{s * d, d, 1}),
          kbd({h, d, s}, memory::data_type::f32, memory::dims{s * d, 1, d}),
          sbd({h, s, s}, memory::data_type::f32, memory::dims{s * s, s, 1});
      dnnl::matmul qkb(dnnl::matmul::primitive_desc(dnnl::matmul::desc(qbd, kbd, sbd), eng()));
      std::unordered_map<int, memory> bargs{{DNNL_ARG_SRC, memory(qbd, eng(), q.get())},
                                            {DNNL_ARG_WEIGHTS, memory(kbd, eng(), kk.get())},
                                            {DNNL_ARG_DST, memory(sbd, eng(), sc.get())}};
      Stats batched = time_calls([&](size_t) {
        qkb.execute(st, bargs);
        st.wait();
      });
      // own kernel: heads split over threads, each head Q·Kᵀ in dot form on one thread
      Stats own = time_calls([&](size_t) {
#pragma omp parallel for num_threads(t) schedule(static)
        for (int64_t i = 0; i < h; ++i)
          gemm_bench::linear_nt_range(s, s, d, 0, s, q.get() + i * s * d, kk.get() + i * s * d, sc.get() + i * s * s);
      });
      // P·V: src P [s,s], weights V [s,d] row-major ("ab")
      memory::desc pd_ = md_rowmajor(s, s), vd = md_rowmajor(s, d), cd = md_rowmajor(s, d);
      memory::desc pbd({h, s, s}, memory::data_type::f32, memory::dims{s * s, s, 1}),
          vbd({h, s, d}, memory::data_type::f32, memory::dims{s * d, d, 1}),
          cbd({h, s, d}, memory::data_type::f32, memory::dims{s * d, d, 1});
      dnnl::matmul pv(dnnl::matmul::primitive_desc(dnnl::matmul::desc(pd_, vd, cd), eng()));
      dnnl::matmul pvb(dnnl::matmul::primitive_desc(dnnl::matmul::desc(pbd, vbd, cbd), eng()));
      memory pm(pd_, eng(), sc.get()), vm(vd, eng(), v.get()), cm(cd, eng(), ctx.get());
      std::unordered_map<int, memory> pargs{{DNNL_ARG_SRC, pm}, {DNNL_ARG_WEIGHTS, vm}, {DNNL_ARG_DST, cm}};
      Stats pv_head = time_calls([&](size_t) {
        for (int64_t i = 0; i < h; ++i) {
          pm.set_data_handle(sc.get() + i * s * s);
          vm.set_data_handle(v.get() + i * s * d);
          cm.set_data_handle(ctx.get() + i * s * d);
          pv.execute(st, pargs);
        }
        st.wait();
      });
      std::unordered_map<int, memory> pbargs{{DNNL_ARG_SRC, memory(pbd, eng(), sc.get())},
                                             {DNNL_ARG_WEIGHTS, memory(vbd, eng(), v.get())},
                                             {DNNL_ARG_DST, memory(cbd, eng(), ctx.get())}};
      Stats pv_batched = time_calls([&](size_t) {
        pvb.execute(st, pbargs);
        st.wait();
      });
      double fl = 2.0 * h * s * s * d;
      char label[160];
      auto rep = [&](const char* what, const Stats& x) {
        std::snprintf(label, sizeof label, "%s (%.0f GFLOP/s)", what, fl / x.median / 1e9);
        report(label, x.median);
      };
      rep("attention QK^T 12x[128x64x128]: 12 matmul calls", per_head);
      rep("attention QK^T 12x[128x64x128]: 1 batched matmul", batched);
      rep("attention QK^T 12x[128x64x128]: own_avx512, heads over threads", own);
      rep("attention PV 12x[128x128x64]: 12 matmul calls", pv_head);
      rep("attention PV 12x[128x128x64]: 1 batched matmul", pv_batched);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Training: W changes every step, so a packed copy must be re-made each step. Is reorder + packed
// execute still cheaper than the plain execute? Forward y = x·Wᵀ (weights [K,N] "ba") and the
// backward-data product dx = dy·W (dy [M,N], W as [N,K] "ab"), each with its own packed layout.
void run_train() {
  for (int t : opt.threads) {
    omp_set_num_threads(t);
    for (auto [n, k] : {std::pair<int64_t, int64_t>{768, 768}, {2304, 768}, {3072, 768}, {768, 3072}})
      for (int64_t m : {128, 512}) {
        Buffer w(alloc_floats(n * k)), wp(alloc_floats(n * k + 4096)), x(alloc_floats(m * std::max(n, k))),
            y(alloc_floats(m * std::max(n, k)));
        fill(w.get(), n * k, 0.05f, 2);
        fill(x.get(), m * std::max(n, k), 1, 1);
        dnnl::stream st(eng());
        for (bool fwd : {true, false}) {
          // fwd: [m,k]·[k,n] with W read "ba"; bwd-data: [m,n]·[n,k] with W read "ab"
          int64_t kk = fwd ? k : n, nn = fwd ? n : k;
          memory::desc src = md_rowmajor(m, kk), dst = md_rowmajor(m, nn);
          memory::desc plain = fwd ? md_w_ba(n, k) : md_rowmajor(n, k);
          memory::desc any({kk, nn}, memory::data_type::f32, memory::format_tag::any);
          dnnl::matmul::primitive_desc ppd(dnnl::matmul::desc(src, plain, dst), eng());
          dnnl::matmul::primitive_desc kpd(dnnl::matmul::desc(src, any, dst), eng());
          dnnl::matmul pprim(ppd), kprim(kpd);
          memory packed(kpd.weights_desc(), eng());
          dnnl::reorder re(dnnl::reorder::primitive_desc(eng(), plain, eng(), kpd.weights_desc()));
          memory wm(plain, eng(), w.get()), xm(src, eng(), x.get()), ym(dst, eng(), y.get());
          Stats sp = time_calls([&](size_t) {
            pprim.execute(st, {{DNNL_ARG_SRC, xm}, {DNNL_ARG_WEIGHTS, wm}, {DNNL_ARG_DST, ym}});
            st.wait();
          });
          Stats sr = time_calls([&](size_t) {
            re.execute(st, wm, packed);
            st.wait();
          });
          Stats sk = time_calls([&](size_t) {
            kprim.execute(st, {{DNNL_ARG_SRC, xm}, {DNNL_ARG_WEIGHTS, packed}, {DNNL_ARG_DST, ym}});
            st.wait();
          });
          std::printf("TRAIN\t%s\t%ld\t%ld\t%ld\t%d\t%.2f\t%.2f\t%.2f\n", fwd ? "fwd" : "bwd_data", (long)n,
                      (long)k, (long)m, t, sp.median * 1e6, sk.median * 1e6, sr.median * 1e6);
          std::fflush(stdout);
        }
      }
  }
}
#endif

#if defined(GEMM_BENCH_DNNL)
// ---------------------------------------------------------------------------------------------
// Room for later dtypes: the same pre-packed matmul with int8 weights (u8 activations · s8 weights,
// s32 accumulation on VNNI, f32 output with a scale) and with bf16 (this CPU has no avx512_bf16,
// so oneDNN 2.6 has no fast bf16 matmul here; the implementation name shows what it falls back to).
// Execute time only (activation quantisation not included). LOWP dtype M N K threads us GOP/s impl
void run_lowp() {
  for (int t : opt.threads) {
    omp_set_num_threads(t);
    for (auto [n, k] : {std::pair<int64_t, int64_t>{768, 768}, {2304, 768}, {3072, 768}, {768, 3072}})
      for (int64_t m : {1, 16, 128, 512})
        for (bool bf16 : {false, true}) {
          auto sdt = bf16 ? memory::data_type::bf16 : memory::data_type::u8;
          auto wdt = bf16 ? memory::data_type::bf16 : memory::data_type::s8;
          memory::desc src({m, k}, sdt, memory::dims{k, 1}), dst({m, n}, memory::data_type::f32, memory::dims{n, 1});
          memory::desc w_any({k, n}, wdt, memory::format_tag::any), w_plain({k, n}, wdt, memory::dims{1, k});
          dnnl::primitive_attr attr;
          if (!bf16) attr.set_output_scales(0, {0.01f});
          dnnl::matmul::primitive_desc pd;
          try {
            pd = dnnl::matmul::primitive_desc(dnnl::matmul::desc(src, w_any, dst), attr, eng());
          } catch (const dnnl::error& e) {
            std::printf("LOWP\t%s\t%ld\t%ld\t%ld\t%d\t-\t-\tunsupported\n", bf16 ? "bf16" : "int8", (long)m,
                        (long)n, (long)k, t);
            continue;
          }
          std::string impl = pd.impl_info_str();
          bool slow = impl.find("ref") != std::string::npos;
          if ((slow || bf16) && m > 128) continue;  // slow paths: M <= 128 shows the picture
          dnnl::matmul prim(pd);
          memory sm(src, eng()), dm(dst, eng()), wp(pd.weights_desc(), eng()), wplain(w_plain, eng());
          std::memset(sm.get_data_handle(), 1, src.get_size());
          std::memset(wplain.get_data_handle(), 1, w_plain.get_size());
          dnnl::stream st(eng());
          dnnl::reorder(dnnl::reorder::primitive_desc(eng(), w_plain, eng(), pd.weights_desc()))
              .execute(st, wplain, wp);
          st.wait();
          Stats s = time_calls([&](size_t) {
            prim.execute(st, {{DNNL_ARG_SRC, sm}, {DNNL_ARG_WEIGHTS, wp}, {DNNL_ARG_DST, dm}});
            st.wait();
          });
          std::printf("LOWP\t%s\t%ld\t%ld\t%ld\t%d\t%.2f\t%.2f\t%s\n", bf16 ? "bf16" : "int8", (long)m, (long)n,
                      (long)k, t, s.median * 1e6, 2.0 * m * n * k / s.median / 1e9, impl.c_str());
          std::fflush(stdout);
        }
  }
}
#endif

std::vector<int> parse_ints(const char* s) {
  std::vector<int> v;
  std::string str(s);
  size_t pos = 0;
  while (pos <= str.size()) {
    size_t e = str.find(',', pos);
    if (e == std::string::npos) e = str.size();
    if (e > pos) v.push_back(std::atoi(str.substr(pos, e - pos).c_str()));
    pos = e + 1;
  }
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  if (!__builtin_cpu_supports("avx512f")) {
    std::printf("gemm_backends: built for AVX-512 machines; this CPU has none\n");
    return 0;
  }
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--threads") opt.threads = parse_ints(next());
    else if (a == "--reps") opt.reps = std::atoi(next());
    else if (a == "--min-ms") opt.min_ms = std::atof(next());
    else if (a == "--peak") {  // "1:163.3,2:322.7"
      std::string s = next();
      size_t pos = 0;
      while (pos < s.size()) {
        size_t e = s.find(',', pos);
        if (e == std::string::npos) e = s.size();
        std::string item = s.substr(pos, e - pos);
        size_t colon = item.find(':');
        if (colon != std::string::npos) opt.peak[std::atoi(item.substr(0, colon).c_str())] = std::atof(item.substr(colon + 1).c_str());
        pos = e + 1;
      }
    } else if (a == "--tag") opt.tag = next();
    else if (a == "--cold-mb") opt.cold_mb = std::atof(next());
    else if (a == "--no-cold") opt.cold = false;
    else if (a == "--no-main") opt.main_table = false;
    else if (a == "--no-small") opt.small = false;
    else if (a == "--no-overhead") opt.overhead = false;
    else if (a == "--no-train") opt.train = false;
    else if (a == "--no-lowp") opt.lowp = false;
    else if (a == "--only") opt.only = next();
    else {
      std::fprintf(stderr,
                   "usage: %s [--threads 1,2] [--reps N] [--min-ms MS] [--peak 1:G,2:G] [--tag SUFFIX] [--cold-mb MB]\n"
                   "          [--no-cold] [--no-main] [--no-small] [--no-overhead] [--no-train] [--no-lowp] [--only NAME]\n",
                   argv[0]);
      return 2;
    }
  }
  std::printf("# gemm_backends: median of %d reps of >= %.0f ms; OMP_NUM_THREADS=%s OMP_PROC_BIND=%s OMP_PLACES=%s\n",
              opt.reps, opt.min_ms, std::getenv("OMP_NUM_THREADS") ? std::getenv("OMP_NUM_THREADS") : "(unset)",
              std::getenv("OMP_PROC_BIND") ? std::getenv("OMP_PROC_BIND") : "(unset)",
              std::getenv("OMP_PLACES") ? std::getenv("OMP_PLACES") : "(unset)");
#if defined(GEMM_BENCH_DNNL)
  const dnnl_version_t* v = dnnl_version();
  std::printf("# oneDNN %d.%d.%d (%s)\n", v->major, v->minor, v->patch, v->hash);
#endif
#if defined(GEMM_BENCH_OPENBLAS)
  std::printf("# %s; core %s; threading %s; OPENBLAS_CORETYPE=%s\n", openblas_get_config(), openblas_get_corename(),
              openblas_get_parallel() == 2 ? "OpenMP" : openblas_get_parallel() == 1 ? "pthreads" : "none",
              std::getenv("OPENBLAS_CORETYPE") ? std::getenv("OPENBLAS_CORETYPE") : "(unset)");
#endif
#if defined(GEMM_BENCH_BLIS)
  std::printf("# BLIS %s; sub-configuration %s; BLIS_ARCH_TYPE=%s\n", bli_info_get_version_str(),
              bli_arch_string(bli_arch_query_id()),
              std::getenv("BLIS_ARCH_TYPE") ? std::getenv("BLIS_ARCH_TYPE") : "(unset)");
#endif
  std::printf("# ROW backend mode M N K threads us_per_call GFLOP/s pct_of_peak spread_pct other_cpu_pct best_GFLOP/s\n");
  if (opt.main_table) {
    std::vector<std::tuple<int64_t, int64_t, int64_t>> shapes;
    for (int64_t m : {1, 16, 128, 512})
      for (auto [n, k] : {std::pair<int64_t, int64_t>{768, 768}, {2304, 768}, {3072, 768}, {768, 3072}})
        shapes.emplace_back(m, n, k);
    run_table(shapes, "main");
  }
  if (opt.small) run_table({{64, 64, 64}, {128, 128, 64}, {128, 64, 128}}, "small");
#if defined(GEMM_BENCH_DNNL)
  if (opt.overhead) run_overhead();
  if (opt.train) run_train();
  if (opt.lowp) run_lowp();
#endif
  return 0;
}
