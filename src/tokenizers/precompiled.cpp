// The Precompiled normalizer: SentencePiece's compiled normalization rules (e.g. nmt_nfkc), as T5's
// tokenizer.json and spiece.model carry them. The charsmap is a little-endian u32 byte size, a
// Darts-clone double-array trie of that size, then the replacement strings (NUL separated).
// Like HF, each grapheme cluster (< 6 bytes) is looked up whole first, then char by char, and the
// first (shortest) trie match decides the replacement.
#include <utf8proc.h>

#include <cstring>

#include "tokenizers/components.h"
#include "tokenizers/unicode.h"
#include "xfmr/core/error.h"

namespace xfmr::tokenizers {

namespace {

class Precompiled : public Normalizer {
 public:
  Precompiled(std::string blob, const std::string& where) {
    XFMR_CHECK(blob.size() >= 4, where, ": precompiled_charsmap is too short (", blob.size(), " bytes)");
    uint32_t trie_size;
    std::memcpy(&trie_size, blob.data(), 4);
    XFMR_CHECK(trie_size % 4 == 0 && trie_size <= blob.size() - 4, where,
               ": precompiled_charsmap has an invalid trie size ", trie_size, " for ", blob.size(), " bytes");
    units_.resize(trie_size / 4);
    std::memcpy(units_.data(), blob.data() + 4, trie_size);
    normalized_ = blob.substr(4 + trie_size);
    XFMR_CHECK(!units_.empty(), where, ": precompiled_charsmap has an empty trie");
    std::string_view rep;
    for (int c = 1; c < 128; ++c) {
      char ch = static_cast<char>(c);
      ascii_maps_[c] = lookup(std::string_view(&ch, 1), rep);
    }
    crlf_maps_ = lookup("\r\n", rep);
  }

  void normalize(NormalizedString& s) const override {
    const std::string& t = s.get();
    if (ascii_unchanged(t)) return;
    Changes d;
    d.reserve(t.size());
    bool modified = false;
    size_t i = 0;
    while (i < t.size()) {
      // One extended grapheme cluster [i, j).
      size_t j = i;
      utf8proc_int32_t state = 0;
      char32_t prev = unicode::next_cp(t, j);
      while (j < t.size()) {
        size_t k = j;
        char32_t c = unicode::next_cp(t, k);
        if (utf8proc_grapheme_break_stateful(static_cast<utf8proc_int32_t>(prev), static_cast<utf8proc_int32_t>(c), &state))
          break;
        prev = c;
        j = k;
      }
      std::string_view g(t.data() + i, j - i);
      std::string_view rep;
      if (g.size() < 6 && lookup(g, rep)) {
        modified = true;
        replace(d, g, rep);
      } else {
        for (size_t p = 0; p < g.size();) {
          size_t q = p;
          char32_t c = unicode::next_cp(g, q);
          std::string_view part = g.substr(p, q - p);
          if (lookup(part, rep)) {
            modified = true;
            replace(d, part, rep);
          } else {
            d.push_back({c, 0});
          }
          p = q;
        }
      }
      i = j;
    }
    if (modified) s.transform(d, 0);
  }

 private:
  // HF's replace(): new chars replace old ones one by one; extra chars are insertions, and fewer
  // chars fold the difference into the last change pushed (possibly of the previous grapheme).
  static void replace(Changes& d, std::string_view old_part, std::string_view new_part) {
    auto old_n = static_cast<int32_t>(unicode::count_cps(old_part));
    int32_t new_n = 0;
    for (size_t k = 0; k < new_part.size();) {
      d.push_back({unicode::next_cp(new_part, k), 0});
      ++new_n;
    }
    int32_t diff = new_n - old_n;
    if (diff > 0) {
      for (int32_t k = 0; k < diff && k < static_cast<int32_t>(d.size()); ++k) d[d.size() - 1 - k].change = 1;
    } else if (diff < 0 && !d.empty()) {
      d.back().change += diff;
    }
  }

  // Darts double-array common-prefix search; returns the first (shortest) match's replacement.
  bool lookup(std::string_view key, std::string_view& out) const {
    auto offset = [](uint32_t u) { return (u >> 10) << ((u & (1u << 9)) >> 6); };
    auto has_leaf = [](uint32_t u) { return ((u >> 8) & 1u) == 1u; };
    auto value = [](uint32_t u) { return u & ((1u << 31) - 1); };
    auto label = [](uint32_t u) { return u & ((1u << 31) | 0xFFu); };
    size_t pos = 0;
    uint32_t unit = units_[0];
    pos ^= offset(unit);
    for (unsigned char c : key) {
      if (c == 0) break;
      pos ^= c;
      if (pos >= units_.size()) return false;
      unit = units_[pos];
      if (label(unit) != c) return false;
      pos ^= offset(unit);
      if (pos >= units_.size()) return false;
      if (has_leaf(unit)) {
        size_t idx = value(units_[pos]);
        if (idx >= normalized_.size()) return false;
        size_t end = normalized_.find('\0', idx);
        if (end == std::string::npos) end = normalized_.size();
        out = std::string_view(normalized_).substr(idx, end - idx);
        // The replacement must be valid UTF-8 to be turned into chars (a corrupt charsmap is skipped).
        return unicode::find_invalid_utf8(out) == std::string_view::npos;
      }
    }
    return false;
  }

  // ASCII text whose chars (and CR LF clusters) have no rule is left as it is.
  bool ascii_unchanged(const std::string& t) const {
    for (size_t i = 0; i < t.size(); ++i) {
      auto c = static_cast<unsigned char>(t[i]);
      if (c >= 0x80 || c == 0 || ascii_maps_[c]) return false;
      if (c == '\r' && crlf_maps_ && i + 1 < t.size() && t[i + 1] == '\n') return false;
    }
    return true;
  }

  std::vector<uint32_t> units_;
  std::string normalized_;
  bool ascii_maps_[128] = {};
  bool crlf_maps_ = false;
};

}  // namespace

std::unique_ptr<Normalizer> make_precompiled_normalizer(std::string charsmap, const std::string& where) {
  return std::make_unique<Precompiled>(std::move(charsmap), where);
}

const json& need(const json& j, const char* key, const std::string& where) {
  XFMR_CHECK(j.is_object(), where, ": expected a JSON object");
  auto it = j.find(key);
  XFMR_CHECK(it != j.end(), where, ": missing field '", key, "'");
  return *it;
}

std::string type_of(const json& j, const std::string& where) {
  const json& t = need(j, "type", where);
  XFMR_CHECK(t.is_string(), where, ": 'type' must be a string");
  return t.get<std::string>();
}

std::string base64_decode(const std::string& s, const std::string& where) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
  };
  std::string out;
  out.reserve(s.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : s) {
    if (c == '=' || c == '\n' || c == '\r') continue;
    int v = val(c);
    XFMR_CHECK(v >= 0, where, ": invalid base64 character '", c, "'");
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return out;
}

}  // namespace xfmr::tokenizers
