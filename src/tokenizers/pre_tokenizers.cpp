// Pre-tokenizers: BertPreTokenizer, ByteLevel, Whitespace, WhitespaceSplit, Metaspace, Split,
// Punctuation, Digits, CharDelimiterSplit, Sequence.
#include "tokenizers/byte_level.h"
#include "tokenizers/components.h"
#include "tokenizers/pattern.h"
#include "tokenizers/unicode.h"
#include "xfmr/core/error.h"

namespace xfmr::tokenizers {

namespace {

// Splits every untokenized piece with the matches of `finder`.
template <typename Finder>
void split_all(PreTokenizedString& p, SplitBehavior b, Finder&& finder) {
  p.split([&](NormalizedString&& n, std::vector<NormalizedString>& out) {
    auto m = finder(n.get());
    split_into(std::move(n), m, b, out);
  });
}

// Splits every untokenized piece on the chars where pred is true.
template <typename Pred>
void split_chars(PreTokenizedString& p, SplitBehavior b, Pred pred) {
  thread_local std::vector<Match> m;
  p.split([&](NormalizedString&& n, std::vector<NormalizedString>& out) {
    find_char_matches(pred, n.get(), m);
    split_into(std::move(n), m, b, out);
  });
}

// Whitespace split (removed) then punctuation split (isolated), in one pass: the pieces are the
// runs of other chars and each punctuation char alone.
class BertPreTokenizer : public PreTokenizer {
 public:
  void pre_tokenize(PreTokenizedString& p) const override {
    p.split([](NormalizedString&& n, std::vector<NormalizedString>& out) {
      const std::string& t = n.get();
      size_t run = 0, i = 0;
      bool whole = true;  // the piece is a single run: keep it as it is
      while (i < t.size()) {
        size_t b = i;
        auto c0 = static_cast<unsigned char>(t[i]);
        char32_t c = c0 < 0x80 ? (++i, c0) : unicode::next_cp(t, i);
        bool ws = unicode::is_whitespace(c);
        if (!ws && !unicode::is_bert_punctuation(c)) continue;
        whole = false;
        if (run < b) out.push_back(n.slice(run, b));
        if (!ws) out.push_back(n.slice(b, i));
        run = i;
      }
      if (whole) {
        out.push_back(std::move(n));
        return;
      }
      if (run < t.size()) out.push_back(n.slice(run, t.size()));
    });
  }
};

class WhitespaceSplit : public PreTokenizer {
 public:
  void pre_tokenize(PreTokenizedString& p) const override {
    split_chars(p, SplitBehavior::Removed, unicode::is_whitespace);
  }
};

class Whitespace : public PreTokenizer {
 public:
  Whitespace() : re_("\\w+|[^\\w\\s]+", "Whitespace pre-tokenizer") {}
  void pre_tokenize(PreTokenizedString& p) const override {
    split_all(p, SplitBehavior::Removed, [&](const std::string& s) {
      auto m = find_matches(re_, s);
      invert(m);
      return m;
    });
  }

 private:
  Regex re_;
};

class CharDelimiterSplit : public PreTokenizer {
 public:
  explicit CharDelimiterSplit(char32_t d) : d_(d) {}
  void pre_tokenize(PreTokenizedString& p) const override {
    char32_t d = d_;
    split_chars(p, SplitBehavior::Removed, [d](char32_t c) { return c == d; });
  }

 private:
  char32_t d_;
};

class Punctuation : public PreTokenizer {
 public:
  explicit Punctuation(SplitBehavior b) : b_(b) {}
  void pre_tokenize(PreTokenizedString& p) const override {
    split_chars(p, b_, unicode::is_bert_punctuation);
  }

 private:
  SplitBehavior b_;
};

class Digits : public PreTokenizer {
 public:
  explicit Digits(bool individual) : individual_(individual) {}
  void pre_tokenize(PreTokenizedString& p) const override {
    split_chars(p, individual_ ? SplitBehavior::Isolated : SplitBehavior::Contiguous, unicode::is_numeric);
  }

 private:
  bool individual_;
};

class SplitPreTokenizer : public PreTokenizer {
 public:
  SplitPreTokenizer(std::string literal, std::unique_ptr<Regex> re, SplitBehavior b, bool invert)
      : literal_(std::move(literal)), re_(std::move(re)), b_(b), invert_(invert) {}
  void pre_tokenize(PreTokenizedString& p) const override {
    split_all(p, b_, [&](const std::string& s) {
      auto m = re_ ? find_matches(*re_, s) : find_matches_literal(literal_, s);
      if (invert_) invert(m);
      return m;
    });
  }

 private:
  std::string literal_;
  std::unique_ptr<Regex> re_;
  SplitBehavior b_;
  bool invert_;
};

class Metaspace : public PreTokenizer {
 public:
  enum class Prepend { Always, First, Never };
  Metaspace(char32_t replacement, Prepend scheme, bool split)
      : rep_(unicode::to_utf8(replacement)), scheme_(scheme), split_(split) {}
  void pre_tokenize(PreTokenizedString& p) const override {
    p.split([&](NormalizedString&& n, std::vector<NormalizedString>& out) {
      if (n.get().find(' ') != std::string::npos) n.replace(find_matches_literal(" ", n.get()), rep_);
      bool starts = n.get().compare(0, rep_.size(), rep_) == 0;
      if (scheme_ == Prepend::Always && !starts) n.prepend(rep_);
      if (scheme_ == Prepend::First && !starts && n.offsets_original().first == 0) n.prepend(rep_);
      if (!split_) {
        out.push_back(std::move(n));
        return;
      }
      auto m = find_matches_literal(rep_, n.get());
      split_into(std::move(n), m, SplitBehavior::MergedWithNext, out);
    });
  }

 private:
  std::string rep_;
  Prepend scheme_;
  bool split_;
};

class SequencePreTokenizer : public PreTokenizer {
 public:
  explicit SequencePreTokenizer(std::vector<std::unique_ptr<PreTokenizer>> p) : parts_(std::move(p)) {}
  void pre_tokenize(PreTokenizedString& s) const override {
    for (const auto& p : parts_) p->pre_tokenize(s);
  }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> parts_;
};

SplitBehavior parse_behavior(const json& j, const std::string& where) {
  XFMR_CHECK(j.is_string(), where, ": 'behavior' must be a string");
  std::string b = j.get<std::string>();
  if (b == "Removed") return SplitBehavior::Removed;
  if (b == "Isolated") return SplitBehavior::Isolated;
  if (b == "MergedWithPrevious") return SplitBehavior::MergedWithPrevious;
  if (b == "MergedWithNext") return SplitBehavior::MergedWithNext;
  if (b == "Contiguous") return SplitBehavior::Contiguous;
  detail::fail(where, ": unknown split behavior '", b, "'");
}

char32_t single_char(const json& j, const char* key, const std::string& where) {
  const json& v = need(j, key, where);
  XFMR_CHECK(v.is_string(), where, ": '", key, "' must be a one-character string");
  std::string s = v.get<std::string>();
  XFMR_CHECK(!s.empty() && unicode::find_invalid_utf8(s) == std::string::npos && unicode::count_cps(s) == 1, where,
             ": '", key, "' must be exactly one character, got '", s, "'");
  size_t i = 0;
  return unicode::next_cp(s, i);
}

}  // namespace

std::unique_ptr<PreTokenizer> make_bert_pre_tokenizer() { return std::make_unique<BertPreTokenizer>(); }
std::unique_ptr<PreTokenizer> make_whitespace_split_pre_tokenizer() { return std::make_unique<WhitespaceSplit>(); }
std::unique_ptr<PreTokenizer> make_metaspace_pre_tokenizer(char32_t replacement, bool prepend_always, bool split) {
  return std::make_unique<Metaspace>(replacement, prepend_always ? Metaspace::Prepend::Always : Metaspace::Prepend::Never,
                                     split);
}
std::unique_ptr<PreTokenizer> make_sequence_pre_tokenizer(std::vector<std::unique_ptr<PreTokenizer>> parts) {
  return std::make_unique<SequencePreTokenizer>(std::move(parts));
}

std::unique_ptr<PreTokenizer> make_pre_tokenizer(const json& j, const std::string& where) {
  std::string t = type_of(j, where);
  if (t == "BertPreTokenizer") return make_bert_pre_tokenizer();
  if (t == "WhitespaceSplit") return make_whitespace_split_pre_tokenizer();
  if (t == "Whitespace") return std::make_unique<Whitespace>();
  if (t == "ByteLevel")
    return make_byte_level_pre_tokenizer(get_bool(j, "add_prefix_space", true, where), get_bool(j, "use_regex", true, where));
  if (t == "CharDelimiterSplit") return std::make_unique<CharDelimiterSplit>(single_char(j, "delimiter", where));
  if (t == "Punctuation")
    return std::make_unique<Punctuation>(j.contains("behavior") ? parse_behavior(j["behavior"], where)
                                                                : SplitBehavior::Isolated);
  if (t == "Digits") return std::make_unique<Digits>(get_bool(j, "individual_digits", false, where));
  if (t == "Split") {
    std::string literal;
    std::unique_ptr<Regex> re;
    read_pattern(need(j, "pattern", where), where, literal, re);
    return std::make_unique<SplitPreTokenizer>(literal, std::move(re), parse_behavior(need(j, "behavior", where), where),
                                               get_bool(j, "invert", false, where));
  }
  if (t == "Metaspace") {
    char32_t rep = single_char(j, "replacement", where);
    Metaspace::Prepend scheme = Metaspace::Prepend::Always;
    if (j.contains("prepend_scheme") && !j["prepend_scheme"].is_null()) {
      XFMR_CHECK(j["prepend_scheme"].is_string(), where, ": 'prepend_scheme' must be a string");
      std::string s = j["prepend_scheme"].get<std::string>();
      if (s == "always") scheme = Metaspace::Prepend::Always;
      else if (s == "first") scheme = Metaspace::Prepend::First;
      else if (s == "never") scheme = Metaspace::Prepend::Never;
      else detail::fail(where, ": unknown prepend_scheme '", s, "'");
    } else if (j.contains("add_prefix_space")) {
      scheme = get_bool(j, "add_prefix_space", true, where) ? Metaspace::Prepend::Always : Metaspace::Prepend::Never;
    }
    return std::make_unique<Metaspace>(rep, scheme, get_bool(j, "split", true, where));
  }
  if (t == "Sequence") {
    const json& arr = need(j, "pretokenizers", where);
    XFMR_CHECK(arr.is_array(), where, ": 'pretokenizers' must be an array");
    std::vector<std::unique_ptr<PreTokenizer>> parts;
    for (size_t i = 0; i < arr.size(); ++i)
      parts.push_back(make_pre_tokenizer(arr[i], detail::cat(where, ".pretokenizers[", i, "]")));
    return make_sequence_pre_tokenizer(std::move(parts));
  }
  detail::fail(where, ": unknown pre-tokenizer type '", t, "'");
}

}  // namespace xfmr::tokenizers
