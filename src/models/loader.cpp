// Checkpoint -> model: HF's _load_pretrained_model rules, as data from the ArchitectureSpec.
//
//  1. Names: a head model reading a base checkpoint adds the base prefix ("h.0.attn..." ->
//     "transformer.h.0.attn..."); a base model reading a head checkpoint removes it (head weights
//     become unexpected). Old LayerNorm names gamma/beta are renamed weight/bias.
//  2. Tied weights are parameters of one module only (the word embeddings); a stored alias
//     (cls.predictions.decoder.weight, lm_head.weight, ...) is dropped, or used when its target is
//     absent. Legacy persistent buffers (position_ids, GPT-2 attn.bias/masked_bias) and HF's
//     _keys_to_ignore_on_load_unexpected are dropped silently.
//  3. Every parameter must be found with its exact shape. Missing or mismatched *head* weights are
//     newly initialised when allowed (a new head was asked for); anything else is an error naming
//     the weights. Unused checkpoint weights produce a warning, like HF.
//  4. F32 weights are used in place (zero-copy views of the mapped files); F16/BF16 are upcast to
//     owned f32, or kept as they are (matrices only) with keep_stored_dtype.
#include "loader.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <regex>
#include <set>
#include <unordered_map>

#include "blocks.h"
#include "families.h"

namespace xfmr::models::detail {

void warn(const LoadOptions& options, const std::string& message) {
  if (options.on_warning)
    options.on_warning(message);
  else
    std::cerr << "xfmr: warning: " << message << "\n";
}

namespace {

bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }
bool ends_with(const std::string& s, const std::string& p) {
  return s.size() >= p.size() && s.compare(s.size() - p.size(), p.size(), p) == 0;
}

std::string list(const std::vector<std::string>& v, size_t max_items = 40) {
  std::string s;
  for (size_t i = 0; i < v.size() && i < max_items; ++i) s += (i ? ", " : "") + v[i];
  if (v.size() > max_items) s += ", ... (" + std::to_string(v.size() - max_items) + " more)";
  return s;
}

std::string shape_str(const Shape& s) { return s.str(); }

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif

// Populates the page tables of every memory-mapped parameter (one madvise per merged range).
void prefault_mapped(nn::Module& model) {
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  std::vector<std::pair<uintptr_t, uintptr_t>> ranges;
  for (auto& [n, t] : model.named_parameters()) {
    if (t.storage()->owned() || t.numel() == 0) continue;
    auto b = reinterpret_cast<uintptr_t>(t.raw_data());
    ranges.emplace_back(b & ~(page - 1), (b + t.nbytes() + page - 1) & ~(page - 1));
  }
  std::sort(ranges.begin(), ranges.end());
  std::vector<std::pair<uintptr_t, uintptr_t>> merged;
  for (auto& r : ranges) {
    if (!merged.empty() && r.first <= merged.back().second)
      merged.back().second = std::max(merged.back().second, r.second);
    else
      merged.push_back(r);
  }
  for (auto& [b, e] : merged) {
    // Older kernels lack MADV_POPULATE_READ (EINVAL): the readahead hint is the best we can do.
    if (madvise(reinterpret_cast<void*>(b), e - b, MADV_POPULATE_READ) != 0)
      madvise(reinterpret_cast<void*>(b), e - b, MADV_WILLNEED);
  }
}

}  // namespace

void load_weights(PreTrainedModel& model, const io::WeightFiles& files, const ArchitectureSpec& spec,
                  const LoadOptions& options, bool allow_new_head, LoadReport& report) {
  const std::string& who = spec.name;
  for (auto& f : files.files()) report.weight_files.push_back(f.label());
  report.checkpoint_bytes = files.total_bytes();

  // Model slots (parameters and persistent buffers), by name.
  std::unordered_map<std::string, Tensor> slots;
  std::vector<std::string> slot_order;
  for (auto& [n, t] : model.state_dict()) {
    slots.emplace(n, t);
    slot_order.push_back(n);
  }

  const std::string prefix = model.base_model_prefix().empty() ? "" : model.base_model_prefix() + ".";
  const std::vector<std::string> ckpt = files.names();
  bool has_prefix = false, expects_prefix = false;
  if (!prefix.empty()) {
    for (auto& k : ckpt) has_prefix = has_prefix || starts_with(k, prefix);
    for (auto& n : slot_order) expects_prefix = expects_prefix || starts_with(n, prefix);
  }
  const bool add_prefix = expects_prefix && !has_prefix;
  const bool remove_prefix = has_prefix && !expects_prefix;
  report.added_prefix = add_prefix;
  report.removed_prefix = remove_prefix;

  // Tied aliases (model-side names) -> targets.
  std::map<std::string, std::string> alias_to_target;
  if (model.config().tie_word_embeddings())
    for (auto& [a, t] : spec.tied) alias_to_target[a] = t;
  for (auto& [a, t] : spec.tied_always) alias_to_target[a] = t;

  std::vector<std::regex> ignore_unexpected, ignore_missing;
  for (auto& p : legacy_buffer_patterns()) ignore_unexpected.emplace_back(p);
  for (auto& p : spec.ignore_unexpected) ignore_unexpected.emplace_back(p);
  for (auto& p : spec.ignore_missing) ignore_missing.emplace_back(p);
  auto matches = [](const std::vector<std::regex>& rs, const std::string& s) {
    for (auto& r : rs)
      if (std::regex_search(s, r)) return true;
    return false;
  };

  // 1. Map checkpoint names to model names.
  std::map<std::string, std::string> source;   // model name -> checkpoint name
  std::map<std::string, std::string> aliases;  // alias model name -> checkpoint name
  for (const std::string& k : ckpt) {
    std::string m = k;
    if (ends_with(m, "LayerNorm.gamma")) m = m.substr(0, m.size() - 5) + "weight";
    if (ends_with(m, "LayerNorm.beta")) m = m.substr(0, m.size() - 4) + "bias";
    if (add_prefix && !slots.count(m) && !alias_to_target.count(m)) m = prefix + m;
    if (remove_prefix && starts_with(m, prefix)) m = m.substr(prefix.size());
    if (slots.count(m)) {
      XFMR_CHECK(!source.count(m), who, ": checkpoint names '", source[m], "' and '", k, "' both map to ", m);
      source[m] = k;
    } else if (alias_to_target.count(m)) {
      aliases[m] = k;
    } else if (matches(ignore_unexpected, m) || matches(ignore_unexpected, k)) {
      report.ignored_keys.push_back(k);
    } else {
      report.unexpected_keys.push_back(k);
    }
  }
  // A tied alias is used only when its target is absent (e.g. a checkpoint storing just the decoder).
  for (auto& [alias, k] : aliases) {
    const std::string& target = alias_to_target[alias];
    if (!source.count(target) && slots.count(target))
      source[target] = k;
    else
      report.ignored_keys.push_back(k);
  }

  // 2. Bind.
  // Head weights may be newly initialised (when allowed); so may the pooler of a head model, which
  // HF adds to the body only for some heads (a MaskedLM checkpoint has none).
  auto is_head_key = [&](const std::string& n) {
    if (model.task() == Task::Base || prefix.empty() || !expects_prefix) return false;
    return !starts_with(n, prefix) || starts_with(n, prefix + "pooler.");
  };
  std::vector<std::string> missing, mismatched, bad;
  std::set<std::string> to_init;
  std::set<DType> stored;
  for (const std::string& n : slot_order) {
    const Tensor& slot = slots[n];
    auto it = source.find(n);
    if (it == source.end()) {
      if (matches(ignore_missing, n) || model.computed_weight(n)) continue;  // keeps its computed value
      missing.push_back(n);
      continue;
    }
    const io::TensorInfo& info = files.info(it->second);
    if (info.shape != slot.shape()) {
      mismatched.push_back(n + " (checkpoint " + it->second + " " + shape_str(info.shape) + ", model " +
                           shape_str(slot.shape()) + ")");
      continue;
    }
    XFMR_CHECK(is_floating(info.dtype), who, ": checkpoint tensor ", it->second, " has dtype ",
               dtype_name(info.dtype), ", a floating-point weight is expected");
    stored.insert(info.dtype);
    Tensor t = files.get(it->second);
    if (t.dtype() == DType::F32) {
      ++report.zero_copy_tensors;
    } else if (options.keep_stored_dtype && t.dim() >= 2 && (t.dtype() == DType::F16 || t.dtype() == DType::BF16)) {
      ++report.zero_copy_tensors;
    } else {
      t = t.to(DType::F32);
      ++report.converted_tensors;
    }
    rebind(slot, t);
  }
  if (stored.size() == 1)
    report.stored_dtype = dtype_safetensors_name(*stored.begin());
  else if (stored.size() > 1)
    report.stored_dtype = "mixed";

  // 3. Missing / mismatched: new head weights or an error.
  std::vector<std::string> fatal_missing, fatal_mismatched;
  for (auto& n : missing) {
    if (allow_new_head && is_head_key(n)) {
      to_init.insert(n);
      report.missing_keys.push_back(n);
    } else {
      fatal_missing.push_back(n);
    }
  }
  for (auto& d : mismatched) {
    std::string n = d.substr(0, d.find(' '));
    if (allow_new_head && is_head_key(n)) {
      to_init.insert(n);
      report.mismatched_keys.push_back(d);
    } else {
      fatal_mismatched.push_back(d);
    }
  }
  if (!fatal_missing.empty() || !fatal_mismatched.empty()) {
    std::string msg = who + ": cannot load " + report.dir.string() + ": ";
    if (!fatal_missing.empty()) {
      msg += std::to_string(fatal_missing.size()) + " weight(s) missing from the checkpoint: " + list(fatal_missing);
      bool head_only = true;
      for (auto& n : fatal_missing) head_only = head_only && is_head_key(n);
      if (head_only)
        msg += " (these belong to the task head: pass LoadOptions{.allow_new_head = true} or a num_labels/task to "
               "initialise a new head)";
      else if (!report.unexpected_keys.empty())
        msg += "; unused checkpoint weights: " + list(report.unexpected_keys, 10);
      msg += ". ";
    }
    if (!fatal_mismatched.empty())
      msg += "size mismatch: " + list(fatal_mismatched) + ". ";
    xfmr::detail::fail(msg, "(model_type '", model.config().model_type(), "', ", ckpt.size(), " tensors in ",
                 list(report.weight_files, 4), ")");
  }
  if (!to_init.empty()) {
    Generator gen(options.seed);
    model.init_weights(gen, [&](const std::string& n) { return to_init.count(n) != 0; });
    std::vector<std::string> names(to_init.begin(), to_init.end());
    warn(options, "Some weights of " + who + " were not initialized from the model checkpoint at " +
                      report.dir.string() + " and are newly initialized: [" + list(names) +
                      "]\nYou should probably TRAIN this model on a down-stream task to be able to use it for "
                      "predictions and inference.");
  }
  if (!report.unexpected_keys.empty())
    warn(options, "Some weights of the model checkpoint at " + report.dir.string() +
                      " were not used when initializing " + who + ": [" + list(report.unexpected_keys) +
                      "]\n- This IS expected if you are initializing " + who +
                      " from the checkpoint of a model trained on another task or with another architecture.");
  if (options.prefault) prefault_mapped(model);
  // Inference weights: no gradients (make_trainable() turns them on with owned copies).
  for (auto& [n, t] : model.named_parameters()) {
    XFMR_CHECK(!is_placeholder(t), who, ": parameter ", n, " was neither loaded nor initialised");
    Tensor h = t;
    h.set_requires_grad(false);
  }
}

std::vector<std::string> legacy_buffer_patterns() {
  // Persistent buffers older transformers versions saved; HF drops them on load.
  return {R"((^|\.)position_ids$)", R"((^|\.)embeddings\.token_type_ids$)", R"((^|\.)h\.\d+\.attn\.(bias|masked_bias)$)"};
}

}  // namespace xfmr::models::detail
