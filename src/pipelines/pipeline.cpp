// The task registry, model loading, batching and the generic (HF keyword arguments / JSON) calls.
#include "xfmr/pipelines/pipeline.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <iostream>

#include "common.h"
#include "xfmr/autograd/autograd.h"
#include "xfmr/core/error.h"
#include "xfmr/core/format.h"
#include "xfmr/core/parallel.h"
#include "xfmr/models/auto.h"
#include "xfmr/pipelines/tasks.h"

namespace fs = std::filesystem;

namespace xfmr::pipelines {

using models::Task;
using tokenizers::Encoding;

// ---- inputs, keyword arguments, outputs ------------------------------------------------------------

Input Input::pair(std::string text, std::string text_pair) {
  Input in(std::move(text));
  in.kind = Kind::Pair;
  in.text_pair = std::move(text_pair);
  return in;
}

Input Input::qa(std::string question, std::string context) {
  Input in;
  in.kind = Kind::Question;
  in.question = std::move(question);
  in.context = std::move(context);
  return in;
}

namespace {

Input input_from(const json& v) {
  if (v.is_string()) return Input(v.get<std::string>());
  XFMR_CHECK(v.is_object(), "pipeline input must be a string or an object ({\"text\", \"text_pair\"} or ",
             "{\"question\", \"context\"}), got ", python_json(v));
  auto str = [&](const char* k) {
    const json& x = v.at(k);
    XFMR_CHECK(x.is_string(), "pipeline input: \"", k, "\" must be a string, got ", python_json(x));
    return x.get<std::string>();
  };
  for (auto it = v.begin(); it != v.end(); ++it) {
    const std::string& k = it.key();
    XFMR_CHECK(k == "text" || k == "text_pair" || k == "question" || k == "context", "pipeline input: unknown key '",
               k, "' (an input is a string, {\"text\", \"text_pair\"} or {\"question\", \"context\"})");
  }
  if (v.contains("question") || v.contains("context")) {
    XFMR_CHECK(v.contains("question") && v.contains("context"),
               "pipeline input: a question-answering input needs both \"question\" and \"context\", got ", python_json(v));
    XFMR_CHECK(!v.contains("text") && !v.contains("text_pair"), "pipeline input: mixes text and question keys: ",
               python_json(v));
    return Input::qa(str("question"), str("context"));
  }
  XFMR_CHECK(v.contains("text"), "pipeline input: an object needs \"text\" (and optionally \"text_pair\"), got ",
             python_json(v));
  if (v.contains("text_pair")) return Input::pair(str("text"), str("text_pair"));
  return Input(str("text"));
}

}  // namespace

Input Input::from_json(const std::string& json_text) { return input_from(parse_json(json_text, "pipeline input")); }

Value::Value(std::nullptr_t) : json_("null") {}
Value::Value(bool v) : json_(v ? "true" : "false") {}
Value::Value(int v) : json_(std::to_string(v)) {}
Value::Value(int64_t v) : json_(std::to_string(v)) {}
Value::Value(double v) : json_(json_number(v)) {}
Value::Value(const char* v) : json_(python_json(nlohmann::ordered_json(std::string(v)))) {}
Value::Value(const std::string& v) : json_(python_json(nlohmann::ordered_json(v))) {}
Value::Value(const std::vector<std::string>& v) : json_(python_json(nlohmann::ordered_json(v))) {}
Value Value::from_json(std::string json_text) {
  (void)parse_json(json_text, "parameter value");
  Value v;
  v.json_ = std::move(json_text);
  return v;
}

Params::Params(std::initializer_list<std::pair<std::string, Value>> kv) {
  for (const auto& [k, v] : kv) set(k, v);
}

Params Params::from_json(const std::string& json_object) {
  json o = parse_json(json_object, "pipeline parameters");
  if (o.is_null()) o = json::object();
  XFMR_CHECK(o.is_object(), "pipeline parameters must be a JSON object, got ", quote(json_object, 80));
  Params p;
  for (auto it = o.begin(); it != o.end(); ++it) p.set(it.key(), Value::from_json(python_json(it.value())));
  return p;
}

void Params::set(const std::string& name, Value v) {
  for (auto& [k, old] : items_) {
    if (k == name) {
      old = std::move(v);
      return;
    }
  }
  items_.emplace_back(name, std::move(v));
}

bool Params::has(const std::string& name) const {
  for (const auto& kv : items_)
    if (kv.first == name) return true;
  return false;
}

std::string Params::to_json() const {
  std::string s = "{";
  for (size_t i = 0; i < items_.size(); ++i) {
    if (i) s += ", ";
    s += python_json(json(items_[i].first)) + ": " + items_[i].second.json();
  }
  return s + "}";
}

std::string Output::to_json(bool ensure_ascii) const { return ensure_ascii ? json_ensure_ascii(json_) : json_; }

// ---- tasks ------------------------------------------------------------------------------------------

const std::vector<TaskInfo>& supported_tasks() {
  static const std::vector<TaskInfo> tasks = {
      // Bundled default: models/xfmr-sst2-small, a small BERT xfmr trained itself on SST-2 (see its
      // README.md); HF's default id is used when that folder is absent.
      {"text-classification", {"sentiment-analysis"}, "distilbert/distilbert-base-uncased-finetuned-sst-2-english",
       "xfmr-sst2-small", Task::SequenceClassification,
       "Classify a text or a text pair (sentiment, NLI, ...): labels from the model's id2label"},
      {"token-classification", {"ner"}, "dbmdz/bert-large-cased-finetuned-conll03-english", "",
       Task::TokenClassification, "Label every token (named entities), optionally grouped into entities"},
      {"question-answering", {}, "distilbert/distilbert-base-cased-distilled-squad", "", Task::QuestionAnswering,
       "Extract the answer to a question from a context"},
      {"fill-mask", {}, "distilbert/distilroberta-base", "", Task::MaskedLM,
       "Predict the masked token(s) of a text"},
      {"text-generation", {}, "openai-community/gpt2", "", Task::CausalLM,
       "Continue a prompt (greedy search or sampling, KV cache)"},
      {"feature-extraction", {}, "distilbert/distilbert-base-cased", "", Task::Base,
       "Hidden states of every token, or a pooled sentence embedding"},
      {"zero-shot-classification", {}, "facebook/bart-large-mnli", "", Task::SequenceClassification,
       "Classify a text into any labels with an NLI model"},
  };
  return tasks;
}

std::vector<std::string> task_names() {
  std::vector<std::string> out;
  for (const auto& t : supported_tasks()) {
    out.push_back(t.name);
    for (const auto& a : t.aliases) out.push_back(a);
  }
  std::sort(out.begin(), out.end());
  return out;
}

namespace {

// HF tasks xfmr does not implement (yet).
const std::vector<std::string>& other_hf_tasks() {
  static const std::vector<std::string> t = {
      "summarization", "translation", "text2text-generation", "table-question-answering",
      "document-question-answering", "visual-question-answering", "vqa", "image-classification",
      "image-segmentation", "object-detection", "automatic-speech-recognition", "audio-classification",
      "text-to-audio", "text-to-speech", "image-to-text", "image-text-to-text", "zero-shot-image-classification",
      "zero-shot-audio-classification", "zero-shot-object-detection", "depth-estimation", "mask-generation",
      "image-feature-extraction", "image-to-image", "video-classification", "conversational", "any-to-any",
      "keypoint-matching"};
  return t;
}

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
      // transposition (Damerau): "analisys" -> "analysis" is two substitutions either way
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string normalise_task_name(std::string s) {
  for (char& c : s) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (c == '_' || c == ' ') c = '-';
  }
  return s;
}

}  // namespace

std::string closest_task_name(const std::string& name) {
  const std::string n = normalise_task_name(name);
  std::string best;
  size_t best_d = std::string::npos;
  for (const auto& cand : task_names()) {
    size_t d = edit_distance(n, cand);
    if (d < best_d) {
      best_d = d;
      best = cand;
    }
  }
  // Close enough: a few typos, or the name contains / is contained in a task name ("sentiment").
  size_t limit = std::max<size_t>(2, best.size() / 4);
  if (best_d <= limit) return best;
  for (const auto& cand : task_names())
    if (n.size() >= 3 && (cand.find(n) != std::string::npos || n.find(cand) != std::string::npos)) return cand;
  return "";
}

const TaskInfo& resolve_task(const std::string& name) {
  for (const auto& t : supported_tasks()) {
    if (t.name == name) return t;
    for (const auto& a : t.aliases)
      if (a == name) return t;
  }
  std::string list;
  for (const auto& t : task_names()) list += (list.empty() ? "" : ", ") + t;
  const std::string n = normalise_task_name(name);
  bool other = n.rfind("translation_", 0) == 0 || n.rfind("translation-", 0) == 0;
  for (const auto& t : other_hf_tasks()) other = other || n == t;
  XFMR_CHECK(!other, "pipeline: '", name, "' is a HuggingFace task that xfmr does not support yet (supported: ", list,
             ")");
  std::string guess = closest_task_name(name);
  XFMR_FAIL("pipeline: unknown task '", name, "'", guess.empty() ? "" : "; did you mean '" + guess + "'?",
             " (tasks: ", list, ")");
}

// ---- default and bundled models ---------------------------------------------------------------------

std::vector<fs::path> bundled_model_dirs() {
  std::vector<fs::path> dirs;
  if (const char* env = std::getenv("XFMR_BUNDLED_MODELS"); env && *env) dirs.emplace_back(env);
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec && !exe.empty()) {
    dirs.push_back(exe.parent_path() / "models");
    dirs.push_back(exe.parent_path().parent_path() / "share" / "xfmr" / "models");
  }
#ifdef XFMR_PIPELINES_SOURCE_DIR
  dirs.push_back(fs::path(XFMR_PIPELINES_SOURCE_DIR) / "models");
#endif
  return dirs;
}

std::optional<fs::path> bundled_default_model(const std::string& task) {
  const TaskInfo& info = resolve_task(task);
  if (info.bundled_default.empty()) return std::nullopt;
  for (const auto& d : bundled_model_dirs()) {
    fs::path p = d / info.bundled_default;
    std::error_code ec;
    if (fs::is_regular_file(p / "config.json", ec)) return p;
  }
  return std::nullopt;
}

std::string default_model(const std::string& task) {
  if (auto b = bundled_default_model(task)) return b->string();
  return resolve_task(task).default_model;
}

// ---- TaskPipeline ----------------------------------------------------------------------------------

namespace {

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

// The class xfmr would build for a folder's config (architectures[0], else the family's base model).
const models::ArchitectureSpec& model_class(const models::ModelConfig& cfg, const std::string& task,
                                            const std::string& where) {
  try {
    return models::resolve_architecture(cfg);
  } catch (const Error& e) {
    XFMR_FAIL(task, ": cannot use the model at ", where, ": ", e.what());
  }
}

const char* head_example(Task t) {
  switch (t) {
    case Task::SequenceClassification: return "a sequence-classification model (e.g. DistilBertForSequenceClassification)";
    case Task::TokenClassification: return "a token-classification model (e.g. BertForTokenClassification)";
    case Task::QuestionAnswering: return "a question-answering model (e.g. DistilBertForQuestionAnswering)";
    case Task::MaskedLM: return "a masked language model (e.g. RobertaForMaskedLM)";
    case Task::CausalLM: return "a causal language model (e.g. GPT2LMHeadModel)";
    default: return "a model";
  }
}

}  // namespace

TaskPipeline::~TaskPipeline() = default;

TaskPipeline::TaskPipeline(const std::string& task, const PipelineOptions& o) {
  const TaskInfo& info = resolve_task(task);
  task_ = info.name;
  on_warning_ = o.on_warning ? o.on_warning : [](const std::string& m) { std::cerr << "xfmr: warning: " << m << "\n"; };
  if (o.threads > 0) set_num_threads(o.threads);
  set_batch_size(o.batch_size);

  model_id_ = o.model;
  if (model_id_.empty()) {
    std::string what = "HF's default model";
    if (auto b = bundled_default_model(task_)) {
      model_id_ = b->string();
      what = "the bundled default model";
    } else {
      model_id_ = info.default_model;
      // HF's default for zero-shot is BART; say so before downloading 1.6 GB we cannot run.
      if (task_ == "zero-shot-classification" && !models::find_family("bart")) {
        XFMR_FAIL(task_, ": HF's default model ", info.default_model,
                   " is a BART model (BartForSequenceClassification), which xfmr does not support yet. "
                   "Pass an NLI model of a supported family (BERT, RoBERTa, DistilBERT, ALBERT, ELECTRA) with --model, "
                   "e.g. cross-encoder/nli-distilroberta-base or typeform/distilbert-base-uncased-mnli");
      }
    }
    warn("No model was supplied, defaulted to " + what + " for " + task_ + ": " + model_id_ +
         " (pass a model to choose one)");
  }
  model_dir_ = io::resolve_model(model_id_, o.hub);
  models::ModelConfig cfg = models::ModelConfig::from_file(model_dir_ / "config.json");
  const models::ArchitectureSpec& spec = model_class(cfg, task_, model_dir_.string());
  if (info.head != Task::Base && spec.task != info.head) {
    auto archs = cfg.architectures();
    XFMR_FAIL(task_, " needs ", head_example(info.head), ", but ", model_id_, " is ", spec.name,
               " (", models::task_name(spec.task), "; config.json architectures: [", join(archs), "])");
  }
  models::LoadOptions lo;
  lo.hub = o.hub;
  lo.keep_stored_dtype = o.keep_stored_dtype;
  lo.on_warning = on_warning_;
  // feature-extraction runs the base model (HF's AutoModel), whatever head the checkpoint has.
  if (info.head == Task::Base && spec.task != Task::Base) lo.task = Task::Base;
  model_ = models::AutoModel::from_pretrained(model_dir_.string(), lo);

  fs::path tok_dir = o.tokenizer.empty() ? model_dir_ : io::resolve_model(o.tokenizer, o.hub);
  if (!o.tokenizer.empty() && fs::is_regular_file(o.tokenizer)) tok_dir = o.tokenizer;
  tokenizer_ = std::make_shared<tokenizers::Tokenizer>(tokenizers::Tokenizer::from_pretrained(tok_dir));

  const auto& sp = tokenizer_->special_tokens();
  if (sp.pad) {
    pad_id_ = sp.pad->id;
  } else if (auto p = config().pad_token_id()) {
    pad_id_ = *p;
  } else if (auto e = config().eos_token_id()) {
    pad_id_ = *e;  // GPT-2: HF pads with eos
  }
  const std::string mt = config().model_type();
  const bool roberta_like = mt == "roberta" || mt == "xlm-roberta" || mt == "camembert";
  // HF tokenizers of RoBERTa/DistilBERT/GPT-2 do not return token_type_ids (model_input_names).
  use_tti_ = model_->accepts_token_type_ids() && !roberta_like;
  int64_t positions = config().max_position_embeddings();
  if (roberta_like && positions > 0) positions -= config().pad_token_id().value_or(1) + 1;
  max_tokens_ = static_cast<int64_t>(std::min<size_t>(tokenizer_->model_max_length(), size_t{1} << 40));
  if (positions > 0) max_tokens_ = std::min(max_tokens_, positions);
}

void TaskPipeline::set_batch_size(int n) {
  XFMR_CHECK(n >= 1, task_, ": batch_size must be >= 1, got ", n);
  batch_size_ = n;
}

void TaskPipeline::warn(const std::string& message) const {
  if (on_warning_) on_warning_(message);
}

void TaskPipeline::check_length(const Encoding& e, const std::string& what) const {
  XFMR_CHECK(!e.empty(), task_, ": ", what, " gives no tokens (an empty text for a tokenizer that adds no special tokens)");
  XFMR_CHECK(static_cast<int64_t>(e.size()) <= max_tokens_, task_, ": ", what, " has ", e.size(),
             " tokens, more than the model accepts (", max_tokens_,
             "); pass truncation=true (--truncation) to cut it to the model's length");
}

void TaskPipeline::forward_batched(const std::vector<const Encoding*>& encs,
                                   const std::function<void(size_t, const models::ModelOutput&, int64_t)>& fn,
                                   int64_t max_batch_tokens) const {
  NoGradGuard no_grad;
  std::vector<size_t> order(encs.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return encs[a]->size() < encs[b]->size(); });
  for (size_t i = 0; i < order.size();) {
    size_t n = std::min<size_t>(static_cast<size_t>(batch_size_), order.size() - i);
    auto longest = [&](size_t k) { return static_cast<int64_t>(encs[order[i + k - 1]]->size()); };
    while (max_batch_tokens > 0 && n > 1 && static_cast<int64_t>(n) * longest(n) > max_batch_tokens) --n;
    const int64_t B = static_cast<int64_t>(n), L = longest(n);
    std::vector<int64_t> ids(static_cast<size_t>(B * L), pad_id_), mask(static_cast<size_t>(B * L), 0),
        tti(static_cast<size_t>(B * L), 0);
    for (int64_t r = 0; r < B; ++r) {
      const Encoding& e = *encs[order[i + static_cast<size_t>(r)]];
      for (size_t t = 0; t < e.size(); ++t) {
        size_t k = static_cast<size_t>(r * L) + t;
        ids[k] = e.ids[t];
        mask[k] = 1;
        tti[k] = e.type_ids.empty() ? 0 : e.type_ids[t];
      }
    }
    models::ModelInputs in;
    in.input_ids = Tensor::from_vector(ids, {B, L});
    in.attention_mask = Tensor::from_vector(mask, {B, L});
    if (use_tti_) in.token_type_ids = Tensor::from_vector(tti, {B, L});
    models::ModelOutput out = model_->forward(in);
    for (int64_t r = 0; r < B; ++r) fn(order[i + static_cast<size_t>(r)], out, r);
    i += n;
  }
}

std::vector<Output> TaskPipeline::run_kwargs(const std::vector<Input>& inputs, const Params& params,
                                             bool as_single) const {
  detail::Kwargs kw(task_, parse_json(params.to_json(), task_ + " parameters"));
  return run(inputs, kw, as_single);
}

Output TaskPipeline::operator()(const Input& input, const Params& params) const {
  return std::move(run_kwargs({input}, params, true).at(0));
}

std::vector<Output> TaskPipeline::operator()(const std::vector<Input>& inputs, const Params& params) const {
  return run_kwargs(inputs, params, false);
}

std::vector<Output> TaskPipeline::run_each(const std::vector<Input>& inputs, const Params& params) const {
  return run_kwargs(inputs, params, true);
}

std::string TaskPipeline::call_json(const std::string& inputs_json, const std::string& params_json,
                                    bool ensure_ascii) const {
  json in = parse_json(inputs_json, task_ + " inputs");
  Params params = Params::from_json(params_json);
  std::string out;
  if (in.is_array()) {
    XFMR_CHECK(!in.empty(), task_, ": the input list is empty");
    std::vector<Input> inputs;
    for (const auto& v : in) inputs.push_back(input_from(v));
    std::vector<Output> outs = run_kwargs(inputs, params, false);
    // HF's fill-mask and question-answering return the bare result for a one-element list.
    if (outs.size() == 1 && (task_ == "fill-mask" || task_ == "question-answering")) {
      out = outs[0].to_json(false);
    } else {
      out = "[";
      for (size_t i = 0; i < outs.size(); ++i) out += (i ? ", " : "") + outs[i].to_json(false);
      out += "]";
    }
  } else {
    out = run_kwargs({input_from(in)}, params, true).at(0).to_json(false);
  }
  return ensure_ascii ? json_ensure_ascii(out) : out;
}

// ---- handle and factory --------------------------------------------------------------------------------

Pipeline::Pipeline(std::shared_ptr<TaskPipeline> impl) : impl_(std::move(impl)) {
  XFMR_CHECK(impl_ != nullptr, "Pipeline: empty pipeline");
}

void Pipeline::throw_wrong_type() const {
  XFMR_FAIL("Pipeline::as: this is a ", impl_->task(), " pipeline");
}

Pipeline pipeline(const std::string& task, const PipelineOptions& options) {
  const std::string& name = resolve_task(task).name;
  if (name == "text-classification") return Pipeline(std::make_shared<TextClassificationPipeline>(options));
  if (name == "token-classification") return Pipeline(std::make_shared<TokenClassificationPipeline>(options));
  if (name == "question-answering") return Pipeline(std::make_shared<QuestionAnsweringPipeline>(options));
  if (name == "fill-mask") return Pipeline(std::make_shared<FillMaskPipeline>(options));
  if (name == "text-generation") return Pipeline(std::make_shared<TextGenerationPipeline>(options));
  if (name == "feature-extraction") return Pipeline(std::make_shared<FeatureExtractionPipeline>(options));
  if (name == "zero-shot-classification") return Pipeline(std::make_shared<ZeroShotClassificationPipeline>(options));
  XFMR_FAIL("pipeline: task '", name, "' has no implementation");
}

}  // namespace xfmr::pipelines
