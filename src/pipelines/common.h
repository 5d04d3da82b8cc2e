// Internal helpers of the pipelines layer: JSON (nlohmann, ordered; Python-style printing),
// keyword-argument parsing, UTF-8 code-point helpers (HF offsets and slices are in code points),
// float32 softmax as numpy computes it.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "xfmr/core/error.h"
#include "xfmr/pipelines/pipeline.h"

// Unconditional failure (noreturn): xfmr::Error with the concatenated message.
#define XFMR_FAIL(...) ::xfmr::detail::fail(__VA_ARGS__)

namespace xfmr::pipelines {

using json = nlohmann::ordered_json;

// json.dumps(v) with ensure_ascii=False: ", " / ": " separators, floats as Python's repr(),
// NaN/Infinity as Python writes them, keys in insertion order.
std::string python_json(const json& v);
void python_json_append(const json& v, std::string& out);
json parse_json(std::string_view text, const std::string& what);

// A float32 value as Python sees it (float(np.float32(x))).
inline json score_json(float x) { return json(static_cast<double>(x)); }

namespace detail {

// The keyword arguments of one call. Getters mark a name as used; finish() rejects the others.
class Kwargs {
 public:
  Kwargs(std::string task, json object);
  bool has(const std::string& name) const { return obj_.contains(name); }
  bool is_null(const std::string& name) const { return has(name) && obj_.at(name).is_null(); }
  const json& raw(const std::string& name);  // marks used; must exist
  std::optional<int64_t> get_int(const std::string& name);       // absent or null: nullopt
  std::optional<double> get_number(const std::string& name);
  std::optional<bool> get_bool(const std::string& name);
  std::optional<std::string> get_string(const std::string& name);
  // A string or a list of strings (a string stays one element).
  std::optional<std::vector<std::string>> get_string_list(const std::string& name);
  void ignore(const std::string& name) { used_.insert(name); }
  // Throws naming the unknown arguments and the accepted ones.
  void finish(const std::vector<std::string>& accepted) const;
  const std::string& task() const { return task_; }

 private:
  [[noreturn]] void type_error(const std::string& name, const char* expected) const;
  std::string task_;
  json obj_;
  std::set<std::string> used_;
};

// The texts of `inputs` for a task that takes plain texts only (error naming the task and index).
std::vector<std::string> text_inputs(const std::vector<Input>& inputs, const std::string& task);
// ASCII lower case (option values like "Mean", "SIMPLE"; label names).
std::string ascii_lower(std::string s);

}  // namespace detail

// ---- UTF-8 (code points) ----
size_t cp_length(std::string_view s);
// Byte offset of code point `cp` (clamped to the end).
size_t cp_to_byte(std::string_view s, size_t cp);
// s[begin:end] in code points, clamped like a Python slice of non-negative indices.
std::string cp_slice(std::string_view s, size_t begin, size_t end);
// The code point starting at byte i (U+FFFD for malformed input).
char32_t cp_at_byte(std::string_view s, size_t i, size_t* len = nullptr);

// numpy's float32 softmax: exp(x - max) / sum.
void softmax_f32(std::span<const float> x, std::span<float> out);
std::vector<float> softmax_f32(std::span<const float> x);

// "text-classification: " prefixed messages.
std::string quote(std::string_view s, size_t max_chars = 60);  // "\"...\"" shortened for messages

}  // namespace xfmr::pipelines
