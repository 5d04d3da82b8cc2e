// torch.nn.TransformerEncoderLayer / TransformerDecoderLayer / TransformerEncoder /
// TransformerDecoder / Transformer with PyTorch's constructor arguments, defaults and state_dict
// names (self_attn.*, multihead_attn.*, linear1.*, linear2.*, norm1/2/3.*, layers.<i>.*, norm.*,
// encoder.*, decoder.*). Forward semantics are PyTorch 1.13's reference path; the `bias` argument
// and the is_causal flags are the PyTorch 2.x additions (is_causal=true equals passing
// generate_square_subsequent_mask, and is only a hint when a mask is also given).
//
// Masks: src_mask/tgt_mask/memory_mask [L, S] or [N * nhead, L, S], bool (true = not allowed) or
// float (added); *_key_padding_mask [N, S], bool (true = padding) or float (added).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "xfmr/nn/layers.h"
#include "xfmr/nn/module.h"
#include "xfmr/nn/multihead_attention.h"

namespace xfmr::nn {

// post-norm (norm_first=false): x = norm1(x + SA(x)); x = norm2(x + FF(x))
// pre-norm  (norm_first=true):  x = x + SA(norm1(x)); x = x + FF(norm2(x))
class TransformerEncoderLayer : public Module {
 public:
  // activation: "relu" or "gelu" (exact erf form); other names accepted by activation_from_name.
  TransformerEncoderLayer(int64_t d_model, int64_t nhead, int64_t dim_feedforward = 2048, float dropout = 0.1f,
                          const std::string& activation = "relu", float layer_norm_eps = 1e-5f,
                          bool batch_first = false, bool norm_first = false, bool bias = true);
  Tensor forward(const Tensor& src, const Tensor& src_mask = Tensor(), const Tensor& src_key_padding_mask = Tensor(),
                 bool is_causal = false) const;
  Tensor operator()(const Tensor& src, const Tensor& src_mask = Tensor(),
                    const Tensor& src_key_padding_mask = Tensor(), bool is_causal = false) const {
    return forward(src, src_mask, src_key_padding_mask, is_causal);
  }
  // A new layer with the same configuration and a copy of this layer's parameters (torch's deepcopy).
  std::shared_ptr<TransformerEncoderLayer> clone() const;
  // Dropout generator for every dropout in the layer (including attention dropout).
  void set_generator(Generator* gen);
  std::string type_name() const override { return "TransformerEncoderLayer"; }

  int64_t d_model, nhead, dim_feedforward;
  float dropout_p, layer_norm_eps;
  std::string activation_name;
  Activation activation;
  bool batch_first, norm_first, bias;
  std::shared_ptr<MultiheadAttention> self_attn;
  std::shared_ptr<Linear> linear1, linear2;
  std::shared_ptr<Dropout> dropout, dropout1, dropout2;
  std::shared_ptr<LayerNorm> norm1, norm2;
};

// post-norm: x = norm1(x + SA(x)); x = norm2(x + MHA(x, memory)); x = norm3(x + FF(x))
// pre-norm:  x = x + SA(norm1(x)); x = x + MHA(norm2(x), memory); x = x + FF(norm3(x))
class TransformerDecoderLayer : public Module {
 public:
  TransformerDecoderLayer(int64_t d_model, int64_t nhead, int64_t dim_feedforward = 2048, float dropout = 0.1f,
                          const std::string& activation = "relu", float layer_norm_eps = 1e-5f,
                          bool batch_first = false, bool norm_first = false, bool bias = true);
  Tensor forward(const Tensor& tgt, const Tensor& memory, const Tensor& tgt_mask = Tensor(),
                 const Tensor& memory_mask = Tensor(), const Tensor& tgt_key_padding_mask = Tensor(),
                 const Tensor& memory_key_padding_mask = Tensor(), bool tgt_is_causal = false,
                 bool memory_is_causal = false) const;
  Tensor operator()(const Tensor& tgt, const Tensor& memory, const Tensor& tgt_mask = Tensor(),
                    const Tensor& memory_mask = Tensor(), const Tensor& tgt_key_padding_mask = Tensor(),
                    const Tensor& memory_key_padding_mask = Tensor(), bool tgt_is_causal = false,
                    bool memory_is_causal = false) const {
    return forward(tgt, memory, tgt_mask, memory_mask, tgt_key_padding_mask, memory_key_padding_mask, tgt_is_causal,
                   memory_is_causal);
  }
  std::shared_ptr<TransformerDecoderLayer> clone() const;
  void set_generator(Generator* gen);
  std::string type_name() const override { return "TransformerDecoderLayer"; }

  int64_t d_model, nhead, dim_feedforward;
  float dropout_p, layer_norm_eps;
  std::string activation_name;
  Activation activation;
  bool batch_first, norm_first, bias;
  std::shared_ptr<MultiheadAttention> self_attn, multihead_attn;
  std::shared_ptr<Linear> linear1, linear2;
  std::shared_ptr<Dropout> dropout, dropout1, dropout2, dropout3;
  std::shared_ptr<LayerNorm> norm1, norm2, norm3;
};

// `num_layers` copies of `encoder_layer` (parameters copied, as torch's _get_clones deep-copies),
// then the optional final `norm`. (PyTorch's enable_nested_tensor inference shortcut is not
// replicated: padded positions always get the reference value.)
class TransformerEncoder : public Module {
 public:
  TransformerEncoder(const TransformerEncoderLayer& encoder_layer, int64_t num_layers,
                     std::shared_ptr<LayerNorm> norm = nullptr);
  Tensor forward(const Tensor& src, const Tensor& mask = Tensor(), const Tensor& src_key_padding_mask = Tensor(),
                 bool is_causal = false) const;
  Tensor operator()(const Tensor& src, const Tensor& mask = Tensor(), const Tensor& src_key_padding_mask = Tensor(),
                    bool is_causal = false) const {
    return forward(src, mask, src_key_padding_mask, is_causal);
  }
  void set_generator(Generator* gen);
  std::string type_name() const override { return "TransformerEncoder"; }

  std::shared_ptr<ModuleList<TransformerEncoderLayer>> layers;
  std::shared_ptr<LayerNorm> norm;  // may be null
  int64_t num_layers;
};

class TransformerDecoder : public Module {
 public:
  TransformerDecoder(const TransformerDecoderLayer& decoder_layer, int64_t num_layers,
                     std::shared_ptr<LayerNorm> norm = nullptr);
  Tensor forward(const Tensor& tgt, const Tensor& memory, const Tensor& tgt_mask = Tensor(),
                 const Tensor& memory_mask = Tensor(), const Tensor& tgt_key_padding_mask = Tensor(),
                 const Tensor& memory_key_padding_mask = Tensor(), bool tgt_is_causal = false,
                 bool memory_is_causal = false) const;
  Tensor operator()(const Tensor& tgt, const Tensor& memory, const Tensor& tgt_mask = Tensor(),
                    const Tensor& memory_mask = Tensor(), const Tensor& tgt_key_padding_mask = Tensor(),
                    const Tensor& memory_key_padding_mask = Tensor(), bool tgt_is_causal = false,
                    bool memory_is_causal = false) const {
    return forward(tgt, memory, tgt_mask, memory_mask, tgt_key_padding_mask, memory_key_padding_mask, tgt_is_causal,
                   memory_is_causal);
  }
  void set_generator(Generator* gen);
  std::string type_name() const override { return "TransformerDecoder"; }

  std::shared_ptr<ModuleList<TransformerDecoderLayer>> layers;
  std::shared_ptr<LayerNorm> norm;
  int64_t num_layers;
};

// nn.Transformer: encoder (with final norm) + decoder (with final norm); every parameter with more
// than one dimension is re-initialised with xavier_uniform_ (torch's _reset_parameters).
class Transformer : public Module {
 public:
  Transformer(int64_t d_model = 512, int64_t nhead = 8, int64_t num_encoder_layers = 6,
              int64_t num_decoder_layers = 6, int64_t dim_feedforward = 2048, float dropout = 0.1f,
              const std::string& activation = "relu", std::shared_ptr<TransformerEncoder> custom_encoder = nullptr,
              std::shared_ptr<TransformerDecoder> custom_decoder = nullptr, float layer_norm_eps = 1e-5f,
              bool batch_first = false, bool norm_first = false, bool bias = true);
  Tensor forward(const Tensor& src, const Tensor& tgt, const Tensor& src_mask = Tensor(),
                 const Tensor& tgt_mask = Tensor(), const Tensor& memory_mask = Tensor(),
                 const Tensor& src_key_padding_mask = Tensor(), const Tensor& tgt_key_padding_mask = Tensor(),
                 const Tensor& memory_key_padding_mask = Tensor(), bool src_is_causal = false,
                 bool tgt_is_causal = false, bool memory_is_causal = false) const;
  Tensor operator()(const Tensor& src, const Tensor& tgt, const Tensor& src_mask = Tensor(),
                    const Tensor& tgt_mask = Tensor(), const Tensor& memory_mask = Tensor(),
                    const Tensor& src_key_padding_mask = Tensor(), const Tensor& tgt_key_padding_mask = Tensor(),
                    const Tensor& memory_key_padding_mask = Tensor()) const {
    return forward(src, tgt, src_mask, tgt_mask, memory_mask, src_key_padding_mask, tgt_key_padding_mask,
                   memory_key_padding_mask);
  }
  // f32 [n, n]: 0 on/below the diagonal, -inf above.
  static Tensor generate_square_subsequent_mask(int64_t n);
  void set_generator(Generator* gen);
  std::string type_name() const override { return "Transformer"; }

  std::shared_ptr<TransformerEncoder> encoder;
  std::shared_ptr<TransformerDecoder> decoder;
  int64_t d_model, nhead;
  bool batch_first;
};

}  // namespace xfmr::nn
