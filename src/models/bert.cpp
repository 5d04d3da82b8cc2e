// BERT (modeling_bert.py): the shared encoder stack (bert_blocks.h) and BertModel,
// BertFor{SequenceClassification, TokenClassification, QuestionAnswering, MaskedLM}.
#include "bert_blocks.h"
#include "families.h"

namespace xfmr::models::detail {

// ---------------------------------------------------------------- config

BertLikeConfig BertLikeConfig::parse(const ModelConfig& c, const std::string& who, const BertLikeConfig& d) {
  BertLikeConfig r = d;
  r.vocab_size = positive_int(c, "vocab_size", d.vocab_size, who);
  r.hidden_size = positive_int(c, "hidden_size", d.hidden_size, who);
  // Only ELECTRA has a separate embedding size (BertConfig ignores the field).
  r.embedding_size = d.reads_embedding_size ? positive_int(c, "embedding_size", d.embedding_size, who) : r.hidden_size;
  r.num_hidden_layers = positive_int(c, "num_hidden_layers", d.num_hidden_layers, who);
  r.num_attention_heads = positive_int(c, "num_attention_heads", d.num_attention_heads, who);
  r.intermediate_size = positive_int(c, "intermediate_size", d.intermediate_size, who);
  r.hidden_act = c.get_string("hidden_act", d.hidden_act);
  r.act = activation(r.hidden_act, who, "hidden_act");
  r.hidden_dropout_prob = dropout_prob(c, "hidden_dropout_prob", d.hidden_dropout_prob);
  r.attention_probs_dropout_prob = dropout_prob(c, "attention_probs_dropout_prob", d.attention_probs_dropout_prob);
  r.max_position_embeddings = positive_int(c, "max_position_embeddings", d.max_position_embeddings, who);
  r.type_vocab_size = positive_int(c, "type_vocab_size", d.type_vocab_size, who);
  r.layer_norm_eps = static_cast<float>(c.get_float("layer_norm_eps", d.layer_norm_eps));
  r.pad_token_id = c.get_int("pad_token_id", d.pad_token_id);
  if (auto p = c.get_optional_float("classifier_dropout")) r.classifier_dropout = static_cast<float>(*p);
  head_dim(r.hidden_size, r.num_attention_heads, who);
  const std::string pos = c.get_string("position_embedding_type", "absolute");
  XFMR_CHECK(pos == "absolute", who, ": position_embedding_type '", pos,
             "' is not supported (only 'absolute'; relative_key / relative_key_query are not implemented)");
  XFMR_CHECK(!c.get_bool("is_decoder", false), who,
             ": is_decoder = true (BERT as a causal decoder, BertLMHeadModel) is not supported");
  XFMR_CHECK(!c.get_bool("add_cross_attention", false), who, ": add_cross_attention = true is not supported");
  XFMR_CHECK(r.pad_token_id >= -1 && r.pad_token_id < r.vocab_size, who, ": pad_token_id ", r.pad_token_id,
             " outside the vocabulary (", r.vocab_size, ")");
  return r;
}

// ---------------------------------------------------------------- blocks

BertEmbeddings::BertEmbeddings(const BertLikeConfig& c) : c_(c) {
  const int64_t pad = c.pad_token_id >= 0 ? c.pad_token_id : -1;
  word_embeddings = register_module("word_embeddings", std::make_shared<Embed>(c.vocab_size, c.embedding_size, pad));
  // RoBERTa's position table has padding_idx = pad_token_id as well.
  position_embeddings = register_module(
      "position_embeddings",
      std::make_shared<Embed>(c.max_position_embeddings, c.embedding_size,
                              c.roberta_positions && pad < c.max_position_embeddings ? pad : -1));
  token_type_embeddings =
      register_module("token_type_embeddings", std::make_shared<Embed>(c.type_vocab_size, c.embedding_size));
  norm = register_module("LayerNorm", std::make_shared<nn::LayerNorm>(c.embedding_size, c.layer_norm_eps));
}

Tensor BertEmbeddings::forward(const Tensor& ids, const Tensor& token_type_ids, const Tensor& position_ids) const {
  const int64_t L = ids.size(1);
  Tensor pos = position_ids;
  if (!pos.defined()) {
    if (c_.roberta_positions) {
      pos = roberta_position_ids(ids, c_.pad_token_id);
    } else {
      XFMR_CHECK(L <= c_.max_position_embeddings, "the sequence length ", L,
                 " exceeds max_position_embeddings (", c_.max_position_embeddings, ")");
      pos = arange_positions(L);
    }
  }
  check_positions(pos, c_.max_position_embeddings, "position_ids");
  Tensor tt = token_type_ids.defined() ? token_type_ids : zero_ids(L);
  // HF order: inputs_embeds + token_type_embeddings, then += position_embeddings.
  Tensor x = add(word_embeddings->forward(ids), token_type_embeddings->forward(tt));
  x = add(x, position_embeddings->forward(pos));
  x = norm->forward(x);
  return dropout(x, c_.hidden_dropout_prob, is_training());
}

BertLayer::BertLayer(const BertLikeConfig& c) : c_(c) {
  const int64_t H = c.hidden_size, I = c.intermediate_size;
  query = register_module("attention.self.query", std::make_shared<Dense>(H, H));
  key = register_module("attention.self.key", std::make_shared<Dense>(H, H));
  value = register_module("attention.self.value", std::make_shared<Dense>(H, H));
  attn_out = register_module("attention.output.dense", std::make_shared<Dense>(H, H));
  attn_norm = register_module("attention.output.LayerNorm", std::make_shared<nn::LayerNorm>(H, c.layer_norm_eps));
  intermediate = register_module("intermediate.dense", std::make_shared<Dense>(H, I));
  output = register_module("output.dense", std::make_shared<Dense>(I, H));
  out_norm = register_module("output.LayerNorm", std::make_shared<nn::LayerNorm>(H, c.layer_norm_eps));
}

Tensor BertLayer::forward(const Tensor& x, const Tensor& mask) const {
  const bool train = is_training();
  const int64_t heads = c_.num_attention_heads;
  Tensor q = split_heads(query->forward(x), heads);
  Tensor k = split_heads(key->forward(x), heads);
  Tensor v = split_heads(value->forward(x), heads);
  Tensor ctx = scaled_dot_product_attention(q, k, v, mask, false, -1.0f, c_.attention_probs_dropout_prob, train);
  Tensor a = attn_out->forward(merge_heads(ctx));
  a = attn_norm->forward(add(dropout(a, c_.hidden_dropout_prob, train), x));
  Tensor h = nn::apply_activation(c_.act, intermediate->forward(a));
  h = output->forward(h);
  return out_norm->forward(add(dropout(h, c_.hidden_dropout_prob, train), a));
}

BertEncoder::BertEncoder(const BertLikeConfig& c) {
  layer = register_module("layer", std::make_shared<nn::ModuleList<BertLayer>>());
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) layer->push_back(std::make_shared<BertLayer>(c));
}

Tensor BertEncoder::forward(Tensor x, const Tensor& mask, std::vector<Tensor>* hidden_states) const {
  for (const auto& l : *layer) {
    x = l->forward(x, mask);
    if (hidden_states) hidden_states->push_back(x);
  }
  return x;
}

BertBody::BertBody(const BertLikeConfig& c, bool with_pooler, const std::string& who) : config(c), who_(who) {
  embeddings = register_module("embeddings", std::make_shared<BertEmbeddings>(c));
  if (c.embedding_size != c.hidden_size)
    embeddings_project =
        register_module("embeddings_project", std::make_shared<Dense>(c.embedding_size, c.hidden_size));
  encoder = register_module("encoder", std::make_shared<BertEncoder>(c));
  if (with_pooler) pooler = register_module("pooler.dense", std::make_shared<Dense>(c.hidden_size, c.hidden_size));
}

ModelOutput BertBody::forward(const ModelInputs& in) const {
  check_ids(in.input_ids, who_);
  const int64_t B = in.input_ids.size(0), L = in.input_ids.size(1);
  if (in.token_type_ids.defined()) {
    check_ids(in.token_type_ids, who_, "token_type_ids");
    XFMR_CHECK(in.token_type_ids.shape() == in.input_ids.shape(), who_, ": token_type_ids ",
               in.token_type_ids.describe(), " must have the shape of input_ids ", in.input_ids.describe());
  }
  if (in.position_ids.defined()) check_ids(in.position_ids, who_, "position_ids");
  Tensor mask = padding_mask(in.attention_mask, B, L, who_);
  ModelOutput out;
  Tensor x = embeddings->forward(in.input_ids, in.token_type_ids, in.position_ids);
  if (embeddings_project) x = embeddings_project->forward(x);
  if (in.output_hidden_states) out.hidden_states.push_back(x);
  x = encoder->forward(x, mask, in.output_hidden_states ? &out.hidden_states : nullptr);
  out.last_hidden_state = x;
  if (pooler) out.pooler_output = tanh(pooler->forward(first_token(x)));
  return out;
}

Tensor roberta_position_ids(const Tensor& input_ids, int64_t padding_idx) {
  const int64_t B = input_ids.size(0), L = input_ids.size(1);
  std::vector<int64_t> ids = int_values(input_ids);
  Tensor pos = Tensor::empty({B, L}, DType::I64);
  int64_t* p = pos.data<int64_t>();
  for (int64_t b = 0; b < B; ++b) {
    int64_t count = 0;
    for (int64_t i = 0; i < L; ++i) {
      const bool real = ids[b * L + i] != padding_idx;
      count += real ? 1 : 0;
      p[b * L + i] = (real ? count : 0) + padding_idx;
    }
  }
  return pos;
}

// ---------------------------------------------------------------- BERT classes

namespace {

BertLikeConfig bert_defaults() { return BertLikeConfig(); }

class BertFamilyModel : public PreTrainedModel {
 public:
  BertFamilyModel(const ModelConfig& config, const ArchitectureSpec& spec)
      : PreTrainedModel(config, spec.name, spec.task, "bert"), c_(BertLikeConfig::parse(config, spec.name, bert_defaults())) {
    const Task t = spec.task;
    const bool with_pooler = t == Task::Base || t == Task::SequenceClassification;
    body_ = std::make_shared<BertBody>(c_, with_pooler, spec.name);
    if (t == Task::Base) {
      adopt_children(*body_);
      return;
    }
    register_module("bert", body_);
    const int64_t H = c_.hidden_size, n = config.num_labels();
    switch (t) {
      case Task::SequenceClassification:
      case Task::TokenClassification:
        XFMR_CHECK(n >= 1, spec.name, ": num_labels must be >= 1, got ", n);
        classifier_ = register_module("classifier", std::make_shared<Dense>(H, n));
        break;
      case Task::QuestionAnswering:
        qa_outputs_ = register_module("qa_outputs", std::make_shared<Dense>(H, n));
        break;
      case Task::MaskedLM:
        transform_ = register_module("cls.predictions.transform.dense", std::make_shared<Dense>(H, H));
        transform_norm_ = register_module("cls.predictions.transform.LayerNorm",
                                          std::make_shared<nn::LayerNorm>(H, c_.layer_norm_eps));
        if (!config.tie_word_embeddings())
          decoder_ = register_module("cls.predictions.decoder", std::make_shared<Dense>(H, c_.vocab_size, false));
        mlm_bias_ = placeholder({c_.vocab_size});
        register_parameter("cls.predictions.bias", &mlm_bias_);
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
      case Task::SequenceClassification:
        out.logits = classifier_->forward(dropout(out.pooler_output, c_.head_dropout(), train));
        break;
      case Task::TokenClassification:
        out.logits = classifier_->forward(dropout(out.last_hidden_state, c_.head_dropout(), train));
        break;
      case Task::QuestionAnswering:
        split_qa_logits(qa_outputs_->forward(out.last_hidden_state), out, architecture());
        break;
      case Task::MaskedLM: {
        Tensor h = lm_head_input(in, out.last_hidden_state, architecture());
        h = nn::apply_activation(c_.act, transform_->forward(h));
        h = transform_norm_->forward(h);
        const Tensor& w = decoder_ ? decoder_->weight : body_->embeddings->word_embeddings->weight;
        out.logits = linear_any(h, w, mlm_bias_);
        break;
      }
      default:
        break;
    }
    return out;
  }

 private:
  BertLikeConfig c_;
  std::shared_ptr<BertBody> body_;
  std::shared_ptr<Dense> classifier_, qa_outputs_, transform_, decoder_;
  std::shared_ptr<nn::LayerNorm> transform_norm_;
  Tensor mlm_bias_;
};

std::shared_ptr<PreTrainedModel> create(const ModelConfig& c, const ArchitectureSpec& s) {
  return std::make_shared<BertFamilyModel>(c, s);
}

}  // namespace

FamilySpec bert_family() {
  FamilySpec f;
  f.model_types = {"bert"};
  f.base_model_prefix = "bert";
  const std::string no_pooler = R"(^bert\.pooler\.)";
  f.architectures = {
      {"BertModel", "bert", Task::Base, create, {}, {}, {}, {}},
      {"BertForSequenceClassification", "bert", Task::SequenceClassification, create, {}, {}, {}, {}},
      {"BertForTokenClassification", "bert", Task::TokenClassification, create, {}, {}, {no_pooler}, {}},
      {"BertForQuestionAnswering", "bert", Task::QuestionAnswering, create, {}, {}, {no_pooler}, {}},
      {"BertForMaskedLM",
       "bert",
       Task::MaskedLM,
       create,
       {{"cls.predictions.decoder.weight", "bert.embeddings.word_embeddings.weight"}},
       {{"cls.predictions.decoder.bias", "cls.predictions.bias"}},
       {no_pooler},
       {}},
  };
  return f;
}

}  // namespace xfmr::models::detail
