// The sinusoidal positional encoding of the PyTorch tutorial "Language Modeling with nn.Transformer"
// (and of the course): forward(x [seq_len, batch, d_model]) = dropout(x + pe[:seq_len]).
//
// pe is a persistent buffer [max_len, 1, d_model] ("pe" in the state_dict) computed in float32
// exactly like the tutorial: div_term = exp(arange(0, d, 2) * f32(-ln(10000) / d)),
// pe[:, 0, 0::2] = sin(f32(pos) * div_term), pe[:, 0, 1::2] = cos(f32(pos) * div_term).
#pragma once

#include <cstdint>
#include <memory>

#include "xfmr/nn/layers.h"
#include "xfmr/nn/module.h"

namespace xfmr::nn {

class PositionalEncoding : public Module {
 public:
  explicit PositionalEncoding(int64_t d_model, float dropout = 0.1f, int64_t max_len = 5000);
  // x: [seq_len, batch, d_model] (seq-first, as in the tutorial).
  Tensor forward(const Tensor& x) const;
  Tensor operator()(const Tensor& x) const { return forward(x); }
  std::string type_name() const override { return "PositionalEncoding"; }

  // The f32 frequencies exp(2i * -ln(10000) / d_model), i = 0 .. d_model/2 - 1.
  static Tensor div_term(int64_t d_model);

  int64_t d_model, max_len;
  Tensor pe;  // [max_len, 1, d_model]
  std::shared_ptr<Dropout> dropout;
};

}  // namespace xfmr::nn
