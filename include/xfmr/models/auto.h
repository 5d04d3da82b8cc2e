// The architecture registry and the Auto entry points.
//
//   // The class named by config.json (architectures[0]), weights memory-mapped, eval mode:
//   auto m = AutoModel::from_pretrained("/models/bert-sst2");            // or a hub id "org/name[@rev]"
//   // A base checkpoint with a fresh 3-label classifier, ready to fine-tune (HF: num_labels=3):
//   auto c = AutoModel::from_pretrained("bert-base-uncased",
//                                       {.task = Task::SequenceClassification, .num_labels = 3, .trainable = true});
//   // Random init from a config (HF's init), training mode:
//   auto g = AutoModelForCausalLM::from_config(ModelConfig::from_file("gpt2/config.json"));
//
// Families register their classes in a table keyed by config.json's `model_type` (several
// model_types may share one implementation: roberta / xlm-roberta / camembert) and by class name
// (`architectures`). Each class carries its weight-name rules as data: the base-model prefix, tied
// weights (stored once), legacy buffers to drop silently and keys that may be absent.
//
// Differences from Python: AutoModel here honours architectures[0] (what HF's pipelines do); ask
// for Task::Base to get HF's AutoModel behaviour (the bare base model).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "xfmr/models/model.h"

namespace xfmr::models {

struct ArchitectureSpec {
  std::string name;        // HF class name, e.g. "RobertaForMaskedLM"
  std::string model_type;  // the model_type it is selected for, e.g. "roberta"
  Task task = Task::Base;
  // Builds the module tree with memory-less placeholder weights (the loader or init_weights fills
  // them). Throws xfmr::Error naming unsupported config options.
  std::function<std::shared_ptr<PreTrainedModel>(const ModelConfig&, const ArchitectureSpec&)> create;
  // Tied weights, model-side names: {alias, target}. The alias is not a parameter of ours; when a
  // checkpoint stores it, it is dropped (or used for the target when the target is absent).
  // Only applied when config.tie_word_embeddings is true (bias ties always apply).
  std::vector<std::pair<std::string, std::string>> tied;
  std::vector<std::pair<std::string, std::string>> tied_always;  // e.g. decoder.bias -> predictions.bias
  // ECMAScript regexes (searched, model-side names) of checkpoint keys dropped without warning:
  // legacy persistent buffers (position_ids, GPT-2 attn.bias/masked_bias) and HF's
  // _keys_to_ignore_on_load_unexpected (e.g. "pooler" for heads without a pooler).
  std::vector<std::string> ignore_unexpected;
  // Regexes of model keys that may be absent (their init is kept, e.g. computed sinusoids).
  std::vector<std::string> ignore_missing;
};

struct FamilySpec {
  std::vector<std::string> model_types;  // first = canonical
  std::string base_model_prefix;         // "bert", "distilbert", "roberta", "transformer", ...
  // HF attribute_map: standard name -> stored config key (GPT-2: {"hidden_size", "n_embd"}, ...).
  std::map<std::string, std::string> attribute_map;
  std::vector<ArchitectureSpec> architectures;
};

// ---- registry ----
void register_family(FamilySpec family);  // built-in families are registered on first use
const FamilySpec* find_family(const std::string& model_type);
const ArchitectureSpec* find_architecture(const std::string& class_name);
const ArchitectureSpec* find_architecture(const std::string& model_type, Task task);
std::vector<std::string> supported_model_types();
std::vector<std::string> supported_architectures();
// The class to build for a config and options (explicit architecture > task > architectures[0] >
// base). Throws naming the unknown model_type / class and listing what is supported.
const ArchitectureSpec& resolve_architecture(const ModelConfig& config, const LoadOptions& options = {});

// ---- entry points ----
class AutoModel {
 public:
  // `path_or_id`: a local folder (config.json + model.safetensors or shards) or a hub id,
  // resolved with io::resolve_model (cache first). Returns the model in eval mode.
  static std::shared_ptr<PreTrainedModel> from_pretrained(const std::string& path_or_id,
                                                          const LoadOptions& options = {});
  // Random HF init (seed from options), owned f32 weights requiring gradients, training mode.
  static std::shared_ptr<PreTrainedModel> from_config(const ModelConfig& config, const LoadOptions& options = {});
};

class AutoModelForCausalLM {
 public:
  static std::shared_ptr<CausalLM> from_pretrained(const std::string& path_or_id, LoadOptions options = {});
  static std::shared_ptr<CausalLM> from_config(const ModelConfig& config, LoadOptions options = {});
};

}  // namespace xfmr::models
