// The starting point of a classifier run (model + tokenizer) and saving it as an HF folder.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "xfmr/models/model.h"
#include "xfmr/tokenizers/tokenizer.h"
#include "xfmr/train/classifier_trainer.h"

namespace xfmr::train::detail {

using Logger = std::function<void(const std::string&)>;

struct Start {
  std::shared_ptr<models::PreTrainedModel> model;  // training mode, weights requiring gradients
  std::unique_ptr<tokenizers::Tokenizer> tokenizer;
  // Where the tokenizer files come from (copied next to the model), or the trained tokenizer's JSON.
  std::filesystem::path tokenizer_source;
  std::string tokenizer_json, tokenizer_config_json;
};

Start start_scratch(const ClassifierTrainOptions& o, const std::vector<std::string>& labels,
                    const std::vector<data::ClassificationExample>& train, const Logger& log);
Start start_pretrained(const ClassifierTrainOptions& o, const std::vector<std::string>& labels, const Logger& log);
Start start_resume(const std::filesystem::path& checkpoint_dir);

// config.json + model.safetensors + the tokenizer files.
void save_model_folder(const Start& st, const std::filesystem::path& dir, DType dtype);

int32_t pad_id_of(const tokenizers::Tokenizer& tok, const models::ModelConfig& c);
// The longest input the model's position table allows (RoBERTa-style offsets subtracted).
int64_t usable_length(const models::ModelConfig& c, int64_t requested);

}  // namespace xfmr::train::detail
