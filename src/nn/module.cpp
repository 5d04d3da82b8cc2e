#include "xfmr/nn/module.h"

#include <set>

#include "xfmr/autograd/autograd.h"

namespace xfmr::nn {

void Module::register_parameter(const std::string& name, Tensor* slot, bool requires_grad) {
  XFMR_CHECK(slot != nullptr, type_name(), ": null parameter slot '", name, "'");
  if (slot->defined() && requires_grad && is_floating(slot->dtype())) slot->set_requires_grad(true);
  params_.push_back({name, slot, true});
}

void Module::register_buffer(const std::string& name, Tensor* slot, bool persistent) {
  buffers_.push_back({name, slot, persistent});
}

void Module::collect(const std::string& prefix, bool params, bool buffers, bool only_persistent, bool recurse,
                     std::vector<std::pair<std::string, Tensor*>>& out) const {
  if (params)
    for (const auto& s : params_)
      if (s.tensor->defined()) out.emplace_back(prefix + s.name, s.tensor);
  if (buffers)
    for (const auto& s : buffers_)
      if (s.tensor->defined() && (!only_persistent || s.persistent)) out.emplace_back(prefix + s.name, s.tensor);
  if (recurse)
    for (const auto& [n, m] : children_)
      if (m) m->collect(prefix + n + ".", params, buffers, only_persistent, true, out);
}

NamedTensors Module::named_parameters(bool recurse) const {
  std::vector<std::pair<std::string, Tensor*>> v;
  collect("", true, false, false, recurse, v);
  NamedTensors out;
  std::set<const TensorImpl*> seen;  // shared (tied) parameters are listed once, like PyTorch
  for (auto& [n, t] : v)
    if (seen.insert(&t->impl()).second) out.emplace_back(n, *t);
  return out;
}

std::vector<Tensor> Module::parameters(bool recurse) const {
  std::vector<Tensor> out;
  for (auto& [n, t] : named_parameters(recurse)) out.push_back(t);
  return out;
}

NamedTensors Module::named_buffers(bool recurse) const {
  std::vector<std::pair<std::string, Tensor*>> v;
  collect("", false, true, false, recurse, v);
  NamedTensors out;
  for (auto& [n, t] : v) out.emplace_back(n, *t);
  return out;
}

std::vector<std::pair<std::string, std::shared_ptr<Module>>> Module::named_children() const { return children_; }

NamedTensors Module::state_dict() const {
  std::vector<std::pair<std::string, Tensor*>> v;
  collect("", true, true, true, true, v);
  NamedTensors out;
  for (auto& [n, t] : v) out.emplace_back(n, *t);
  return out;
}

Tensor* Module::find_tensor(const std::string& dotted) {
  std::vector<std::pair<std::string, Tensor*>> v;
  collect("", true, true, false, true, v);
  for (auto& [n, t] : v)
    if (n == dotted) return t;
  return nullptr;
}

LoadStateDictResult Module::load_state_dict(const NamedTensors& dict, const LoadOptions& opt) {
  std::map<std::string, Tensor> m;
  for (const auto& [k, v] : dict) m[k] = v;
  return load_state_dict(m, opt);
}

LoadStateDictResult Module::load_state_dict(const std::map<std::string, Tensor>& dict, const LoadOptions& opt) {
  std::vector<std::pair<std::string, Tensor*>> slots;
  collect("", true, true, true, true, slots);
  std::vector<std::pair<std::string, Tensor*>> param_slots;
  collect("", true, false, false, true, param_slots);
  std::set<std::string> is_param;
  for (auto& [n, t] : param_slots) is_param.insert(n);
  LoadStateDictResult r;
  std::set<std::string> known;
  // Validate every shape first, so a failed load leaves the module untouched.
  for (auto& [name, slot] : slots) {
    known.insert(name);
    auto it = dict.find(name);
    if (it == dict.end()) continue;
    XFMR_CHECK(it->second.shape() == slot->shape(), type_name(), ".load_state_dict: size mismatch for ", name,
               ": checkpoint has ", it->second.describe(), ", the module expects ", slot->describe());
  }
  for (auto& [name, slot] : slots) {
    auto it = dict.find(name);
    if (it == dict.end()) {
      r.missing_keys.push_back(name);
      continue;
    }
    const Tensor& src = it->second;
    bool param = is_param.count(name) != 0;
    bool req = param && slot->requires_grad();
    if (opt.copy && slot->defined() && slot->storage()->owned() && slot->storage()->writable()) {
      slot->copy_(src);  // in place: optimizers and tied modules keep seeing the same tensor
      continue;
    }
    if (opt.copy) {
      Tensor dst = Tensor::empty(slot->shape(), slot->dtype());
      dst.copy_(src);
      *slot = dst;
    } else {
      *slot = src.dtype() == slot->dtype() ? src.detach() : src.to(slot->dtype());
    }
    if (req) slot->set_requires_grad(true);
  }
  for (const auto& [k, v] : dict)
    if (!known.count(k)) r.unexpected_keys.push_back(k);
  if (opt.strict && (!r.missing_keys.empty() || !r.unexpected_keys.empty())) {
    std::string msg = type_name() + ".load_state_dict: ";
    if (!r.missing_keys.empty()) {
      msg += "missing keys:";
      for (auto& k : r.missing_keys) msg += " " + k;
      msg += ". ";
    }
    if (!r.unexpected_keys.empty()) {
      msg += "unexpected keys:";
      for (auto& k : r.unexpected_keys) msg += " " + k;
    }
    throw Error(msg);
  }
  return r;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [n, m] : children_)
    if (m) m->train(on);
}

void Module::zero_grad() {
  for (auto& p : parameters()) p.set_grad(Tensor());
}

int64_t Module::num_parameters() const {
  int64_t n = 0;
  for (auto& p : parameters()) n += p.numel();
  return n;
}

void Module::to_owned() {
  std::vector<std::pair<std::string, Tensor*>> v;
  collect("", true, true, false, true, v);
  for (auto& [n, t] : v) {
    if (t->storage()->owned() && t->dtype() == DType::F32) continue;
    bool req = t->requires_grad();
    Tensor c = Tensor::empty(t->shape(), is_floating(t->dtype()) ? DType::F32 : t->dtype());
    c.copy_(*t);
    *t = c;
    if (req) t->set_requires_grad(true);
  }
}

}  // namespace xfmr::nn
