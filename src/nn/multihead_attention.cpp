#include "xfmr/nn/multihead_attention.h"

#include <cmath>

#include "xfmr/autograd/attention.h"
#include "xfmr/autograd/ops.h"
#include "xfmr/kernels/elementwise.h"
#include "xfmr/nn/functional.h"
#include "xfmr/nn/init.h"

namespace xfmr::nn {
namespace {

bool is_bool_mask(const Tensor& m) { return m.dtype() == DType::Bool || m.dtype() == DType::U8; }

// Appends `n` zero (false / 0.0) columns to the last dimension of a mask.
Tensor pad_last(const Tensor& m, int64_t n) {
  if (!m.defined() || n == 0) return m;
  Shape s = m.shape();
  s[s.size() - 1] = n;
  Tensor z = Tensor::zeros(s, m.dtype());
  return cat({m.contiguous(), z}, -1);
}

// Non-zero entries of a float mask as a bool tensor.
Tensor nonzero_as_bool(const Tensor& m) {
  Tensor f = m.to(DType::F32).contiguous();
  Tensor b = Tensor::empty(m.shape(), DType::Bool);
  const float* pf = f.data<float>();
  auto* pb = static_cast<uint8_t*>(b.raw_data());
  for (int64_t i = 0; i < f.numel(); ++i) pb[i] = pf[i] != 0.0f;
  return b;
}

// PyTorch 1.13's mask merging (F.multi_head_attention_forward) as one additive f32 mask
// broadcastable to [N, H, L, S]: bool masks become 0 / -inf; a bool key padding mask sets -inf in
// a float attn_mask; a float key padding mask alone is added; with a bool attn_mask its non-zero
// entries are OR-ed in; with a float attn_mask it is ignored (masked_fill with a float mask is a
// no-op in 1.13).
Tensor merge_masks(const Tensor& attn_mask, const Tensor& kpm, int64_t n, int64_t h, int64_t l, int64_t s) {
  Tensor am4, pm4;
  if (attn_mask.defined()) am4 = attn_mask.dim() == 2 ? attn_mask.reshape({1, 1, l, s}) : attn_mask.reshape({n, h, l, s});
  if (kpm.defined()) pm4 = kpm.reshape({n, 1, 1, s});
  if (!am4.defined() && !pm4.defined()) return Tensor();
  if (!pm4.defined()) return functional::to_additive_mask(am4);
  if (!am4.defined()) return functional::to_additive_mask(pm4);
  if (!is_bool_mask(am4) && !is_bool_mask(pm4)) return functional::to_additive_mask(am4);
  Tensor pad_bool = is_bool_mask(pm4) ? pm4 : nonzero_as_bool(pm4);
  Tensor base = functional::to_additive_mask(am4);
  base = base.expand({n, base.size(1), l, s});
  return kernels::masked_fill(base, pad_bool, -INFINITY);
}

// Additive causal mask [L, S] (query i sees keys j <= S - L + i).
Tensor causal_mask(int64_t l, int64_t s) {
  Tensor m = Tensor::zeros({l, s});
  float* p = m.data<float>();
  for (int64_t i = 0; i < l; ++i)
    for (int64_t j = std::max<int64_t>(0, s - l + i + 1); j < s; ++j) p[i * s + j] = -INFINITY;
  return m;
}

}  // namespace

MultiheadAttention::MultiheadAttention(int64_t e, int64_t h, float p, bool bias, bool add_bias_kv, bool zero_attn,
                                       int64_t kd, int64_t vd, bool bf)
    : embed_dim(e),
      kdim(kd > 0 ? kd : e),
      vdim(vd > 0 ? vd : e),
      num_heads(h),
      head_dim(h > 0 ? e / h : 0),
      dropout(p),
      batch_first(bf),
      add_zero_attn(zero_attn) {
  XFMR_CHECK(e > 0 && h > 0, "MultiheadAttention: embed_dim and num_heads must be positive, got ", e, " and ", h);
  XFMR_CHECK(head_dim * h == e, "MultiheadAttention: embed_dim ", e, " must be divisible by num_heads ", h);
  XFMR_CHECK(p >= 0.0f && p <= 1.0f, "MultiheadAttention: dropout must be in [0, 1], got ", p);
  qkv_same_embed_dim = kdim == e && vdim == e;
  if (qkv_same_embed_dim) {
    in_proj_weight = Tensor::empty({3 * e, e});
  } else {
    q_proj_weight = Tensor::empty({e, e});
    k_proj_weight = Tensor::empty({e, kdim});
    v_proj_weight = Tensor::empty({e, vdim});
  }
  if (bias) in_proj_bias = Tensor::empty({3 * e});
  out_proj = std::make_shared<Linear>(e, e, bias);
  if (add_bias_kv) {
    bias_k = Tensor::empty({1, 1, e});
    bias_v = Tensor::empty({1, 1, e});
  }
  reset_parameters();
  register_parameter("in_proj_weight", &in_proj_weight);
  register_parameter("q_proj_weight", &q_proj_weight);
  register_parameter("k_proj_weight", &k_proj_weight);
  register_parameter("v_proj_weight", &v_proj_weight);
  register_parameter("in_proj_bias", &in_proj_bias);
  register_parameter("bias_k", &bias_k);
  register_parameter("bias_v", &bias_v);
  register_module("out_proj", out_proj);
}

void MultiheadAttention::reset_parameters(Generator& gen) {
  NoGradGuard ng;
  if (qkv_same_embed_dim) {
    init::xavier_uniform_(in_proj_weight, 1.0f, gen);
  } else {
    init::xavier_uniform_(q_proj_weight, 1.0f, gen);
    init::xavier_uniform_(k_proj_weight, 1.0f, gen);
    init::xavier_uniform_(v_proj_weight, 1.0f, gen);
  }
  if (in_proj_bias.defined()) init::zeros_(in_proj_bias);
  if (out_proj->bias.defined()) init::zeros_(out_proj->bias);
  if (bias_k.defined()) init::xavier_normal_(bias_k, 1.0f, gen);
  if (bias_v.defined()) init::xavier_normal_(bias_v, 1.0f, gen);
}

AttentionOutput MultiheadAttention::forward(const Tensor& query, const Tensor& key, const Tensor& value,
                                            const Tensor& key_padding_mask, bool need_weights,
                                            const Tensor& attn_mask, bool average_attn_weights, bool is_causal) const {
  const char* op = "MultiheadAttention";
  XFMR_CHECK(query.defined() && key.defined() && value.defined(), op, ": query, key and value are required");
  XFMR_CHECK(query.dim() == 3 || query.dim() == 2, op, ": query must be [L, N, E], [N, L, E] or unbatched [L, E], got ",
             query.describe());
  XFMR_CHECK(key.dim() == query.dim() && value.dim() == query.dim(), op, ": query ", query.describe(), ", key ",
             key.describe(), " and value ", value.describe(), " must have the same number of dimensions");
  const bool batched = query.dim() == 3;
  const bool same_qkv = query.is_same(key) && key.is_same(value);
  const bool same_kv = key.is_same(value);
  Tensor q = query, k = key, v = value, kpm = key_padding_mask;
  bool bf = batch_first;
  if (!batched) {  // a batch of one in the seq-first layout
    bf = false;
    q = unsqueeze(query, 1);
    k = same_qkv ? q : unsqueeze(key, 1);
    v = same_kv ? k : unsqueeze(value, 1);
    if (kpm.defined()) {
      XFMR_CHECK(kpm.dim() == 1, op, ": key_padding_mask of an unbatched input must be [S], got ", kpm.describe());
      kpm = kpm.unsqueeze(0);
    }
  }
  const int seq_dim = bf ? 1 : 0, batch_dim = bf ? 0 : 1;
  const int64_t E = embed_dim, H = num_heads, L = q.size(seq_dim), N = q.size(batch_dim), S0 = k.size(seq_dim);
  XFMR_CHECK(q.size(2) == E, op, ": query ", query.describe(), " does not have embed_dim ", E);
  XFMR_CHECK(k.size(2) == kdim, op, ": key ", key.describe(), " does not have kdim ", kdim);
  XFMR_CHECK(v.size(2) == vdim, op, ": value ", value.describe(), " does not have vdim ", vdim);
  XFMR_CHECK(k.size(batch_dim) == N && v.size(batch_dim) == N && v.size(seq_dim) == S0, op, ": key ", key.describe(),
             " and value ", value.describe(), " do not match the query ", query.describe(),
             " in batch size / key length (batch_first=", batch_first, ")");
  if (attn_mask.defined()) {
    if (attn_mask.dim() == 2)
      XFMR_CHECK(attn_mask.size(0) == L && attn_mask.size(1) == S0, op, ": the 2-D attn_mask is ",
                 attn_mask.describe(), ", but should be [", L, ", ", S0, "]");
    else
      XFMR_CHECK(attn_mask.dim() == 3 && attn_mask.size(0) == N * H && attn_mask.size(1) == L &&
                     attn_mask.size(2) == S0,
                 op, ": attn_mask ", attn_mask.describe(), " should be [", L, ", ", S0, "] or [", N * H, ", ", L, ", ",
                 S0, "]");
    XFMR_CHECK(is_bool_mask(attn_mask) || is_floating(attn_mask.dtype()), op,
               ": only bool, uint8 and float attn_mask are supported, got ", attn_mask.describe());
  }
  if (kpm.defined()) {
    XFMR_CHECK(kpm.dim() == 2 && kpm.size(0) == N && kpm.size(1) == S0, op, ": key_padding_mask ", kpm.describe(),
               " should be [", N, ", ", S0, "]");
    XFMR_CHECK(is_bool_mask(kpm) || is_floating(kpm.dtype()), op,
               ": only bool and floating key_padding_mask are supported, got ", kpm.describe());
  }

  // ---- in-projection: one packed GEMM for self-attention, views for the heads
  auto bias_rows = [&](int64_t first, int64_t count) {
    return in_proj_bias.defined() ? narrow(in_proj_bias, 0, first * E, count * E) : Tensor();
  };
  Tensor q4, k4, v4;  // [N, H, T, head_dim]
  if (qkv_same_embed_dim && same_qkv) {
    auto hs = split_heads(linear(q, in_proj_weight, in_proj_bias), 3, H, bf);
    q4 = hs[0], k4 = hs[1], v4 = hs[2];
  } else if (qkv_same_embed_dim) {
    q4 = split_heads(linear(q, narrow(in_proj_weight, 0, 0, E), bias_rows(0, 1)), 1, H, bf)[0];
    if (same_kv) {
      auto hs = split_heads(linear(k, narrow(in_proj_weight, 0, E, 2 * E), bias_rows(1, 2)), 2, H, bf);
      k4 = hs[0], v4 = hs[1];
    } else {
      k4 = split_heads(linear(k, narrow(in_proj_weight, 0, E, E), bias_rows(1, 1)), 1, H, bf)[0];
      v4 = split_heads(linear(v, narrow(in_proj_weight, 0, 2 * E, E), bias_rows(2, 1)), 1, H, bf)[0];
    }
  } else {
    q4 = split_heads(linear(q, q_proj_weight, bias_rows(0, 1)), 1, H, bf)[0];
    k4 = split_heads(linear(k, k_proj_weight, bias_rows(1, 1)), 1, H, bf)[0];
    v4 = split_heads(linear(v, v_proj_weight, bias_rows(2, 1)), 1, H, bf)[0];
  }
  Tensor am = attn_mask;
  int64_t extra_keys = 0;
  if (bias_k.defined()) {  // one more key/value per batch entry: the learned biases
    k4 = cat({k4, expand(reshape(bias_k, {1, H, 1, head_dim}), {N, H, 1, head_dim})}, 2);
    v4 = cat({v4, expand(reshape(bias_v, {1, H, 1, head_dim}), {N, H, 1, head_dim})}, 2);
    ++extra_keys;
  }
  if (add_zero_attn) {
    k4 = cat({k4, Tensor::zeros({N, H, 1, head_dim})}, 2);
    v4 = cat({v4, Tensor::zeros({N, H, 1, head_dim})}, 2);
    ++extra_keys;
  }
  const int64_t S = S0 + extra_keys;
  am = pad_last(am, extra_keys);
  kpm = pad_last(kpm, extra_keys);
  const bool causal = is_causal && !am.defined();
  Tensor mask = merge_masks(am, kpm, N, H, L, S);

  // ---- attention
  const bool drop = is_training() && dropout > 0.0f;
  const bool recording = GradMode::is_enabled() && autograd::any_requires_grad({&q4, &k4, &v4});
  Tensor attn4, w;
  if (drop || (need_weights && recording)) {
    // Composed ops (PyTorch's formulation): differentiable weights, dropout on the probabilities.
    Tensor scores = matmul(div(q4, Tensor::scalar(std::sqrt(static_cast<double>(head_dim)))), transpose(k4, -2, -1));
    if (mask.defined()) scores = add(scores, mask);
    if (causal) scores = add(scores, causal_mask(L, S));
    Tensor p = softmax(scores, -1);
    if (drop) p = xfmr::dropout(p, dropout, true, generator ? *generator : default_generator());
    w = p;
    attn4 = matmul(p, v4);
  } else {
    Tensor probs;
    attn4 = scaled_dot_product_attention(q4, k4, v4, mask, causal,
                                         1.0f / std::sqrt(static_cast<float>(head_dim)), 0.0f, false,
                                         need_weights ? &probs : nullptr);
    w = probs;
  }
  AttentionOutput out;
  out.output = linear(merge_heads(attn4, bf), out_proj->weight, out_proj->bias);
  if (!batched) out.output = squeeze(out.output, 1);
  if (need_weights) {
    out.weights = average_attn_weights ? div(sum(w, {1}), Tensor::scalar(static_cast<double>(H))) : w;
    if (!batched) out.weights = squeeze(out.weights, 0);
  }
  return out;
}

}  // namespace xfmr::nn
