// Autoregressive generation for decoder-only models (HF's generate() for greedy search and
// sampling), reusable outside the text-generation pipeline:
//
//   GenerationConfig cfg = GenerationConfig::from_pretrained(model_dir, lm.config());
//   cfg.max_new_tokens = 20;
//   auto results = generate(lm, {prompt_ids}, cfg);               // KV cache, one forward_step per token
//
// The logits processors are separate classes applied in HF's order (LogitsProcessorList), so a
// beam search for encoder-decoder models can reuse them on log-probabilities.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "xfmr/core/random.h"
#include "xfmr/models/config.h"
#include "xfmr/models/model.h"
#include "xfmr/tokenizers/tokenizer.h"

namespace xfmr::pipelines {

// HF's GenerationConfig (the fields decoder-only greedy search and sampling use), HF's defaults.
struct GenerationConfig {
  int64_t max_length = 20;                // prompt + new tokens (ignored when max_new_tokens is set)
  std::optional<int64_t> max_new_tokens;  // new tokens (takes precedence over max_length)
  int64_t min_length = 0;                 // eos is banned while prompt + new tokens < min_length
  std::optional<int64_t> min_new_tokens;  // eos is banned while new tokens < min_new_tokens
  bool do_sample = false;
  double temperature = 1.0;
  int64_t top_k = 50;                     // sampling only; 0 disables
  double top_p = 1.0;                     // sampling only; 1 disables
  double repetition_penalty = 1.0;        // 1 disables (applies to greedy search too)
  int64_t no_repeat_ngram_size = 0;       // 0 disables
  int64_t num_return_sequences = 1;
  std::vector<int64_t> eos_token_id;      // generation stops at any of these
  std::optional<int64_t> pad_token_id;    // fills finished rows (default: the first eos id)
  std::optional<int64_t> bos_token_id;    // starts an empty prompt
  std::optional<uint64_t> seed;           // sampling: the random stream (unset: nondeterministic)

  // generation_config.json in `dir` when present, else the generation fields of config.json
  // (HF's GenerationConfig.from_model_config: bos/eos/pad ids, max_length, do_sample, ...).
  static GenerationConfig from_pretrained(const std::filesystem::path& dir, const models::ModelConfig& config);
  // Applies HF field values given as a JSON object ({"do_sample": true, "max_length": 50, ...}),
  // e.g. task_specific_params["text-generation"]. Unknown fields are ignored (HF keeps them as
  // attributes); wrong types throw naming `origin` and the field.
  void update_from_json(const std::string& json_object, const std::string& origin);
  // The number of tokens to generate after a prompt of `prompt_len` tokens.
  int64_t new_tokens_for(int64_t prompt_len) const;
  // Throws naming the field on out-of-range values (temperature <= 0, top_p outside (0, 1], ...).
  void validate() const;
};

// One logits transformation; `scores` are the [vocab] scores of one row, changed in place.
// `ids` are that row's tokens so far (prompt + generated), `prompt_len` how many were the prompt.
class LogitsProcessor {
 public:
  virtual ~LogitsProcessor() = default;
  virtual void operator()(std::span<const int32_t> ids, size_t prompt_len, std::span<float> scores) const = 0;
  virtual std::string name() const = 0;
};

// score < 0 ? score * penalty : score / penalty for every token already in `ids` (CTRL's penalty).
class RepetitionPenaltyLogitsProcessor : public LogitsProcessor {
 public:
  explicit RepetitionPenaltyLogitsProcessor(double penalty);
  void operator()(std::span<const int32_t> ids, size_t prompt_len, std::span<float> scores) const override;
  std::string name() const override { return "RepetitionPenaltyLogitsProcessor"; }

 private:
  float penalty_;
};

// Bans (-inf) every token that would complete an n-gram already present in `ids`.
class NoRepeatNGramLogitsProcessor : public LogitsProcessor {
 public:
  explicit NoRepeatNGramLogitsProcessor(int64_t n);
  void operator()(std::span<const int32_t> ids, size_t prompt_len, std::span<float> scores) const override;
  std::string name() const override { return "NoRepeatNGramLogitsProcessor"; }

 private:
  int64_t n_;
};

// eos = -inf while the sequence (prompt included) is shorter than min_length.
class MinLengthLogitsProcessor : public LogitsProcessor {
 public:
  MinLengthLogitsProcessor(int64_t min_length, std::vector<int64_t> eos);
  void operator()(std::span<const int32_t> ids, size_t prompt_len, std::span<float> scores) const override;
  std::string name() const override { return "MinLengthLogitsProcessor"; }

 private:
  int64_t min_length_;
  std::vector<int64_t> eos_;
};

// eos = -inf while fewer than min_new_tokens tokens were generated.
class MinNewTokensLengthLogitsProcessor : public LogitsProcessor {
 public:
  MinNewTokensLengthLogitsProcessor(int64_t min_new_tokens, std::vector<int64_t> eos);
  void operator()(std::span<const int32_t> ids, size_t prompt_len, std::span<float> scores) const override;
  std::string name() const override { return "MinNewTokensLengthLogitsProcessor"; }

 private:
  int64_t min_new_;
  std::vector<int64_t> eos_;
};

// scores / temperature.
class TemperatureLogitsWarper : public LogitsProcessor {
 public:
  explicit TemperatureLogitsWarper(double temperature);
  void operator()(std::span<const int32_t> ids, size_t prompt_len, std::span<float> scores) const override;
  std::string name() const override { return "TemperatureLogitsWarper"; }

 private:
  float temperature_;
};

// Keeps the top_k highest scores (ties with the k-th are kept), the rest -inf.
class TopKLogitsWarper : public LogitsProcessor {
 public:
  explicit TopKLogitsWarper(int64_t top_k, int64_t min_tokens_to_keep = 1);
  void operator()(std::span<const int32_t> ids, size_t prompt_len, std::span<float> scores) const override;
  std::string name() const override { return "TopKLogitsWarper"; }

 private:
  int64_t top_k_;
};

// Nucleus filtering: removes the lowest-probability tokens whose cumulative probability (in
// ascending order) is <= 1 - top_p, keeping at least min_tokens_to_keep.
class TopPLogitsWarper : public LogitsProcessor {
 public:
  explicit TopPLogitsWarper(double top_p, int64_t min_tokens_to_keep = 1);
  void operator()(std::span<const int32_t> ids, size_t prompt_len, std::span<float> scores) const override;
  std::string name() const override { return "TopPLogitsWarper"; }

 private:
  double top_p_;
  int64_t min_keep_;
};

class LogitsProcessorList {
 public:
  void add(std::unique_ptr<LogitsProcessor> p) { list_.push_back(std::move(p)); }
  void operator()(std::span<const int32_t> ids, size_t prompt_len, std::span<float> scores) const {
    for (const auto& p : list_) (*p)(ids, prompt_len, scores);
  }
  size_t size() const { return list_.size(); }
  bool empty() const { return list_.empty(); }
  std::vector<std::string> names() const;

 private:
  std::vector<std::unique_ptr<LogitsProcessor>> list_;
};

// HF's processors for a config, in HF's order: repetition penalty, no-repeat n-gram, min length,
// min new tokens; then, when sampling, the warpers temperature, top-k, top-p.
LogitsProcessorList make_logits_processors(const GenerationConfig& config);

// The next token from processed scores: the first maximum (greedy), or a draw from
// softmax(scores) with `gen` (sampling).
int32_t select_token(std::span<const float> scores, bool sample, Generator* gen);

// HF's TextStreamer: decodes the growing token list and hands over text as soon as it is final
// (complete words: up to the last space, everything at a newline or a CJK character, the rest at
// end()). Batch size 1.
class TextStreamer {
 public:
  TextStreamer(const tokenizers::Tokenizer& tokenizer, std::function<void(const std::string&)> on_text,
               bool skip_special_tokens = true);
  void put(int32_t token);
  void end();

 private:
  const tokenizers::Tokenizer& tok_;
  std::function<void(const std::string&)> on_text_;
  bool skip_special_;
  std::vector<int32_t> cache_;
  size_t printed_ = 0;  // bytes of decode(cache_) already handed over
};

struct GenerationResult {
  std::vector<int32_t> ids;  // prompt + generated tokens (eos included when it was produced)
  size_t prompt_length = 0;
  bool finished_by_eos = false;
};

// Generates after every prompt (a batch: left-padded, with HF's position ids; rows that finish
// leave the batch). Results are per prompt x num_return_sequences (prompt-major) and equal what
// each prompt gives alone. `seeds` (one per prompt) give each prompt its own random stream when
// sampling (return sequence j of prompt i draws from a stream derived from seeds[i] and j); empty:
// derived from config.seed. `on_token(row, token)` is called for every new token (row = prompt
// index * num_return_sequences + j). Throws when a prompt plus its new tokens exceed the model's
// positions.
std::vector<GenerationResult> generate(const models::CausalLM& lm, const std::vector<std::vector<int32_t>>& prompts,
                                       const GenerationConfig& config, const std::vector<uint64_t>& seeds = {},
                                       const std::function<void(size_t, int32_t)>& on_token = {});

}  // namespace xfmr::pipelines
