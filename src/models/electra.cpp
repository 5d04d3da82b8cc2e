// ELECTRA (modeling_electra.py): BERT's encoder behind embeddings of size embedding_size
// (projected to hidden_size by embeddings_project when they differ), no pooler, and its heads:
// sequence classification (dense -> gelu -> out_proj), token classification, question answering,
// masked LM (the generator head, tied decoder) and pre-training (replaced-token detection).
#include "bert_blocks.h"
#include "families.h"

namespace xfmr::models::detail {
namespace {

BertLikeConfig electra_defaults() {
  BertLikeConfig d;
  d.vocab_size = 30522;
  d.embedding_size = 128;
  d.hidden_size = 256;
  d.num_attention_heads = 4;
  d.intermediate_size = 1024;
  d.reads_embedding_size = true;
  return d;
}

class ElectraFamilyModel : public PreTrainedModel {
 public:
  ElectraFamilyModel(const ModelConfig& config, const ArchitectureSpec& spec)
      : PreTrainedModel(config, spec.name, spec.task, "electra"),
        c_(BertLikeConfig::parse(config, spec.name, electra_defaults())) {
    body_ = std::make_shared<BertBody>(c_, false, spec.name);
    const Task t = spec.task;
    if (t == Task::Base) {
      adopt_children(*body_);
      return;
    }
    register_module("electra", body_);
    const int64_t H = c_.hidden_size, E = c_.embedding_size, n = config.num_labels();
    switch (t) {
      case Task::SequenceClassification:
        XFMR_CHECK(n >= 1, spec.name, ": num_labels must be >= 1, got ", n);
        dense_ = register_module("classifier.dense", std::make_shared<Dense>(H, H));
        out_ = register_module("classifier.out_proj", std::make_shared<Dense>(H, n));
        break;
      case Task::TokenClassification:
        XFMR_CHECK(n >= 1, spec.name, ": num_labels must be >= 1, got ", n);
        out_ = register_module("classifier", std::make_shared<Dense>(H, n));
        break;
      case Task::QuestionAnswering:
        out_ = register_module("qa_outputs", std::make_shared<Dense>(H, n));
        break;
      case Task::MaskedLM:
        dense_ = register_module("generator_predictions.dense", std::make_shared<Dense>(H, E));
        norm_ = register_module("generator_predictions.LayerNorm", std::make_shared<nn::LayerNorm>(E, c_.layer_norm_eps));
        if (config.tie_word_embeddings()) {
          lm_bias_ = placeholder({c_.vocab_size});
          register_parameter("generator_lm_head.bias", &lm_bias_);
        } else {
          out_ = register_module("generator_lm_head", std::make_shared<Dense>(E, c_.vocab_size));
        }
        break;
      case Task::PreTraining:
        dense_ = register_module("discriminator_predictions.dense", std::make_shared<Dense>(H, H));
        out_ = register_module("discriminator_predictions.dense_prediction", std::make_shared<Dense>(H, 1));
        break;
      default:
        xfmr::detail::fail(spec.name, ": unsupported task");
    }
  }

  ModelOutput forward(const ModelInputs& in) const override {
    ModelOutput out = body_->forward(in);
    const bool train = is_training();
    const float p = c_.head_dropout();
    const Tensor& h = out.last_hidden_state;
    switch (task()) {
      case Task::Base:
        break;
      case Task::SequenceClassification: {
        Tensor x = dense_->forward(dropout(first_token(h), p, train));
        x = gelu(x, false);  // ELECTRA uses gelu here where BERT/RoBERTa use tanh
        out.logits = out_->forward(dropout(x, p, train));
        break;
      }
      case Task::TokenClassification:
        out.logits = out_->forward(dropout(h, p, train));
        break;
      case Task::QuestionAnswering:
        split_qa_logits(out_->forward(h), out, architecture());
        break;
      case Task::MaskedLM: {
        Tensor x = norm_->forward(gelu(dense_->forward(lm_head_input(in, h, architecture())), false));
        out.logits = out_ ? out_->forward(x) : linear_any(x, body_->embeddings->word_embeddings->weight, lm_bias_);
        break;
      }
      case Task::PreTraining: {
        Tensor x = nn::apply_activation(c_.act, dense_->forward(h));
        out.logits = squeeze(out_->forward(x), -1);
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
  std::shared_ptr<Dense> dense_, out_;
  std::shared_ptr<nn::LayerNorm> norm_;
  Tensor lm_bias_;
};

std::shared_ptr<PreTrainedModel> create(const ModelConfig& c, const ArchitectureSpec& s) {
  return std::make_shared<ElectraFamilyModel>(c, s);
}

}  // namespace

FamilySpec electra_family() {
  FamilySpec f;
  f.model_types = {"electra"};
  f.base_model_prefix = "electra";
  f.architectures = {
      {"ElectraModel", "electra", Task::Base, create, {}, {}, {}, {}},
      {"ElectraForSequenceClassification", "electra", Task::SequenceClassification, create, {}, {}, {}, {}},
      {"ElectraForTokenClassification", "electra", Task::TokenClassification, create, {}, {}, {}, {}},
      {"ElectraForQuestionAnswering", "electra", Task::QuestionAnswering, create, {}, {}, {}, {}},
      {"ElectraForMaskedLM",
       "electra",
       Task::MaskedLM,
       create,
       {{"generator_lm_head.weight", "electra.embeddings.word_embeddings.weight"}},
       {},
       {},
       {}},
      {"ElectraForPreTraining", "electra", Task::PreTraining, create, {}, {}, {}, {}},
  };
  return f;
}

}  // namespace xfmr::models::detail
