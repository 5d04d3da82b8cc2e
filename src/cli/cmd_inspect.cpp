// `xfmr inspect MODEL`: what a model folder (or hub id) holds - the architecture xfmr builds for it,
// the parameter count, the stored dtypes and weight files, and a summary of config.json.
// The weights are memory-mapped and bound exactly as for inference, so a model that inspects
// cleanly also loads.
#include <chrono>
#include <iomanip>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/command.h"
#include "xfmr/core/format.h"
#include "xfmr/io/hub.h"
#include "xfmr/io/safetensors.h"
#include "xfmr/models/models.h"

namespace xfmr::cli {
namespace {

using nlohmann::ordered_json;

// Config fields worth a look, in display order (HF names; aliases resolve per family).
const char* const kSummaryKeys[] = {
    "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "n_inner", "hidden_dim",
    "embedding_size", "num_hidden_groups", "vocab_size", "max_position_embeddings", "type_vocab_size",
    "hidden_act", "activation_function", "activation", "layer_norm_eps", "layer_norm_epsilon",
    "position_embedding_type", "tie_word_embeddings", "torch_dtype", "transformers_version"};

std::string human_bytes(uint64_t b) {
  std::ostringstream os;
  os << std::fixed << std::setprecision(1);
  if (b >= (uint64_t{1} << 30)) os << b / double(uint64_t{1} << 30) << " GiB";
  else if (b >= (uint64_t{1} << 20)) os << b / double(uint64_t{1} << 20) << " MiB";
  else if (b >= 1024) os << b / 1024.0 << " KiB";
  else os << b << " B";
  return os.str();
}

std::string grouped(int64_t n) {
  std::string s = std::to_string(n), out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i && (s.size() - i) % 3 == 0) out += ',';
    out += s[i];
  }
  return out;
}

ordered_json config_value(const models::ModelConfig& c, const std::string& key) {
  return nlohmann::json::parse(c.get_json(key));
}

int run_inspect(const std::string& model, bool json, bool keep_dtype, int threads) {
  apply_threads(threads);
  auto t0 = std::chrono::steady_clock::now();
  std::filesystem::path dir = io::resolve_model(model);
  std::vector<std::string> warnings;
  models::LoadOptions opt;
  opt.keep_stored_dtype = keep_dtype;
  opt.on_warning = [&](const std::string& w) { warnings.push_back(w); };
  auto m = models::AutoModel::from_pretrained(dir.string(), opt);
  const double load_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  const models::ModelConfig& c = m->config();
  const models::LoadReport& r = m->load_report();

  // Checkpoint tensors by stored dtype, and parameters by their dtype in memory.
  io::WeightFiles files = io::WeightFiles::open(dir);
  std::map<std::string, int64_t> stored;
  for (auto& n : files.names()) ++stored[dtype_safetensors_name(files.info(n).dtype)];
  std::map<std::string, int64_t> in_memory;
  for (auto& [n, t] : m->named_parameters()) in_memory[dtype_name(t.dtype())] += t.numel();

  ordered_json summary = ordered_json::object();
  for (const char* k : kSummaryKeys)
    if (c.has(k)) summary[k] = config_value(c, k);
  ordered_json labels = ordered_json::object();
  bool has_labels = c.has("id2label");
  for (auto& [id, name] : c.id2label()) labels[std::to_string(id)] = name;
  auto opt_id = [](std::optional<int64_t> v) { return v ? ordered_json(*v) : ordered_json(nullptr); };

  if (json) {
    ordered_json j;
    j["path"] = dir.string();
    j["model_type"] = c.model_type();
    j["architecture"] = m->architecture();
    j["task"] = models::task_name(m->task());
    j["base_model_prefix"] = m->base_model_prefix();
    j["num_parameters"] = m->num_parameters();
    ordered_json w;
    w["files"] = r.weight_files;
    w["bytes"] = r.checkpoint_bytes;
    w["stored_dtype"] = r.stored_dtype;
    w["tensors_by_stored_dtype"] = stored;
    w["parameters_by_dtype_in_memory"] = in_memory;
    w["zero_copy_tensors"] = r.zero_copy_tensors;
    w["converted_tensors"] = r.converted_tensors;
    w["added_prefix"] = r.added_prefix;
    w["ignored_keys"] = r.ignored_keys;
    w["unexpected_keys"] = r.unexpected_keys;
    j["weights"] = w;
    j["config"] = summary;
    j["num_labels"] = c.num_labels();
    j["id2label"] = has_labels ? labels : ordered_json(nullptr);
    j["problem_type"] = c.problem_type().empty() ? ordered_json(nullptr) : ordered_json(c.problem_type());
    j["pad_token_id"] = opt_id(c.pad_token_id());
    j["bos_token_id"] = opt_id(c.bos_token_id());
    j["eos_token_id"] = opt_id(c.eos_token_id());
    j["warnings"] = warnings;
    j["load_ms"] = nlohmann::json::parse(json_number(load_ms));
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  std::cout << "model:         " << dir.string() << "\n"
            << "architecture:  " << m->architecture() << " (model_type " << c.model_type() << ", task "
            << models::task_name(m->task()) << ", base prefix '" << m->base_model_prefix() << "')\n"
            << "parameters:    " << grouped(m->num_parameters()) << " (tied weights counted once)\n"
            << "weights:       " << r.weight_files.size() << " file(s), " << human_bytes(r.checkpoint_bytes)
            << ", stored";
  for (auto& [d, n] : stored) std::cout << " " << d << " x" << n;
  std::cout << "\n               in memory:";
  for (auto& [d, n] : in_memory) std::cout << " " << d << " " << grouped(n);
  std::cout << " parameters; " << r.zero_copy_tensors << " tensors used in place, " << r.converted_tensors
            << " converted" << (r.added_prefix ? "; base prefix added to the checkpoint names" : "") << "\n";
  for (auto& f : r.weight_files) std::cout << "               " << f << "\n";
  std::cout << "config:       ";
  for (auto& [k, v] : summary.items()) std::cout << " " << k << "=" << v.dump();
  std::cout << "\n";
  std::cout << "labels:        " << c.num_labels() << (has_labels ? "" : " (HF default, no id2label)");
  if (has_labels) {
    std::cout << ":";
    int shown = 0;
    for (auto& [id, name] : labels.items()) {
      if (shown++ == 12) {
        std::cout << " ...";
        break;
      }
      std::cout << " " << id << "=" << name.get<std::string>();
    }
  }
  if (!c.problem_type().empty()) std::cout << "; problem_type " << c.problem_type();
  std::cout << "\n";
  auto id = [](std::optional<int64_t> v) { return v ? std::to_string(*v) : std::string("-"); };
  std::cout << "special ids:   pad " << id(c.pad_token_id()) << ", bos " << id(c.bos_token_id()) << ", eos "
            << id(c.eos_token_id()) << "\n";
  if (!r.ignored_keys.empty()) {
    std::cout << "ignored:       " << r.ignored_keys.size() << " legacy/tied key(s):";
    for (auto& k : r.ignored_keys) std::cout << " " << k;
    std::cout << "\n";
  }
  for (auto& w : warnings) std::cout << "warning:       " << w << "\n";
  std::cout << "load time:     " << std::fixed << std::setprecision(1) << load_ms << " ms\n";
  return 0;
}

XFMR_REGISTER_COMMAND("inspect", "Show a model's architecture, parameter count, dtypes and config summary",
                      [](CLI::App& sub) {
                        static std::string model;
                        static bool json = false, keep = false;
                        static int threads = 0;
                        sub.add_option("model", model, "Model folder (config.json + safetensors) or hub id org/name[@rev]")
                            ->required();
                        sub.add_flag("--json", json, "Print as JSON");
                        sub.add_flag("--keep-dtype", keep,
                                     "Keep f16/bf16 matrices in their stored dtype (as LoadOptions::keep_stored_dtype)");
                        add_threads_option(sub, &threads);
                        return std::function<int()>([] { return run_inspect(model, json, keep, threads); });
                      });

}  // namespace
}  // namespace xfmr::cli
