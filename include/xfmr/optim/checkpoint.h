// Training-state checkpoints for resuming: optimizer state (+ optionally a scheduler's) in one
// safetensors file - tensors as entries, the JSON documents in the metadata ("xfmr.optimizer",
// "xfmr.scheduler") next to any caller-supplied metadata (e.g. an RNG state, the epoch).
#pragma once

#include <filesystem>
#include <map>
#include <string>

#include "xfmr/optim/lr_scheduler.h"
#include "xfmr/optim/optimizer.h"

namespace xfmr::optim {

void save_training_state(const std::filesystem::path& path, const Optimizer& optimizer,
                         const LRScheduler* scheduler = nullptr, const std::map<std::string, std::string>& extra = {});
// Restores what save_training_state wrote; returns the metadata (including the extra entries).
std::map<std::string, std::string> load_training_state(const std::filesystem::path& path, Optimizer& optimizer,
                                                       LRScheduler* scheduler = nullptr);

}  // namespace xfmr::optim
