#include "xfmr/models/transformer_lm.h"

#include <cmath>

#include "xfmr/autograd/ops.h"
#include "xfmr/nn/init.h"

namespace xfmr::models {

namespace {
TransformerLMConfig make_config(int64_t ntoken, int64_t d_model, int64_t nhead, int64_t d_hid, int64_t nlayers,
                                float dropout) {
  TransformerLMConfig c;
  c.ntoken = ntoken;
  c.d_model = d_model;
  c.nhead = nhead;
  c.d_hid = d_hid;
  c.nlayers = nlayers;
  c.dropout = dropout;
  return c;
}
}  // namespace

TransformerLM::TransformerLM(int64_t ntoken, int64_t d_model, int64_t nhead, int64_t d_hid, int64_t nlayers,
                             float dropout)
    : TransformerLM(make_config(ntoken, d_model, nhead, d_hid, nlayers, dropout)) {}

TransformerLM::TransformerLM(const TransformerLMConfig& c, Generator& gen) : config_(c) {
  XFMR_CHECK(c.ntoken > 0, "TransformerLM: ntoken must be positive, got ", c.ntoken);
  XFMR_CHECK(c.nlayers >= 1, "TransformerLM: nlayers must be at least 1, got ", c.nlayers);
  pos_encoder = register_module("pos_encoder", std::make_shared<nn::PositionalEncoding>(c.d_model, c.dropout, c.max_len));
  {
    // torch: TransformerEncoder deep-copies one freshly initialised layer, so all layers start equal.
    nn::TransformerEncoderLayer proto(c.d_model, c.nhead, c.d_hid, c.dropout, "relu", 1e-5f, false, false, true);
    NoGradGuard ng;
    proto.self_attn->out_proj->reset_parameters(gen);
    proto.self_attn->reset_parameters(gen);
    proto.linear1->reset_parameters(gen);
    proto.linear2->reset_parameters(gen);
    transformer_encoder =
        register_module("transformer_encoder", std::make_shared<nn::TransformerEncoder>(proto, c.nlayers));
  }
  encoder = register_module("encoder", std::make_shared<nn::Embedding>(c.ntoken, c.d_model));
  decoder = register_module("decoder", std::make_shared<nn::Linear>(c.d_model, c.ntoken));
  init_weights(gen);
  set_generator(&gen);
}

void TransformerLM::init_weights(Generator& gen) {
  NoGradGuard ng;
  const float initrange = 0.1f;
  nn::init::uniform_(encoder->weight, -initrange, initrange, gen);
  nn::init::zeros_(decoder->bias);
  nn::init::uniform_(decoder->weight, -initrange, initrange, gen);
}

void TransformerLM::set_generator(Generator* gen) {
  pos_encoder->dropout->generator = gen;
  transformer_encoder->set_generator(gen);
}

Tensor TransformerLM::forward(const Tensor& src, const Tensor& src_mask, bool is_causal) const {
  XFMR_CHECK(src.defined() && src.dim() == 2, "TransformerLM: src must be i64 [seq_len, batch], got ",
             src.defined() ? src.describe() : std::string("undefined"));
  // python: encoder(src) * math.sqrt(d_model) - an f32 tensor times f32(sqrt(d_model)).
  Tensor x = mul(encoder->forward(src), static_cast<float>(std::sqrt(static_cast<double>(config_.d_model))));
  x = pos_encoder->forward(x);
  x = transformer_encoder->forward(x, src_mask, Tensor(), is_causal);
  return decoder->forward(x);
}

Tensor batchify(const Tensor& data, int64_t bsz) {
  XFMR_CHECK(data.defined() && data.dim() == 1, "batchify: expected a 1-D token stream, got ",
             data.defined() ? data.describe() : std::string("undefined"));
  XFMR_CHECK(bsz > 0, "batchify: batch size must be positive, got ", bsz);
  const int64_t n = data.size(0) / bsz;
  XFMR_CHECK(n > 0, "batchify: ", data.size(0), " tokens are fewer than the batch size ", bsz);
  return data.narrow(0, 0, n * bsz).reshape({bsz, n}).transpose(0, 1).contiguous();
}

LMBatch get_batch(const Tensor& source, int64_t i, int64_t bptt) {
  XFMR_CHECK(source.defined() && source.dim() == 2, "get_batch: source must be [n, bsz], got ",
             source.defined() ? source.describe() : std::string("undefined"));
  XFMR_CHECK(bptt > 0, "get_batch: bptt must be positive, got ", bptt);
  XFMR_CHECK(i >= 0 && i < source.size(0) - 1, "get_batch: position ", i, " is out of range for ", source.describe());
  const int64_t seq_len = std::min(bptt, source.size(0) - 1 - i);
  LMBatch b;
  b.data = source.narrow(0, i, seq_len);
  b.targets = source.narrow(0, i + 1, seq_len).reshape({-1});
  return b;
}

}  // namespace xfmr::models
