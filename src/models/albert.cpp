// ALBERT (modeling_albert.py): factorised embeddings (embedding_size -> hidden_size through
// encoder.embedding_hidden_mapping_in) and cross-layer parameter sharing: num_hidden_layers
// passes over num_hidden_groups groups of inner_group_num layers each.
#include "blocks.h"
#include "families.h"

namespace xfmr::models::detail {
namespace {

struct AlbertConfig {
  int64_t vocab_size, embedding_size, hidden_size, num_hidden_layers, num_hidden_groups, num_attention_heads,
      intermediate_size, inner_group_num, max_position_embeddings, type_vocab_size, pad_token_id;
  nn::Activation act;
  float hidden_dropout_prob, attention_probs_dropout_prob, layer_norm_eps, classifier_dropout_prob;

  static AlbertConfig parse(const ModelConfig& c, const std::string& who) {
    AlbertConfig r;
    r.vocab_size = positive_int(c, "vocab_size", 30000, who);
    r.embedding_size = positive_int(c, "embedding_size", 128, who);
    r.hidden_size = positive_int(c, "hidden_size", 4096, who);
    r.num_hidden_layers = positive_int(c, "num_hidden_layers", 12, who);
    r.num_hidden_groups = positive_int(c, "num_hidden_groups", 1, who);
    r.num_attention_heads = positive_int(c, "num_attention_heads", 64, who);
    r.intermediate_size = positive_int(c, "intermediate_size", 16384, who);
    r.inner_group_num = positive_int(c, "inner_group_num", 1, who);
    r.act = activation(c.get_string("hidden_act", "gelu_new"), who, "hidden_act");
    r.hidden_dropout_prob = dropout_prob(c, "hidden_dropout_prob", 0.0);
    r.attention_probs_dropout_prob = dropout_prob(c, "attention_probs_dropout_prob", 0.0);
    r.max_position_embeddings = positive_int(c, "max_position_embeddings", 512, who);
    r.type_vocab_size = positive_int(c, "type_vocab_size", 2, who);
    r.layer_norm_eps = static_cast<float>(c.get_float("layer_norm_eps", 1e-12));
    r.classifier_dropout_prob = dropout_prob(c, "classifier_dropout_prob", 0.1);
    r.pad_token_id = c.get_int("pad_token_id", 0);
    head_dim(r.hidden_size, r.num_attention_heads, who);
    XFMR_CHECK(r.num_hidden_groups <= r.num_hidden_layers, who,
               ": num_hidden_groups (", r.num_hidden_groups, ") exceeds num_hidden_layers (", r.num_hidden_layers, ")");
    const std::string pos = c.get_string("position_embedding_type", "absolute");
    XFMR_CHECK(pos == "absolute", who, ": position_embedding_type '", pos, "' is not supported (only 'absolute')");
    XFMR_CHECK(r.pad_token_id >= -1 && r.pad_token_id < r.vocab_size, who, ": pad_token_id ", r.pad_token_id,
               " outside the vocabulary");
    return r;
  }
};

class AlbertLayer : public nn::Module {
 public:
  explicit AlbertLayer(const AlbertConfig& c) : c_(c) {
    const int64_t H = c.hidden_size;
    query = register_module("attention.query", std::make_shared<Dense>(H, H));
    key = register_module("attention.key", std::make_shared<Dense>(H, H));
    value = register_module("attention.value", std::make_shared<Dense>(H, H));
    dense = register_module("attention.dense", std::make_shared<Dense>(H, H));
    attn_norm = register_module("attention.LayerNorm", std::make_shared<nn::LayerNorm>(H, c.layer_norm_eps));
    ffn = register_module("ffn", std::make_shared<Dense>(H, c.intermediate_size));
    ffn_output = register_module("ffn_output", std::make_shared<Dense>(c.intermediate_size, H));
    full_norm = register_module("full_layer_layer_norm", std::make_shared<nn::LayerNorm>(H, c.layer_norm_eps));
  }
  std::string type_name() const override { return "AlbertLayer"; }

  Tensor forward(const Tensor& x, const Tensor& mask) const {
    const bool train = is_training();
    const int64_t heads = c_.num_attention_heads;
    Tensor q = split_heads(query->forward(x), heads);
    Tensor k = split_heads(key->forward(x), heads);
    Tensor v = split_heads(value->forward(x), heads);
    Tensor ctx = scaled_dot_product_attention(q, k, v, mask, false, -1.0f, c_.attention_probs_dropout_prob, train);
    Tensor a = attn_norm->forward(add(x, dropout(dense->forward(merge_heads(ctx)), c_.hidden_dropout_prob, train)));
    Tensor f = ffn_output->forward(nn::apply_activation(c_.act, ffn->forward(a)));
    return full_norm->forward(add(f, a));
  }

  std::shared_ptr<Dense> query, key, value, dense, ffn, ffn_output;
  std::shared_ptr<nn::LayerNorm> attn_norm, full_norm;

 private:
  AlbertConfig c_;
};

class AlbertGroup : public nn::Module {
 public:
  explicit AlbertGroup(const AlbertConfig& c) {
    layers = register_module("albert_layers", std::make_shared<nn::ModuleList<AlbertLayer>>());
    for (int64_t i = 0; i < c.inner_group_num; ++i) layers->push_back(std::make_shared<AlbertLayer>(c));
  }
  std::string type_name() const override { return "AlbertLayerGroup"; }
  std::shared_ptr<nn::ModuleList<AlbertLayer>> layers;
};

class AlbertBody : public nn::Module {
 public:
  AlbertBody(const AlbertConfig& c, bool with_pooler, const std::string& who) : c_(c), who_(who) {
    const int64_t E = c.embedding_size, H = c.hidden_size;
    word_embeddings = register_module("embeddings.word_embeddings",
                                      std::make_shared<Embed>(c.vocab_size, E, c.pad_token_id >= 0 ? c.pad_token_id : -1));
    position_embeddings =
        register_module("embeddings.position_embeddings", std::make_shared<Embed>(c.max_position_embeddings, E));
    token_type_embeddings =
        register_module("embeddings.token_type_embeddings", std::make_shared<Embed>(c.type_vocab_size, E));
    emb_norm = register_module("embeddings.LayerNorm", std::make_shared<nn::LayerNorm>(E, c.layer_norm_eps));
    mapping_in = register_module("encoder.embedding_hidden_mapping_in", std::make_shared<Dense>(E, H));
    groups = register_module("encoder.albert_layer_groups", std::make_shared<nn::ModuleList<AlbertGroup>>());
    for (int64_t g = 0; g < c.num_hidden_groups; ++g) groups->push_back(std::make_shared<AlbertGroup>(c));
    if (with_pooler) pooler = register_module("pooler", std::make_shared<Dense>(H, H));
  }
  std::string type_name() const override { return "AlbertModel"; }

  ModelOutput forward(const ModelInputs& in) const {
    check_ids(in.input_ids, who_);
    const int64_t B = in.input_ids.size(0), L = in.input_ids.size(1);
    Tensor pos = in.position_ids;
    if (!pos.defined()) {
      XFMR_CHECK(L <= c_.max_position_embeddings, who_, ": the sequence length ", L,
                 " exceeds max_position_embeddings (", c_.max_position_embeddings, ")");
      pos = arange_positions(L);
    } else {
      check_ids(pos, who_, "position_ids");
    }
    check_positions(pos, c_.max_position_embeddings, who_);
    Tensor tt = in.token_type_ids.defined() ? in.token_type_ids : zero_ids(L);
    if (in.token_type_ids.defined()) check_ids(tt, who_, "token_type_ids");
    Tensor mask = padding_mask(in.attention_mask, B, L, who_);
    const bool train = emb_norm->is_training();
    Tensor x = add(word_embeddings->forward(in.input_ids), token_type_embeddings->forward(tt));
    x = add(x, position_embeddings->forward(pos));
    x = dropout(emb_norm->forward(x), c_.hidden_dropout_prob, train);
    x = mapping_in->forward(x);
    ModelOutput out;
    if (in.output_hidden_states) out.hidden_states.push_back(x);
    const double per_group = static_cast<double>(c_.num_hidden_layers) / static_cast<double>(c_.num_hidden_groups);
    for (int64_t i = 0; i < c_.num_hidden_layers; ++i) {
      const auto& group = (*groups)[static_cast<size_t>(static_cast<double>(i) / per_group)];
      for (const auto& layer : *group->layers) x = layer->forward(x, mask);
      if (in.output_hidden_states) out.hidden_states.push_back(x);
    }
    out.last_hidden_state = x;
    if (pooler) out.pooler_output = tanh(pooler->forward(first_token(x)));
    return out;
  }

  std::shared_ptr<Embed> word_embeddings, position_embeddings, token_type_embeddings;
  std::shared_ptr<nn::LayerNorm> emb_norm;
  std::shared_ptr<Dense> mapping_in, pooler;
  std::shared_ptr<nn::ModuleList<AlbertGroup>> groups;

 private:
  AlbertConfig c_;
  std::string who_;
};

class AlbertFamilyModel : public PreTrainedModel {
 public:
  AlbertFamilyModel(const ModelConfig& config, const ArchitectureSpec& spec)
      : PreTrainedModel(config, spec.name, spec.task, "albert"), c_(AlbertConfig::parse(config, spec.name)) {
    const Task t = spec.task;
    body_ = std::make_shared<AlbertBody>(c_, t == Task::Base || t == Task::SequenceClassification, spec.name);
    if (t == Task::Base) {
      adopt_children(*body_);
      return;
    }
    register_module("albert", body_);
    const int64_t H = c_.hidden_size, E = c_.embedding_size, n = config.num_labels();
    switch (t) {
      case Task::SequenceClassification:
      case Task::TokenClassification:
        XFMR_CHECK(n >= 1, spec.name, ": num_labels must be >= 1, got ", n);
        head_ = register_module("classifier", std::make_shared<Dense>(H, n));
        break;
      case Task::QuestionAnswering:
        head_ = register_module("qa_outputs", std::make_shared<Dense>(H, n));
        break;
      case Task::MaskedLM:
        dense_ = register_module("predictions.dense", std::make_shared<Dense>(H, E));
        norm_ = register_module("predictions.LayerNorm", std::make_shared<nn::LayerNorm>(E, c_.layer_norm_eps));
        if (!config.tie_word_embeddings())
          head_ = register_module("predictions.decoder", std::make_shared<Dense>(E, c_.vocab_size, false));
        bias_ = placeholder({c_.vocab_size});
        register_parameter("predictions.bias", &bias_);
        break;
      default:
        xfmr::detail::fail(spec.name, ": unsupported task");
    }
  }

  ModelOutput forward(const ModelInputs& in) const override {
    ModelOutput out = body_->forward(in);
    const bool train = is_training();
    const float p = c_.classifier_dropout_prob;
    switch (task()) {
      case Task::Base:
        break;
      case Task::SequenceClassification:
        out.logits = head_->forward(dropout(out.pooler_output, p, train));
        break;
      case Task::TokenClassification:
        out.logits = head_->forward(dropout(out.last_hidden_state, p, train));
        break;
      case Task::QuestionAnswering:
        split_qa_logits(head_->forward(out.last_hidden_state), out, architecture());
        break;
      case Task::MaskedLM: {
        Tensor x = dense_->forward(lm_head_input(in, out.last_hidden_state, architecture()));
        x = norm_->forward(nn::apply_activation(c_.act, x));
        out.logits = linear_any(x, head_ ? head_->weight : body_->word_embeddings->weight, bias_);
        break;
      }
      default:
        break;
    }
    return out;
  }

 private:
  AlbertConfig c_;
  std::shared_ptr<AlbertBody> body_;
  std::shared_ptr<Dense> head_, dense_;
  std::shared_ptr<nn::LayerNorm> norm_;
  Tensor bias_;
};

std::shared_ptr<PreTrainedModel> create(const ModelConfig& c, const ArchitectureSpec& s) {
  return std::make_shared<AlbertFamilyModel>(c, s);
}

}  // namespace

FamilySpec albert_family() {
  FamilySpec f;
  f.model_types = {"albert"};
  f.base_model_prefix = "albert";
  const std::string no_pooler = R"(^albert\.pooler\.)";
  f.architectures = {
      {"AlbertModel", "albert", Task::Base, create, {}, {}, {}, {}},
      {"AlbertForSequenceClassification", "albert", Task::SequenceClassification, create, {}, {}, {}, {}},
      {"AlbertForTokenClassification", "albert", Task::TokenClassification, create, {}, {}, {no_pooler}, {}},
      {"AlbertForQuestionAnswering", "albert", Task::QuestionAnswering, create, {}, {}, {no_pooler}, {}},
      {"AlbertForMaskedLM",
       "albert",
       Task::MaskedLM,
       create,
       {{"predictions.decoder.weight", "albert.embeddings.word_embeddings.weight"}},
       {{"predictions.decoder.bias", "predictions.bias"}},
       {no_pooler},
       {}},
  };
  return f;
}

}  // namespace xfmr::models::detail
