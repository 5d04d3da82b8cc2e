// Checkpoint -> model weight mapping (internal). See docs/models.md "Loading".
#pragma once

#include <string>

#include "xfmr/io/safetensors.h"
#include "xfmr/models/auto.h"

namespace xfmr::models::detail {

// Binds every parameter of `model` to a tensor of `files` (HF names, base-prefix added or removed
// as needed, tied aliases and legacy buffers handled), initialises allowed missing head weights
// and fills `report`. Throws naming the missing/mismatched weights otherwise.
void load_weights(PreTrainedModel& model, const io::WeightFiles& files, const ArchitectureSpec& spec,
                  const LoadOptions& options, bool allow_new_head, LoadReport& report);

// options.on_warning, or stderr.
void warn(const LoadOptions& options, const std::string& message);

}  // namespace xfmr::models::detail
