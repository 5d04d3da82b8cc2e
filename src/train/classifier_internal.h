// Internals of the classifier trainer shared by its source files.
#pragma once

#include <vector>

#include "xfmr/models/model.h"
#include "xfmr/train/classifier_trainer.h"

namespace xfmr::train::detail {

struct Batch {
  models::ModelInputs inputs;
  Tensor labels;  // i64 [B]
};

// Pads the rows of `s` to the longest one (attention mask 0 on padding).
Batch collate(const EncodedSet& s, const std::vector<size_t>& rows, int32_t pad_id, bool with_types);

}  // namespace xfmr::train::detail
