#include "xfmr/data/lm_corpus.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "../tokenizers/unicode.h"  // UTF-8 decoding, validation and Unicode lowercasing (utf8proc)
#include "xfmr/core/error.h"

namespace xfmr::data {

namespace uc = tokenizers::unicode;

LMTokenization parse_lm_tokenization(const std::string& name) {
  if (name == "whitespace") return LMTokenization::Whitespace;
  if (name == "basic_english") return LMTokenization::BasicEnglish;
  detail::fail("language-model data: unknown tokenization '", name, "' (expected basic_english or whitespace)");
}

std::string lm_tokenization_name(LMTokenization t) {
  return t == LMTokenization::Whitespace ? "whitespace" : "basic_english";
}

bool is_python_space(char32_t c) {
  // Python's Py_UNICODE_ISSPACE = White_Space minus nothing plus the ASCII information separators
  // U+001C..U+001F (bidi class B/S), which Unicode's White_Space property leaves out.
  return uc::is_whitespace(c) || (c >= 0x1C && c <= 0x1F);
}

std::vector<std::string> split_whitespace(std::string_view s) {
  std::vector<std::string> out;
  size_t i = 0, start = std::string_view::npos;
  while (i < s.size()) {
    const unsigned char b = static_cast<unsigned char>(s[i]);
    size_t j = i;
    // ASCII fast path; otherwise decode the code point.
    const bool space = b < 0x80 ? (b == ' ' || (b >= 0x09 && b <= 0x0D) || (b >= 0x1C && b <= 0x1F))
                                : is_python_space(uc::next_cp(s, j));
    const size_t next = b < 0x80 ? i + 1 : j;
    if (space) {
      if (start != std::string_view::npos) out.emplace_back(s.substr(start, i - start));
      start = std::string_view::npos;
    } else if (start == std::string_view::npos) {
      start = i;
    }
    i = next;
  }
  if (start != std::string_view::npos) out.emplace_back(s.substr(start));
  return out;
}

namespace {

// Python str.lower(): full Unicode lowercase mapping, with the final-sigma rule (U+03A3 at the end
// of a word lowers to U+03C2). "Word" is approximated by letters, which is what the rule's "cased"
// test amounts to for real text.
std::string python_lower(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  std::u32string cps;
  size_t i = 0;
  bool ascii = true;
  for (unsigned char c : s) ascii &= c < 0x80;
  if (ascii) {
    for (char c : s) out.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c);
    return out;
  }
  std::u32string in;
  while (i < s.size()) in.push_back(uc::next_cp(s, i));
  for (size_t k = 0; k < in.size(); ++k) {
    const char32_t c = in[k];
    if (c == 0x3A3) {
      const bool before = k > 0 && uc::is_letter(in[k - 1]);
      const bool after = k + 1 < in.size() && uc::is_letter(in[k + 1]);
      cps.push_back(before && !after ? char32_t{0x3C2} : char32_t{0x3C3});
      continue;
    }
    uc::append_lowercase(cps, c);
  }
  for (char32_t c : cps) uc::append_utf8(out, c);
  return out;
}

// re.sub(literal, replacement, s) for a literal pattern.
std::string replace_all(const std::string& s, std::string_view pat, std::string_view rep) {
  if (s.find(pat) == std::string::npos) return s;
  std::string out;
  out.reserve(s.size() + 16);
  size_t pos = 0;
  for (size_t hit; (hit = s.find(pat, pos)) != std::string::npos; pos = hit + pat.size()) {
    out.append(s, pos, hit - pos);
    out.append(rep);
  }
  out.append(s, pos, std::string::npos);
  return out;
}

}  // namespace

std::vector<std::string> basic_english(std::string_view line) {
  // torchtext's _patterns/_replacements, applied in the same order (order matters: removing '"'
  // can complete a "<br />"). The final r"\s+" -> " " is subsumed by splitting on whitespace.
  static const std::pair<std::string_view, std::string_view> kRules[] = {
      {"'", " '  "}, {"\"", ""},   {".", " . "}, {"<br />", " "}, {",", " , "}, {"(", " ( "},
      {")", " ) "},  {"!", " ! "}, {"?", " ? "}, {";", " "},      {":", " "}};
  std::string s = python_lower(line);
  for (const auto& [pat, rep] : kRules) s = replace_all(s, pat, rep);
  return split_whitespace(s);
}

Vocab::Vocab(std::vector<std::string> itos, std::string unk_token) : itos_(std::move(itos)) {
  stoi_.reserve(itos_.size() * 2);
  for (size_t i = 0; i < itos_.size(); ++i) {
    auto [it, fresh] = stoi_.emplace(itos_[i], static_cast<int64_t>(i));
    XFMR_CHECK(fresh, "Vocab: token '", itos_[i], "' appears twice (ids ", it->second, " and ", i, ")");
  }
  if (!unk_token.empty()) {
    unk_id_ = find(unk_token);
    if (unk_id_ >= 0) unk_token_ = std::move(unk_token);
  }
}

const std::string& Vocab::token(int64_t id) const {
  XFMR_CHECK(id >= 0 && id < size(), "Vocab: id ", id, " is out of range for a vocabulary of ", size());
  return itos_[static_cast<size_t>(id)];
}

int64_t Vocab::find(const std::string& word) const {
  auto it = stoi_.find(word);
  return it == stoi_.end() ? -1 : it->second;
}

int64_t Vocab::id_or_unk(const std::string& word) const {
  int64_t id = find(word);
  return id >= 0 ? id : unk_id_;
}

void Vocab::save(const std::filesystem::path& path) const {
  const std::filesystem::path tmp = path.string() + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary);
    XFMR_CHECK(f, "Vocab::save: cannot write ", tmp.string());
    for (const auto& t : itos_) f << t << '\n';
    XFMR_CHECK(f.good(), "Vocab::save: write failed for ", tmp.string());
  }
  std::filesystem::rename(tmp, path);
}

Vocab Vocab::load(const std::filesystem::path& path, const std::string& unk_token) {
  std::vector<std::string> itos = read_text_lines(path);
  for (size_t i = 0; i < itos.size(); ++i)
    XFMR_CHECK(!itos[i].empty() && split_whitespace(itos[i]).size() == 1, "Vocab::load: ", path.string(), ":",
               i + 1, ": expected one token per line, got '", itos[i], "'");
  return Vocab(std::move(itos), unk_token);
}

std::vector<std::string> read_text_lines(const std::filesystem::path& path) {
  std::error_code ec;
  XFMR_CHECK(std::filesystem::is_regular_file(path, ec), "cannot read ", path.string(), ": no such file");
  std::ifstream f(path, std::ios::binary);
  XFMR_CHECK(f, "cannot open ", path.string());
  std::ostringstream ss;
  ss << f.rdbuf();
  const std::string text = ss.str();
  XFMR_CHECK(!text.empty(), path.string(), ": the file is empty");
  std::vector<std::string> lines;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    std::string_view line(text.data() + pos, nl - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const size_t bad = uc::find_invalid_utf8(line);
    if (bad != std::string_view::npos) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02X", static_cast<unsigned char>(line[bad]));
      detail::fail(path.string(), ":", lines.size() + 1, ":", bad + 1, ": invalid UTF-8 byte ", hex,
                   " (the corpus must be UTF-8 text)");
    }
    lines.emplace_back(line);
    pos = nl + 1;
  }
  return lines;
}

std::filesystem::path find_lm_split(const std::filesystem::path& dir, const std::string& split) {
  std::error_code ec;
  XFMR_CHECK(std::filesystem::is_directory(dir, ec), "language-model data: ", dir.string(), " is not a directory");
  for (const std::string& name : {split + ".txt", "wiki." + split + ".tokens"}) {
    std::filesystem::path p = dir / name;
    if (std::filesystem::exists(p, ec)) return p;
  }
  detail::fail("language-model data: no ", split, ".txt or wiki.", split, ".tokens in ", dir.string());
}

Vocab build_lm_vocab(const std::vector<std::string>& lines, LMTokenization tok) {
  if (tok == LMTokenization::Whitespace) {
    std::vector<std::string> itos;
    std::unordered_map<std::string, int64_t> seen;
    auto add = [&](std::string w) {
      if (seen.emplace(w, static_cast<int64_t>(itos.size())).second) itos.push_back(std::move(w));
    };
    for (const auto& line : lines) {
      for (auto& w : split_whitespace(line)) add(std::move(w));
      add("<eos>");
    }
    return Vocab(std::move(itos), "<unk>");
  }
  std::unordered_map<std::string, int64_t> counts;
  for (const auto& line : lines)
    for (auto& w : basic_english(line)) ++counts[std::move(w)];
  std::vector<std::pair<std::string, int64_t>> sorted(counts.begin(), counts.end());
  // build_vocab_from_iterator: frequency descending, ties by token (Python compares code points,
  // which for UTF-8 is byte order).
  std::sort(sorted.begin(), sorted.end(),
            [](const auto& a, const auto& b) { return a.second != b.second ? a.second > b.second : a.first < b.first; });
  std::vector<std::string> itos{"<unk>"};
  itos.reserve(sorted.size() + 1);
  for (auto& [w, n] : sorted)
    if (w != "<unk>") itos.push_back(std::move(w));
  return Vocab(std::move(itos), "<unk>");
}

Tensor encode_lm_lines(const std::vector<std::string>& lines, const Vocab& vocab, LMTokenization tok,
                       const std::string& label) {
  std::vector<int64_t> ids;
  const int64_t eos = tok == LMTokenization::Whitespace ? vocab.find("<eos>") : -1;
  XFMR_CHECK(tok != LMTokenization::Whitespace || eos >= 0,
             "language-model data: the vocabulary has no <eos> token, which the whitespace tokenization needs");
  for (size_t n = 0; n < lines.size(); ++n) {
    auto words = tok == LMTokenization::Whitespace ? split_whitespace(lines[n]) : basic_english(lines[n]);
    for (const auto& w : words) {
      const int64_t id = vocab.id_or_unk(w);
      XFMR_CHECK(id >= 0, label, ":", n + 1, ": word '", w,
                 "' is not in the vocabulary and the vocabulary has no <unk> token");
      ids.push_back(id);
    }
    if (eos >= 0) ids.push_back(eos);
  }
  XFMR_CHECK(!ids.empty(), label, ": no tokens (the file holds only whitespace)");
  return Tensor::from_vector(ids);
}

LMCorpus load_lm_corpus(const std::filesystem::path& dir, LMTokenization tok, const Vocab* vocab, bool load_train) {
  LMCorpus c;
  std::vector<std::string> train_lines;
  std::filesystem::path train_path;
  if (!vocab || load_train) {
    train_path = find_lm_split(dir, "train");
    train_lines = read_text_lines(train_path);
  }
  c.vocab = vocab ? *vocab : build_lm_vocab(train_lines, tok);
  if (load_train) c.train = encode_lm_lines(train_lines, c.vocab, tok, train_path.string());
  for (const char* split : {"valid", "test"}) {
    const std::filesystem::path p = find_lm_split(dir, split);
    Tensor ids = encode_lm_lines(read_text_lines(p), c.vocab, tok, p.string());
    (std::string(split) == "valid" ? c.valid : c.test) = ids;
  }
  return c;
}

}  // namespace xfmr::data
