// Building blocks shared by the model families (internal to the models layer).
//
// Weights start as memory-less placeholders (stride-0 views of one shared element) so building
// a model costs nothing; the loader then rebinds each parameter to a view of the mapped
// checkpoint (torch's `param.data = tensor`), or init_weights() allocates and initialises it.
// Modules here mirror torch.nn's state_dict names (`weight`, `bias`) and use the differentiable
// ops of xfmr/autograd, so a loaded model can be fine-tuned after make_trainable().
//
// Naming: a module may register a child under a dotted name ("attention.self.query"), which
// yields HF's state_dict names without a C++ class per HF wrapper module.
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "xfmr/autograd/ops.h"
#include "xfmr/models/model.h"
#include "xfmr/nn/layers.h"
#include "xfmr/nn/module.h"

namespace xfmr::models::detail {

// ---- placeholders and rebinding ----
Tensor placeholder(const Shape& shape);
bool is_placeholder(const Tensor& t);
// The slot (and every handle sharing its TensorImpl) now views src's data, dtype and layout;
// its autograd flags are kept.
void rebind(const Tensor& slot, const Tensor& src);

// HF uses torch.finfo(float32).min for masked attention scores.
constexpr float kMaskValue = -std::numeric_limits<float>::max();

// ---- layers ----

// nn.Linear: weight [out, in], bias [out]. f16/bf16 weights (kept in their stored dtype) run
// through kernels::linear_lowp_weight (inference only).
class Dense : public nn::Module {
 public:
  Dense(int64_t in, int64_t out, bool bias = true);
  Tensor forward(const Tensor& x) const;
  std::string type_name() const override { return "Linear"; }
  int64_t in_features, out_features;
  Tensor weight, bias;
};

// GPT-2's Conv1D: weight [in, out] (stored transposed), bias [out]; y = x W + b, computed as a
// linear layer on the transposed view of W (no copy).
class Conv1D : public nn::Module {
 public:
  Conv1D(int64_t in, int64_t out);
  Tensor forward(const Tensor& x) const;
  std::string type_name() const override { return "Conv1D"; }
  int64_t in_features, out_features;
  float init_std_scale = 1.0f;  // GPT-2 scales the init of the residual projections
  Tensor weight, bias;
};

// nn.Embedding: weight [num, dim]; the padding_idx row is zero at init.
class Embed : public nn::Module {
 public:
  Embed(int64_t num, int64_t dim, int64_t padding_idx = -1);
  Tensor forward(const Tensor& ids) const;
  std::string type_name() const override { return "Embedding"; }
  int64_t num_embeddings, embedding_dim, padding_idx;
  Tensor weight;
};

// The output projection of a language-model head: h · W^T + b, W of shape [vocab, dim] (usually
// the word embeddings, tied), in any dtype.
Tensor linear_any(const Tensor& x, const Tensor& w, const Tensor& b = Tensor());

// ---- inputs ----
// Checks ids: i64/i32, [batch, seq]; returns them unchanged.
void check_ids(const Tensor& ids, const std::string& who, const char* what = "input_ids");
// The values of a [batch, seq] integer or 0/1 float tensor, row-major.
std::vector<int64_t> int_values(const Tensor& t);
// attention_mask [B, S] -> additive f32 [B, 1, 1, S] (0 keep, kMaskValue drop); undefined when the
// mask is undefined or all ones.
Tensor padding_mask(const Tensor& attention_mask, int64_t batch, int64_t key_len, const std::string& who);
// Positions offset..offset+len-1 as i64 [1, len].
Tensor arange_positions(int64_t len, int64_t offset = 0);
// Checks position ids against the table size (a clear error instead of an out-of-range index).
void check_positions(const Tensor& position_ids, int64_t table_rows, const std::string& who);
// Zeros [1, len] i64 (default token types), broadcast by the embedding add.
Tensor zero_ids(int64_t len);

// ---- attention helpers ----
// [B, L, H*D] -> [B, H, L, D] view; and back (copy).
Tensor split_heads(const Tensor& x, int64_t heads);
Tensor merge_heads(const Tensor& x);
// First token's vector of every sequence: [B, L, H] -> [B, H].
Tensor first_token(const Tensor& h);
// The hidden states an LM head projects: h [B, L, H], or its rows at in.logits_positions ([N, H]).
Tensor lm_head_input(const ModelInputs& in, const Tensor& h, const std::string& who);
// QA logits [B, L, 2] -> start/end [B, L].
void split_qa_logits(const Tensor& logits, ModelOutput& out, const std::string& who);

// ---- config helpers ----
// An int > 0 from the config, or the default; names the field when it is not positive.
int64_t positive_int(const ModelConfig& c, const std::string& key, int64_t dflt, const std::string& who);
float dropout_prob(const ModelConfig& c, const std::string& key, double dflt);
nn::Activation activation(const std::string& name, const std::string& who, const std::string& field);
// Head size check: hidden % heads == 0.
int64_t head_dim(int64_t hidden, int64_t heads, const std::string& who);
// HF names for ModelConfig tie_word_embeddings etc. are read by the families themselves.

// ---- init ----
// Walks `root` and initialises with HF's _init_weights rules (see PreTrainedModel::init_weights).
using InitSelect = std::function<bool(const std::string&)>;
void init_module_tree(nn::Module& root, float std, Generator& gen, const InitSelect& select,
                      const std::function<void(const std::string&, Tensor&)>& init_other);
// Allocates a fresh owned f32 tensor for the slot and fills it with N(0, std).
void init_normal(const Tensor& slot, float std, Generator& gen);
void init_constant(const Tensor& slot, float value);

}  // namespace xfmr::models::detail
