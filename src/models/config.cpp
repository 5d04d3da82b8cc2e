#include "xfmr/models/config.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "xfmr/core/error.h"
#include "xfmr/models/auto.h"

namespace xfmr::models {

using nlohmann::json;

struct ModelConfig::Doc {
  json j = json::object();
};

ModelConfig::ModelConfig() : doc_(std::make_unique<Doc>()) {}
ModelConfig::ModelConfig(const ModelConfig& o) : doc_(std::make_unique<Doc>(*o.doc_)), label_(o.label_) {}
ModelConfig& ModelConfig::operator=(const ModelConfig& o) {
  if (this != &o) {
    doc_ = std::make_unique<Doc>(*o.doc_);
    label_ = o.label_;
  }
  return *this;
}
ModelConfig::ModelConfig(ModelConfig&&) noexcept = default;
ModelConfig& ModelConfig::operator=(ModelConfig&&) noexcept = default;
ModelConfig::~ModelConfig() = default;

ModelConfig ModelConfig::from_json(const std::string& text, const std::string& label) {
  ModelConfig c;
  c.label_ = label;
  try {
    c.doc_->j = json::parse(text);
  } catch (const json::exception& e) {
    xfmr::detail::fail(label, ": invalid JSON: ", e.what());
  }
  XFMR_CHECK(c.doc_->j.is_object(), label, ": expected a JSON object, got ", c.doc_->j.type_name());
  return c;
}

ModelConfig ModelConfig::from_file(const std::filesystem::path& path) {
  std::filesystem::path file = std::filesystem::is_directory(path) ? path / "config.json" : path;
  std::ifstream in(file, std::ios::binary);
  XFMR_CHECK(in.good(), "cannot read model config ", file.string(),
             std::filesystem::is_directory(path) ? " (a model folder needs a config.json)" : "");
  std::stringstream ss;
  ss << in.rdbuf();
  return from_json(ss.str(), file.string());
}

std::string ModelConfig::to_json_string(int indent) const { return doc_->j.dump(indent, ' ', true) + "\n"; }

void ModelConfig::save(const std::filesystem::path& file) const {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  XFMR_CHECK(out.good(), "ModelConfig::save: cannot write ", file.string());
  out << to_json_string(2);
  XFMR_CHECK(out.good(), "ModelConfig::save: write failed for ", file.string());
}

std::string ModelConfig::resolve(const std::string& key) const {
  auto it = doc_->j.find("model_type");
  if (it != doc_->j.end() && it->is_string()) {
    if (const FamilySpec* f = find_family(it->get<std::string>())) {
      auto a = f->attribute_map.find(key);
      if (a != f->attribute_map.end()) return a->second;
    }
  }
  return key;
}

namespace {
const json* lookup(const json& j, const std::string& key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return nullptr;
  return &*it;
}
}  // namespace

bool ModelConfig::has(const std::string& key) const { return lookup(doc_->j, resolve(key)) != nullptr; }

std::optional<int64_t> ModelConfig::get_optional_int(const std::string& key) const {
  const std::string k = resolve(key);
  const json* v = lookup(doc_->j, k);
  if (!v) return std::nullopt;
  if (v->is_number_integer()) return v->get<int64_t>();
  if (v->is_number_float()) {
    double d = v->get<double>();
    if (d == static_cast<double>(static_cast<int64_t>(d))) return static_cast<int64_t>(d);
  }
  xfmr::detail::fail(label_, ": '", k, "' must be an integer, got ", v->dump());
}

std::optional<double> ModelConfig::get_optional_float(const std::string& key) const {
  const std::string k = resolve(key);
  const json* v = lookup(doc_->j, k);
  if (!v) return std::nullopt;
  XFMR_CHECK(v->is_number(), label_, ": '", k, "' must be a number, got ", v->dump());
  return v->get<double>();
}

std::optional<std::string> ModelConfig::get_optional_string(const std::string& key) const {
  const std::string k = resolve(key);
  const json* v = lookup(doc_->j, k);
  if (!v) return std::nullopt;
  XFMR_CHECK(v->is_string(), label_, ": '", k, "' must be a string, got ", v->dump());
  return v->get<std::string>();
}

int64_t ModelConfig::get_int(const std::string& key, int64_t d) const { return get_optional_int(key).value_or(d); }
double ModelConfig::get_float(const std::string& key, double d) const { return get_optional_float(key).value_or(d); }
std::string ModelConfig::get_string(const std::string& key, const std::string& d) const {
  return get_optional_string(key).value_or(d);
}

bool ModelConfig::get_bool(const std::string& key, bool d) const {
  const std::string k = resolve(key);
  const json* v = lookup(doc_->j, k);
  if (!v) return d;
  XFMR_CHECK(v->is_boolean(), label_, ": '", k, "' must be true or false, got ", v->dump());
  return v->get<bool>();
}

std::string ModelConfig::get_json(const std::string& key) const {
  const json* v = lookup(doc_->j, resolve(key));
  return v ? v->dump() : std::string();
}

std::vector<std::string> ModelConfig::keys() const {
  std::vector<std::string> out;
  for (auto it = doc_->j.begin(); it != doc_->j.end(); ++it) out.push_back(it.key());
  return out;
}

std::string ModelConfig::model_type() const { return get_string("model_type", ""); }

std::vector<std::string> ModelConfig::architectures() const {
  std::vector<std::string> out;
  const json* v = lookup(doc_->j, "architectures");
  if (!v) return out;
  XFMR_CHECK(v->is_array(), label_, ": 'architectures' must be a list of class names, got ", v->dump());
  for (const auto& e : *v) {
    XFMR_CHECK(e.is_string(), label_, ": 'architectures' must be a list of class names, got ", v->dump());
    out.push_back(e.get<std::string>());
  }
  return out;
}

std::map<int64_t, std::string> ModelConfig::id2label() const {
  std::map<int64_t, std::string> out;
  const json* v = lookup(doc_->j, "id2label");
  if (v) {
    XFMR_CHECK(v->is_object(), label_, ": 'id2label' must be an object {\"0\": \"LABEL\"}, got ", v->dump());
    for (auto it = v->begin(); it != v->end(); ++it) {
      int64_t id;
      try {
        size_t pos = 0;
        id = std::stoll(it.key(), &pos);
        XFMR_CHECK(pos == it.key().size(), "");
      } catch (const std::exception&) {
        xfmr::detail::fail(label_, ": 'id2label' key '", it.key(), "' is not an integer");
      }
      XFMR_CHECK(it->is_string(), label_, ": 'id2label' entry ", it.key(), " must be a string, got ", it->dump());
      out[id] = it->get<std::string>();
    }
    return out;
  }
  int64_t n = num_labels();
  for (int64_t i = 0; i < n; ++i) out[i] = "LABEL_" + std::to_string(i);
  return out;
}

std::map<std::string, int64_t> ModelConfig::label2id() const {
  std::map<std::string, int64_t> out;
  const json* v = lookup(doc_->j, "label2id");
  if (v) {
    XFMR_CHECK(v->is_object(), label_, ": 'label2id' must be an object {\"LABEL\": 0}, got ", v->dump());
    for (auto it = v->begin(); it != v->end(); ++it) {
      XFMR_CHECK(it->is_number_integer(), label_, ": 'label2id' entry '", it.key(), "' must be an integer, got ",
                 it->dump());
      out[it.key()] = it->get<int64_t>();
    }
    return out;
  }
  for (auto& [id, name] : id2label()) out[name] = id;
  return out;
}

int64_t ModelConfig::num_labels() const {
  if (const json* v = lookup(doc_->j, "id2label")) {
    XFMR_CHECK(v->is_object(), label_, ": 'id2label' must be an object, got ", v->dump());
    return static_cast<int64_t>(v->size());
  }
  if (auto n = get_optional_int("num_labels")) return *n;
  if (auto n = get_optional_int("_num_labels")) return *n;
  return 2;
}

std::string ModelConfig::problem_type() const { return get_string("problem_type", ""); }
std::optional<int64_t> ModelConfig::pad_token_id() const { return get_optional_int("pad_token_id"); }
std::optional<int64_t> ModelConfig::bos_token_id() const { return get_optional_int("bos_token_id"); }
std::optional<int64_t> ModelConfig::eos_token_id() const {
  const json* v = lookup(doc_->j, resolve("eos_token_id"));
  if (v && v->is_array()) {
    if (v->empty()) return std::nullopt;
    XFMR_CHECK((*v)[0].is_number_integer(), label_, ": 'eos_token_id' must hold integers, got ", v->dump());
    return (*v)[0].get<int64_t>();
  }
  return get_optional_int("eos_token_id");
}
std::optional<int64_t> ModelConfig::decoder_start_token_id() const {
  return get_optional_int("decoder_start_token_id");
}
bool ModelConfig::tie_word_embeddings() const { return get_bool("tie_word_embeddings", true); }
bool ModelConfig::is_encoder_decoder() const { return get_bool("is_encoder_decoder", false); }
std::string ModelConfig::torch_dtype() const { return get_string("torch_dtype", ""); }
int64_t ModelConfig::vocab_size() const { return get_int("vocab_size", 0); }
int64_t ModelConfig::hidden_size() const { return get_int("hidden_size", 0); }
int64_t ModelConfig::num_hidden_layers() const { return get_int("num_hidden_layers", 0); }
int64_t ModelConfig::num_attention_heads() const { return get_int("num_attention_heads", 0); }
int64_t ModelConfig::max_position_embeddings() const { return get_int("max_position_embeddings", 0); }

void ModelConfig::set(const std::string& key, int64_t value) { doc_->j[resolve(key)] = value; }
void ModelConfig::set(const std::string& key, double value) { doc_->j[resolve(key)] = value; }
void ModelConfig::set(const std::string& key, bool value) { doc_->j[resolve(key)] = value; }
void ModelConfig::set(const std::string& key, const std::string& value) { doc_->j[resolve(key)] = value; }
void ModelConfig::set_json(const std::string& key, const std::string& text) {
  try {
    doc_->j[resolve(key)] = json::parse(text);
  } catch (const json::exception& e) {
    xfmr::detail::fail("ModelConfig::set_json('", key, "'): invalid JSON: ", e.what());
  }
}
void ModelConfig::erase(const std::string& key) { doc_->j.erase(resolve(key)); }

void ModelConfig::set_labels(const std::vector<std::string>& labels) {
  XFMR_CHECK(!labels.empty(), "ModelConfig::set_labels: at least one label is needed");
  json id2 = json::object(), l2 = json::object();
  for (size_t i = 0; i < labels.size(); ++i) {
    id2[std::to_string(i)] = labels[i];
    l2[labels[i]] = static_cast<int64_t>(i);
  }
  XFMR_CHECK(l2.size() == labels.size(), "ModelConfig::set_labels: label names must be distinct");
  doc_->j["id2label"] = id2;
  doc_->j["label2id"] = l2;
  doc_->j.erase("num_labels");
  doc_->j.erase("_num_labels");
}

void ModelConfig::set_num_labels(int64_t n) {
  XFMR_CHECK(n >= 1, "ModelConfig::set_num_labels: need at least one label, got ", n);
  std::vector<std::string> names;
  for (int64_t i = 0; i < n; ++i) names.push_back("LABEL_" + std::to_string(i));
  set_labels(names);
}

}  // namespace xfmr::models
