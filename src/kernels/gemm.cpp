// GEMM through oneDNN's matmul primitive. oneDNN JIT-compiles a kernel per problem description,
// which costs far more than a small product, so primitives are cached by their full description
// (shapes, strides, transposes, alpha, beta, bias). The cache is bounded; see kMaxCachedPrimitives.
#include "xfmr/kernels/gemm.h"

#include <dnnl.hpp>
#include <list>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "xfmr/core/parallel.h"

namespace xfmr::kernels {
namespace {

using dnnl::memory;

constexpr size_t kMaxCachedPrimitives = 4096;

struct GemmKey {
  int64_t batch, m, n, k;
  int64_t lda, ldb, ldc, sa, sb, sc;
  bool ta, tb, bias;
  float alpha, beta;
  int threads;
  bool operator==(const GemmKey& o) const {
    return batch == o.batch && m == o.m && n == o.n && k == o.k && lda == o.lda && ldb == o.ldb && ldc == o.ldc &&
           sa == o.sa && sb == o.sb && sc == o.sc && ta == o.ta && tb == o.tb && bias == o.bias &&
           alpha == o.alpha && beta == o.beta && threads == o.threads;
  }
};

struct GemmKeyHash {
  size_t operator()(const GemmKey& k) const {
    size_t h = 1469598103934665603ull;
    auto mix = [&h](uint64_t v) { h = (h ^ v) * 1099511628211ull; };
    for (int64_t v : {k.batch, k.m, k.n, k.k, k.lda, k.ldb, k.ldc, k.sa, k.sb, k.sc}) mix(static_cast<uint64_t>(v));
    mix(static_cast<uint64_t>(k.ta) | static_cast<uint64_t>(k.tb) << 1 | static_cast<uint64_t>(k.bias) << 2);
    uint32_t a, b;
    std::memcpy(&a, &k.alpha, 4);
    std::memcpy(&b, &k.beta, 4);
    mix(a);
    mix(b);
    mix(static_cast<uint64_t>(k.threads));
    return h;
  }
};

struct Cached {
  dnnl::matmul prim;
  memory::desc a, b, c, bias, scratch;
};

struct Context {
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  std::mutex mu;
  std::unordered_map<GemmKey, std::pair<Cached, std::list<GemmKey>::iterator>, GemmKeyHash> cache;
  std::list<GemmKey> lru;  // most recent first
};

Context& ctx() {
  static Context* c = new Context();  // never destroyed: used from static destructors too
  return *c;
}

Cached create(const GemmKey& key) {
  auto& e = ctx().engine;
  memory::dims a_dims, b_dims, c_dims, a_str, b_str, c_str;
  if (key.batch > 1 || key.sa || key.sb || key.sc) {
    a_dims = {key.batch, key.m, key.k};
    b_dims = {key.batch, key.k, key.n};
    c_dims = {key.batch, key.m, key.n};
    a_str = key.ta ? memory::dims{key.sa, 1, key.lda} : memory::dims{key.sa, key.lda, 1};
    b_str = key.tb ? memory::dims{key.sb, 1, key.ldb} : memory::dims{key.sb, key.ldb, 1};
    c_str = {key.sc, key.ldc, 1};
  } else {
    a_dims = {key.m, key.k};
    b_dims = {key.k, key.n};
    c_dims = {key.m, key.n};
    a_str = key.ta ? memory::dims{1, key.lda} : memory::dims{key.lda, 1};
    b_str = key.tb ? memory::dims{1, key.ldb} : memory::dims{key.ldb, 1};
    c_str = {key.ldc, 1};
  }
  Cached c;
  c.a = memory::desc(a_dims, memory::data_type::f32, a_str);
  c.b = memory::desc(b_dims, memory::data_type::f32, b_str);
  c.c = memory::desc(c_dims, memory::data_type::f32, c_str);
  dnnl::primitive_attr attr;
  // Our own scratchpad per call: oneDNN's default (library-managed) scratchpad is shared between
  // threads in builds without DNNL_ENABLE_CONCURRENT_EXEC, and we run small GEMMs concurrently
  // from several threads (attention heads).
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  if (key.alpha != 1.0f) attr.set_output_scales(0, {key.alpha});
  if (key.beta != 0.0f) {
    dnnl::post_ops po;
    po.append_sum(key.beta);
    attr.set_post_ops(po);
  }
  if (key.bias) {
    memory::dims bd = c_dims.size() == 3 ? memory::dims{1, 1, key.n} : memory::dims{1, key.n};
    c.bias = memory::desc(bd, memory::data_type::f32, c_dims.size() == 3 ? memory::dims{key.n, key.n, 1}
                                                                        : memory::dims{key.n, 1});
    dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(c.a, c.b, c.bias, c.c), attr, e);
    c.scratch = pd.scratchpad_desc();
    c.prim = dnnl::matmul(pd);
  } else {
    dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(c.a, c.b, c.c), attr, e);
    c.scratch = pd.scratchpad_desc();
    c.prim = dnnl::matmul(pd);
  }
  return c;
}

Cached get(const GemmKey& key) {
  auto& c = ctx();
  {
    std::lock_guard<std::mutex> lock(c.mu);
    auto it = c.cache.find(key);
    if (it != c.cache.end()) {
      c.lru.splice(c.lru.begin(), c.lru, it->second.second);
      return it->second.first;
    }
  }
  Cached made = create(key);
  std::lock_guard<std::mutex> lock(c.mu);
  if (!c.cache.count(key)) {
    c.lru.push_front(key);
    c.cache.emplace(key, std::make_pair(made, c.lru.begin()));
    if (c.cache.size() > kMaxCachedPrimitives) {
      c.cache.erase(c.lru.back());
      c.lru.pop_back();
    }
  }
  return made;
}

void run(const GemmKey& key, const float* a, const float* b, const float* bias, float* c) {
  if (key.m == 0 || key.n == 0 || key.batch == 0) return;
  if (key.k == 0) {  // empty sum: C = beta * C (+ bias)
    for (int64_t bi = 0; bi < key.batch; ++bi)
      for (int64_t i = 0; i < key.m; ++i)
        for (int64_t j = 0; j < key.n; ++j) {
          float& out = c[bi * key.sc + i * key.ldc + j];
          out = (key.beta == 0.0f ? 0.0f : key.beta * out) + (bias ? bias[j] : 0.0f);
        }
    return;
  }
  Cached p = get(key);
  auto& e = ctx().engine;
  dnnl::stream s(e);
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, memory(p.a, e, const_cast<float*>(a))},
                                       {DNNL_ARG_WEIGHTS, memory(p.b, e, const_cast<float*>(b))},
                                       {DNNL_ARG_DST, memory(p.c, e, c)}};
  if (key.bias) args.emplace(DNNL_ARG_BIAS, memory(p.bias, e, const_cast<float*>(bias)));
  size_t scratch_bytes = p.scratch.get_size();
  if (scratch_bytes > 0) {
    thread_local std::vector<uint8_t> scratch;  // grows to the largest need, reused across calls
    if (scratch.size() < scratch_bytes + 64) scratch.resize(scratch_bytes + 64);
    void* aligned = reinterpret_cast<void*>((reinterpret_cast<uintptr_t>(scratch.data()) + 63) & ~uintptr_t{63});
    args.emplace(DNNL_ARG_SCRATCHPAD, memory(p.scratch, e, aligned));
  }
  p.prim.execute(s, args);
  s.wait();
}

}  // namespace

void sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
           const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  GemmKey key{1, m, n, k, lda, ldb, ldc, 0, 0, 0, trans_a, trans_b, false, alpha, beta,
              in_parallel_region() ? 1 : num_threads()};
  run(key, a, b, nullptr, c);
}

void sgemm_batched(int64_t batch, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                   const float* a, int64_t lda, int64_t stride_a, const float* b, int64_t ldb, int64_t stride_b,
                   float beta, float* c, int64_t ldc, int64_t stride_c) {
  if (batch == 1) return sgemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  GemmKey key{batch, m, n, k, lda, ldb, ldc, stride_a, stride_b, stride_c, trans_a, trans_b, false, alpha, beta,
              in_parallel_region() ? 1 : num_threads()};
  run(key, a, b, nullptr, c);
}

size_t gemm_cache_size() {
  std::lock_guard<std::mutex> lock(ctx().mu);
  return ctx().cache.size();
}

namespace {
// Describes a 2-D view [r, c] for sgemm: row-major (unit column stride, ld = row stride) or
// column-major (unit row stride, ld = column stride, read as a transposed operand). Returns false
// when neither holds and the caller must copy.
bool as_matrix(const Tensor& t, bool* trans, int64_t* ld) {
  int64_t r = t.size(0), c = t.size(1), s0 = t.stride(0), s1 = t.stride(1);
  if (c == 1 || s1 == 1) {
    int64_t l = r == 1 ? std::max<int64_t>(c, 1) : s0;
    if (l >= std::max<int64_t>(c, 1)) {
      *trans = false;
      *ld = l;
      return true;
    }
  }
  if (r == 1 || s0 == 1) {
    int64_t l = c == 1 ? std::max<int64_t>(r, 1) : s1;
    if (l >= std::max<int64_t>(r, 1)) {
      *trans = true;
      *ld = l;
      return true;
    }
  }
  return false;
}

Tensor as_gemm_operand(const Tensor& t, bool* trans, int64_t* ld) {
  if (as_matrix(t, trans, ld)) return t;
  Tensor c = t.contiguous();
  as_matrix(c, trans, ld);
  return c;
}
}  // namespace

Tensor matmul(const Tensor& a_in, const Tensor& b_in) {
  check_dtype(a_in, DType::F32, "matmul", "a");
  check_dtype(b_in, DType::F32, "matmul", "b");
  XFMR_CHECK(a_in.dim() >= 1 && b_in.dim() >= 1, "matmul: both arguments need at least 1 dimension, got ",
             a_in.describe(), " and ", b_in.describe());
  Tensor a = a_in.dim() == 1 ? a_in.unsqueeze(0) : a_in;
  Tensor b = b_in.dim() == 1 ? b_in.unsqueeze(1) : b_in;
  int64_t m = a.size(-2), k = a.size(-1), n = b.size(-1);
  XFMR_CHECK(b.size(-2) == k, "matmul: inner dimensions differ: ", a_in.describe(), " @ ", b_in.describe());
  Shape ab(a.shape().begin(), a.shape().end() - 2), bb(b.shape().begin(), b.shape().end() - 2);
  Shape batch = broadcast_shapes(ab, bb, "matmul");
  int64_t nb = batch.numel();
  Shape out_shape = batch;
  out_shape.push_back(m);
  out_shape.push_back(n);
  Tensor out = Tensor::empty(out_shape);
  Shape final_shape = out_shape;
  if (a_in.dim() == 1) final_shape.erase(final_shape.size() - 2);
  if (b_in.dim() == 1) final_shape.erase(final_shape.size() - 1);
  if (out.numel() == 0) return out.view(final_shape);

  // Common case: b has no batch dims (x @ W): fold a's batch into rows when a's rows are uniform.
  if (bb.numel() == 1 && ab.numel() == nb && a.is_contiguous()) {
    bool tb;
    int64_t ldb;
    Tensor b2 = as_gemm_operand(b.reshape({k, n}), &tb, &ldb);
    sgemm(false, tb, nb * m, n, k, 1.0f, a.data<float>(), k, b2.data<float>(), ldb, 0.0f, out.data<float>(), n);
    return out.view(final_shape);
  }
  Shape ae = batch, be = batch;
  ae.push_back(m);
  ae.push_back(k);
  be.push_back(k);
  be.push_back(n);
  // Flatten batch dims into one (copying when the batch strides do not allow a view).
  auto flat = [&](const Tensor& t, const Shape& full, int64_t r, int64_t c) {
    Tensor e = t.expand(full);
    Tensor f;
    try {
      f = e.view({nb, r, c});
    } catch (const Error&) {
      f = e.contiguous().view({nb, r, c});
    }
    return f;
  };
  Tensor a3 = flat(a, ae, m, k), b3 = flat(b, be, k, n);
  bool ta, tb;
  int64_t lda, ldb;
  bool ok_a = as_matrix(a3.select(0, 0), &ta, &lda), ok_b = as_matrix(b3.select(0, 0), &tb, &ldb);
  if (!ok_a) a3 = a3.contiguous(), as_matrix(a3.select(0, 0), &ta, &lda);
  if (!ok_b) b3 = b3.contiguous(), as_matrix(b3.select(0, 0), &tb, &ldb);
  int64_t sa = a3.stride(0), sb = b3.stride(0);
  float* po = out.data<float>();
  if (sa == 0 || sb == 0 || nb == 1) {
    // Broadcast operand (batch stride 0): one product per batch entry.
    for (int64_t i = 0; i < nb; ++i)
      sgemm(ta, tb, m, n, k, 1.0f, a3.data<float>() + i * sa, lda, b3.data<float>() + i * sb, ldb, 0.0f,
            po + i * m * n, n);
  } else {
    sgemm_batched(nb, ta, tb, m, n, k, 1.0f, a3.data<float>(), lda, sa, b3.data<float>(), ldb, sb, 0.0f, po, n,
                  m * n);
  }
  return out.view(final_shape);
}

Tensor linear(const Tensor& x, const Tensor& w, const Tensor& bias) {
  check_dtype(x, DType::F32, "linear", "input");
  check_dtype(w, DType::F32, "linear", "weight");
  check_dim(w, 2, "linear", "weight");
  XFMR_CHECK(x.dim() >= 1 && x.size(-1) == w.size(1), "linear: input ", x.describe(), " does not match weight ",
             w.describe(), " (expected last dimension ", w.size(1), ")");
  int64_t in = w.size(1), outf = w.size(0);
  if (bias.defined()) {
    check_dtype(bias, DType::F32, "linear", "bias");
    XFMR_CHECK(bias.dim() == 1 && bias.size(0) == outf, "linear: bias ", bias.describe(), " does not match weight ",
               w.describe());
  }
  bool tx, tw;
  int64_t ldx, ldw;
  Tensor x2 = as_gemm_operand(x.reshape({-1, in}), &tx, &ldx);
  Tensor wc = as_gemm_operand(w, &tw, &ldw);
  Tensor bc = bias.defined() ? bias.contiguous() : Tensor();
  int64_t rows = x2.size(0);
  Shape out_shape = x.shape();
  out_shape[out_shape.size() - 1] = outf;
  Tensor out = Tensor::empty(out_shape);
  // y = x · w^T : B = w^T, i.e. w read transposed.
  GemmKey key{1, rows, outf, in, ldx, ldw, outf, 0, 0, 0, tx, !tw, bc.defined(), 1.0f, 0.0f,
              in_parallel_region() ? 1 : num_threads()};
  run(key, x2.data<float>(), wc.data<float>(), bc.defined() ? bc.data<float>() : nullptr, out.data<float>());
  return out;
}

}  // namespace xfmr::kernels
