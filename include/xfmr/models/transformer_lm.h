// The word-level Transformer language model of the PyTorch tutorial "Language Modeling with
// nn.Transformer and torchtext" (torch 1.13 era), with the tutorial's data helpers:
//
//   TransformerModel(ntoken, d_model=200, nhead=2, d_hid=200, nlayers=2, dropout=0.2):
//     x = encoder(src) * sqrt(d_model)      nn.Embedding(ntoken, d_model), src i64 [seq_len, batch]
//     x = pos_encoder(x)                    PositionalEncoding(d_model, dropout) (pe buffer, max_len 5000)
//     x = transformer_encoder(x, src_mask)  nlayers x TransformerEncoderLayer(d_model, nhead, d_hid,
//                                           dropout): post-norm, relu, seq-first, no final norm
//     logits = decoder(x)                   nn.Linear(d_model, ntoken) -> [seq_len, batch, ntoken]
//   init_weights(): encoder.weight, decoder.weight ~ U(-0.1, 0.1), decoder.bias = 0.
//
// state_dict names are the tutorial's (pos_encoder.pe, transformer_encoder.layers.<i>.*,
// encoder.weight, decoder.weight, decoder.bias), so its PyTorch checkpoints load unchanged.
#pragma once

#include <cstdint>
#include <memory>

#include "xfmr/core/random.h"
#include "xfmr/nn/layers.h"
#include "xfmr/nn/module.h"
#include "xfmr/nn/positional_encoding.h"
#include "xfmr/nn/transformer.h"

namespace xfmr::models {

struct TransformerLMConfig {
  int64_t ntoken = 0;
  int64_t d_model = 200;
  int64_t nhead = 2;
  int64_t d_hid = 200;
  int64_t nlayers = 2;
  float dropout = 0.2f;
  int64_t max_len = 5000;
};

class TransformerLM : public nn::Module {
 public:
  // Initialises like the tutorial (torch defaults for the encoder layers, then init_weights) from
  // `gen`; dropout also draws from `gen` unless set_generator is called.
  explicit TransformerLM(const TransformerLMConfig& config, Generator& gen = default_generator());
  TransformerLM(int64_t ntoken, int64_t d_model = 200, int64_t nhead = 2, int64_t d_hid = 200, int64_t nlayers = 2,
                float dropout = 0.2f);

  // src: i64 [seq_len, batch]. src_mask: [seq_len, seq_len] additive (or bool) mask, e.g.
  // generate_square_subsequent_mask(seq_len); is_causal=true (no mask) is the same but faster.
  // Returns logits [seq_len, batch, ntoken].
  Tensor forward(const Tensor& src, const Tensor& src_mask = Tensor(), bool is_causal = false) const;
  Tensor operator()(const Tensor& src, const Tensor& src_mask = Tensor(), bool is_causal = false) const {
    return forward(src, src_mask, is_causal);
  }
  void init_weights(Generator& gen = default_generator());
  // Generator of every dropout in the model (null: default_generator()).
  void set_generator(Generator* gen);
  const TransformerLMConfig& config() const { return config_; }
  std::string type_name() const override { return "TransformerModel"; }

  std::shared_ptr<nn::PositionalEncoding> pos_encoder;
  std::shared_ptr<nn::TransformerEncoder> transformer_encoder;
  std::shared_ptr<nn::Embedding> encoder;
  std::shared_ptr<nn::Linear> decoder;

 private:
  TransformerLMConfig config_;
};

// The tutorial's data helpers.
// batchify(data [N] i64, bsz) -> [N / bsz, bsz]: drops the remainder, column j is the j-th
// contiguous slice of the stream (data[:n*bsz].view(bsz, n).t().contiguous()).
Tensor batchify(const Tensor& data, int64_t bsz);

struct LMBatch {
  Tensor data;     // [seq_len, bsz] (a view of `source`, no copy)
  Tensor targets;  // [seq_len * bsz] (the next tokens, flattened)
};
// get_batch(source, i, bptt): seq_len = min(bptt, len(source) - 1 - i).
LMBatch get_batch(const Tensor& source, int64_t i, int64_t bptt = 35);

}  // namespace xfmr::models
