// Fused scaled-dot-product attention. Work is split into (batch, head, block of query rows) tasks;
// each task computes its [rows x S] scores with a small GEMM, applies scale, mask and softmax in
// place, and multiplies by V - so memory is O(threads x block x S), never [H x L x S], unless the
// caller asks for the probabilities. Inside the parallel region oneDNN runs single-threaded.
#include "xfmr/kernels/attention.h"

#include <cmath>
#include <vector>

#include "internal.h"
#include "xfmr/core/parallel.h"
#include "xfmr/kernels/gemm.h"

namespace xfmr::kernels {
namespace {

constexpr int64_t kRowBlock = 64;

Tensor unit_inner(const Tensor& t) { return t.stride(-1) == 1 ? t : t.contiguous(); }

struct Operand {
  const float* base;
  int64_t sb, sh, sr;  // strides of batch, head, row
  const float* at(int64_t b, int64_t h) const { return base + b * sb + h * sh; }
};

Operand operand(const Tensor& t) {
  // Broadcast (size-1) batch/head dims get stride 0.
  return {t.data<float>(), t.size(0) == 1 ? 0 : t.stride(0), t.size(1) == 1 ? 0 : t.stride(1), t.stride(2)};
}

void check_inputs(const Tensor& q, const Tensor& k, const Tensor& v, const char* op) {
  check_dtype(q, DType::F32, op, "query");
  check_dtype(k, DType::F32, op, "key");
  check_dtype(v, DType::F32, op, "value");
  check_dim(q, 4, op, "query");
  check_dim(k, 4, op, "key");
  check_dim(v, 4, op, "value");
  XFMR_CHECK(q.size(3) == k.size(3), op, ": query ", q.describe(), " and key ", k.describe(), " differ in head size");
  XFMR_CHECK(k.size(2) == v.size(2), op, ": key ", k.describe(), " and value ", v.describe(), " differ in length");
  for (int d = 0; d < 2; ++d) {
    int64_t b = q.size(d);
    XFMR_CHECK((k.size(d) == b || k.size(d) == 1) && (v.size(d) == b || v.size(d) == 1), op,
               ": batch/head dims of query ", q.describe(), ", key ", k.describe(), " and value ", v.describe(),
               " do not match");
  }
}

}  // namespace

AttentionResult scaled_dot_product_attention(const Tensor& q_in, const Tensor& k_in, const Tensor& v_in,
                                             const AttentionMask& mask, float scale, bool return_probs) {
  const char* op = "scaled_dot_product_attention";
  check_inputs(q_in, k_in, v_in, op);
  Tensor q = unit_inner(q_in), k = unit_inner(k_in), v = unit_inner(v_in);
  const int64_t B = q.size(0), H = q.size(1), L = q.size(2), D = q.size(3), S = k.size(2), Dv = v.size(3);
  Tensor mask_e;
  if (mask.additive.defined()) {
    check_dtype(mask.additive, DType::F32, op, "mask");
    XFMR_CHECK(mask.additive.dim() <= 4, op, ": mask ", mask.additive.describe(), " has more than 4 dimensions");
    mask_e = mask.additive.expand({B, H, L, S});
  }
  AttentionResult r;
  r.out = Tensor::empty({B, H, L, Dv});
  if (return_probs) r.probs = Tensor::empty({B, H, L, S});
  if (r.out.numel() == 0) return r;
  Operand oq = operand(q), ok = operand(k), ov = operand(v);
  float* po = r.out.data<float>();
  float* pp = return_probs ? r.probs.data<float>() : nullptr;
  const float* pmask = mask_e.defined() ? mask_e.data<float>() : nullptr;
  const int64_t past = S - L;
  const int64_t nblk = (L + kRowBlock - 1) / kRowBlock;
  const int64_t tasks = B * H * nblk;
  parallel_for(0, tasks, 1, [&](int64_t lo, int64_t hi) {
    std::vector<float> scratch(return_probs ? 0 : static_cast<size_t>(kRowBlock * S));
    for (int64_t t = lo; t < hi; ++t) {
      int64_t blk = t % nblk, bh = t / nblk, h = bh % H, b = bh / H;
      int64_t r0 = blk * kRowBlock, rows = std::min(kRowBlock, L - r0);
      float* sc = pp ? pp + ((b * H + h) * L + r0) * S : scratch.data();
      // scores = scale * q_blk k^T   [rows, S]
      sgemm(false, true, rows, S, D, scale, oq.at(b, h) + r0 * oq.sr, oq.sr, ok.at(b, h), ok.sr, 0.0f, sc, S);
      for (int64_t i = 0; i < rows; ++i) {
        float* row = sc + i * S;
        if (pmask) {
          const float* mrow = pmask + b * mask_e.stride(0) + h * mask_e.stride(1) + (r0 + i) * mask_e.stride(2);
          int64_t ms = mask_e.stride(3);
          for (int64_t j = 0; j < S; ++j) row[j] += mrow[j * ms];
        }
        if (mask.causal) {
          for (int64_t j = std::max<int64_t>(0, past + r0 + i + 1); j < S; ++j) row[j] = -INFINITY;
        }
        softmax_row(row, row, S);
      }
      // out_blk = P v   [rows, Dv]
      sgemm(false, false, rows, Dv, S, 1.0f, sc, S, ov.at(b, h), ov.sr, 0.0f, po + ((b * H + h) * L + r0) * Dv, Dv);
    }
  });
  return r;
}

AttentionGrads scaled_dot_product_attention_backward(const Tensor& grad_out, const Tensor& q_in, const Tensor& k_in,
                                                     const Tensor& v_in, const Tensor& probs, float scale) {
  const char* op = "scaled_dot_product_attention_backward";
  check_inputs(q_in, k_in, v_in, op);
  Tensor q = unit_inner(q_in), k = unit_inner(k_in), v = unit_inner(v_in);
  const int64_t B = q.size(0), H = q.size(1), L = q.size(2), D = q.size(3), S = k.size(2), Dv = v.size(3);
  XFMR_CHECK(grad_out.shape() == Shape({B, H, L, Dv}), op, ": grad ", grad_out.describe(), " does not match output [",
             B, ", ", H, ", ", L, ", ", Dv, "]");
  XFMR_CHECK(probs.shape() == Shape({B, H, L, S}), op, ": probabilities ", probs.describe(), " do not match");
  Tensor go = grad_out.contiguous(), p = probs.contiguous();
  // Gradients w.r.t. broadcast (size-1) key/value batch dims are summed afterwards: compute full size.
  AttentionGrads g;
  g.dq = Tensor::empty({B, H, L, D});
  Tensor dk = Tensor::empty({B, H, S, D}), dv = Tensor::empty({B, H, S, Dv});
  Operand oq = operand(q), ok = operand(k), ov = operand(v);
  const float* pgo = go.data<float>();
  const float* pp = p.data<float>();
  float* pdq = g.dq.data<float>();
  float* pdk = dk.data<float>();
  float* pdv = dv.data<float>();
  parallel_for(0, B * H, 1, [&](int64_t lo, int64_t hi) {
    std::vector<float> ds(static_cast<size_t>(L * S));
    for (int64_t bh = lo; bh < hi; ++bh) {
      int64_t b = bh / H, h = bh % H;
      const float* P = pp + bh * L * S;
      const float* dO = pgo + bh * L * Dv;
      // dV = P^T dO   [S, Dv]
      sgemm(true, false, S, Dv, L, 1.0f, P, S, dO, Dv, 0.0f, pdv + bh * S * Dv, Dv);
      // dP = dO V^T   [L, S]
      sgemm(false, true, L, S, Dv, 1.0f, dO, Dv, ov.at(b, h), ov.sr, 0.0f, ds.data(), S);
      // dS = P * (dP - rowsum(dP * P))
      for (int64_t i = 0; i < L; ++i) {
        float* dsr = ds.data() + i * S;
        const float* pr = P + i * S;
        float dot = 0.0f;
        for (int64_t j = 0; j < S; ++j) dot += dsr[j] * pr[j];
        for (int64_t j = 0; j < S; ++j) dsr[j] = pr[j] * (dsr[j] - dot);
      }
      // dQ = scale dS K   [L, D];  dK = scale dS^T Q   [S, D]
      sgemm(false, false, L, D, S, scale, ds.data(), S, ok.at(b, h), ok.sr, 0.0f, pdq + bh * L * D, D);
      sgemm(true, false, S, D, L, scale, ds.data(), S, oq.at(b, h), oq.sr, 0.0f, pdk + bh * S * D, D);
    }
  });
  auto reduce_to = [](const Tensor& full, const Tensor& like) {
    if (full.size(0) == like.size(0) && full.size(1) == like.size(1)) return full;
    Tensor c = full.contiguous();
    // Sum over broadcast dims with plain loops (rare path: shared K/V across heads).
    Tensor out = Tensor::zeros(like.shape());
    const float* pc = c.data<float>();
    float* po = out.data<float>();
    int64_t b0 = full.size(0), h0 = full.size(1), inner = full.size(2) * full.size(3);
    for (int64_t b = 0; b < b0; ++b)
      for (int64_t h = 0; h < h0; ++h) {
        int64_t ob = like.size(0) == 1 ? 0 : b, oh = like.size(1) == 1 ? 0 : h;
        float* dst = po + (ob * like.size(1) + oh) * inner;
        const float* src = pc + (b * h0 + h) * inner;
        for (int64_t i = 0; i < inner; ++i) dst[i] += src[i];
      }
    return out;
  };
  g.dk = reduce_to(dk, k);
  g.dv = reduce_to(dv, v);
  return g;
}

}  // namespace xfmr::kernels
