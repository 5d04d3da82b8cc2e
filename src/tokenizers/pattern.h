// Patterns that split or replace inside a NormalizedString: Oniguruma regexes (the engine HF
// tokenizers uses, so look-arounds and \p{..} classes behave the same), literal strings and
// character predicates. find_matches() returns HF's "(range, is_match)" list covering the text.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizers/normalized_string.h"

namespace xfmr::tokenizers {

class Regex {
 public:
  // Throws xfmr::Error naming `what` (e.g. the tokenizer.json entry) when the pattern is invalid.
  Regex(const std::string& pattern, const std::string& what);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // Calls f(start, end) for each match, like the onig crate's find_iter (an empty match right after
  // the previous match is skipped).
  void find_iter(std::string_view text, const std::function<void(size_t, size_t)>& f) const;
  const std::string& pattern() const { return pattern_; }

 private:
  std::string pattern_;
  void* reg_ = nullptr;  // OnigRegex
};

std::vector<Match> find_matches(const Regex& re, std::string_view text);
std::vector<Match> find_matches(const std::function<bool(char32_t)>& pred, std::string_view text);
std::vector<Match> find_matches_literal(std::string_view needle, std::string_view text);
// Flips is_match (HF's Invert pattern).
void invert(std::vector<Match>& matches);

}  // namespace xfmr::tokenizers
