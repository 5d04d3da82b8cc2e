// The typed task pipelines: options as structs (HF's keyword arguments and defaults), results as
// the structs of results.h. Each class is also reachable through xfmr::pipeline(task) and
// Pipeline::as<T>(). Behaviour, HF rules and bad-input handling: docs/pipelines.md.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "xfmr/pipelines/generation.h"
#include "xfmr/pipelines/pipeline.h"

namespace xfmr::pipelines {

// ---- text-classification (sentiment-analysis) -----------------------------------------------------

enum class ClassificationFunction { Default, Softmax, Sigmoid, None };

struct TextClassificationOptions {
  // Default: "none" for problem_type regression; sigmoid for multi_label_classification or a single
  // label; softmax otherwise.
  ClassificationFunction function_to_apply = ClassificationFunction::Default;
  // The best top_k labels, best first; nullopt = every label.
  std::optional<int64_t> top_k = 1;
  // Cut inputs longer than the model accepts (longest_first) instead of failing.
  bool truncation = false;
};

class TextClassificationPipeline : public TaskPipeline {
 public:
  explicit TextClassificationPipeline(const PipelineOptions& options = {});
  // Input: a text or Input::pair(text, text_pair).
  std::vector<LabelScore> operator()(const Input& input, const TextClassificationOptions& o = {}) const;
  std::vector<std::vector<LabelScore>> operator()(const std::vector<Input>& inputs,
                                                  const TextClassificationOptions& o = {}) const;
  // Every label's score in id order (after function_to_apply), one row per input.
  std::vector<std::vector<float>> scores(const std::vector<Input>& inputs, const TextClassificationOptions& o = {}) const;
  std::vector<std::string> parameter_names() const override;

 protected:
  std::vector<Output> run(const std::vector<Input>& inputs, detail::Kwargs& kw, bool as_single) const override;
};

// ---- zero-shot-classification ----------------------------------------------------------------------

struct ZeroShotOptions {
  std::vector<std::string> candidate_labels;                // required
  std::string hypothesis_template = "This example is {}.";  // "{}" is replaced by each label
  bool multi_label = false;  // independent entailment-vs-contradiction per label
};

class ZeroShotClassificationPipeline : public TaskPipeline {
 public:
  explicit ZeroShotClassificationPipeline(const PipelineOptions& options = {});
  ZeroShotResult operator()(const std::string& sequence, const ZeroShotOptions& o) const;
  std::vector<ZeroShotResult> operator()(const std::vector<std::string>& sequences, const ZeroShotOptions& o) const;
  int64_t entailment_id() const { return entailment_id_; }
  // HF's candidate_labels parsing: a string is split on ',' and stripped.
  static std::vector<std::string> parse_labels(const std::string& comma_separated);
  std::vector<std::string> parameter_names() const override;

 protected:
  std::vector<Output> run(const std::vector<Input>& inputs, detail::Kwargs& kw, bool as_single) const override;

 private:
  int64_t entailment_id_ = -1;
};

// ---- question-answering ------------------------------------------------------------------------------

struct QuestionAnsweringOptions {
  int64_t top_k = 1;
  bool handle_impossible_answer = false;  // also offer {"answer": ""} with the windows' minimum CLS score
  int64_t max_answer_len = 15;            // tokens
  std::optional<int64_t> max_seq_len;     // window length; default min(model_max_length, 384)
  std::optional<int64_t> doc_stride;      // overlap of windows; default min(max_seq_len / 2, 128)
  int64_t max_question_len = 64;          // accepted for HF compatibility (only HF's slow tokenizers use it)
  bool align_to_words = true;             // extend answers to whole words
};

class QuestionAnsweringPipeline : public TaskPipeline {
 public:
  explicit QuestionAnsweringPipeline(const PipelineOptions& options = {});
  // Answers best first (at most top_k). Input: Input::qa(question, context).
  std::vector<Answer> operator()(const Input& input, const QuestionAnsweringOptions& o = {}) const;
  std::vector<std::vector<Answer>> operator()(const std::vector<Input>& inputs,
                                              const QuestionAnsweringOptions& o = {}) const;
  std::vector<std::string> parameter_names() const override;

 protected:
  std::vector<Output> run(const std::vector<Input>& inputs, detail::Kwargs& kw, bool as_single) const override;
};

// ---- fill-mask ---------------------------------------------------------------------------------------

struct FillMaskOptions {
  int64_t top_k = 5;
  // Restrict the predictions to these words (a vocabulary entry as is, else the first token of the
  // word); top_k is capped at their number.
  std::vector<std::string> targets;
  bool truncation = false;
};

class FillMaskPipeline : public TaskPipeline {
 public:
  explicit FillMaskPipeline(const PipelineOptions& options = {});
  // One list of predictions per mask token, in order.
  std::vector<std::vector<MaskPrediction>> operator()(const std::string& text, const FillMaskOptions& o = {}) const;
  std::vector<std::vector<std::vector<MaskPrediction>>> operator()(const std::vector<std::string>& texts,
                                                                   const FillMaskOptions& o = {}) const;
  std::vector<std::string> parameter_names() const override;

 protected:
  std::vector<Output> run(const std::vector<Input>& inputs, detail::Kwargs& kw, bool as_single) const override;
};

// ---- token-classification (ner) ------------------------------------------------------------------------

enum class AggregationStrategy { None, Simple, First, Average, Max };
AggregationStrategy aggregation_from_name(const std::string& name);  // "none", "simple", ...

struct TokenClassificationOptions {
  AggregationStrategy aggregation_strategy = AggregationStrategy::None;
  std::vector<std::string> ignore_labels = {"O"};
  // Texts longer than the model accepts: windows overlapping by `stride` tokens, entities merged
  // (HF's stride; needs an aggregation strategy other than none). Unset: the text is cut at the
  // model's length and a warning names what was not labelled.
  std::optional<int64_t> stride;
};

class TokenClassificationPipeline : public TaskPipeline {
 public:
  explicit TokenClassificationPipeline(const PipelineOptions& options = {});
  std::vector<Entity> operator()(const std::string& text, const TokenClassificationOptions& o = {}) const;
  std::vector<std::vector<Entity>> operator()(const std::vector<std::string>& texts,
                                              const TokenClassificationOptions& o = {}) const;
  std::vector<std::string> parameter_names() const override;

 protected:
  std::vector<Output> run(const std::vector<Input>& inputs, detail::Kwargs& kw, bool as_single) const override;
};

// ---- text-generation ---------------------------------------------------------------------------------

struct TextGenerationOptions {
  // Overrides of the model's generation config (generation_config.json <- task_specific_params).
  std::optional<int64_t> max_new_tokens, max_length, min_new_tokens, min_length, top_k, no_repeat_ngram_size,
      num_return_sequences;
  std::optional<bool> do_sample;
  std::optional<double> temperature, top_p, repetition_penalty;
  std::optional<uint64_t> seed;
  bool return_full_text = true;   // prompt + new text (false: the new text only)
  bool return_tensors = false;    // {"generated_token_ids"} instead of text
  bool clean_up_tokenization_spaces = true;
  std::string prefix;             // prepended to the prompt (default: config.json "prefix")
  // "hole": cut the prompt from the left so that prompt + new tokens fit the model.
  std::string handle_long_generation;
  // Streaming (batch size 1, first return sequence): text pieces as soon as they are final.
  std::function<void(const std::string&)> on_text;
};

class TextGenerationPipeline : public TaskPipeline {
 public:
  explicit TextGenerationPipeline(const PipelineOptions& options = {});
  std::vector<GeneratedText> operator()(const std::string& prompt, const TextGenerationOptions& o = {}) const;
  std::vector<std::vector<GeneratedText>> operator()(const std::vector<std::string>& prompts,
                                                     const TextGenerationOptions& o = {}) const;
  // The effective generation config of a call (defaults <- generation_config.json <-
  // task_specific_params["text-generation"] <- options).
  GenerationConfig generation_config(const TextGenerationOptions& o = {}) const;
  const models::CausalLM& causal_lm() const { return *lm_; }
  // Streaming for the generic calls (Pipeline, call_json, the CLI): every prompt's first sequence
  // is handed over piece by piece while it is generated (prompts then run one at a time).
  void set_stream(std::function<void(const std::string&)> on_text) { stream_ = std::move(on_text); }
  std::vector<std::string> parameter_names() const override;

 protected:
  std::vector<Output> run(const std::vector<Input>& inputs, detail::Kwargs& kw, bool as_single) const override;

 private:
  const models::CausalLM* lm_ = nullptr;
  GenerationConfig base_config_;
  std::function<void(const std::string&)> stream_;
};

// ---- feature-extraction --------------------------------------------------------------------------------

enum class Pooling { None, Mean, Cls, Max };
Pooling pooling_from_name(const std::string& name);  // "none", "mean", "cls", "max"

struct FeatureExtractionOptions {
  bool truncation = false;
  // Sentence embedding: mean over the tokens (attention mask; special tokens included, like
  // sentence-transformers), the first token, or the element-wise max.
  Pooling pooling = Pooling::None;
  bool normalize = false;  // L2-normalise the pooled embedding
};

class FeatureExtractionPipeline : public TaskPipeline {
 public:
  explicit FeatureExtractionPipeline(const PipelineOptions& options = {});
  Features operator()(const std::string& text, const FeatureExtractionOptions& o = {}) const;
  std::vector<Features> operator()(const std::vector<std::string>& texts, const FeatureExtractionOptions& o = {}) const;
  std::vector<std::string> parameter_names() const override;

 protected:
  std::vector<Output> run(const std::vector<Input>& inputs, detail::Kwargs& kw, bool as_single) const override;
};

}  // namespace xfmr::pipelines
