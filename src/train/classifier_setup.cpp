// Building the model and tokenizer a classifier run starts from: a pretrained checkpoint (its head
// kept, or a fresh one when it has none or other labels) or a from-scratch BERT/DistilBERT with a
// WordPiece tokenizer trained on the training texts.
#include <fstream>
#include <nlohmann/json.hpp>

#include "classifier_setup.h"
#include "xfmr/core/error.h"
#include "xfmr/io/hub.h"
#include "xfmr/models/auto.h"
#include "xfmr/tokenizers/trainer.h"

namespace fs = std::filesystem;

namespace xfmr::train::detail {

namespace {

void write_text(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary);
  XFMR_CHECK(out, "train-classifier: cannot write '", p.string(), "'");
  out << text;
  if (text.empty() || text.back() != '\n') out << '\n';
  XFMR_CHECK(out.good(), "train-classifier: writing '", p.string(), "' failed");
}

const char* const kTokenizerFiles[] = {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                                       "vocab.txt",      "vocab.json",            "merges.txt",
                                       "spiece.model",   "sentencepiece.bpe.model", "added_tokens.json"};

models::ModelConfig scratch_config(const ScratchModelOptions& s, int64_t vocab, int32_t pad_id,
                                   const std::vector<std::string>& labels) {
  XFMR_CHECK(s.layers > 0 && s.hidden > 0 && s.heads > 0, "train-classifier: --layers, --hidden and --heads must be positive");
  XFMR_CHECK(s.hidden % s.heads == 0, "train-classifier: --hidden ", s.hidden, " is not a multiple of --heads ", s.heads);
  const int64_t inter = s.intermediate > 0 ? s.intermediate : 4 * s.hidden;
  nlohmann::json j;
  if (s.architecture == "bert") {
    j = {{"model_type", "bert"},
         {"architectures", {"BertForSequenceClassification"}},
         {"vocab_size", vocab},
         {"hidden_size", s.hidden},
         {"num_hidden_layers", s.layers},
         {"num_attention_heads", s.heads},
         {"intermediate_size", inter},
         {"max_position_embeddings", s.max_positions},
         {"type_vocab_size", 2},
         {"hidden_act", "gelu"},
         {"hidden_dropout_prob", s.dropout},
         {"attention_probs_dropout_prob", s.dropout},
         {"classifier_dropout", nullptr},
         {"layer_norm_eps", 1e-12},
         {"initializer_range", 0.02},
         {"position_embedding_type", "absolute"},
         {"use_cache", true},
         {"pad_token_id", pad_id}};
  } else if (s.architecture == "distilbert") {
    j = {{"model_type", "distilbert"},
         {"architectures", {"DistilBertForSequenceClassification"}},
         {"vocab_size", vocab},
         {"dim", s.hidden},
         {"n_layers", s.layers},
         {"n_heads", s.heads},
         {"hidden_dim", inter},
         {"max_position_embeddings", s.max_positions},
         {"activation", "gelu"},
         {"dropout", s.dropout},
         {"attention_dropout", s.dropout},
         {"seq_classif_dropout", s.dropout},
         {"qa_dropout", s.dropout},
         {"initializer_range", 0.02},
         {"sinusoidal_pos_embds", false},
         {"tie_weights_", true},
         {"pad_token_id", pad_id}};
  } else {
    ::xfmr::detail::fail("train-classifier: --arch must be bert or distilbert for a model from scratch, got '",
                         s.architecture, "'");
  }
  j["problem_type"] = "single_label_classification";
  models::ModelConfig c = models::ModelConfig::from_json(j.dump(), "from-scratch config");
  c.set_labels(labels);
  return c;
}

}  // namespace

int32_t pad_id_of(const tokenizers::Tokenizer& tok, const models::ModelConfig& c) {
  if (tok.special_tokens().pad) return tok.special_tokens().pad->id;
  if (auto p = c.pad_token_id()) return static_cast<int32_t>(*p);
  return 0;
}

int64_t usable_length(const models::ModelConfig& c, int64_t requested) {
  int64_t positions = c.max_position_embeddings();
  const std::string t = c.model_type();
  // RoBERTa-style position ids start after the padding index.
  if (t == "roberta" || t == "xlm-roberta" || t == "camembert") positions -= 2;
  return positions > 0 ? std::min(requested, positions) : requested;
}

Start start_scratch(const ClassifierTrainOptions& o, const std::vector<std::string>& labels,
                    const std::vector<data::ClassificationExample>& train, const Logger& log) {
  const ScratchModelOptions& s = *o.scratch;
  Start st;
  if (!s.tokenizer.empty()) {
    st.tokenizer = std::make_unique<tokenizers::Tokenizer>(tokenizers::Tokenizer::from_pretrained(s.tokenizer));
    st.tokenizer_source = s.tokenizer;
  } else {
    tokenizers::TokenizerTrainOptions to;
    to.pipeline = tokenizers::TrainerPipeline::BertWordPiece;
    to.lowercase = s.lowercase;
    to.trainer.vocab_size = s.vocab_size;
    to.trainer.min_frequency = s.min_frequency;
    to.trainer.limit_alphabet = 1000;  // BertWordPieceTokenizer.train's default
    std::vector<std::string> lines;
    lines.reserve(train.size() * 2);
    for (const auto& e : train) {
      lines.push_back(e.text);
      if (e.text_pair) lines.push_back(*e.text_pair);
    }
    log("training a WordPiece tokenizer (vocab_size " + std::to_string(s.vocab_size) + ", min_frequency " +
        std::to_string(s.min_frequency) + ") on " + std::to_string(lines.size()) + " training texts");
    st.tokenizer_json = tokenizers::train_tokenizer_from_lines(lines, to);
    st.tokenizer_config_json = tokenizers::tokenizer_config_for(to, static_cast<size_t>(s.max_positions));
    st.tokenizer = std::make_unique<tokenizers::Tokenizer>(
        tokenizers::Tokenizer::from_json(st.tokenizer_json, "trained tokenizer.json"));
    log("tokenizer: " + std::to_string(st.tokenizer->vocab_size()) + " tokens");
  }
  const int64_t vocab = static_cast<int64_t>(st.tokenizer->vocab_size());
  models::ModelConfig cfg = scratch_config(s, vocab, pad_id_of(*st.tokenizer, models::ModelConfig()), labels);
  st.model = models::AutoModel::from_config(cfg, {.seed = o.seed});
  return st;
}

Start start_pretrained(const ClassifierTrainOptions& o, const std::vector<std::string>& labels, const Logger& log) {
  Start st;
  fs::path dir = io::resolve_model(o.model);
  models::ModelConfig cfg = models::ModelConfig::from_file(dir / "config.json");
  auto archs = cfg.architectures();
  const std::string had = archs.empty() ? std::string("(no architectures)") : archs[0];
  const auto* spec = models::find_architecture(cfg.model_type(), models::Task::SequenceClassification);
  XFMR_CHECK(spec, "train-classifier: model type '", cfg.model_type(), "' of ", dir.string(),
             " has no sequence-classification class in xfmr");
  if (had != spec->name)
    log("note: " + dir.string() + " is a " + had + " without a classification head: a new " + spec->name +
        " head with " + std::to_string(labels.size()) + " labels is initialised (seed " + std::to_string(o.seed) + ")");
  else if (cfg.num_labels() != static_cast<int64_t>(labels.size()) || cfg.id2label().size() != labels.size())
    log("note: the checkpoint's classification head has " + std::to_string(cfg.num_labels()) +
        " labels and the data " + std::to_string(labels.size()) + ": the head is re-initialised");
  models::LoadOptions lo;
  lo.task = models::Task::SequenceClassification;
  lo.labels = labels;
  lo.trainable = true;
  lo.seed = o.seed;
  lo.on_warning = [&](const std::string& w) { log("warning: " + w); };
  st.model = models::AutoModel::from_pretrained(dir.string(), lo);
  st.model->train();
  st.tokenizer = std::make_unique<tokenizers::Tokenizer>(tokenizers::Tokenizer::from_pretrained(dir));
  st.tokenizer_source = dir;
  return st;
}

Start start_resume(const fs::path& ckpt) {
  Start st;
  XFMR_CHECK(fs::exists(ckpt / "config.json") && fs::exists(ckpt / "training_state.safetensors"),
             "train-classifier: --resume: no checkpoint in ", ckpt.string(),
             " (expected config.json and training_state.safetensors)");
  models::LoadOptions lo;
  lo.trainable = true;
  st.model = models::AutoModel::from_pretrained(ckpt.string(), lo);
  st.model->train();
  st.tokenizer = std::make_unique<tokenizers::Tokenizer>(tokenizers::Tokenizer::from_pretrained(ckpt));
  st.tokenizer_source = ckpt;
  return st;
}

void save_model_folder(const Start& st, const fs::path& dir, DType dtype) {
  fs::create_directories(dir);
  st.model->save_pretrained(dir, {.dtype = dtype});
  if (!st.tokenizer_json.empty()) {
    write_text(dir / "tokenizer.json", st.tokenizer_json);
    write_text(dir / "tokenizer_config.json", st.tokenizer_config_json);
    // vocab.txt too, so BertTokenizer (the slow, Python one) loads the folder as well.
    std::ofstream v(dir / "vocab.txt", std::ios::binary);
    for (size_t i = 0; i < st.tokenizer->vocab_size(false); ++i)
      v << st.tokenizer->id_to_token(static_cast<int32_t>(i)).value_or("") << "\n";
    XFMR_CHECK(v.good(), "train-classifier: writing vocab.txt failed");
  } else {
    for (const char* f : kTokenizerFiles) {
      fs::path src = st.tokenizer_source.empty() ? fs::path() : fs::path(st.tokenizer_source);
      if (fs::is_regular_file(src)) {  // a tokenizer.json given directly
        if (std::string(f) == "tokenizer.json") fs::copy_file(src, dir / f, fs::copy_options::overwrite_existing);
        continue;
      }
      if (!src.empty() && fs::exists(src / f) && fs::weakly_canonical(src / f) != fs::weakly_canonical(dir / f))
        fs::copy_file(src / f, dir / f, fs::copy_options::overwrite_existing);
    }
  }
}

}  // namespace xfmr::train::detail
