#include "xfmr/nn/transformer.h"

#include "xfmr/autograd/ops.h"
#include "xfmr/nn/functional.h"
#include "xfmr/nn/init.h"

namespace xfmr::nn {
namespace {

void check_common(int64_t d_model, int64_t nhead, int64_t dim_ff, float dropout, const char* who) {
  XFMR_CHECK(d_model > 0 && nhead > 0 && dim_ff > 0, who, ": d_model, nhead and dim_feedforward must be positive, got ",
             d_model, ", ", nhead, ", ", dim_ff);
  XFMR_CHECK(d_model % nhead == 0, who, ": d_model ", d_model, " must be divisible by nhead ", nhead);
  XFMR_CHECK(dropout >= 0.0f && dropout <= 1.0f, who, ": dropout must be in [0, 1], got ", dropout);
}

// Copies every parameter/buffer of `src` into `dst` (same structure).
void copy_state(const Module& src, Module& dst) {
  NoGradGuard ng;
  dst.load_state_dict(src.state_dict());
}

}  // namespace

// ------------------------------------------------------------------ encoder layer

TransformerEncoderLayer::TransformerEncoderLayer(int64_t d, int64_t h, int64_t ff, float p, const std::string& act,
                                                 float eps, bool bf, bool nf, bool b)
    : d_model(d),
      nhead(h),
      dim_feedforward(ff),
      dropout_p(p),
      layer_norm_eps(eps),
      activation_name(act),
      activation(activation_from_name(act)),
      batch_first(bf),
      norm_first(nf),
      bias(b) {
  check_common(d, h, ff, p, "TransformerEncoderLayer");
  self_attn = register_module("self_attn", std::make_shared<MultiheadAttention>(d, h, p, b, false, false, -1, -1, bf));
  linear1 = register_module("linear1", std::make_shared<Linear>(d, ff, b));
  dropout = register_module("dropout", std::make_shared<Dropout>(p));
  linear2 = register_module("linear2", std::make_shared<Linear>(ff, d, b));
  norm1 = register_module("norm1", std::make_shared<LayerNorm>(d, eps, true, b));
  norm2 = register_module("norm2", std::make_shared<LayerNorm>(d, eps, true, b));
  dropout1 = register_module("dropout1", std::make_shared<Dropout>(p));
  dropout2 = register_module("dropout2", std::make_shared<Dropout>(p));
}

Tensor TransformerEncoderLayer::forward(const Tensor& src, const Tensor& src_mask, const Tensor& kpm,
                                        bool is_causal) const {
  XFMR_CHECK(src.defined() && (src.dim() == 3 || src.dim() == 2) && src.size(-1) == d_model,
             "TransformerEncoderLayer: src must be [S, N, ", d_model, "] ([N, S, ", d_model, "] with batch_first), got ",
             src.defined() ? src.describe() : std::string("undefined"));
  auto sa = [&](const Tensor& x) {
    return dropout1->forward(self_attn->forward(x, x, x, kpm, false, src_mask, true, is_causal).output);
  };
  auto ff = [&](const Tensor& x) {
    return dropout2->forward(linear2->forward(dropout->forward(apply_activation(activation, linear1->forward(x)))));
  };
  Tensor x = src;
  if (norm_first) {
    x = add(x, sa(norm1->forward(x)));
    x = add(x, ff(norm2->forward(x)));
  } else {
    x = norm1->forward(add(x, sa(x)));
    x = norm2->forward(add(x, ff(x)));
  }
  return x;
}

std::shared_ptr<TransformerEncoderLayer> TransformerEncoderLayer::clone() const {
  auto c = std::make_shared<TransformerEncoderLayer>(d_model, nhead, dim_feedforward, dropout_p, activation_name,
                                                     layer_norm_eps, batch_first, norm_first, bias);
  copy_state(*this, *c);
  c->train(is_training());
  c->set_generator(dropout->generator);
  return c;
}

void TransformerEncoderLayer::set_generator(Generator* gen) {
  self_attn->generator = gen;
  for (auto* d : {dropout.get(), dropout1.get(), dropout2.get()}) d->generator = gen;
}

// ------------------------------------------------------------------ decoder layer

TransformerDecoderLayer::TransformerDecoderLayer(int64_t d, int64_t h, int64_t ff, float p, const std::string& act,
                                                 float eps, bool bf, bool nf, bool b)
    : d_model(d),
      nhead(h),
      dim_feedforward(ff),
      dropout_p(p),
      layer_norm_eps(eps),
      activation_name(act),
      activation(activation_from_name(act)),
      batch_first(bf),
      norm_first(nf),
      bias(b) {
  check_common(d, h, ff, p, "TransformerDecoderLayer");
  self_attn = register_module("self_attn", std::make_shared<MultiheadAttention>(d, h, p, b, false, false, -1, -1, bf));
  multihead_attn =
      register_module("multihead_attn", std::make_shared<MultiheadAttention>(d, h, p, b, false, false, -1, -1, bf));
  linear1 = register_module("linear1", std::make_shared<Linear>(d, ff, b));
  dropout = register_module("dropout", std::make_shared<Dropout>(p));
  linear2 = register_module("linear2", std::make_shared<Linear>(ff, d, b));
  norm1 = register_module("norm1", std::make_shared<LayerNorm>(d, eps, true, b));
  norm2 = register_module("norm2", std::make_shared<LayerNorm>(d, eps, true, b));
  norm3 = register_module("norm3", std::make_shared<LayerNorm>(d, eps, true, b));
  dropout1 = register_module("dropout1", std::make_shared<Dropout>(p));
  dropout2 = register_module("dropout2", std::make_shared<Dropout>(p));
  dropout3 = register_module("dropout3", std::make_shared<Dropout>(p));
}

Tensor TransformerDecoderLayer::forward(const Tensor& tgt, const Tensor& memory, const Tensor& tgt_mask,
                                        const Tensor& memory_mask, const Tensor& tgt_kpm, const Tensor& memory_kpm,
                                        bool tgt_is_causal, bool memory_is_causal) const {
  XFMR_CHECK(tgt.defined() && memory.defined() && tgt.size(-1) == d_model && memory.size(-1) == d_model,
             "TransformerDecoderLayer: tgt and memory must have d_model ", d_model, " features, got ",
             tgt.defined() ? tgt.describe() : std::string("undefined"), " and ",
             memory.defined() ? memory.describe() : std::string("undefined"));
  auto sa = [&](const Tensor& x) {
    return dropout1->forward(self_attn->forward(x, x, x, tgt_kpm, false, tgt_mask, true, tgt_is_causal).output);
  };
  auto mha = [&](const Tensor& x) {
    return dropout2->forward(
        multihead_attn->forward(x, memory, memory, memory_kpm, false, memory_mask, true, memory_is_causal).output);
  };
  auto ff = [&](const Tensor& x) {
    return dropout3->forward(linear2->forward(dropout->forward(apply_activation(activation, linear1->forward(x)))));
  };
  Tensor x = tgt;
  if (norm_first) {
    x = add(x, sa(norm1->forward(x)));
    x = add(x, mha(norm2->forward(x)));
    x = add(x, ff(norm3->forward(x)));
  } else {
    x = norm1->forward(add(x, sa(x)));
    x = norm2->forward(add(x, mha(x)));
    x = norm3->forward(add(x, ff(x)));
  }
  return x;
}

std::shared_ptr<TransformerDecoderLayer> TransformerDecoderLayer::clone() const {
  auto c = std::make_shared<TransformerDecoderLayer>(d_model, nhead, dim_feedforward, dropout_p, activation_name,
                                                     layer_norm_eps, batch_first, norm_first, bias);
  copy_state(*this, *c);
  c->train(is_training());
  c->set_generator(dropout->generator);
  return c;
}

void TransformerDecoderLayer::set_generator(Generator* gen) {
  self_attn->generator = gen;
  multihead_attn->generator = gen;
  for (auto* d : {dropout.get(), dropout1.get(), dropout2.get(), dropout3.get()}) d->generator = gen;
}

// ------------------------------------------------------------------ stacks

TransformerEncoder::TransformerEncoder(const TransformerEncoderLayer& layer, int64_t n, std::shared_ptr<LayerNorm> nrm)
    : num_layers(n) {
  XFMR_CHECK(n >= 1, "TransformerEncoder: num_layers must be at least 1, got ", n);
  layers = register_module("layers", std::make_shared<ModuleList<TransformerEncoderLayer>>());
  for (int64_t i = 0; i < n; ++i) layers->push_back(layer.clone());
  if (nrm) norm = register_module("norm", std::move(nrm));
}

Tensor TransformerEncoder::forward(const Tensor& src, const Tensor& mask, const Tensor& kpm, bool is_causal) const {
  Tensor x = src;
  for (const auto& l : *layers) x = l->forward(x, mask, kpm, is_causal);
  return norm ? norm->forward(x) : x;
}

void TransformerEncoder::set_generator(Generator* gen) {
  for (const auto& l : *layers) l->set_generator(gen);
}

TransformerDecoder::TransformerDecoder(const TransformerDecoderLayer& layer, int64_t n, std::shared_ptr<LayerNorm> nrm)
    : num_layers(n) {
  XFMR_CHECK(n >= 1, "TransformerDecoder: num_layers must be at least 1, got ", n);
  layers = register_module("layers", std::make_shared<ModuleList<TransformerDecoderLayer>>());
  for (int64_t i = 0; i < n; ++i) layers->push_back(layer.clone());
  if (nrm) norm = register_module("norm", std::move(nrm));
}

Tensor TransformerDecoder::forward(const Tensor& tgt, const Tensor& memory, const Tensor& tgt_mask,
                                   const Tensor& memory_mask, const Tensor& tgt_kpm, const Tensor& memory_kpm,
                                   bool tgt_is_causal, bool memory_is_causal) const {
  Tensor x = tgt;
  for (const auto& l : *layers)
    x = l->forward(x, memory, tgt_mask, memory_mask, tgt_kpm, memory_kpm, tgt_is_causal, memory_is_causal);
  return norm ? norm->forward(x) : x;
}

void TransformerDecoder::set_generator(Generator* gen) {
  for (const auto& l : *layers) l->set_generator(gen);
}

// ------------------------------------------------------------------ nn.Transformer

Transformer::Transformer(int64_t d, int64_t h, int64_t n_enc, int64_t n_dec, int64_t ff, float p,
                         const std::string& act, std::shared_ptr<TransformerEncoder> custom_encoder,
                         std::shared_ptr<TransformerDecoder> custom_decoder, float eps, bool bf, bool nf, bool b)
    : d_model(d), nhead(h), batch_first(bf) {
  if (custom_encoder) {
    encoder = custom_encoder;
  } else {
    TransformerEncoderLayer layer(d, h, ff, p, act, eps, bf, nf, b);
    encoder = std::make_shared<TransformerEncoder>(layer, n_enc, std::make_shared<LayerNorm>(d, eps, true, b));
  }
  if (custom_decoder) {
    decoder = custom_decoder;
  } else {
    TransformerDecoderLayer layer(d, h, ff, p, act, eps, bf, nf, b);
    decoder = std::make_shared<TransformerDecoder>(layer, n_dec, std::make_shared<LayerNorm>(d, eps, true, b));
  }
  register_module("encoder", encoder);
  register_module("decoder", decoder);
  NoGradGuard ng;
  for (auto& param : parameters())
    if (param.dim() > 1) init::xavier_uniform_(param);
}

Tensor Transformer::forward(const Tensor& src, const Tensor& tgt, const Tensor& src_mask, const Tensor& tgt_mask,
                            const Tensor& memory_mask, const Tensor& src_kpm, const Tensor& tgt_kpm,
                            const Tensor& memory_kpm, bool src_is_causal, bool tgt_is_causal,
                            bool memory_is_causal) const {
  XFMR_CHECK(src.defined() && tgt.defined(), "Transformer: src and tgt are required");
  const bool batched = src.dim() == 3;
  if (batched) {
    int bd = batch_first ? 0 : 1;
    XFMR_CHECK(src.size(bd) == tgt.size(bd), "Transformer: the batch number of src ", src.describe(), " and tgt ",
               tgt.describe(), " must be equal");
  }
  XFMR_CHECK(src.size(-1) == d_model && tgt.size(-1) == d_model,
             "Transformer: the feature number of src and tgt must be equal to d_model ", d_model);
  Tensor memory = encoder->forward(src, src_mask, src_kpm, src_is_causal);
  return decoder->forward(tgt, memory, tgt_mask, memory_mask, tgt_kpm, memory_kpm, tgt_is_causal, memory_is_causal);
}

Tensor Transformer::generate_square_subsequent_mask(int64_t n) { return functional::generate_square_subsequent_mask(n); }

void Transformer::set_generator(Generator* gen) {
  encoder->set_generator(gen);
  decoder->set_generator(gen);
}

}  // namespace xfmr::nn
