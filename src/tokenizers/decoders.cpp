// Decoders: WordPiece, Metaspace, BPEDecoder, Replace, Strip, ByteFallback, Fuse, CTC, Sequence
// (ByteLevel is in byte_level.cpp). Each rewrites the token list like HF's decode_chain; the
// tokenizer joins the result.
#include "tokenizers/components.h"
#include "tokenizers/pattern.h"
#include "tokenizers/unicode.h"
#include "xfmr/core/error.h"

namespace xfmr::tokenizers {

namespace {

void replace_all(std::string& s, std::string_view from, std::string_view to) {
  if (from.empty()) return;
  std::string out;
  size_t pos = 0, hit;
  while ((hit = s.find(from, pos)) != std::string::npos) {
    out.append(s, pos, hit - pos);
    out.append(to);
    pos = hit + from.size();
  }
  if (pos == 0) return;
  out.append(s, pos, std::string::npos);
  s.swap(out);
}

// tokenizers' WordPiece cleanup (per token; note " do not" -> " don't", which transformers lacks).
void wordpiece_cleanup(std::string& s) {
  static const std::pair<const char*, const char*> kRules[] = {
      {" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"}, {" n't", "n't"},
      {" 'm", "'m"}, {" do not", " don't"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
  for (const auto& [a, b] : kRules) replace_all(s, a, b);
}

class WordPieceDecoder : public Decoder {
 public:
  WordPieceDecoder(std::string prefix, bool cleanup) : prefix_(std::move(prefix)), cleanup_(cleanup) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i) {
      std::string& t = tokens[i];
      if (i != 0) {
        if (!prefix_.empty() && t.compare(0, prefix_.size(), prefix_) == 0) t.erase(0, prefix_.size());
        else t.insert(0, " ");
      }
      if (cleanup_) wordpiece_cleanup(t);
    }
  }

 private:
  std::string prefix_;
  bool cleanup_;
};

class MetaspaceDecoder : public Decoder {
 public:
  MetaspaceDecoder(char32_t rep, bool prepend) : rep_(unicode::to_utf8(rep)), prepend_(prepend) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i) {
      std::string& t = tokens[i];
      replace_all(t, rep_, " ");
      if (i == 0 && prepend_ && !t.empty() && t[0] == ' ') t.erase(0, 1);
    }
  }

 private:
  std::string rep_;
  bool prepend_;
};

class BpeDecoder : public Decoder {
 public:
  explicit BpeDecoder(std::string suffix) : suffix_(std::move(suffix)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i) replace_all(tokens[i], suffix_, i + 1 == tokens.size() ? "" : " ");
  }

 private:
  std::string suffix_;
};

class ReplaceDecoder : public Decoder {
 public:
  ReplaceDecoder(std::string literal, std::unique_ptr<Regex> re, std::string content)
      : literal_(std::move(literal)), re_(std::move(re)), content_(std::move(content)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (auto& t : tokens) {
      if (!re_) {
        replace_all(t, literal_, content_);
        continue;
      }
      std::string out;
      for (const Match& m : find_matches(*re_, t)) {
        if (m.is_match) out += content_;
        else out.append(t, m.start, m.end - m.start);
      }
      t.swap(out);
    }
  }

 private:
  std::string literal_;
  std::unique_ptr<Regex> re_;
  std::string content_;
};

class StripDecoder : public Decoder {
 public:
  StripDecoder(char32_t content, size_t start, size_t stop) : content_(content), start_(start), stop_(stop) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (auto& t : tokens) {
      std::vector<char32_t> cps;
      for (size_t k = 0; k < t.size();) cps.push_back(unicode::next_cp(t, k));
      size_t a = 0, b = cps.size();
      for (size_t i = 0; i < start_ && i < cps.size() && cps[i] == content_; ++i) a = i + 1;
      for (size_t i = 0; i < stop_ && i < cps.size(); ++i) {
        size_t idx = cps.size() - i - 1;
        if (cps[idx] != content_) break;
        b = idx;
      }
      std::string out;
      for (size_t i = a; i < b; ++i) unicode::append_utf8(out, cps[i]);
      t.swap(out);
    }
  }

 private:
  char32_t content_;
  size_t start_, stop_;
};

class ByteFallbackDecoder : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::vector<std::string> out;
    std::string bytes;
    size_t nbytes = 0;
    auto flush = [&] {
      if (nbytes == 0) return;
      if (unicode::find_invalid_utf8(bytes) == std::string::npos) {
        out.push_back(bytes);
      } else {
        std::string rep;
        for (size_t k = 0; k < nbytes; ++k) rep += "\xEF\xBF\xBD";
        out.push_back(rep);
      }
      bytes.clear();
      nbytes = 0;
    };
    for (auto& t : tokens) {
      int v = -1;
      if (t.size() == 6 && t.compare(0, 3, "<0x") == 0 && t[5] == '>') {
        auto hex = [](char c) {
          if (c >= '0' && c <= '9') return c - '0';
          if (c >= 'a' && c <= 'f') return c - 'a' + 10;
          if (c >= 'A' && c <= 'F') return c - 'A' + 10;
          return -1;
        };
        int h = hex(t[3]), l = hex(t[4]);
        if (h >= 0 && l >= 0) v = h * 16 + l;
      }
      if (v >= 0) {
        bytes.push_back(static_cast<char>(v));
        ++nbytes;
      } else {
        flush();
        out.push_back(std::move(t));
      }
    }
    flush();
    tokens.swap(out);
  }
};

class FuseDecoder : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::string all;
    for (const auto& t : tokens) all += t;
    tokens.assign(1, all);
  }
};

class CtcDecoder : public Decoder {
 public:
  CtcDecoder(std::string pad, std::string delim, bool cleanup)
      : pad_(std::move(pad)), delim_(std::move(delim)), cleanup_(cleanup) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::vector<std::string> out;
    for (size_t i = 0; i < tokens.size(); ++i) {
      if (i > 0 && tokens[i] == tokens[i - 1]) continue;  // collapse repeats
      std::string t = tokens[i];
      replace_all(t, pad_, "");
      if (cleanup_) {
        wordpiece_cleanup(t);
        replace_all(t, delim_, " ");
      }
      if (!t.empty()) out.push_back(std::move(t));
    }
    tokens.swap(out);
  }

 private:
  std::string pad_, delim_;
  bool cleanup_;
};

class SequenceDecoder : public Decoder {
 public:
  explicit SequenceDecoder(std::vector<std::unique_ptr<Decoder>> p) : parts_(std::move(p)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (const auto& p : parts_) p->decode_chain(tokens);
  }

 private:
  std::vector<std::unique_ptr<Decoder>> parts_;
};

std::string get_string(const json& j, const char* key, const std::string& dflt, const std::string& where) {
  if (!j.contains(key) || j[key].is_null()) return dflt;
  XFMR_CHECK(j[key].is_string(), where, ": '", key, "' must be a string");
  return j[key].get<std::string>();
}

char32_t get_char(const json& j, const char* key, const std::string& where) {
  std::string s = get_string(j, key, "", where);
  XFMR_CHECK(!s.empty() && unicode::find_invalid_utf8(s) == std::string::npos && unicode::count_cps(s) == 1, where,
             ": '", key, "' must be exactly one character");
  size_t i = 0;
  return unicode::next_cp(s, i);
}

size_t get_size(const json& j, const char* key, const std::string& where) {
  const json& v = need(j, key, where);
  XFMR_CHECK(v.is_number_unsigned() || (v.is_number_integer() && v.get<int64_t>() >= 0), where, ": '", key,
             "' must be a non-negative integer");
  return v.get<size_t>();
}

}  // namespace

std::unique_ptr<Decoder> make_wordpiece_decoder(std::string prefix, bool cleanup) {
  return std::make_unique<WordPieceDecoder>(std::move(prefix), cleanup);
}

std::unique_ptr<Decoder> make_metaspace_decoder(char32_t replacement, bool prepend) {
  return std::make_unique<MetaspaceDecoder>(replacement, prepend);
}

std::unique_ptr<Decoder> make_decoder(const json& j, const std::string& where) {
  std::string t = type_of(j, where);
  if (t == "WordPiece") return make_wordpiece_decoder(get_string(j, "prefix", "##", where), get_bool(j, "cleanup", true, where));
  if (t == "ByteLevel") return make_byte_level_decoder();
  if (t == "Metaspace") {
    bool prepend = true;
    if (j.contains("prepend_scheme") && !j["prepend_scheme"].is_null())
      prepend = get_string(j, "prepend_scheme", "always", where) != "never";
    else if (j.contains("add_prefix_space"))
      prepend = get_bool(j, "add_prefix_space", true, where);
    return make_metaspace_decoder(get_char(j, "replacement", where), prepend);
  }
  if (t == "BPEDecoder") return std::make_unique<BpeDecoder>(get_string(j, "suffix", "</w>", where));
  if (t == "Replace") {
    std::string literal;
    std::unique_ptr<Regex> re;
    read_pattern(need(j, "pattern", where), where, literal, re);
    return std::make_unique<ReplaceDecoder>(literal, std::move(re), get_string(j, "content", "", where));
  }
  if (t == "Strip") return std::make_unique<StripDecoder>(get_char(j, "content", where), get_size(j, "start", where),
                                                          get_size(j, "stop", where));
  if (t == "ByteFallback") return std::make_unique<ByteFallbackDecoder>();
  if (t == "Fuse") return std::make_unique<FuseDecoder>();
  if (t == "CTC")
    return std::make_unique<CtcDecoder>(get_string(j, "pad_token", "<pad>", where),
                                        get_string(j, "word_delimiter_token", "|", where), get_bool(j, "cleanup", true, where));
  if (t == "Sequence") {
    const json& arr = need(j, "decoders", where);
    XFMR_CHECK(arr.is_array(), where, ": 'decoders' must be an array");
    std::vector<std::unique_ptr<Decoder>> parts;
    for (size_t i = 0; i < arr.size(); ++i) parts.push_back(make_decoder(arr[i], detail::cat(where, ".decoders[", i, "]")));
    return std::make_unique<SequenceDecoder>(std::move(parts));
  }
  detail::fail(where, ": unknown decoder type '", t, "'");
}

}  // namespace xfmr::tokenizers
