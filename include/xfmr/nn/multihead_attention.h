// torch.nn.MultiheadAttention: constructor arguments, defaults, initialisation, state_dict names
// and forward semantics of PyTorch 1.13's reference path (F.multi_head_attention_forward).
//
// state_dict: in_proj_weight [3E, E] (or q_proj_weight [E, E], k_proj_weight [E, kdim],
// v_proj_weight [E, vdim] when kdim/vdim != E), in_proj_bias [3E], bias_k/bias_v [1, 1, E]
// (add_bias_kv), out_proj.weight [E, E], out_proj.bias [E].
//
// Performance: self-attention (query, key and value the same tensor) does one packed [3E, E]
// GEMM; heads are strided views of its output (no copies), and the fused attention kernel (no
// [N*H, L, S] score tensor unless weights are needed) runs whenever attention dropout is inactive
// and no differentiable weights were requested.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "xfmr/core/random.h"
#include "xfmr/nn/layers.h"
#include "xfmr/nn/module.h"

namespace xfmr::nn {

struct AttentionOutput {
  Tensor output;   // [L, N, E] ([N, L, E] with batch_first; [L, E] for unbatched input)
  Tensor weights;  // need_weights: [N, L, S] averaged over heads, or [N, H, L, S] per head; else undefined
};

class MultiheadAttention : public Module {
 public:
  // kdim/vdim <= 0 mean embed_dim (PyTorch's None).
  MultiheadAttention(int64_t embed_dim, int64_t num_heads, float dropout = 0.0f, bool bias = true,
                     bool add_bias_kv = false, bool add_zero_attn = false, int64_t kdim = -1, int64_t vdim = -1,
                     bool batch_first = false);

  // query [L, N, E] / key [S, N, kdim] / value [S, N, vdim] (batch dim first with batch_first, or
  // unbatched [L, E] ...). key_padding_mask [N, S]: bool/u8 (true = padding) or float (added).
  // attn_mask [L, S] or [N * num_heads, L, S]: bool/u8 (true = not allowed) or float (added).
  // is_causal (PyTorch 2.x): hide future keys when no attn_mask is given; with an attn_mask it is
  // only a hint (the mask is used as given), as in PyTorch.
  AttentionOutput forward(const Tensor& query, const Tensor& key, const Tensor& value,
                          const Tensor& key_padding_mask = Tensor(), bool need_weights = true,
                          const Tensor& attn_mask = Tensor(), bool average_attn_weights = true,
                          bool is_causal = false) const;
  AttentionOutput operator()(const Tensor& query, const Tensor& key, const Tensor& value,
                             const Tensor& key_padding_mask = Tensor(), bool need_weights = true,
                             const Tensor& attn_mask = Tensor(), bool average_attn_weights = true,
                             bool is_causal = false) const {
    return forward(query, key, value, key_padding_mask, need_weights, attn_mask, average_attn_weights, is_causal);
  }
  std::string type_name() const override { return "MultiheadAttention"; }
  // torch's _reset_parameters: xavier_uniform_ on the in-projection weights, zero biases,
  // xavier_normal_ on bias_k/bias_v (out_proj.weight keeps Linear's init).
  void reset_parameters(Generator& gen = default_generator());

  int64_t embed_dim, kdim, vdim, num_heads, head_dim;
  float dropout;
  bool batch_first, add_zero_attn;
  bool qkv_same_embed_dim;
  Tensor in_proj_weight, q_proj_weight, k_proj_weight, v_proj_weight, in_proj_bias, bias_k, bias_v;
  std::shared_ptr<Linear> out_proj;
  Generator* generator = nullptr;  // attention dropout; default_generator() when null
};

}  // namespace xfmr::nn
