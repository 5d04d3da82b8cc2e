#include "blocks.h"

#include <algorithm>

#include "xfmr/kernels/linear_lowp.h"
#include "xfmr/nn/init.h"

namespace xfmr::models::detail {

// ---------------------------------------------------------------- placeholders

namespace {
const Tensor& placeholder_base() {
  static const Tensor* base = new Tensor(Tensor::zeros({1}));
  return *base;
}
}  // namespace

Tensor placeholder(const Shape& shape) {
  Shape strides;
  for (int i = 0; i < shape.size(); ++i) strides.push_back(0);
  return Tensor::from_storage(placeholder_base().storage(), DType::F32, shape, strides, 0);
}

bool is_placeholder(const Tensor& t) { return t.defined() && t.storage() == placeholder_base().storage(); }

void rebind(const Tensor& slot, const Tensor& src) {
  TensorImpl& d = slot.impl();
  const TensorImpl& s = src.impl();
  d.storage = s.storage;
  d.offset = s.offset;
  d.shape = s.shape;
  d.strides = s.strides;
  d.dtype = s.dtype;
}

// ---------------------------------------------------------------- layers

Dense::Dense(int64_t in, int64_t out, bool has_bias) : in_features(in), out_features(out) {
  XFMR_CHECK(in > 0 && out > 0, "Linear: features must be positive, got in=", in, " out=", out);
  weight = placeholder({out, in});
  if (has_bias) bias = placeholder({out});
  register_parameter("weight", &weight);
  register_parameter("bias", &bias);
}

Tensor Dense::forward(const Tensor& x) const { return linear_any(x, weight, bias); }

Conv1D::Conv1D(int64_t in, int64_t out) : in_features(in), out_features(out) {
  XFMR_CHECK(in > 0 && out > 0, "Conv1D: features must be positive, got in=", in, " out=", out);
  weight = placeholder({in, out});
  bias = placeholder({out});
  register_parameter("weight", &weight);
  register_parameter("bias", &bias);
}

Tensor Conv1D::forward(const Tensor& x) const {
  // The transposed view [out, in] of the stored [in, out] weight: the GEMM reads it in place.
  if (weight.dtype() == DType::F32) return linear(x, transpose(weight, 0, 1), bias);
  return kernels::linear_lowp_weight(x, weight.transpose(0, 1), bias);
}

Embed::Embed(int64_t num, int64_t dim, int64_t pad) : num_embeddings(num), embedding_dim(dim), padding_idx(pad) {
  XFMR_CHECK(num > 0 && dim > 0, "Embedding: sizes must be positive, got ", num, " x ", dim);
  XFMR_CHECK(pad >= -1 && pad < num, "Embedding: padding_idx ", pad, " out of range for ", num, " embeddings");
  weight = placeholder({num, dim});
  register_parameter("weight", &weight);
}

Tensor Embed::forward(const Tensor& ids) const { return embedding(weight, ids, padding_idx); }

Tensor linear_any(const Tensor& x, const Tensor& w, const Tensor& b) {
  if (w.dtype() == DType::F32) return linear(x, w, b);
  return kernels::linear_lowp_weight(x, w, b);
}

// ---------------------------------------------------------------- inputs

void check_ids(const Tensor& ids, const std::string& who, const char* what) {
  XFMR_CHECK(ids.defined(), who, ": ", what, " is required");
  XFMR_CHECK(ids.dtype() == DType::I64 || ids.dtype() == DType::I32, who, ": ", what, " must be i64 (or i32), got ",
             ids.describe());
  XFMR_CHECK(ids.dim() == 2, who, ": ", what, " must be [batch, seq], got ", ids.describe());
}

std::vector<int64_t> int_values(const Tensor& t) {
  std::vector<int64_t> out(static_cast<size_t>(t.numel()));
  Tensor c = t.contiguous();
  switch (c.dtype()) {
    case DType::I64: {
      const int64_t* p = c.data<int64_t>();
      std::copy(p, p + c.numel(), out.begin());
      break;
    }
    case DType::I32: {
      const int32_t* p = c.data<int32_t>();
      for (int64_t i = 0; i < c.numel(); ++i) out[i] = p[i];
      break;
    }
    case DType::Bool:
    case DType::U8: {
      const auto* p = static_cast<const uint8_t*>(c.raw_data());
      for (int64_t i = 0; i < c.numel(); ++i) out[i] = p[i];
      break;
    }
    default: {
      std::vector<float> f = c.to_float_vector();
      for (size_t i = 0; i < f.size(); ++i) out[i] = static_cast<int64_t>(f[i]);
    }
  }
  return out;
}

Tensor padding_mask(const Tensor& attention_mask, int64_t batch, int64_t key_len, const std::string& who) {
  if (!attention_mask.defined()) return Tensor();
  XFMR_CHECK(attention_mask.dim() == 2 && attention_mask.size(0) == batch && attention_mask.size(1) == key_len, who,
             ": attention_mask ", attention_mask.describe(), " must be [", batch, ", ", key_len, "]");
  std::vector<float> vals;
  if (attention_mask.dtype() == DType::F32) {
    vals = attention_mask.to_float_vector();
  } else {
    auto iv = int_values(attention_mask);
    vals.assign(iv.begin(), iv.end());
  }
  bool all_ones = true;
  for (float v : vals) all_ones = all_ones && v == 1.0f;
  if (all_ones) return Tensor();
  Tensor m = Tensor::empty({batch, 1, 1, key_len});
  float* p = m.data<float>();
  // HF: (1 - mask) * finfo.min (a 0/1 mask gives exactly 0 or finfo.min).
  for (size_t i = 0; i < vals.size(); ++i) p[i] = (1.0f - vals[i]) * kMaskValue;
  return m;
}

Tensor arange_positions(int64_t len, int64_t offset) {
  Tensor t = Tensor::empty({1, len}, DType::I64);
  int64_t* p = t.data<int64_t>();
  for (int64_t i = 0; i < len; ++i) p[i] = offset + i;
  return t;
}

void check_positions(const Tensor& position_ids, int64_t rows, const std::string& who) {
  auto v = int_values(position_ids);
  for (int64_t p : v)
    XFMR_CHECK(p >= 0 && p < rows, who, ": position ", p, " is outside the position table (max_position_embeddings = ",
               rows, "); the input is too long for this model");
}

Tensor zero_ids(int64_t len) { return Tensor::zeros({1, len}, DType::I64); }

// ---------------------------------------------------------------- attention helpers

Tensor split_heads(const Tensor& x, int64_t heads) {
  int64_t B = x.size(0), L = x.size(1), HD = x.size(2);
  return transpose(reshape(x, {B, L, heads, HD / heads}), 1, 2);
}

Tensor merge_heads(const Tensor& x) {
  int64_t B = x.size(0), H = x.size(1), L = x.size(2), D = x.size(3);
  return reshape(transpose(x, 1, 2), {B, L, H * D});
}

Tensor first_token(const Tensor& h) { return select(h, 1, 0); }

Tensor lm_head_input(const ModelInputs& in, const Tensor& h, const std::string& who) {
  if (!in.logits_positions.defined()) return h;
  const Tensor& p = in.logits_positions;
  XFMR_CHECK(p.dim() == 2 && p.size(1) == 2 && (p.dtype() == DType::I64 || p.dtype() == DType::I32), who,
             ": logits_positions must be i64 [N, 2] (batch, position) pairs, got ", p.describe());
  std::vector<int64_t> v = int_values(p);
  std::vector<Tensor> rows;
  for (size_t i = 0; i < v.size(); i += 2) {
    XFMR_CHECK(v[i] >= 0 && v[i] < h.size(0) && v[i + 1] >= 0 && v[i + 1] < h.size(1), who, ": logits position (",
               v[i], ", ", v[i + 1], ") outside the input [", h.size(0), ", ", h.size(1), "]");
    rows.push_back(select(select(h, 0, v[i]), 0, v[i + 1]));
  }
  XFMR_CHECK(!rows.empty(), who, ": logits_positions is empty");
  return stack(rows, 0);
}

void split_qa_logits(const Tensor& logits, ModelOutput& out, const std::string& who) {
  XFMR_CHECK(logits.size(-1) == 2, who, ": question answering needs num_labels = 2 (start, end), the head has ",
             logits.size(-1));
  out.start_logits = select(logits, -1, 0);
  out.end_logits = select(logits, -1, 1);
}

// ---------------------------------------------------------------- config helpers

int64_t positive_int(const ModelConfig& c, const std::string& key, int64_t dflt, const std::string& who) {
  int64_t v = c.get_int(key, dflt);
  XFMR_CHECK(v > 0, who, ": config '", key, "' must be positive, got ", v);
  return v;
}

float dropout_prob(const ModelConfig& c, const std::string& key, double dflt) {
  double p = c.get_float(key, dflt);
  XFMR_CHECK(p >= 0.0 && p <= 1.0, c.label(), ": '", key, "' must be a probability, got ", p);
  return static_cast<float>(p);
}

nn::Activation activation(const std::string& name, const std::string& who, const std::string& field) {
  try {
    return nn::activation_from_name(name);
  } catch (const Error& e) {
    xfmr::detail::fail(who, ": unsupported ", field, " '", name, "': ", e.what());
  }
}

int64_t head_dim(int64_t hidden, int64_t heads, const std::string& who) {
  XFMR_CHECK(heads > 0 && hidden % heads == 0, who, ": the hidden size (", hidden,
             ") is not a multiple of the number of attention heads (", heads, ")");
  return hidden / heads;
}

// ---------------------------------------------------------------- init

void init_normal(const Tensor& slot, float std, Generator& gen) {
  Tensor t = Tensor::empty(slot.shape());
  nn::init::normal_(t, 0.0f, std, gen);
  rebind(slot, t);
}

void init_constant(const Tensor& slot, float value) {
  Tensor t = Tensor::full(slot.shape(), value);
  rebind(slot, t);
}

namespace {
void walk(nn::Module& m, const std::string& prefix, float std, Generator& gen, const InitSelect& select,
          const std::function<void(const std::string&, Tensor&)>& init_other) {
  auto want = [&](const std::string& n) { return !select || select(n); };
  if (auto* d = dynamic_cast<Dense*>(&m)) {
    if (want(prefix + "weight")) init_normal(d->weight, std, gen);
    if (d->bias.defined() && want(prefix + "bias")) init_constant(d->bias, 0.0f);
  } else if (auto* c = dynamic_cast<Conv1D*>(&m)) {
    if (want(prefix + "weight")) init_normal(c->weight, std * c->init_std_scale, gen);
    if (want(prefix + "bias")) init_constant(c->bias, 0.0f);
  } else if (auto* e = dynamic_cast<Embed*>(&m)) {
    if (want(prefix + "weight")) {
      init_normal(e->weight, std, gen);
      if (e->padding_idx >= 0) e->weight.select(0, e->padding_idx).fill_(0.0);
    }
  } else if (auto* ln = dynamic_cast<nn::LayerNorm*>(&m)) {
    if (ln->weight.defined() && want(prefix + "weight")) init_constant(ln->weight, 1.0f);
    if (ln->bias.defined() && want(prefix + "bias")) init_constant(ln->bias, 0.0f);
  } else {
    for (auto& [n, t] : m.named_parameters(false)) {
      Tensor h = t;
      if (want(prefix + n)) init_other(prefix + n, h);
    }
  }
  for (auto& [n, child] : m.named_children())
    if (child) walk(*child, prefix + n + ".", std, gen, select, init_other);
}
}  // namespace

void init_module_tree(nn::Module& root, float std, Generator& gen, const InitSelect& select,
                      const std::function<void(const std::string&, Tensor&)>& init_other) {
  walk(root, "", std, gen, select, init_other);
}

}  // namespace xfmr::models::detail
