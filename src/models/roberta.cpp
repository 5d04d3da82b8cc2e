// RoBERTa (modeling_roberta.py), also XLM-RoBERTa and CamemBERT, which reuse it unchanged:
// BERT's encoder with position ids counted from padding_idx + 1 over non-padding tokens, a
// two-layer classification head and an LM head with its own dense + layer_norm + gelu.
#include "bert_blocks.h"
#include "families.h"

namespace xfmr::models::detail {
namespace {

BertLikeConfig roberta_defaults(const std::string& model_type) {
  BertLikeConfig d;
  d.vocab_size = model_type == "roberta" ? 50265 : (model_type == "camembert" ? 32005 : 30522);
  d.pad_token_id = 1;
  d.roberta_positions = true;
  return d;
}

class RobertaFamilyModel : public PreTrainedModel {
 public:
  RobertaFamilyModel(const ModelConfig& config, const ArchitectureSpec& spec)
      : PreTrainedModel(config, spec.name, spec.task, "roberta"),
        c_(BertLikeConfig::parse(config, spec.name, roberta_defaults(spec.model_type))) {
    const Task t = spec.task;
    // Only the base model has a pooler (the heads use add_pooling_layer=False).
    body_ = std::make_shared<BertBody>(c_, t == Task::Base, spec.name);
    if (t == Task::Base) {
      adopt_children(*body_);
      return;
    }
    register_module("roberta", body_);
    const int64_t H = c_.hidden_size, n = config.num_labels();
    switch (t) {
      case Task::SequenceClassification:
        XFMR_CHECK(n >= 1, spec.name, ": num_labels must be >= 1, got ", n);
        cls_dense_ = register_module("classifier.dense", std::make_shared<Dense>(H, H));
        classifier_ = register_module("classifier.out_proj", std::make_shared<Dense>(H, n));
        break;
      case Task::TokenClassification:
        XFMR_CHECK(n >= 1, spec.name, ": num_labels must be >= 1, got ", n);
        classifier_ = register_module("classifier", std::make_shared<Dense>(H, n));
        break;
      case Task::QuestionAnswering:
        classifier_ = register_module("qa_outputs", std::make_shared<Dense>(H, n));
        break;
      case Task::MaskedLM:
        lm_dense_ = register_module("lm_head.dense", std::make_shared<Dense>(H, H));
        lm_norm_ = register_module("lm_head.layer_norm", std::make_shared<nn::LayerNorm>(H, c_.layer_norm_eps));
        if (!config.tie_word_embeddings())
          decoder_ = register_module("lm_head.decoder", std::make_shared<Dense>(H, c_.vocab_size, false));
        lm_bias_ = placeholder({c_.vocab_size});
        register_parameter("lm_head.bias", &lm_bias_);
        break;
      default:
        xfmr::detail::fail(spec.name, ": unsupported task");
    }
  }

  ModelOutput forward(const ModelInputs& in) const override {
    ModelOutput out = body_->forward(in);
    const bool train = is_training();
    const float p = c_.head_dropout();
    switch (task()) {
      case Task::Base:
        break;
      case Task::SequenceClassification: {
        // RobertaClassificationHead: <s> -> dropout -> dense -> tanh -> dropout -> out_proj
        Tensor x = dropout(first_token(out.last_hidden_state), p, train);
        x = tanh(cls_dense_->forward(x));
        out.logits = classifier_->forward(dropout(x, p, train));
        break;
      }
      case Task::TokenClassification:
        out.logits = classifier_->forward(dropout(out.last_hidden_state, p, train));
        break;
      case Task::QuestionAnswering:
        split_qa_logits(classifier_->forward(out.last_hidden_state), out, architecture());
        break;
      case Task::MaskedLM: {
        // RobertaLMHead: dense -> gelu (always the erf form, whatever hidden_act says) -> layer_norm -> decoder
        Tensor h = gelu(lm_dense_->forward(lm_head_input(in, out.last_hidden_state, architecture())), false);
        h = lm_norm_->forward(h);
        const Tensor& w = decoder_ ? decoder_->weight : body_->embeddings->word_embeddings->weight;
        out.logits = linear_any(h, w, lm_bias_);
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
  std::shared_ptr<Dense> cls_dense_, classifier_, lm_dense_, decoder_;
  std::shared_ptr<nn::LayerNorm> lm_norm_;
  Tensor lm_bias_;
};

std::shared_ptr<PreTrainedModel> create(const ModelConfig& c, const ArchitectureSpec& s) {
  return std::make_shared<RobertaFamilyModel>(c, s);
}

void add_classes(FamilySpec& f, const std::string& model_type, const std::string& cls) {
  const std::string no_pooler = R"(^roberta\.pooler\.)";
  f.architectures.push_back({cls + "Model", model_type, Task::Base, create, {}, {}, {}, {}});
  f.architectures.push_back(
      {cls + "ForSequenceClassification", model_type, Task::SequenceClassification, create, {}, {}, {no_pooler}, {}});
  f.architectures.push_back(
      {cls + "ForTokenClassification", model_type, Task::TokenClassification, create, {}, {}, {no_pooler}, {}});
  f.architectures.push_back(
      {cls + "ForQuestionAnswering", model_type, Task::QuestionAnswering, create, {}, {}, {no_pooler}, {}});
  f.architectures.push_back({cls + "ForMaskedLM",
                             model_type,
                             Task::MaskedLM,
                             create,
                             {{"lm_head.decoder.weight", "roberta.embeddings.word_embeddings.weight"}},
                             {{"lm_head.decoder.bias", "lm_head.bias"}},
                             {no_pooler},
                             {}});
}

}  // namespace

FamilySpec roberta_family() {
  FamilySpec f;
  f.model_types = {"roberta", "xlm-roberta", "camembert"};
  f.base_model_prefix = "roberta";
  add_classes(f, "roberta", "Roberta");
  add_classes(f, "xlm-roberta", "XLMRoberta");
  add_classes(f, "camembert", "Camembert");
  return f;
}

}  // namespace xfmr::models::detail
