// ModelConfig: a HuggingFace config.json, read as it is (HF field names, HF defaults).
//
// The JSON document is kept whole, so every field - also the ones xfmr does not interpret
// (task_specific_params, transformers_version, ...) - survives a load/save round trip and is
// available to the layers above (pipelines read task_specific_params, generation reads
// bos/eos ids). Typed getters take HF's attribute names; a model family may declare aliases the
// way HF's `attribute_map` does (GPT-2: hidden_size -> n_embd, num_hidden_layers -> n_layer, ...;
// DistilBERT: hidden_size -> dim, ...), so `config.get_int("hidden_size")` works for every family.
//
// Errors name the file and the field: "config.json: 'hidden_size' must be an integer, got \"abc\"".
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace xfmr::models {

class ModelConfig {
 public:
  ModelConfig();  // an empty config ({}), e.g. to fill with set() for from_config
  ModelConfig(const ModelConfig& other);
  ModelConfig& operator=(const ModelConfig& other);
  ModelConfig(ModelConfig&&) noexcept;
  ModelConfig& operator=(ModelConfig&&) noexcept;
  ~ModelConfig();

  // Reads a config.json file (or the config.json inside a folder).
  static ModelConfig from_file(const std::filesystem::path& path);
  // Parses JSON text; `label` names the source in error messages.
  static ModelConfig from_json(const std::string& json_text, const std::string& label = "config.json");

  // The JSON document, HF's layout (indent 2, keys sorted), with every change made through set().
  std::string to_json_string(int indent = 2) const;
  void save(const std::filesystem::path& file) const;
  const std::string& label() const { return label_; }

  // ---- PretrainedConfig fields every model has ----
  std::string model_type() const;                 // "" when absent
  std::vector<std::string> architectures() const;  // [] when absent
  // Labels: id2label when present (keys are strings in JSON), else num_labels / _num_labels, else 2
  // (HF's default). A missing map gives HF's default names LABEL_0, LABEL_1, ...
  int64_t num_labels() const;
  std::map<int64_t, std::string> id2label() const;
  std::map<std::string, int64_t> label2id() const;
  // "regression" | "single_label_classification" | "multi_label_classification" | "" (not set)
  std::string problem_type() const;
  std::optional<int64_t> pad_token_id() const;
  std::optional<int64_t> bos_token_id() const;
  std::optional<int64_t> eos_token_id() const;  // first entry when the config has a list
  std::optional<int64_t> decoder_start_token_id() const;
  bool tie_word_embeddings() const;       // default true
  bool is_encoder_decoder() const;        // default false
  std::string torch_dtype() const;        // "float32" | "float16" | "bfloat16" | "" (not set)
  // Sizes under their HF names, through the family's aliases (0 when absent).
  int64_t vocab_size() const;
  int64_t hidden_size() const;
  int64_t num_hidden_layers() const;
  int64_t num_attention_heads() const;
  int64_t max_position_embeddings() const;

  // ---- generic access (HF attribute names; null counts as absent) ----
  bool has(const std::string& key) const;
  int64_t get_int(const std::string& key, int64_t default_value) const;
  double get_float(const std::string& key, double default_value) const;
  bool get_bool(const std::string& key, bool default_value) const;
  std::string get_string(const std::string& key, const std::string& default_value) const;
  std::optional<int64_t> get_optional_int(const std::string& key) const;
  std::optional<double> get_optional_float(const std::string& key) const;
  std::optional<std::string> get_optional_string(const std::string& key) const;
  // The raw JSON text of one field (e.g. task_specific_params), "" when absent.
  std::string get_json(const std::string& key) const;
  // Keys present at the top level (sorted).
  std::vector<std::string> keys() const;

  // ---- changes (kept in the document; an alias is resolved to the stored name) ----
  void set(const std::string& key, int64_t value);
  void set(const std::string& key, int value) { set(key, static_cast<int64_t>(value)); }
  void set(const std::string& key, double value);
  void set(const std::string& key, bool value);
  void set(const std::string& key, const std::string& value);
  void set(const std::string& key, const char* value) { set(key, std::string(value)); }
  void set_json(const std::string& key, const std::string& json_text);  // any JSON value
  void erase(const std::string& key);
  // Replaces id2label/label2id (HF layout: string keys); labels[i] is the name of class i.
  void set_labels(const std::vector<std::string>& labels);
  // num_labels without names: LABEL_0 ... LABEL_{n-1} (what HF does for num_labels=n).
  void set_num_labels(int64_t n);

 private:
  struct Doc;
  std::unique_ptr<Doc> doc_;
  std::string label_ = "config.json";
  std::string resolve(const std::string& key) const;  // attribute_map alias -> stored key
};

}  // namespace xfmr::models
