// Checkpoint writing shared by the LM trainer's files (reading is public: load_lm_checkpoint).
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>

#include "xfmr/train/lm_trainer.h"

namespace xfmr::train::detail {

// The config.json document for a model trained with `o` (ntoken from the vocabulary).
nlohmann::ordered_json lm_config_json(const models::TransformerLMConfig& cfg, const LMTrainOptions& o);

// Writes config.json, vocab.txt and model.safetensors into `dir` (created if needed). Each file is
// written to a temporary name and renamed, so an interrupted save leaves the previous one intact.
void save_lm_model(const std::filesystem::path& dir, const nlohmann::ordered_json& config, const data::Vocab& vocab,
                   const nn::NamedTensors& state_dict);

}  // namespace xfmr::train::detail
