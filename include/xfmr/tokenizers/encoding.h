// Encoding: the result of tokenizing one text (or text pair), field for field what HuggingFace
// tokenizers returns: ids, tokens, type ids, masks, word and sequence ids, offsets, and the
// overflowing windows produced by truncation with a stride.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace xfmr::tokenizers {

// [start, end) span in the original text of the sequence the token belongs to.
using Offsets = std::pair<size_t, size_t>;

struct Encoding {
  std::vector<int32_t> ids;
  std::vector<std::string> tokens;
  std::vector<int32_t> type_ids;
  std::vector<int32_t> attention_mask;       // 0 for padding
  std::vector<int32_t> special_tokens_mask;  // 1 for tokens added by the post-processor and padding
  std::vector<int32_t> word_ids;             // word index in its sequence, -1 for special/padding
  std::vector<int32_t> sequence_ids;         // 0 (text), 1 (pair), -1 for special/padding
  std::vector<Offsets> offsets;              // in Unicode code points of the original text
  std::vector<Offsets> byte_offsets;         // in UTF-8 bytes of the original text
  // Further windows when truncation cut the input (HF tokenizers semantics: each window repeats
  // `stride` tokens of the previous one and gets the special tokens again).
  std::vector<Encoding> overflowing;

  size_t size() const { return ids.size(); }
  bool empty() const { return ids.empty(); }

  // Helpers with transformers' names (token index -> word/sequence/char span and back).
  std::optional<int32_t> token_to_word(size_t token) const;
  std::optional<int32_t> token_to_sequence(size_t token) const;
  // Token covering code point `pos` of sequence `seq`, if any.
  std::optional<size_t> char_to_token(size_t pos, int32_t seq = 0) const;
  // [first, last+1) token range of word `word` in sequence `seq`.
  std::optional<std::pair<size_t, size_t>> word_to_tokens(int32_t word, int32_t seq = 0) const;
};

}  // namespace xfmr::tokenizers
