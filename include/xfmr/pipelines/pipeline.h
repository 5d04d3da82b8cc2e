// Pipelines: HuggingFace's `pipeline(task)` in C++ - the same task names, defaults, pre- and
// post-processing, and the same outputs (JSON shapes included).
//
//   auto clf = xfmr::pipeline("sentiment-analysis", {.model = "path/or/hub-id"});
//   auto out = clf("It is great to learn deep learning.");    // Output
//   out.to_json();            // [{"label": "POSITIVE", "score": 0.9998...}]  (HF's json.dumps)
//   out.get<std::vector<xfmr::pipelines::LabelScore>>()[0].label;
//   auto outs = clf({"text one", "text two"}, {{"top_k", nullptr}});   // batch + HF keyword arguments
//
//   // Typed, per task (options are structs, results typed):
//   xfmr::pipelines::QuestionAnsweringPipeline qa({.model = "distilbert/distilbert-base-cased-distilled-squad"});
//   std::vector<Answer> a = qa({"Who?", "Ada wrote it."}, {.top_k = 2});
//
// A pipeline loads its tokenizer and model once (io::resolve_model: a folder or a hub id) and runs
// every call without recording gradients, in padded batches of PipelineOptions::batch_size inputs
// sorted by length (results come back in input order and equal the unbatched ones).
// Task names, aliases and default models: task_names(), resolve_task(), default_model().
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "xfmr/io/hub.h"
#include "xfmr/models/model.h"
#include "xfmr/pipelines/results.h"
#include "xfmr/tokenizers/tokenizer.h"

namespace xfmr::pipelines {

// ---- HF keyword arguments -----------------------------------------------------------------------

// A keyword-argument value, kept as JSON text: null, bool, number, string or list of strings.
class Value {
 public:
  Value(std::nullptr_t);  // NOLINT: Python's None (e.g. top_k=None)
  Value(bool v);          // NOLINT
  Value(int v);           // NOLINT
  Value(int64_t v);       // NOLINT
  Value(double v);        // NOLINT
  Value(const char* v);   // NOLINT
  Value(const std::string& v);               // NOLINT
  Value(const std::vector<std::string>& v);  // NOLINT
  static Value from_json(std::string json_text);  // any JSON value
  const std::string& json() const { return json_; }

 private:
  Value() = default;
  std::string json_;
};

// Keyword arguments of a call, HF's names: {{"top_k", 2}, {"function_to_apply", "sigmoid"}}.
class Params {
 public:
  Params() = default;
  Params(std::initializer_list<std::pair<std::string, Value>> kv);
  // A JSON object {"name": value, ...}.
  static Params from_json(const std::string& json_object);
  void set(const std::string& name, Value v);  // replaces an earlier value of `name`
  bool has(const std::string& name) const;
  const std::vector<std::pair<std::string, Value>>& items() const { return items_; }
  std::string to_json() const;

 private:
  std::vector<std::pair<std::string, Value>> items_;
};

// ---- outputs --------------------------------------------------------------------------------------

// The result of one input: typed, plus the JSON HF returns for it.
class Output {
 public:
  Output(Result value, std::string json_utf8)
      : value_(std::make_shared<const Result>(std::move(value))), json_(std::move(json_utf8)) {}
  const Result& value() const { return *value_; }
  template <class T>
  const T& get() const {
    return std::get<T>(*value_);
  }
  // Python's json.dumps(result): ", " and ": " separators, floats as repr() (shortest round-trip),
  // non-ASCII characters as \uXXXX escapes (ensure_ascii=True, Python's default) unless
  // ensure_ascii is false (then raw UTF-8, like json.dumps(..., ensure_ascii=False)).
  std::string to_json(bool ensure_ascii = true) const;

 private:
  std::shared_ptr<const Result> value_;
  std::string json_;  // UTF-8 form
};

// json.dumps-style escaping of every non-ASCII character of a JSON text (\uXXXX, surrogate pairs
// above U+FFFF, DEL as \u007f) - what ensure_ascii=True produces.
std::string json_ensure_ascii(const std::string& json_utf8);

// ---- construction ---------------------------------------------------------------------------------

struct PipelineOptions {
  // A model folder or a hub id "org/name[@revision]". Empty: the task's default (default_model()).
  std::string model;
  // A tokenizer folder/file or hub id; empty: the model's folder.
  std::string tokenizer;
  // Inputs (QA: windows; zero-shot: sequence/label pairs) per forward pass. Inputs are sorted by
  // length before batching; results do not depend on the batch size.
  int batch_size = 1;
  // CPU threads (0: keep xfmr's current setting).
  int threads = 0;
  // f16/bf16 checkpoints: keep the weights in their stored dtype (half the memory).
  bool keep_stored_dtype = false;
  io::HubOptions hub;
  // Warnings (HF's logger.warning equivalents: defaulted model, truncated text, replaced fill-mask
  // targets, ...). Default: stderr, prefixed "xfmr: warning: ".
  std::function<void(const std::string&)> on_warning;
};

// A task as HF names it.
struct TaskInfo {
  std::string name;                  // canonical: "text-classification"
  std::vector<std::string> aliases;  // "sentiment-analysis"
  std::string default_model;         // HF's default model id for the task
  std::string bundled_default;       // folder name looked up in bundled_model_dirs() first ("" = none)
  models::Task head;                 // the model head the task needs (Base: any model)
  std::string description;
};

// The tasks xfmr implements, canonical names first in HF's order.
const std::vector<TaskInfo>& supported_tasks();
// Every accepted spelling (canonical names and aliases), sorted.
std::vector<std::string> task_names();
// Canonical task for a name or alias. Unknown names throw xfmr::Error listing the tasks, with the
// closest name suggested ("did you mean 'sentiment-analysis'?"); HF tasks that xfmr does not
// implement yet (summarization, translation, ...) are named as such.
const TaskInfo& resolve_task(const std::string& name);
// The closest task name (edit distance), or "" when nothing is close.
std::string closest_task_name(const std::string& name);

// Bundled models (an offline default shipped with xfmr, e.g. a small sentiment model under
// models/ in the source tree). Searched in order: $XFMR_BUNDLED_MODELS (a folder of model folders),
// <directory of the executable>/models, <directory of the executable>/../share/xfmr/models,
// <source tree>/models. A task's bundled default is used when no model is given and the folder
// <dir>/<TaskInfo::bundled_default> holds a config.json.
std::vector<std::filesystem::path> bundled_model_dirs();
std::optional<std::filesystem::path> bundled_default_model(const std::string& task);
// What an empty PipelineOptions::model resolves to: the bundled default when present, else HF's
// default model id for the task.
std::string default_model(const std::string& task);

// ---- the pipelines ----------------------------------------------------------------------------------

namespace detail {
class Kwargs;  // parsed keyword arguments (src/pipelines)
}

// What every task pipeline shares: the loaded model and tokenizer, batching, the generic calls.
class TaskPipeline {
 public:
  virtual ~TaskPipeline();
  TaskPipeline(const TaskPipeline&) = delete;
  TaskPipeline& operator=(const TaskPipeline&) = delete;

  const std::string& task() const { return task_; }
  const std::string& model_id() const { return model_id_; }  // as given (or the default)
  const std::filesystem::path& model_dir() const { return model_dir_; }
  const models::PreTrainedModel& model() const { return *model_; }
  std::shared_ptr<const models::PreTrainedModel> model_ptr() const { return model_; }
  const tokenizers::Tokenizer& tokenizer() const { return *tokenizer_; }
  const models::ModelConfig& config() const { return model_->config(); }
  int batch_size() const { return batch_size_; }
  void set_batch_size(int n);
  // The longest input (in tokens, special tokens included) the model accepts: the smaller of the
  // tokenizer's model_max_length and the model's position table.
  int64_t max_input_tokens() const { return max_tokens_; }

  // ---- generic calls (HF's keyword arguments, HF's JSON) ----
  // One input as HF takes it (a str / dict call): the result is shaped as HF shapes it for that input.
  Output operator()(const Input& input, const Params& params = {}) const;
  // A list call: one Output per input, each shaped as an element of HF's list result.
  std::vector<Output> operator()(const std::vector<Input>& inputs, const Params& params = {}) const;
  // Several single calls at once (batched): each Output shaped as if the input had been passed
  // alone (what `xfmr pipeline` prints, one line per input).
  std::vector<Output> run_each(const std::vector<Input>& inputs, const Params& params = {}) const;
  // HF's call with JSON in and out: `inputs_json` is what one passes to the Python pipeline (a
  // string, an object or a list of those), `params_json` its keyword arguments as an object.
  // Returns json.dumps(result) (see Output::to_json for ensure_ascii).
  std::string call_json(const std::string& inputs_json, const std::string& params_json = "{}",
                        bool ensure_ascii = true) const;

  // The keyword arguments the task accepts (HF names), for help texts and error messages.
  virtual std::vector<std::string> parameter_names() const = 0;

 protected:
  TaskPipeline(const std::string& task, const PipelineOptions& options);
  // Runs the task on inputs with parsed keyword arguments; `as_single` shapes every output as a
  // single-input call, otherwise as elements of a list call.
  virtual std::vector<Output> run(const std::vector<Input>& inputs, detail::Kwargs& kwargs, bool as_single) const = 0;

  void warn(const std::string& message) const;
  // Runs `fn(index, output, row)` for every encoding, batching encodings of similar lengths
  // (right padding with the tokenizer's pad id; token_type_ids when the model family takes them).
  void forward_batched(const std::vector<const tokenizers::Encoding*>& encodings,
                       const std::function<void(size_t, const models::ModelOutput&, int64_t)>& fn,
                       int64_t max_batch_tokens = 0) const;
  // Throws (or, with `truncated`, warns) when an encoding exceeds max_input_tokens().
  void check_length(const tokenizers::Encoding& e, const std::string& what) const;
  int64_t pad_id() const { return pad_id_; }
  bool uses_token_type_ids() const { return use_tti_; }

  std::string task_;
  std::string model_id_;
  std::filesystem::path model_dir_;
  std::shared_ptr<models::PreTrainedModel> model_;
  std::shared_ptr<tokenizers::Tokenizer> tokenizer_;
  int batch_size_ = 1;
  int64_t max_tokens_ = 0;
  int64_t pad_id_ = 0;
  bool use_tti_ = false;
  std::function<void(const std::string&)> on_warning_;

 private:
  std::vector<Output> run_kwargs(const std::vector<Input>& inputs, const Params& params, bool as_single) const;
};

// A handle on any task's pipeline (what xfmr::pipeline() returns); copies share the model.
class Pipeline {
 public:
  explicit Pipeline(std::shared_ptr<TaskPipeline> impl);
  Output operator()(const Input& input, const Params& params = {}) const { return (*impl_)(input, params); }
  std::vector<Output> operator()(const std::vector<Input>& inputs, const Params& params = {}) const {
    return (*impl_)(inputs, params);
  }
  std::vector<Output> run_each(const std::vector<Input>& inputs, const Params& params = {}) const {
    return impl_->run_each(inputs, params);
  }
  std::string call_json(const std::string& inputs_json, const std::string& params_json = "{}",
                        bool ensure_ascii = true) const {
    return impl_->call_json(inputs_json, params_json, ensure_ascii);
  }
  TaskPipeline* operator->() const { return impl_.get(); }
  TaskPipeline& operator*() const { return *impl_; }
  // The typed pipeline, e.g. as<QuestionAnsweringPipeline>(); throws when the task differs.
  template <class T>
  std::shared_ptr<T> as() const {
    auto p = std::dynamic_pointer_cast<T>(impl_);
    if (!p) throw_wrong_type();
    return p;
  }

 private:
  [[noreturn]] void throw_wrong_type() const;
  std::shared_ptr<TaskPipeline> impl_;
};

// HF's pipeline(task, model=...): resolves the task name (aliases included) and builds its pipeline.
Pipeline pipeline(const std::string& task, const PipelineOptions& options = {});

}  // namespace xfmr::pipelines

namespace xfmr {
using pipelines::pipeline;
}
