#include "tokenizers/byte_level.h"

#include "tokenizers/components.h"
#include "tokenizers/pattern.h"
#include "tokenizers/unicode.h"
#include "xfmr/core/error.h"

namespace xfmr::tokenizers {

namespace {

enum Cls : uint8_t { kSpaceChar, kOtherWs, kLetter, kNumber, kOther };

// Class of the code point at i (and its end in `next`), with an ASCII fast path.
inline Cls cls_at(std::string_view t, size_t i, size_t& next) {
  unsigned char c = static_cast<unsigned char>(t[i]);
  if (c < 0x80) {
    next = i + 1;
    if (c == ' ') return kSpaceChar;
    if ((c >= 0x09 && c <= 0x0D)) return kOtherWs;
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return kLetter;
    if (c >= '0' && c <= '9') return kNumber;
    return kOther;
  }
  next = i;
  char32_t cp = unicode::next_cp(t, next);
  if (unicode::is_whitespace(cp)) return kOtherWs;
  if (unicode::is_letter(cp)) return kLetter;
  if (unicode::is_number(cp)) return kNumber;
  return kOther;
}

inline bool is_ws(Cls c) { return c == kSpaceChar || c == kOtherWs; }

// Length of the match of the pattern at position i (always > 0: every char matches something).
size_t match_at(std::string_view t, size_t i) {
  const size_t n = t.size();
  // 1. contractions
  if (t[i] == '\'' && i + 1 < n) {
    char a = t[i + 1];
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
    if (i + 2 < n) {
      char b = t[i + 2];
      if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
    }
  }
  size_t j;
  Cls c0 = cls_at(t, i, j);
  // 2-4: optional ' ' then a run of one class (letters, numbers, or "other" = not ws/L/N)
  size_t start = i;
  Cls run = c0;
  size_t k = j;
  if (c0 == kSpaceChar && j < n) {
    size_t j2;
    Cls c1 = cls_at(t, j, j2);
    if (!is_ws(c1)) {
      run = c1;
      k = j2;
    }
  }
  if (!is_ws(run)) {
    while (k < n) {
      size_t k2;
      if (cls_at(t, k, k2) != run) break;
      k = k2;
    }
    return k - start;
  }
  // 5. \s+(?!\S): the whitespace run, minus its last char when a non-space follows (needs >= 2 chars)
  size_t end = j, last = i, count = 1;
  while (end < n) {
    size_t e2;
    if (!is_ws(cls_at(t, end, e2))) break;
    last = end;
    end = e2;
    ++count;
  }
  if (end == n || count == 1) return end - i;  // 6. \s+ when a single char is followed by a non-space
  return last - i;
}

}  // namespace

std::vector<Match> gpt2_matches(std::string_view text) {
  if (text.empty()) return {{0, 0, false}};
  std::vector<Match> out;
  out.reserve(text.size() / 4 + 1);
  size_t i = 0;
  while (i < text.size()) {
    size_t len = match_at(text, i);
    out.push_back({i, i + len, true});
    i += len;
  }
  return out;
}

namespace {

class ByteLevelPreTokenizer : public PreTokenizer {
 public:
  ByteLevelPreTokenizer(bool add_prefix_space, bool use_regex) : prefix_(add_prefix_space), regex_(use_regex) {}
  void pre_tokenize(PreTokenizedString& p) const override {
    p.split([&](NormalizedString&& n, std::vector<NormalizedString>& out) {
      if (prefix_ && n.get().compare(0, 1, " ") != 0) n.prepend(" ");
      if (!regex_) {
        out.push_back(std::move(n));
        return;
      }
      auto m = gpt2_matches(n.get());
      split_into(std::move(n), m, SplitBehavior::Isolated, out);
    });
    // Every byte becomes its printable character. HF's transform gives all of them the alignment
    // of the char they come from (the first replaces it, the others are insertions after it).
    for (auto& s : p.splits()) {
      if (s.tokens) continue;
      const std::string& t = s.normalized.get();
      std::string out;
      std::vector<Align> aligns;
      out.reserve(t.size() * 2);
      aligns.reserve(t.size() * 2);
      for (size_t i = 0; i < t.size();) {
        size_t len = std::min(unicode::seq_len(static_cast<unsigned char>(t[i])), t.size() - i);
        Align a = s.normalized.alignment(i);
        size_t before = out.size();
        for (size_t k = 0; k < len; ++k) unicode::append_utf8(out, unicode::byte_to_char(static_cast<uint8_t>(t[i + k])));
        aligns.insert(aligns.end(), out.size() - before, a);
        i += len;
      }
      s.normalized.assign(std::move(out), std::move(aligns));
    }
  }

 private:
  bool prefix_, regex_;
};

// HF process_offsets: move offsets past leading/trailing spaces ('Ġ') of each token, keeping the
// prefix space that add_prefix_space inserted on the first token.
void trim_offsets(Encoding& e, bool add_prefix_space) {
  static const char32_t kSpace = unicode::byte_to_char(' ');
  for (size_t i = 0; i < e.tokens.size(); ++i) {
    const std::string& tok = e.tokens[i];
    std::vector<char32_t> cps;
    for (size_t k = 0; k < tok.size();) cps.push_back(unicode::next_cp(tok, k));
    size_t lead = 0, trail = 0;
    while (lead < cps.size() && (cps[lead] == kSpace || unicode::is_whitespace(cps[lead]))) ++lead;
    while (trail < cps.size() && (cps[cps.size() - 1 - trail] == kSpace || unicode::is_whitespace(cps[cps.size() - 1 - trail])))
      ++trail;
    if (lead == 0 && trail == 0) continue;
    for (Offsets* o : {&e.offsets[i], &e.byte_offsets[i]}) {
      size_t l = lead;
      if (l > 0) {
        bool first = i == 0 || o->first == 0;
        if (first && add_prefix_space && l == 1) l = 0;
        o->first = std::min(o->first + l, o->second);
      }
      if (trail > 0 && o->second >= trail) o->second = std::max(o->second - trail, o->first);
    }
  }
}

class ByteLevelProcessing : public PostProcessor {
 public:
  ByteLevelProcessing(bool trim, bool prefix) : trim_(trim), prefix_(prefix) {}
  size_t added_tokens(bool) const override { return 0; }
  std::vector<Encoding> process_encodings(std::vector<Encoding> encs, bool) const override {
    if (trim_)
      for (auto& e : encs) {
        trim_offsets(e, prefix_);
        for (auto& o : e.overflowing) trim_offsets(o, prefix_);
      }
    return encs;
  }

 private:
  bool trim_, prefix_;
};

class ByteLevelDecoder : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::string bytes;
    for (const auto& t : tokens) {
      size_t before = bytes.size();
      bool ok = true;
      for (size_t k = 0; k < t.size();) {
        int b = unicode::char_to_byte(unicode::next_cp(t, k));
        if (b < 0) {
          ok = false;
          break;
        }
        bytes.push_back(static_cast<char>(b));
      }
      if (!ok) {
        bytes.resize(before);
        bytes += t;  // a token that is not made of byte characters is kept as its UTF-8 text
      }
    }
    tokens.assign(1, unicode::from_utf8_lossy(bytes));
  }
};

}  // namespace

std::unique_ptr<PreTokenizer> make_byte_level_pre_tokenizer(bool add_prefix_space, bool use_regex) {
  return std::make_unique<ByteLevelPreTokenizer>(add_prefix_space, use_regex);
}

std::unique_ptr<PostProcessor> make_byte_level_processing(bool trim_offsets, bool add_prefix_space) {
  return std::make_unique<ByteLevelProcessing>(trim_offsets, add_prefix_space);
}

std::unique_ptr<Decoder> make_byte_level_decoder() { return std::make_unique<ByteLevelDecoder>(); }

void byte_level_trim_offsets(Encoding& e, bool add_prefix_space) { trim_offsets(e, add_prefix_space); }

}  // namespace xfmr::tokenizers
