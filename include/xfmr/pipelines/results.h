// Typed inputs and results of the pipelines (one struct per HF output dictionary).
//
// Every result serialises to exactly what HuggingFace's pipeline returns for the same call (see
// Output::to_json in pipeline.h and docs/pipelines.md); the field names are HF's.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace xfmr::pipelines {

// ---- inputs -------------------------------------------------------------------------------------

// One input of any task: a text, a text pair (text-classification: {"text", "text_pair"}) or a
// question with its context (question-answering: {"question", "context"}).
struct Input {
  enum class Kind { Text, Pair, Question };
  Kind kind = Kind::Text;
  std::string text;       // Text, Pair (first sequence)
  std::string text_pair;  // Pair (second sequence)
  std::string question;   // Question
  std::string context;    // Question

  Input() = default;
  Input(std::string t) : text(std::move(t)) {}  // NOLINT(google-explicit-constructor): HF-like calls
  Input(const char* t) : text(t) {}             // NOLINT(google-explicit-constructor)
  static Input pair(std::string text, std::string text_pair);
  static Input qa(std::string question, std::string context);
  // A JSON value as HF's pipelines take it: "text", {"text": .., "text_pair": ..} or
  // {"question": .., "context": ..}. Throws xfmr::Error on anything else.
  static Input from_json(const std::string& json_text);
};

// ---- results --------------------------------------------------------------------------------------

// text-classification / sentiment-analysis: {"label", "score"}.
struct LabelScore {
  std::string label;
  double score = 0;  // a float32 value (probability, or the raw logit with function_to_apply "none")
};

// question-answering: {"score", "start", "end", "answer"}; start/end are code-point offsets into
// the context, answer = context[start:end].
struct Answer {
  double score = 0;
  int64_t start = 0, end = 0;
  std::string answer;
};

// fill-mask: {"score", "token", "token_str", "sequence"}.
struct MaskPrediction {
  double score = 0;
  int32_t token = 0;
  std::string token_str;  // decode([token])
  std::string sequence;   // the input with the mask replaced, decoded
};

// token-classification / ner. With aggregation "none": {"entity", "score", "index", "word",
// "start", "end"} (entity = the token's label, index = token position with [CLS] = 0); otherwise
// {"entity_group", "score", "word", "start", "end"} (entity = the group's tag, index unset).
struct Entity {
  std::string entity;
  double score = 0;
  std::optional<int64_t> index;
  std::string word;
  int64_t start = 0, end = 0;  // code-point offsets into the input text
};

// text-generation: {"generated_text"} (or {"generated_token_ids"} with return_tensors).
struct GeneratedText {
  std::string generated_text;
  std::vector<int32_t> token_ids;  // the whole sequence (prompt + new tokens, eos included when produced)
  size_t prompt_tokens = 0;        // how many of token_ids are the prompt
  bool finished_by_eos = false;
};

// feature-extraction: the last hidden state of every token ([1][tokens][hidden] in HF's JSON),
// plus the pooled sentence embedding when pooling was asked for.
struct Features {
  int64_t tokens = 0, hidden = 0;
  std::vector<float> hidden_states;  // [tokens * hidden], row-major, special tokens included
  std::vector<float> embedding;      // [hidden] when pooled ("mean" / "cls" / "max"), else empty
};

// zero-shot-classification: {"sequence", "labels", "scores"}, labels sorted by score.
struct ZeroShotResult {
  std::string sequence;
  std::vector<std::string> labels;
  std::vector<double> scores;
};

// The typed result of one input of any task (see Output).
using Result = std::variant<std::vector<LabelScore>,                // text-classification
                            std::vector<Answer>,                    // question-answering
                            std::vector<std::vector<MaskPrediction>>,  // fill-mask: one list per mask
                            std::vector<Entity>,                    // token-classification
                            std::vector<GeneratedText>,             // text-generation
                            Features,                               // feature-extraction
                            ZeroShotResult>;                        // zero-shot-classification

}  // namespace xfmr::pipelines
