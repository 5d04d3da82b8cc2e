// Word-level language-modelling corpora (WikiText-2 style: {train,valid,test}.txt or
// wiki.{train,valid,test}.tokens in one folder), their vocabulary and token-id streams, with the two
// conventions of the PyTorch examples:
//
//   whitespace     pytorch/examples word_language_model/data.py: each line split on whitespace,
//                  "<eos>" appended per line, vocabulary in order of first appearance in train.
//   basic_english  the "Language Modeling with nn.Transformer and torchtext" tutorial:
//                  torchtext's basic_english normaliser, vocabulary from train by frequency
//                  (descending, ties by token) after the special "<unk>" (index 0, the default for
//                  unknown words); empty lines are dropped, nothing is appended per line.
//
// Text is read strictly as UTF-8: a file with invalid bytes is an error naming the file, the line and
// the column (Python would raise UnicodeDecodeError too). Whitespace and lowercasing follow Python's
// str.split() / str.lower() (Unicode-aware), so the vocabularies are the Python ones: 33,278 words
// (whitespace) and 28,782 (basic_english) on WikiText-2.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "xfmr/core/tensor.h"

namespace xfmr::data {

enum class LMTokenization { Whitespace, BasicEnglish };

// "whitespace" / "basic_english" (throws on anything else).
LMTokenization parse_lm_tokenization(const std::string& name);
std::string lm_tokenization_name(LMTokenization t);

// torchtext.data.utils.get_tokenizer("basic_english"): lowercase; "'" -> " '  ", '"' removed,
// "." "," "(" ")" "!" "?" spaced out, "<br />" ";" ":" -> space; then split on whitespace.
// `line` must be valid UTF-8.
std::vector<std::string> basic_english(std::string_view line);
// Python's str.split(): runs of Unicode whitespace separate words. `line` must be valid UTF-8.
std::vector<std::string> split_whitespace(std::string_view line);
// Python's str.isspace() for one code point (bidi classes WS/B/S or category Zs).
bool is_python_space(char32_t c);

class Vocab {
 public:
  Vocab() = default;
  explicit Vocab(std::vector<std::string> itos, std::string unk_token = "");

  int64_t size() const { return static_cast<int64_t>(itos_.size()); }
  const std::string& token(int64_t id) const;
  // -1 when absent.
  int64_t find(const std::string& word) const;
  // The id of `word`, or the unknown token's id; -1 when absent and there is no unknown token.
  int64_t id_or_unk(const std::string& word) const;
  int64_t unk_id() const { return unk_id_; }
  const std::string& unk_token() const { return unk_token_; }
  const std::vector<std::string>& itos() const { return itos_; }

  // vocab.txt: one token per line, in id order (tokens never contain whitespace).
  void save(const std::filesystem::path& path) const;
  static Vocab load(const std::filesystem::path& path, const std::string& unk_token = "");

 private:
  std::vector<std::string> itos_;
  std::unordered_map<std::string, int64_t> stoi_;
  std::string unk_token_;
  int64_t unk_id_ = -1;
};

// A corpus file's lines (without '\n'; a '\r' before it is dropped). Throws when the file is
// missing, unreadable, empty, or not valid UTF-8 (naming the file, line and column).
std::vector<std::string> read_text_lines(const std::filesystem::path& path);

// The file of `split` ("train", "valid", "test") in `dir`: split.txt or wiki.split.tokens.
std::filesystem::path find_lm_split(const std::filesystem::path& dir, const std::string& split);

// Vocabulary built from the training lines under the convention.
Vocab build_lm_vocab(const std::vector<std::string>& train_lines, LMTokenization tok);

// Token ids of `lines` under the convention, as an i64 [n] stream. Unknown words map to the
// vocabulary's unknown token ("<unk>" for both conventions when present - WikiText-2 has it in its
// training text); without one, an unknown word is an error naming `label`, the line and the word
// (data.py would raise KeyError).
Tensor encode_lm_lines(const std::vector<std::string>& lines, const Vocab& vocab, LMTokenization tok,
                       const std::string& label = "text");

struct LMCorpus {
  Vocab vocab;
  Tensor train, valid, test;  // i64 [n] token-id streams (undefined when not loaded)
};

// Loads `dir`. With `vocab` null the vocabulary is built from train; otherwise it is used as is
// (e.g. from a checkpoint) and train is only read when `load_train`.
LMCorpus load_lm_corpus(const std::filesystem::path& dir, LMTokenization tok, const Vocab* vocab = nullptr,
                        bool load_train = true);

}  // namespace xfmr::data
