// The BERT encoder stack, shared by BERT, RoBERTa (+ XLM-R, CamemBERT) and ELECTRA, which HF
// implements as copies of modeling_bert.py. Internal to the models layer; defined in bert.cpp.
#pragma once

#include <optional>

#include "blocks.h"

namespace xfmr::models::detail {

// BertConfig / RobertaConfig / ElectraConfig fields (HF names and defaults).
struct BertLikeConfig {
  int64_t vocab_size = 30522;
  int64_t hidden_size = 768;
  int64_t embedding_size = 768;  // ELECTRA: may differ from hidden_size (embeddings_project)
  int64_t num_hidden_layers = 12;
  int64_t num_attention_heads = 12;
  int64_t intermediate_size = 3072;
  std::string hidden_act = "gelu";
  nn::Activation act = nn::Activation::Gelu;
  float hidden_dropout_prob = 0.1f;
  float attention_probs_dropout_prob = 0.1f;
  int64_t max_position_embeddings = 512;
  int64_t type_vocab_size = 2;
  float layer_norm_eps = 1e-12f;
  int64_t pad_token_id = 0;
  std::optional<float> classifier_dropout;  // heads: classifier_dropout, else hidden_dropout_prob
  bool roberta_positions = false;           // position ids = padding_idx + 1 + running count
  bool reads_embedding_size = false;        // ELECTRA: embedding_size is a config field

  // Reads the config; `defaults` carries the family's defaults (BERT, RoBERTa, ELECTRA differ).
  static BertLikeConfig parse(const ModelConfig& c, const std::string& who, const BertLikeConfig& defaults);
  float head_dropout() const { return classifier_dropout.value_or(hidden_dropout_prob); }
};

class BertEmbeddings : public nn::Module {
 public:
  explicit BertEmbeddings(const BertLikeConfig& c);
  Tensor forward(const Tensor& input_ids, const Tensor& token_type_ids, const Tensor& position_ids) const;
  std::string type_name() const override { return "BertEmbeddings"; }
  std::shared_ptr<Embed> word_embeddings, position_embeddings, token_type_embeddings;
  std::shared_ptr<nn::LayerNorm> norm;

 private:
  BertLikeConfig c_;
};

class BertLayer : public nn::Module {
 public:
  explicit BertLayer(const BertLikeConfig& c);
  Tensor forward(const Tensor& x, const Tensor& mask) const;
  std::string type_name() const override { return "BertLayer"; }
  std::shared_ptr<Dense> query, key, value, attn_out, intermediate, output;
  std::shared_ptr<nn::LayerNorm> attn_norm, out_norm;

 private:
  BertLikeConfig c_;
};

class BertEncoder : public nn::Module {
 public:
  explicit BertEncoder(const BertLikeConfig& c);
  Tensor forward(Tensor x, const Tensor& mask, std::vector<Tensor>* hidden_states) const;
  std::string type_name() const override { return "BertEncoder"; }
  std::shared_ptr<nn::ModuleList<BertLayer>> layer;
};

// The base model body: embeddings (+ ELECTRA's embeddings_project), encoder, optional pooler.
// Registered under the base prefix by head classes; the base class adopts its children. Its
// forward uses only its children's training flags.
class BertBody : public nn::Module {
 public:
  BertBody(const BertLikeConfig& c, bool pooler, const std::string& who);
  // Fills last_hidden_state (+ pooler_output, hidden_states).
  ModelOutput forward(const ModelInputs& in) const;
  std::string type_name() const override { return "BertModel"; }
  BertLikeConfig config;
  std::shared_ptr<BertEmbeddings> embeddings;
  std::shared_ptr<Dense> embeddings_project;  // ELECTRA when embedding_size != hidden_size
  std::shared_ptr<BertEncoder> encoder;
  std::shared_ptr<Dense> pooler;  // "pooler.dense", tanh

 private:
  std::string who_;
};

// RoBERTa's create_position_ids_from_input_ids: padding_idx + cumsum(ids != pad) for real tokens,
// padding_idx for padding. i64 [B, L].
Tensor roberta_position_ids(const Tensor& input_ids, int64_t padding_idx);

}  // namespace xfmr::models::detail
