// Tokenizer::Impl: the assembled pipeline and the added vocabulary. Loaders (tokenizer.json,
// legacy files) fill it; tokenizer.cpp runs it.
#pragma once

#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "tokenizers/pipeline.h"
#include "tokenizers/vocab.h"
#include "xfmr/tokenizers/tokenizer.h"

namespace xfmr::tokenizers {

// HF AddedVocabulary: tokens found in the raw text (normalized == false) or in the normalized text
// (normalized == true), leftmost-longest, with single_word / lstrip / rstrip handling.
class AddedVocabulary {
 public:
  // `model` resolves ids of tokens that are already in the model vocabulary.
  void add(std::vector<AddedToken> tokens, const Model& model, const Normalizer* normalizer);
  // Splits the input on added tokens, normalizing the remaining pieces.
  PreTokenizedString extract_and_normalize(const Normalizer* normalizer, std::string_view text) const;
  const std::vector<AddedToken>& tokens() const { return tokens_; }
  std::optional<int32_t> token_to_id(std::string_view t) const;
  const AddedToken* by_id(int32_t id) const;
  bool is_special(int32_t id) const;

 private:
  struct Trie {
    // Byte trie over the token contents; terminal = index into tokens_.
    std::vector<int32_t> terminal{-1};
    U64Map<uint32_t> edges;
    bool first_byte[256] = {};  // bytes a token can start with (most positions are skipped)
    bool empty() const { return terminal.size() == 1; }
    void insert(std::string_view s, int32_t value);
  };
  struct Found {
    int32_t index;  // into tokens_, -1 = plain text
    size_t start, end;
  };
  std::vector<Found> find_matches(std::string_view s, const Trie& trie) const;

  std::vector<AddedToken> tokens_;
  StrMap by_content_;
  std::unordered_map<int32_t, size_t> by_id_;
  Trie raw_, normalized_;
};

inline constexpr size_t kVeryLargeLength = size_t(1) << 62;

struct Tokenizer::Impl {
  std::unique_ptr<Normalizer> normalizer;
  std::unique_ptr<PreTokenizer> pre_tokenizer;
  std::unique_ptr<Model> model;
  std::unique_ptr<PostProcessor> post_processor;
  std::unique_ptr<Decoder> decoder;
  AddedVocabulary added;
  SpecialTokens specials;
  // transformers uses int(1e30) when the config has no model_max_length.
  size_t model_max_length = kVeryLargeLength;
  bool clean_up_spaces = false;

  Encoding encode_sequence(std::string_view text, int32_t type_id) const;
  Encoding post_process(Encoding a, std::optional<Encoding> b, const EncodeOptions& o) const;
  // Fills `specials` from tokenizer_config.json-style names (cls_token, ...) and legacy defaults.
  void resolve_special_tokens(const std::vector<std::pair<std::string, std::string>>& named);
};

// tokenizer_config.json essentials (all optional).
struct TokenizerConfig {
  std::optional<bool> do_lower_case;
  std::optional<size_t> model_max_length;
  std::optional<bool> clean_up_tokenization_spaces;
  std::optional<std::string> tokenizer_class;
  std::vector<std::pair<std::string, std::string>> special;  // ("cls_token", "[CLS]"), ...
  std::vector<AddedToken> added_tokens_decoder;                 // newer configs
  std::vector<std::string> additional_special_tokens;
  std::optional<bool> add_prefix_space;
};
TokenizerConfig read_tokenizer_config(const std::filesystem::path& dir);
void apply_config(Tokenizer::Impl& impl, const TokenizerConfig& cfg);

std::unique_ptr<Tokenizer::Impl> load_tokenizer_json(std::string_view text, const std::string& origin);
std::unique_ptr<Tokenizer::Impl> load_legacy(const std::filesystem::path& dir_or_file);

}  // namespace xfmr::tokenizers
