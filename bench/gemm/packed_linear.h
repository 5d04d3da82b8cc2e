// Prototype for src/kernels: an nn.Linear weight held in oneDNN's pre-packed ("blocked") layout.
// Self-contained (only <dnnl.hpp>); bench/gemm/packed_linear_demo.cpp tests and times it.
//
// Why: measured in docs/performance.md (GEMM section). oneDNN's matmul with plain [N, K] weights re-packs
// (copies) blocks of W inside every execute; with format_tag::any + a one-time reorder the packing
// happens once, at load. The packed layout (BA16a64b for f32 on AVX-512: K blocked by 16, N by 64)
// depends on (N, K, dtype, ISA) but NOT on M, so one packed copy serves every sequence length;
// only the (cheap, cached) matmul primitive is per M.
//
// The oneDNN calls, in order:
//   1. memory::desc w_any({K, N}, f32, format_tag::any)
//      matmul::primitive_desc pd(matmul::desc(src_md{M0,K}, w_any, [bias_md{1,N}], dst_md{M0,N}), engine)
//      packed_md = pd.weights_desc()                                   -- the layout oneDNN wants
//   2. reorder(reorder::primitive_desc(engine, plain_md, engine, packed_md)).execute(stream, plain, packed)
//      plain_md = memory::desc({K, N}, f32, strides {1, K})            -- W [N, K] row-major read as Wᵀ
//   3. per M (cached): matmul::primitive_desc(matmul::desc(src_md{M,K}, packed_md, bias_md, dst_md{M,N}),
//      engine); the explicit packed_md (not `any`) guarantees the primitive accepts our buffer.
//   4. execute(stream, {SRC: x, WEIGHTS: packed, BIAS: b, DST: y}); stream.wait().
//
// Threads: oneDNN (OpenMP build) bakes omp_get_max_threads() into a primitive, so the per-M cache
// key includes the thread count (as src/kernels/gemm.cpp does).
//
// Later dtypes (not implemented here, same object and calls):
//   - bf16 weights: w_any with data_type::bf16 and src converted to bf16 (or f32 src with a
//     reorder per call); needs avx512_bf16/AMX to pay off -- this machine has neither (oneDNN 2.6
//     then has no fast bf16 matmul), the project's Zen 5 machines have avx512_bf16.
//   - int8 weights: w_any with data_type::s8 (packed to the VNNI layout by the same reorder,
//     with per-output-channel scales via primitive_attr::set_output_scales(mask = 1 << 1, ...)),
//     activations quantised per call to u8 (+ zero point, attr set_zero_points(DNNL_ARG_SRC, ...)).
//     One PackedLinear per (W, dtype); the forward() signature stays float in / float out.
#pragma once

#include <omp.h>

#include <cstdint>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <unordered_map>
#include <utility>

#include <dnnl.hpp>

namespace gemm_bench {

class PackedLinear {
 public:
  using memory = dnnl::memory;

  // w: [out_features, in_features] row-major (nn.Linear.weight), bias: [out_features] or nullptr.
  // Both are copied (packed / kept), the caller's buffers may go away.
  PackedLinear(const float* w, int64_t out_features, int64_t in_features, const float* bias = nullptr)
      : n_(out_features), k_(in_features), has_bias_(bias != nullptr) {
    plain_md_ = memory::desc({k_, n_}, memory::data_type::f32, memory::dims{1, k_});
    bias_md_ = memory::desc({1, n_}, memory::data_type::f32, memory::dims{n_, 1});
    // Ask oneDNN for its preferred weights layout. Any M gives the same layout; 128 is typical.
    const int64_t m0 = 128;
    memory::desc w_any({k_, n_}, memory::data_type::f32, memory::format_tag::any);
    auto pd = make_pd(m0, w_any);
    packed_md_ = pd.weights_desc();
    packed_ = memory(packed_md_, engine());  // oneDNN allocates (64-byte aligned)
    reorder_ = dnnl::reorder(dnnl::reorder::primitive_desc(engine(), plain_md_, engine(), packed_md_));
    repack(w);
    if (has_bias_) {
      bias_ = memory(bias_md_, engine());
      std::memcpy(bias_.get_data_handle(), bias, n_ * sizeof(float));
    }
  }

  // Training: W changed in place (same shape). Re-uses the buffer and the reorder primitive.
  // Costs one pass over W (see the reorder column of docs/performance.md (GEMM section)).
  void repack(const float* w) {
    memory src(plain_md_, engine(), const_cast<float*>(w));
    dnnl::stream s(engine());
    reorder_.execute(s, src, packed_);
    s.wait();
  }

  // y[m, N] = x[m, K] · Wᵀ (+ bias). x and y row-major, dense.
  void forward(const float* x, int64_t m, float* y) const {
    if (m == 0) return;
    const Exec& e = exec_for(m);
    dnnl::stream s(engine());
    std::unordered_map<int, memory> args{{DNNL_ARG_SRC, memory(e.src, engine(), const_cast<float*>(x))},
                                         {DNNL_ARG_WEIGHTS, packed_},
                                         {DNNL_ARG_DST, memory(e.dst, engine(), y)}};
    if (has_bias_) args.emplace(DNNL_ARG_BIAS, bias_);
    e.prim.execute(s, args);
    s.wait();
  }

  int64_t out_features() const { return n_; }
  int64_t in_features() const { return k_; }
  size_t packed_bytes() const { return packed_md_.get_size(); }
  size_t cached_primitives() const {
    std::lock_guard<std::mutex> lock(mu_);
    return cache_.size();
  }

  static dnnl::engine& engine() {
    static dnnl::engine e(dnnl::engine::kind::cpu, 0);
    return e;
  }

 private:
  struct Exec {
    dnnl::matmul prim;
    memory::desc src, dst;
  };

  dnnl::matmul::primitive_desc make_pd(int64_t m, const memory::desc& w_md) const {
    memory::desc src({m, k_}, memory::data_type::f32, memory::dims{k_, 1});
    memory::desc dst({m, n_}, memory::data_type::f32, memory::dims{n_, 1});
    auto d = has_bias_ ? dnnl::matmul::desc(src, w_md, bias_md_, dst) : dnnl::matmul::desc(src, w_md, dst);
    return dnnl::matmul::primitive_desc(d, engine());
  }

  const Exec& exec_for(int64_t m) const {
    const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
    const std::pair<int64_t, int> key{m, threads};
    std::lock_guard<std::mutex> lock(mu_);  // creation is rare; keep it simple
    auto it = cache_.find(key);
    if (it != cache_.end()) return it->second;
    auto pd = make_pd(m, packed_md_);  // explicit packed layout: throws if this M cannot use it
    Exec e{dnnl::matmul(pd), pd.src_desc(), pd.dst_desc()};
    return cache_.emplace(key, std::move(e)).first->second;
  }

  struct KeyHash {
    size_t operator()(const std::pair<int64_t, int>& k) const {
      return std::hash<int64_t>()(k.first * 1315423911 + k.second);
    }
  };

  int64_t n_, k_;
  bool has_bias_;
  memory::desc plain_md_, packed_md_, bias_md_;
  memory packed_, bias_;
  dnnl::reorder reorder_;
  mutable std::mutex mu_;
  mutable std::unordered_map<std::pair<int64_t, int>, Exec, KeyHash> cache_;
};

}  // namespace gemm_bench
