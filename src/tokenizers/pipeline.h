// The stages of HF's tokenization pipeline as interfaces (normalizer, pre-tokenizer, model,
// post-processor, decoder) plus PreTokenizedString, which carries the splits between them and
// turns the final tokens into an Encoding with offsets into the original text.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizers/normalized_string.h"
#include "xfmr/tokenizers/encoding.h"

namespace xfmr::tokenizers {

struct Token {
  int32_t id;
  std::string value;
  size_t start, end;  // byte range in the split's normalized text
};

struct Model;

struct Split {
  NormalizedString normalized;
  std::optional<std::vector<Token>> tokens;  // set for added tokens and after the model ran
};

class PreTokenizedString {
 public:
  // `original` is the whole input text (it must outlive this object).
  PreTokenizedString(std::string_view original, NormalizedString n);
  std::vector<Split>& splits() { return splits_; }
  // Replaces each split that has no tokens yet by the pieces f(normalized, out) appends to `out`
  // (empty pieces are dropped).
  template <typename F>
  void split(F&& f) {
    thread_local std::vector<NormalizedString> pieces;
    std::vector<Split> out;
    out.reserve(splits_.size() + 8);
    for (size_t i = 0; i < splits_.size(); ++i) {
      if (splits_[i].tokens) {
        out.push_back(std::move(splits_[i]));
        continue;
      }
      pieces.clear();
      f(std::move(splits_[i].normalized), pieces);
      for (auto& piece : pieces)
        if (!piece.empty()) out.push_back(Split{std::move(piece), std::nullopt});
    }
    splits_ = std::move(out);
  }
  // Runs the model on the splits without tokens and builds the encoding: byte offsets through the
  // alignments, code-point offsets via the original text, word id = split index.
  // Consumes the tokens.
  Encoding tokenize(const Model& model, int32_t type_id);

 private:
  std::string_view original_;
  std::vector<Split> splits_;
};

struct Normalizer {
  virtual ~Normalizer() = default;
  virtual void normalize(NormalizedString& s) const = 0;
};

struct PreTokenizer {
  virtual ~PreTokenizer() = default;
  virtual void pre_tokenize(PreTokenizedString& s) const = 0;
};

struct Model {
  virtual ~Model() = default;
  // Appends the tokens of one pre-tokenized word (offsets are byte ranges within `word`).
  virtual void tokenize(std::string_view word, std::vector<Token>& out) const = 0;
  virtual std::optional<int32_t> token_to_id(std::string_view token) const = 0;
  virtual std::optional<std::string> id_to_token(int32_t id) const = 0;
  virtual size_t vocab_size() const = 0;
  // WordPiece/BPE subword prefix ("##"), empty when the model has none.
  virtual std::string continuing_subword_prefix() const { return {}; }
  virtual std::string type_name() const = 0;
};

struct PostProcessor {
  virtual ~PostProcessor() = default;
  virtual size_t added_tokens(bool is_pair) const = 0;
  // Adds special tokens etc. to the list of sequence encodings (HF process_encodings).
  virtual std::vector<Encoding> process_encodings(std::vector<Encoding> encs, bool add_special_tokens) const = 0;
  // HF PostProcessor::process: sequence i gets sequence id i (also its overflowing windows) and
  // type id i, then process_encodings, then everything is merged.
  Encoding process(Encoding a, std::optional<Encoding> b, bool add_special_tokens) const;
};

struct Decoder {
  virtual ~Decoder() = default;
  virtual void decode_chain(std::vector<std::string>& tokens) const = 0;
};

// Encoding building blocks shared by the post-processors and the tokenizer (HF Encoding methods).
namespace enc {
Encoding from_special(const std::vector<int32_t>& ids, const std::vector<std::string>& tokens, int32_t type_id);
void set_sequence_id(Encoding& e, int32_t seq);  // also on its overflowing windows
void set_type_ids(Encoding& e, int32_t type_id);  // main encoding only (as HF)
void merge_with(Encoding& self, Encoding pair);
Encoding merge(std::vector<Encoding> parts);
// HF truncate: keeps the first (right) or last (left) max_len tokens, the rest go to overflowing
// windows of max_len tokens overlapping by `stride`.
void truncate(Encoding& e, size_t max_len, size_t stride, bool left);
void pad(Encoding& e, size_t target, int32_t pad_id, int32_t pad_type_id, const std::string& pad_token, bool left);
// Post-processing without a post-processor: set sequence ids and concatenate.
Encoding default_process(Encoding a, std::optional<Encoding> b);
}  // namespace enc

}  // namespace xfmr::tokenizers
