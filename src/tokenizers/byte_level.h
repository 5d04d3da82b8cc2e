// Byte-level BPE support (GPT-2, RoBERTa, BART): the GPT-2 split pattern as a hand-written scanner
// (equivalent to HF's Oniguruma regex, checked against Oniguruma in the tests, and much faster),
// the ByteLevel pre-tokenizer, post-processor offset trimming and decoder.
#pragma once

#include <string_view>
#include <vector>

#include "tokenizers/normalized_string.h"
#include "xfmr/tokenizers/encoding.h"

namespace xfmr::tokenizers {

// The pattern HF's ByteLevel pre-tokenizer uses.
inline constexpr const char* kGpt2Pattern =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

// Matches of kGpt2Pattern in `text` in find_matches() form (valid UTF-8 input).
std::vector<Match> gpt2_matches(std::string_view text);

// Moves token offsets past leading/trailing 'Ġ' (HF process_offsets; ByteLevel and Roberta processors).
void byte_level_trim_offsets(Encoding& e, bool add_prefix_space);

}  // namespace xfmr::tokenizers
