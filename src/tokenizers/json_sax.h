// Fast tokenizer.json parsing: model.vocab and model.merges (tens of thousands of entries, most of
// a tokenizer.json) are read straight into the model's tables by a SAX handler; everything else
// becomes an ordinary nlohmann::json document. Building a JSON DOM of the vocabulary and copying
// it afterwards took most of the load time (GPT-2: 1.3 MB).
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tokenizers/components.h"

namespace xfmr::tokenizers {

struct ModelTables {
  std::optional<Vocab> vocab_object;                                   // WordPiece/BPE/WordLevel
  std::optional<std::vector<std::pair<std::string, double>>> vocab_list;  // Unigram
  std::optional<std::vector<std::pair<std::string, std::string>>> merges;  // BPE
};

// Parses `text`; model.vocab / model.merges go to `tables` (and are null in the returned document).
// Throws xfmr::Error naming `origin` on malformed JSON or malformed vocab/merges entries.
json parse_tokenizer_json(std::string_view text, const std::string& origin, ModelTables& tables);

}  // namespace xfmr::tokenizers
