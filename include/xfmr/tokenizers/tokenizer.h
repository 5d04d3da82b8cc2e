// xfmr::tokenizers::Tokenizer — HuggingFace tokenizers in C++, output-identical to the Rust library.
//
//   auto tok = Tokenizer::from_pretrained("models/bert-base-uncased");   // tokenizer.json or legacy files
//   Encoding e = tok.encode("Hello world!");                           // ids, tokens, offsets, masks, ...
//   EncodeOptions o;
//   o.truncation = {TruncationStrategy::OnlySecond, 384, 128};          // QA: windows over the context
//   Encoding q = tok.encode_pair(question, context, o);                 // q.overflowing = further windows
//   std::string s = tok.decode(e.ids, {.skip_special_tokens = true});
//
// A Tokenizer is immutable after loading and safe to use from several threads at once.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "xfmr/tokenizers/encoding.h"

namespace xfmr::tokenizers {

enum class TruncationStrategy { None, LongestFirst, OnlyFirst, OnlySecond };
enum class Direction { Right, Left };
enum class PaddingStrategy { None, Longest, MaxLength };

struct Truncation {
  TruncationStrategy strategy = TruncationStrategy::None;
  size_t max_length = 0;  // 0 = the tokenizer's model_max_length
  size_t stride = 0;      // tokens repeated between consecutive overflowing windows
  Direction direction = Direction::Right;
};

struct Padding {
  PaddingStrategy strategy = PaddingStrategy::None;
  size_t length = 0;  // for MaxLength (0 = model_max_length)
  size_t pad_to_multiple_of = 0;
  Direction direction = Direction::Right;
};

struct EncodeOptions {
  bool add_special_tokens = true;
  Truncation truncation;
  Padding padding;  // Longest pads a batch to its longest member (a single encode is unchanged)
};

struct DecodeOptions {
  bool skip_special_tokens = false;
  // transformers' clean_up_tokenization (" ." -> ".", " n't" -> "n't", ...) after decoding; off by
  // default like the tokenizers library (transformers turns it on per tokenizer_config.json, see
  // Tokenizer::clean_up_tokenization_spaces()).
  bool clean_up_tokenization_spaces = false;
};

// An entry of the added vocabulary (special tokens and user-added tokens), with HF's flags.
struct AddedToken {
  int32_t id = -1;
  std::string content;
  bool single_word = false;  // only match as a whole word
  bool lstrip = false;       // swallow whitespace on the left
  bool rstrip = false;       // swallow whitespace on the right
  bool normalized = true;    // match against the normalized text
  bool special = false;      // skipped by decode(skip_special_tokens)
};

// Special tokens as transformers names them (from tokenizer_config.json / the legacy defaults).
struct SpecialToken {
  std::string content;
  int32_t id = -1;
};
struct SpecialTokens {
  std::optional<SpecialToken> cls, sep, pad, mask, unk, bos, eos;
};

class Tokenizer {
 public:
  // A tokenizer.json file (or its text). Errors name the file and the entry.
  static Tokenizer from_file(const std::filesystem::path& tokenizer_json);
  static Tokenizer from_json(std::string_view json_text, const std::string& origin = "<tokenizer.json>");
  // A model folder: tokenizer.json when present, else vocab.txt (WordPiece), vocab.json + merges.txt
  // (byte-level BPE), or spiece.model / source.spm / sentencepiece.bpe.model (SentencePiece Unigram),
  // with settings from tokenizer_config.json. A file path is loaded by its kind.
  static Tokenizer from_pretrained(const std::filesystem::path& dir_or_file);

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  // Text must be valid UTF-8 (xfmr::Error with the byte position otherwise).
  Encoding encode(std::string_view text, const EncodeOptions& opts = {}) const;
  Encoding encode_pair(std::string_view text, std::string_view pair, const EncodeOptions& opts = {}) const;
  // Batches run on `threads` threads (0 = xfmr's thread count); padding Longest uses the batch.
  std::vector<Encoding> encode_batch(const std::vector<std::string>& texts, const EncodeOptions& opts = {},
                                     int threads = 0) const;
  std::vector<Encoding> encode_batch_pairs(const std::vector<std::pair<std::string, std::string>>& pairs,
                                           const EncodeOptions& opts = {}, int threads = 0) const;

  std::string decode(std::span<const int32_t> ids, const DecodeOptions& opts = {}) const;
  std::vector<std::string> decode_batch(const std::vector<std::vector<int32_t>>& ids, const DecodeOptions& opts = {},
                                        int threads = 0) const;
  // Tokens -> text through the decoder (e.g. "##ing" joined, 'Ġ' turned back into spaces).
  std::string convert_tokens_to_string(const std::vector<std::string>& tokens) const;
  std::vector<std::string> convert_ids_to_tokens(std::span<const int32_t> ids, bool skip_special_tokens = false) const;

  std::optional<int32_t> token_to_id(std::string_view token) const;
  std::optional<std::string> id_to_token(int32_t id) const;
  // Model vocabulary plus added tokens not in it (like HF get_vocab_size(true)).
  size_t vocab_size(bool with_added_tokens = true) const;
  bool is_special_id(int32_t id) const;
  const std::vector<AddedToken>& added_tokens() const;
  const SpecialTokens& special_tokens() const;
  // tokenizer_config.json's model_max_length (a very large value when it is not set, as in HF).
  size_t model_max_length() const;
  bool clean_up_tokenization_spaces() const;
  // "##" for WordPiece (and BPE models that have one), empty otherwise.
  std::string continuing_subword_prefix() const;
  // "WordPiece", "BPE", "Unigram" or "WordLevel".
  std::string model_type() const;
  // Number of special tokens the post-processor adds to a single sequence / a pair.
  size_t num_special_tokens_to_add(bool pair) const;

  struct Impl;

 private:
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace xfmr::tokenizers
