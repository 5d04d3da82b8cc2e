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
#include "tokenizers/unicode.h"

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
// Each char for which pred is true is its own match (HF's char-predicate Pattern).
template <typename Pred>
void find_char_matches(Pred&& pred, std::string_view text, std::vector<Match>& out) {
  out.clear();
  if (text.empty()) {
    out.push_back({0, 0, false});
    return;
  }
  size_t last = 0, i = 0;
  while (i < text.size()) {
    size_t b = i;
    char32_t c;
    if (static_cast<unsigned char>(text[i]) < 0x80) c = static_cast<unsigned char>(text[i++]);
    else c = unicode::next_cp(text, i);
    if (pred(c)) {
      if (last < b) out.push_back({last, b, false});
      out.push_back({b, i, true});
      last = i;
    }
  }
  if (text.size() > last) out.push_back({last, text.size(), false});
}

// Appends the pieces of `n` split on `matches` to `out` (moves `n` when nothing splits it).
void split_into(NormalizedString&& n, const std::vector<Match>& matches, SplitBehavior b,
                std::vector<NormalizedString>& out);
std::vector<Match> find_matches_literal(std::string_view needle, std::string_view text);
// Flips is_match (HF's Invert pattern).
void invert(std::vector<Match>& matches);

}  // namespace xfmr::tokenizers
