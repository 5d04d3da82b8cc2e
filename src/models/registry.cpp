// The architecture registry (model_type / class name -> factory + weight rules) and the Auto
// entry points.
#include <algorithm>
#include <iostream>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>

#include "families.h"
#include "loader.h"
#include "xfmr/autograd/autograd.h"
#include "xfmr/models/auto.h"

namespace xfmr::models {
namespace {

struct Registry {
  std::mutex mu;
  std::vector<std::unique_ptr<FamilySpec>> families;
  std::map<std::string, const FamilySpec*> by_type;
  std::map<std::string, const ArchitectureSpec*> by_class;

  void add(FamilySpec f) {
    XFMR_CHECK(!f.model_types.empty(), "register_family: a family needs at least one model_type");
    std::lock_guard<std::mutex> lock(mu);
    for (auto& t : f.model_types)
      XFMR_CHECK(!by_type.count(t), "register_family: model_type '", t, "' is already registered");
    for (auto& a : f.architectures) {
      XFMR_CHECK(!by_class.count(a.name), "register_family: architecture '", a.name, "' is already registered");
      XFMR_CHECK(a.create != nullptr, "register_family: architecture '", a.name, "' has no factory");
      XFMR_CHECK(std::find(f.model_types.begin(), f.model_types.end(), a.model_type) != f.model_types.end(),
                 "register_family: architecture '", a.name, "' names model_type '", a.model_type,
                 "' outside its family");
    }
    families.push_back(std::make_unique<FamilySpec>(std::move(f)));
    const FamilySpec* p = families.back().get();
    for (auto& t : p->model_types) by_type[t] = p;
    for (auto& a : p->architectures) by_class[a.name] = &a;
  }
};

Registry& registry() {
  static Registry* r = [] {
    auto* reg = new Registry();
    reg->add(detail::bert_family());
    reg->add(detail::roberta_family());
    reg->add(detail::distilbert_family());
    reg->add(detail::gpt2_family());
    reg->add(detail::albert_family());
    reg->add(detail::electra_family());
    return reg;
  }();
  return *r;
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

const FamilySpec* family_of(const ArchitectureSpec& a) { return find_family(a.model_type); }

std::vector<std::string> classes_of(const FamilySpec& f, const std::string& model_type) {
  std::vector<std::string> out;
  for (auto& a : f.architectures)
    if (a.model_type == model_type) out.push_back(a.name);
  return out;
}

}  // namespace

void register_family(FamilySpec family) { registry().add(std::move(family)); }

const FamilySpec* find_family(const std::string& model_type) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  auto it = r.by_type.find(model_type);
  return it == r.by_type.end() ? nullptr : it->second;
}

const ArchitectureSpec* find_architecture(const std::string& name) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  auto it = r.by_class.find(name);
  return it == r.by_class.end() ? nullptr : it->second;
}

const ArchitectureSpec* find_architecture(const std::string& model_type, Task task) {
  const FamilySpec* f = find_family(model_type);
  if (!f) return nullptr;
  for (auto& a : f->architectures)
    if (a.model_type == model_type && a.task == task) return &a;
  return nullptr;
}

std::vector<std::string> supported_model_types() {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  std::vector<std::string> out;
  for (auto& [t, f] : r.by_type) out.push_back(t);
  return out;
}

std::vector<std::string> supported_architectures() {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  std::vector<std::string> out;
  for (auto& [n, a] : r.by_class) out.push_back(n);
  return out;
}

const ArchitectureSpec& resolve_architecture(const ModelConfig& config, const LoadOptions& options) {
  const std::string mt = config.model_type();
  const std::vector<std::string> archs = config.architectures();
  const FamilySpec* fam = nullptr;
  if (!mt.empty()) {
    fam = find_family(mt);
    XFMR_CHECK(fam != nullptr, config.label(), ": unknown model_type '", mt, "' (supported: ",
               join(supported_model_types()), ")");
  }
  auto check_family = [&](const ArchitectureSpec& a) {
    if (fam) {
      XFMR_CHECK(family_of(a) == fam, config.label(), ": architecture ", a.name, " is a '", a.model_type,
                 "' model but the config has model_type '", mt, "'");
    }
  };
  if (!options.architecture.empty()) {
    const ArchitectureSpec* a = find_architecture(options.architecture);
    XFMR_CHECK(a != nullptr, "unsupported architecture '", options.architecture, "' (supported: ",
               join(supported_architectures()), ")");
    check_family(*a);
    return *a;
  }
  if (options.task) {
    std::string type = mt;
    if (type.empty() && !archs.empty())
      if (const ArchitectureSpec* a = find_architecture(archs[0])) type = a->model_type;
    XFMR_CHECK(!type.empty(), config.label(), ": no model_type (and no known architecture) to choose a ",
               task_name(*options.task), " head for");
    const ArchitectureSpec* a = find_architecture(type, *options.task);
    XFMR_CHECK(a != nullptr, "model_type '", type, "' has no ", task_name(*options.task), " class (available: ",
               join(classes_of(*find_family(type), type)), ")");
    return *a;
  }
  if (!archs.empty()) {
    const ArchitectureSpec* a = find_architecture(archs[0]);
    if (!a) {
      std::string avail = fam ? join(classes_of(*fam, mt)) : join(supported_architectures());
      xfmr::detail::fail(config.label(), ": unsupported architecture '", archs[0], "'",
                   mt.empty() ? std::string() : " for model_type '" + mt + "'", " (supported: ", avail,
                   "; choose another head with LoadOptions::task or ::architecture)");
    }
    check_family(*a);
    return *a;
  }
  XFMR_CHECK(!mt.empty(), config.label(), ": neither model_type nor architectures is set; cannot tell the model");
  const ArchitectureSpec* a = find_architecture(mt, Task::Base);
  XFMR_CHECK(a != nullptr, "model_type '", mt, "' has no base model class");
  return *a;
}

namespace {

// Applies the label options to the config; returns true when the head differs from the checkpoint's.
bool apply_label_options(ModelConfig& config, const LoadOptions& options) {
  if (!options.labels.empty()) {
    bool same = false;
    auto current = config.id2label();
    if (config.has("id2label") && current.size() == options.labels.size()) {
      same = true;
      for (size_t i = 0; i < options.labels.size(); ++i)
        same = same && current.count(static_cast<int64_t>(i)) && current[static_cast<int64_t>(i)] == options.labels[i];
    }
    XFMR_CHECK(!options.num_labels || *options.num_labels == static_cast<int64_t>(options.labels.size()),
               "LoadOptions: num_labels (", *options.num_labels, ") differs from the number of labels (",
               options.labels.size(), ")");
    if (!same) config.set_labels(options.labels);
    return !same;
  }
  if (options.num_labels && *options.num_labels != config.num_labels()) {
    config.set_num_labels(*options.num_labels);
    return true;
  }
  return false;
}

std::shared_ptr<PreTrainedModel> build(ModelConfig config, const LoadOptions& options, bool* head_changed,
                                       const ArchitectureSpec** spec_out) {
  const ArchitectureSpec& spec = resolve_architecture(config, options);
  bool changed = apply_label_options(config, options);
  auto archs = config.architectures();
  if (archs.empty() || archs[0] != spec.name) changed = changed || spec.task != Task::Base;
  auto model = spec.create(config, spec);
  XFMR_CHECK(model != nullptr, "architecture ", spec.name, ": factory returned no model");
  if (head_changed) *head_changed = changed;
  if (spec_out) *spec_out = &spec;
  return model;
}

}  // namespace

std::shared_ptr<PreTrainedModel> AutoModel::from_pretrained(const std::string& path_or_id, const LoadOptions& options) {
  std::filesystem::path dir = io::resolve_model(path_or_id, options.hub);
  ModelConfig config = ModelConfig::from_file(dir / "config.json");
  bool head_changed = false;
  const ArchitectureSpec* spec = nullptr;
  auto model = build(config, options, &head_changed, &spec);
  io::WeightFiles files;
  try {
    files = io::WeightFiles::open(dir);
  } catch (const Error& e) {
    bool has_bin = std::filesystem::exists(dir / "pytorch_model.bin");
    xfmr::detail::fail("cannot load the weights of ", dir.string(), ": ", e.what(),
                 has_bin ? " (the folder has pytorch_model.bin: xfmr reads safetensors only; convert it with "
                           "transformers' save_pretrained(..., safe_serialization=True))"
                         : "");
  }
  LoadReport report;
  report.dir = dir;
  detail::load_weights(*model, files, *spec, options, options.allow_new_head || head_changed, report);
  model->set_load_report(std::move(report));
  model->eval();
  if (options.trainable) model->make_trainable();
  return model;
}

std::shared_ptr<PreTrainedModel> AutoModel::from_config(const ModelConfig& config, const LoadOptions& options) {
  auto model = build(config, options, nullptr, nullptr);
  Generator gen(options.seed);
  model->init_weights(gen);
  model->make_trainable();
  model->train();
  return model;
}

namespace {
std::shared_ptr<CausalLM> as_clm(std::shared_ptr<PreTrainedModel> m) {
  auto c = std::dynamic_pointer_cast<CausalLM>(m);
  XFMR_CHECK(c != nullptr, m->architecture(), " is not a causal language model");
  return c;
}
void default_causal_task(const ModelConfig& config, LoadOptions& options) {
  if (!options.architecture.empty() || options.task) return;
  auto archs = config.architectures();
  const ArchitectureSpec* a = archs.empty() ? nullptr : find_architecture(archs[0]);
  if (!a || a->task != Task::CausalLM) options.task = Task::CausalLM;
}
}  // namespace

std::shared_ptr<CausalLM> AutoModelForCausalLM::from_pretrained(const std::string& path_or_id, LoadOptions options) {
  std::filesystem::path dir = io::resolve_model(path_or_id, options.hub);
  default_causal_task(ModelConfig::from_file(dir / "config.json"), options);
  return as_clm(AutoModel::from_pretrained(dir.string(), options));
}

std::shared_ptr<CausalLM> AutoModelForCausalLM::from_config(const ModelConfig& config, LoadOptions options) {
  default_causal_task(config, options);
  return as_clm(AutoModel::from_config(config, options));
}

}  // namespace xfmr::models
