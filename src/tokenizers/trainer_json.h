// tokenizer.json documents for trained vocabularies (internal to the trainers).
#pragma once

#include <string>

#include "xfmr/tokenizers/trainer.h"

namespace xfmr::tokenizers::detail {

std::string wordpiece_json(const TrainedVocab& v, const TokenizerTrainOptions& o);
std::string byte_level_bpe_json(const TrainedVocab& v, const TokenizerTrainOptions& o);

}  // namespace xfmr::tokenizers::detail
