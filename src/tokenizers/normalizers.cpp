// Normalizers: BertNormalizer, Unicode forms, Lowercase, StripAccents, Replace, Prepend, Strip, Nmt,
// ByteLevel, Sequence. (Precompiled lives in precompiled.cpp.)
#include <utf8proc.h>

#include <algorithm>

#include "tokenizers/components.h"
#include "tokenizers/pattern.h"
#include "tokenizers/unicode.h"
#include "xfmr/core/error.h"

namespace xfmr::tokenizers {

namespace {

class BertNormalizer : public Normalizer {
 public:
  BertNormalizer(bool clean, bool chinese, std::optional<bool> strip, bool lower)
      : clean_(clean), chinese_(chinese), strip_(strip.value_or(lower)), lower_(lower) {}

  void normalize(NormalizedString& s) const override {
    if (ascii_fast_path(s) || fused(s)) return;
    if (clean_) {
      s.filter([](char32_t c) { return !(c == 0 || c == 0xFFFD || is_control(c)); });
      s.map([](char32_t c) { return is_bert_whitespace(c) ? U' ' : c; });
    }
    if (chinese_) {
      Changes d;
      const std::string& t = s.get();
      bool any = false;
      for (size_t i = 0; i < t.size();) {
        char32_t c = unicode::next_cp(t, i);
        if (unicode::is_chinese_char(c)) {
          d.push_back({U' ', 0});
          d.push_back({c, 1});
          d.push_back({U' ', 1});
          any = true;
        } else {
          d.push_back({c, 0});
        }
      }
      if (any) s.transform(d, 0);
    }
    if (strip_) {
      s.nfd();
      s.filter([](char32_t c) { return !unicode::is_mark_nonspacing(c); });
    }
    if (lower_) s.lowercase();
  }

 private:
  static bool is_bert_whitespace(char32_t c) { return c == '\t' || c == '\n' || c == '\r' || unicode::is_whitespace(c); }
  static bool is_control(char32_t c) {
    if (c == '\t' || c == '\n' || c == '\r') return false;
    return unicode::is_other(c);
  }
  // ASCII text without removable control characters: every step is a 1:1 byte mapping, so the
  // alignments stay as they are and only the bytes change.
  bool ascii_fast_path(NormalizedString& s) const {
    for (unsigned char c : s.get()) {
      if (c >= 0x80) return false;
      bool removable = (c < 0x20 || c == 0x7F) && c != '\t' && c != '\n' && c != '\r';
      if (clean_ && removable) return false;
    }
    const bool clean = clean_, lower = lower_;
    s.map_ascii([clean, lower](char ch) {
      if (clean && (ch == '\t' || ch == '\n' || ch == '\r')) return ' ';
      if (lower && ch >= 'A' && ch <= 'Z') return static_cast<char>(ch + 32);
      return ch;
    });
    return true;
  }

  // All steps in one pass. Each step gives every output char the alignment of the char it came
  // from (replaced, inserted after it, decomposed from it), so composing them is per source char.
  // Only canonical reordering of combining marks (NFD) can move chars between sources: such text
  // takes the step-by-step path.
  bool fused(NormalizedString& s) const {
    const std::string& t = s.get();
    std::string out;
    std::vector<Align> al;
    out.reserve(t.size() + 16);
    al.reserve(t.size() + 16);
    std::u32string low;
    int prev_ccc = 0;
    utf8proc_int32_t buf[32];
    auto emit = [&](char32_t c, Align a) {
      size_t before = out.size();
      unicode::append_utf8(out, c);
      al.insert(al.end(), out.size() - before, a);
    };
    // NFD + strip Mn + lowercase of one char; false when marks would be reordered.
    auto rest = [&](char32_t c, Align a) {
      if (!strip_) {
        prev_ccc = 0;
        if (!lower_) return emit(c, a), true;
        low.clear();
        unicode::append_lowercase(low, c);
        for (char32_t l : low) emit(l, a);
        return true;
      }
      int last = 0;
      utf8proc_ssize_t n = c < 0x80 ? 0
                                    : utf8proc_decompose_char(static_cast<utf8proc_int32_t>(c), buf, 32,
                                                              UTF8PROC_DECOMPOSE, &last);
      if (n <= 0 || n > 32) {
        buf[0] = static_cast<utf8proc_int32_t>(c);
        n = 1;
      }
      for (utf8proc_ssize_t k = 0; k < n; ++k) {
        auto d = static_cast<char32_t>(buf[k]);
        int cc = d < 0x300 ? 0 : utf8proc_get_property(buf[k])->combining_class;
        if (cc != 0 && prev_ccc > cc) return false;
        prev_ccc = cc;
        if (unicode::is_mark_nonspacing(d)) continue;
        if (!lower_) {
          emit(d, a);
          continue;
        }
        low.clear();
        unicode::append_lowercase(low, d);
        for (char32_t l : low) emit(l, a);
      }
      return true;
    };
    for (size_t i = 0; i < t.size();) {
      Align a = s.alignment(i);
      char32_t c = unicode::next_cp(t, i);
      if (clean_) {
        if (c == 0 || c == 0xFFFD || is_control(c)) continue;
        if (is_bert_whitespace(c)) c = U' ';
      }
      if (chinese_ && unicode::is_chinese_char(c)) {
        emit(U' ', a);
        prev_ccc = 0;
        if (!rest(c, a)) return false;
        emit(U' ', a);
        prev_ccc = 0;
        continue;
      }
      if (!rest(c, a)) return false;
    }
    s.assign(std::move(out), std::move(al));
    return true;
  }

  bool clean_, chinese_, strip_, lower_;
};

class UnicodeNormalizer : public Normalizer {
 public:
  enum Form { NFC, NFD, NFKC, NFKD };
  explicit UnicodeNormalizer(Form f) : f_(f) {}
  void normalize(NormalizedString& s) const override {
    const std::string& t = s.get();
    if (std::all_of(t.begin(), t.end(), [](char c) { return (c & 0x80) == 0; })) return;  // ASCII is stable
    switch (f_) {
      case NFC: s.nfc(); break;
      case NFD: s.nfd(); break;
      case NFKC: s.nfkc(); break;
      case NFKD: s.nfkd(); break;
    }
  }

 private:
  Form f_;
};

class Lowercase : public Normalizer {
 public:
  void normalize(NormalizedString& s) const override { s.lowercase(); }
};

class StripAccents : public Normalizer {
 public:
  void normalize(NormalizedString& s) const override {
    s.filter([](char32_t c) { return !unicode::is_mark_nonspacing(c); });
  }
};

class Strip : public Normalizer {
 public:
  Strip(bool l, bool r) : l_(l), r_(r) {}
  void normalize(NormalizedString& s) const override {
    if (l_ && r_) s.strip();
    else if (l_) s.lstrip();
    else if (r_) s.rstrip();
  }

 private:
  bool l_, r_;
};

class Prepend : public Normalizer {
 public:
  explicit Prepend(std::string p) : p_(std::move(p)) {}
  void normalize(NormalizedString& s) const override {
    if (!s.empty()) s.prepend(p_);
  }

 private:
  std::string p_;
};

class Replace : public Normalizer {
 public:
  Replace(std::string literal, std::unique_ptr<Regex> re, std::string content)
      : literal_(std::move(literal)), re_(std::move(re)), content_(std::move(content)) {}
  void normalize(NormalizedString& s) const override {
    auto m = re_ ? find_matches(*re_, s.get()) : find_matches_literal(literal_, s.get());
    s.replace(m, content_);
  }

 private:
  std::string literal_;
  std::unique_ptr<Regex> re_;
  std::string content_;
};

class Nmt : public Normalizer {
 public:
  void normalize(NormalizedString& s) const override {
    s.filter([](char32_t c) {
      return !((c >= 0x1 && c <= 0x8) || c == 0xB || (c >= 0xE && c <= 0x1F) || c == 0x7F || c == 0x8F || c == 0x9F);
    });
    s.map([](char32_t c) -> char32_t {
      switch (c) {
        case 0x9: case 0xA: case 0xC: case 0xD: case 0x1680: case 0x2028: case 0x2029: case 0x2581:
        case 0xFEFF: case 0xFFFD:
          return U' ';
        default:
          return (c >= 0x200B && c <= 0x200F) ? U' ' : c;
      }
    });
  }
};

// Maps every byte to GPT-2's printable byte characters (the ByteLevel normalizer).
class ByteLevelNormalizer : public Normalizer {
 public:
  void normalize(NormalizedString& s) const override {
    const std::string& t = s.get();
    Changes d;
    d.reserve(t.size());
    for (size_t i = 0; i < t.size();) {
      size_t n = unicode::seq_len(static_cast<unsigned char>(t[i]));
      for (size_t k = 0; k < n; ++k) d.push_back({unicode::byte_to_char(static_cast<uint8_t>(t[i + k])), k > 0 ? 1 : 0});
      i += n;
    }
    s.transform(d, 0);
  }
};

class SequenceNormalizer : public Normalizer {
 public:
  explicit SequenceNormalizer(std::vector<std::unique_ptr<Normalizer>> p) : parts_(std::move(p)) {}
  void normalize(NormalizedString& s) const override {
    for (const auto& p : parts_) p->normalize(s);
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> parts_;
};

}  // namespace

std::unique_ptr<Normalizer> make_bert_normalizer(bool clean_text, bool handle_chinese_chars,
                                                 std::optional<bool> strip_accents, bool lowercase) {
  return std::make_unique<BertNormalizer>(clean_text, handle_chinese_chars, strip_accents, lowercase);
}

std::unique_ptr<Normalizer> make_sequence_normalizer(std::vector<std::unique_ptr<Normalizer>> parts) {
  return std::make_unique<SequenceNormalizer>(std::move(parts));
}

void read_pattern(const json& j, const std::string& where, std::string& literal, std::unique_ptr<Regex>& re) {
  XFMR_CHECK(j.is_object(), where, ": 'pattern' must be an object with \"String\" or \"Regex\"");
  if (j.contains("String")) {
    XFMR_CHECK(j["String"].is_string(), where, ": pattern.String must be a string");
    literal = j["String"].get<std::string>();
  } else if (j.contains("Regex")) {
    XFMR_CHECK(j["Regex"].is_string(), where, ": pattern.Regex must be a string");
    re = std::make_unique<Regex>(j["Regex"].get<std::string>(), where);
  } else {
    detail::fail(where, ": 'pattern' must have a \"String\" or \"Regex\" entry");
  }
}

bool get_bool(const json& j, const char* key, bool dflt, const std::string& where) {
  if (!j.contains(key) || j[key].is_null()) return dflt;
  XFMR_CHECK(j[key].is_boolean(), where, ": '", key, "' must be true or false");
  return j[key].get<bool>();
}

std::unique_ptr<Normalizer> make_normalizer(const json& j, const std::string& where) {
  std::string t = type_of(j, where);
  if (t == "BertNormalizer") {
    std::optional<bool> strip;
    if (j.contains("strip_accents") && !j["strip_accents"].is_null()) strip = get_bool(j, "strip_accents", false, where);
    return make_bert_normalizer(get_bool(j, "clean_text", true, where), get_bool(j, "handle_chinese_chars", true, where),
                                strip, get_bool(j, "lowercase", true, where));
  }
  if (t == "NFC") return std::make_unique<UnicodeNormalizer>(UnicodeNormalizer::NFC);
  if (t == "NFD") return std::make_unique<UnicodeNormalizer>(UnicodeNormalizer::NFD);
  if (t == "NFKC") return std::make_unique<UnicodeNormalizer>(UnicodeNormalizer::NFKC);
  if (t == "NFKD") return std::make_unique<UnicodeNormalizer>(UnicodeNormalizer::NFKD);
  if (t == "Lowercase") return std::make_unique<Lowercase>();
  if (t == "StripAccents") return std::make_unique<StripAccents>();
  if (t == "Nmt") return std::make_unique<Nmt>();
  if (t == "ByteLevel") return std::make_unique<ByteLevelNormalizer>();
  if (t == "Strip")
    return std::make_unique<Strip>(get_bool(j, "strip_left", true, where), get_bool(j, "strip_right", true, where));
  if (t == "Prepend") {
    const json& p = need(j, "prepend", where);
    XFMR_CHECK(p.is_string(), where, ": 'prepend' must be a string");
    return std::make_unique<Prepend>(p.get<std::string>());
  }
  if (t == "Replace") {
    std::string literal;
    std::unique_ptr<Regex> re;
    read_pattern(need(j, "pattern", where), where, literal, re);
    const json& c = need(j, "content", where);
    XFMR_CHECK(c.is_string(), where, ": 'content' must be a string");
    return std::make_unique<Replace>(literal, std::move(re), c.get<std::string>());
  }
  if (t == "Precompiled") {
    const json& c = need(j, "precompiled_charsmap", where);
    if (c.is_null()) return std::make_unique<SequenceNormalizer>(std::vector<std::unique_ptr<Normalizer>>{});
    XFMR_CHECK(c.is_string(), where, ": 'precompiled_charsmap' must be a base64 string");
    return make_precompiled_normalizer(base64_decode(c.get<std::string>(), where), where);
  }
  if (t == "Sequence") {
    const json& arr = need(j, "normalizers", where);
    XFMR_CHECK(arr.is_array(), where, ": 'normalizers' must be an array");
    std::vector<std::unique_ptr<Normalizer>> parts;
    for (size_t i = 0; i < arr.size(); ++i)
      parts.push_back(make_normalizer(arr[i], detail::cat(where, ".normalizers[", i, "]")));
    return make_sequence_normalizer(std::move(parts));
  }
  detail::fail(where, ": unknown normalizer type '", t, "'");
}

}  // namespace xfmr::tokenizers
