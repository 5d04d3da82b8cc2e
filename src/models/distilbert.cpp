// DistilBERT (modeling_distilbert.py): word + position embeddings (no segments), post-norm
// layers with q_lin/k_lin/v_lin/out_lin, LayerNorm eps hard-coded to 1e-12, and its own heads.
#include <cmath>

#include "families.h"
#include "blocks.h"

namespace xfmr::models::detail {
namespace {

constexpr float kEps = 1e-12f;  // DistilBERT hard-codes the LayerNorm eps

struct DistilConfig {
  int64_t vocab_size, max_position_embeddings, n_layers, n_heads, dim, hidden_dim, pad_token_id;
  bool sinusoidal;
  float dropout, attention_dropout, qa_dropout, seq_classif_dropout;
  std::string activation_name;
  nn::Activation act;

  static DistilConfig parse(const ModelConfig& c, const std::string& who) {
    DistilConfig r;
    r.vocab_size = positive_int(c, "vocab_size", 30522, who);
    r.max_position_embeddings = positive_int(c, "max_position_embeddings", 512, who);
    r.sinusoidal = c.get_bool("sinusoidal_pos_embds", false);
    r.n_layers = positive_int(c, "n_layers", 6, who);
    r.n_heads = positive_int(c, "n_heads", 12, who);
    r.dim = positive_int(c, "dim", 768, who);
    r.hidden_dim = positive_int(c, "hidden_dim", 4 * 768, who);
    r.dropout = dropout_prob(c, "dropout", 0.1);
    r.attention_dropout = dropout_prob(c, "attention_dropout", 0.1);
    r.qa_dropout = dropout_prob(c, "qa_dropout", 0.1);
    r.seq_classif_dropout = dropout_prob(c, "seq_classif_dropout", 0.2);
    r.activation_name = c.get_string("activation", "gelu");
    r.act = activation(r.activation_name, who, "activation");
    r.pad_token_id = c.get_int("pad_token_id", 0);
    XFMR_CHECK(r.pad_token_id >= -1 && r.pad_token_id < r.vocab_size, who, ": pad_token_id ", r.pad_token_id,
               " outside the vocabulary");
    head_dim(r.dim, r.n_heads, who);
    return r;
  }
};

// HF create_sinusoidal_embeddings: interleaved sin (even columns) / cos (odd columns), float64 angles.
Tensor sinusoidal_table(int64_t n_pos, int64_t dim) {
  Tensor t = Tensor::empty({n_pos, dim});
  float* p = t.data<float>();
  for (int64_t pos = 0; pos < n_pos; ++pos)
    for (int64_t j = 0; j < dim; ++j) {
      double angle = static_cast<double>(pos) / std::pow(10000.0, 2.0 * static_cast<double>(j / 2) / static_cast<double>(dim));
      p[pos * dim + j] = static_cast<float>(j % 2 == 0 ? std::sin(angle) : std::cos(angle));
    }
  return t;
}

class DistilLayer : public nn::Module {
 public:
  explicit DistilLayer(const DistilConfig& c) : c_(c) {
    const int64_t D = c.dim;
    q_lin = register_module("attention.q_lin", std::make_shared<Dense>(D, D));
    k_lin = register_module("attention.k_lin", std::make_shared<Dense>(D, D));
    v_lin = register_module("attention.v_lin", std::make_shared<Dense>(D, D));
    out_lin = register_module("attention.out_lin", std::make_shared<Dense>(D, D));
    sa_norm = register_module("sa_layer_norm", std::make_shared<nn::LayerNorm>(D, kEps));
    lin1 = register_module("ffn.lin1", std::make_shared<Dense>(D, c.hidden_dim));
    lin2 = register_module("ffn.lin2", std::make_shared<Dense>(c.hidden_dim, D));
    out_norm = register_module("output_layer_norm", std::make_shared<nn::LayerNorm>(D, kEps));
  }
  std::string type_name() const override { return "TransformerBlock"; }

  Tensor forward(const Tensor& x, const Tensor& mask) const {
    const bool train = is_training();
    Tensor q = split_heads(q_lin->forward(x), c_.n_heads);
    Tensor k = split_heads(k_lin->forward(x), c_.n_heads);
    Tensor v = split_heads(v_lin->forward(x), c_.n_heads);
    Tensor ctx = scaled_dot_product_attention(q, k, v, mask, false, -1.0f, c_.attention_dropout, train);
    Tensor sa = sa_norm->forward(add(out_lin->forward(merge_heads(ctx)), x));
    Tensor h = lin2->forward(nn::apply_activation(c_.act, lin1->forward(sa)));
    return out_norm->forward(add(dropout(h, c_.dropout, train), sa));
  }

  std::shared_ptr<Dense> q_lin, k_lin, v_lin, out_lin, lin1, lin2;
  std::shared_ptr<nn::LayerNorm> sa_norm, out_norm;

 private:
  DistilConfig c_;
};

class DistilBody : public nn::Module {
 public:
  DistilBody(const DistilConfig& c, const std::string& who) : c_(c), who_(who) {
    word_embeddings = register_module(
        "embeddings.word_embeddings",
        std::make_shared<Embed>(c.vocab_size, c.dim, c.pad_token_id >= 0 ? c.pad_token_id : -1));
    position_embeddings =
        register_module("embeddings.position_embeddings", std::make_shared<Embed>(c.max_position_embeddings, c.dim));
    if (c.sinusoidal) rebind(position_embeddings->weight, sinusoidal_table(c.max_position_embeddings, c.dim));
    emb_norm = register_module("embeddings.LayerNorm", std::make_shared<nn::LayerNorm>(c.dim, kEps));
    layers = register_module("transformer.layer", std::make_shared<nn::ModuleList<DistilLayer>>());
    for (int64_t i = 0; i < c.n_layers; ++i) layers->push_back(std::make_shared<DistilLayer>(c));
  }
  std::string type_name() const override { return "DistilBertModel"; }

  ModelOutput forward(const ModelInputs& in) const {
    check_ids(in.input_ids, who_);
    const int64_t B = in.input_ids.size(0), L = in.input_ids.size(1);
    if (in.token_type_ids.defined()) {
      for (int64_t v : int_values(in.token_type_ids))
        XFMR_CHECK(v == 0, who_, ": DistilBERT has no token type (segment) embeddings; do not pass token_type_ids");
    }
    Tensor pos = in.position_ids;
    if (!pos.defined()) {
      XFMR_CHECK(L <= c_.max_position_embeddings, who_, ": the sequence length ", L,
                 " exceeds max_position_embeddings (", c_.max_position_embeddings, ")");
      pos = arange_positions(L);
    } else {
      check_ids(pos, who_, "position_ids");
    }
    check_positions(pos, c_.max_position_embeddings, who_);
    Tensor mask = padding_mask(in.attention_mask, B, L, who_);
    // The embedding dropout belongs to the embeddings module: use this body's children's flag.
    const bool train = emb_norm->is_training();
    Tensor x = add(word_embeddings->forward(in.input_ids), position_embeddings->forward(pos));
    x = dropout(emb_norm->forward(x), c_.dropout, train);
    ModelOutput out;
    if (in.output_hidden_states) out.hidden_states.push_back(x);
    for (const auto& l : *layers) {
      x = l->forward(x, mask);
      if (in.output_hidden_states) out.hidden_states.push_back(x);
    }
    out.last_hidden_state = x;
    return out;
  }

  std::shared_ptr<Embed> word_embeddings, position_embeddings;
  std::shared_ptr<nn::LayerNorm> emb_norm;
  std::shared_ptr<nn::ModuleList<DistilLayer>> layers;

 private:
  DistilConfig c_;
  std::string who_;
};

// vocab_projector with a tied weight: only its bias is a parameter ("vocab_projector.bias").
class TiedBias : public nn::Module {
 public:
  explicit TiedBias(int64_t n) {
    bias = placeholder({n});
    register_parameter("bias", &bias);
  }
  std::string type_name() const override { return "Linear"; }
  Tensor bias;
};

class DistilBertFamilyModel : public PreTrainedModel {
 public:
  DistilBertFamilyModel(const ModelConfig& config, const ArchitectureSpec& spec)
      : PreTrainedModel(config, spec.name, spec.task, "distilbert"), c_(DistilConfig::parse(config, spec.name)) {
    body_ = std::make_shared<DistilBody>(c_, spec.name);
    const Task t = spec.task;
    if (t == Task::Base) {
      adopt_children(*body_);
      return;
    }
    register_module("distilbert", body_);
    const int64_t D = c_.dim, n = config.num_labels();
    switch (t) {
      case Task::SequenceClassification:
        XFMR_CHECK(n >= 1, spec.name, ": num_labels must be >= 1, got ", n);
        pre_classifier_ = register_module("pre_classifier", std::make_shared<Dense>(D, D));
        classifier_ = register_module("classifier", std::make_shared<Dense>(D, n));
        break;
      case Task::TokenClassification:
        XFMR_CHECK(n >= 1, spec.name, ": num_labels must be >= 1, got ", n);
        classifier_ = register_module("classifier", std::make_shared<Dense>(D, n));
        break;
      case Task::QuestionAnswering:
        XFMR_CHECK(n == 2, spec.name, ": question answering needs num_labels = 2, got ", n);
        classifier_ = register_module("qa_outputs", std::make_shared<Dense>(D, n));
        break;
      case Task::MaskedLM:
        vocab_transform_ = register_module("vocab_transform", std::make_shared<Dense>(D, D));
        vocab_norm_ = register_module("vocab_layer_norm", std::make_shared<nn::LayerNorm>(D, kEps));
        if (config.tie_word_embeddings())  // the weight is the word embedding matrix; only the bias is ours
          tied_projector_ = register_module("vocab_projector", std::make_shared<TiedBias>(c_.vocab_size));
        else
          projector_ = register_module("vocab_projector", std::make_shared<Dense>(D, c_.vocab_size));
        break;
      default:
        xfmr::detail::fail(spec.name, ": unsupported task");
    }
  }

  ModelOutput forward(const ModelInputs& in) const override {
    ModelOutput out = body_->forward(in);
    const bool train = is_training();
    switch (task()) {
      case Task::Base:
        break;
      case Task::SequenceClassification: {
        Tensor x = relu(pre_classifier_->forward(first_token(out.last_hidden_state)));
        out.logits = classifier_->forward(dropout(x, c_.seq_classif_dropout, train));
        break;
      }
      case Task::TokenClassification:
        out.logits = classifier_->forward(dropout(out.last_hidden_state, c_.dropout, train));
        break;
      case Task::QuestionAnswering:
        split_qa_logits(classifier_->forward(dropout(out.last_hidden_state, c_.qa_dropout, train)), out,
                        architecture());
        break;
      case Task::MaskedLM: {
        Tensor h = lm_head_input(in, out.last_hidden_state, architecture());
        h = nn::apply_activation(c_.act, vocab_transform_->forward(h));
        h = vocab_norm_->forward(h);
        if (projector_)
          out.logits = projector_->forward(h);
        else
          out.logits = linear_any(h, body_->word_embeddings->weight, tied_projector_->bias);
        break;
      }
      default:
        break;
    }
    return out;
  }

  bool accepts_token_type_ids() const override { return false; }
  bool computed_weight(const std::string& name) const override {
    return c_.sinusoidal && (name == "embeddings.position_embeddings.weight" ||
                             name == "distilbert.embeddings.position_embeddings.weight");
  }
  void init_weights(Generator& gen, const std::function<bool(const std::string&)>& select) override {
    PreTrainedModel::init_weights(gen, select);
    // HF keeps the sinusoidal table when initialising.
    if (c_.sinusoidal) rebind(body_->position_embeddings->weight, sinusoidal_table(c_.max_position_embeddings, c_.dim));
  }

 private:
  DistilConfig c_;
  std::shared_ptr<DistilBody> body_;
  std::shared_ptr<Dense> pre_classifier_, classifier_, vocab_transform_, projector_;
  std::shared_ptr<nn::LayerNorm> vocab_norm_;
  std::shared_ptr<TiedBias> tied_projector_;
};

std::shared_ptr<PreTrainedModel> create(const ModelConfig& c, const ArchitectureSpec& s) {
  return std::make_shared<DistilBertFamilyModel>(c, s);
}

}  // namespace

FamilySpec distilbert_family() {
  FamilySpec f;
  f.model_types = {"distilbert"};
  f.base_model_prefix = "distilbert";
  f.attribute_map = {{"hidden_size", "dim"}, {"num_attention_heads", "n_heads"}, {"num_hidden_layers", "n_layers"}};
  f.architectures = {
      {"DistilBertModel", "distilbert", Task::Base, create, {}, {}, {}, {}},
      {"DistilBertForSequenceClassification", "distilbert", Task::SequenceClassification, create, {}, {}, {}, {}},
      {"DistilBertForTokenClassification", "distilbert", Task::TokenClassification, create, {}, {}, {}, {}},
      {"DistilBertForQuestionAnswering", "distilbert", Task::QuestionAnswering, create, {}, {}, {}, {}},
      {"DistilBertForMaskedLM",
       "distilbert",
       Task::MaskedLM,
       create,
       {{"vocab_projector.weight", "distilbert.embeddings.word_embeddings.weight"}},
       {},
       {},
       {}},
  };
  return f;
}

}  // namespace xfmr::models::detail
