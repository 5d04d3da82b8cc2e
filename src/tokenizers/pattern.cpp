#include "tokenizers/pattern.h"

#include <oniguruma.h>

#include <mutex>

#include "tokenizers/unicode.h"
#include "xfmr/core/error.h"

namespace xfmr::tokenizers {

namespace {
void init_onig() {
  static std::once_flag once;
  std::call_once(once, [] {
    OnigEncoding enc[] = {ONIG_ENCODING_UTF8};
    onig_initialize(enc, 1);
  });
}
}  // namespace

Regex::Regex(const std::string& pattern, const std::string& what) : pattern_(pattern) {
  init_onig();
  OnigRegex reg = nullptr;
  OnigErrorInfo einfo;
  const auto* p = reinterpret_cast<const OnigUChar*>(pattern.data());
  int r = onig_new(&reg, p, p + pattern.size(), ONIG_OPTION_NONE, ONIG_ENCODING_UTF8, ONIG_SYNTAX_DEFAULT, &einfo);
  if (r != ONIG_NORMAL) {
    OnigUChar msg[ONIG_MAX_ERROR_MESSAGE_LEN];
    onig_error_code_to_str(msg, r, &einfo);
    detail::fail(what, ": invalid regex '", pattern, "': ", reinterpret_cast<const char*>(msg));
  }
  reg_ = reg;
}

Regex::~Regex() {
  if (reg_) onig_free(static_cast<OnigRegex>(reg_));
}

void Regex::find_iter(std::string_view text, const std::function<void(size_t, size_t)>& f) const {
  auto reg = static_cast<OnigRegex>(reg_);
  OnigRegion* region = onig_region_new();
  const auto* start = reinterpret_cast<const OnigUChar*>(text.data());
  const auto* end = start + text.size();
  size_t last_end = 0;
  bool have_last = false;
  size_t last_match_end = 0;
  while (last_end <= text.size()) {
    int r = onig_search(reg, start, end, start + last_end, end, region, ONIG_OPTION_NONE);
    if (r < 0) break;  // ONIG_MISMATCH or an error: no more matches
    size_t s = static_cast<size_t>(region->beg[0]), e = static_cast<size_t>(region->end[0]);
    if (s == e && have_last && last_match_end == e) {
      if (last_end >= text.size()) break;
      last_end += unicode::seq_len(static_cast<unsigned char>(text[last_end]));
      continue;
    }
    last_end = e;
    last_match_end = e;
    have_last = true;
    f(s, e);
  }
  onig_region_free(region, 1);
}

std::vector<Match> find_matches(const Regex& re, std::string_view text) {
  if (text.empty()) return {{0, 0, false}};
  std::vector<Match> out;
  size_t prev = 0;
  re.find_iter(text, [&](size_t s, size_t e) {
    if (prev != s) out.push_back({prev, s, false});
    out.push_back({s, e, true});
    prev = e;
  });
  if (prev != text.size()) out.push_back({prev, text.size(), false});
  return out;
}

void split_into(NormalizedString&& n, const std::vector<Match>& matches, SplitBehavior b,
                std::vector<NormalizedString>& out) {
  if (matches.size() == 1 && matches[0].start == 0 && matches[0].end == n.len()) {
    // One piece covering everything: kept whole, or dropped when it is a removed delimiter.
    if (!(matches[0].is_match && b == SplitBehavior::Removed)) out.push_back(std::move(n));
    return;
  }
  for (auto& piece : n.split(matches, b)) out.push_back(std::move(piece));
}

std::vector<Match> find_matches_literal(std::string_view needle, std::string_view text) {
  if (text.empty()) return {{0, 0, false}};
  if (needle.empty()) return {{0, text.size(), false}};
  std::vector<Match> out;
  size_t prev = 0, pos = 0;
  while ((pos = text.find(needle, pos)) != std::string_view::npos) {
    if (prev != pos) out.push_back({prev, pos, false});
    out.push_back({pos, pos + needle.size(), true});
    pos += needle.size();
    prev = pos;
  }
  if (prev != text.size()) out.push_back({prev, text.size(), false});
  return out;
}

void invert(std::vector<Match>& matches) {
  for (auto& m : matches) m.is_match = !m.is_match;
}

}  // namespace xfmr::tokenizers
