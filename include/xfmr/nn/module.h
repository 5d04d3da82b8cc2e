// nn::Module: the base of every layer and model, mirroring torch.nn.Module - named parameters,
// buffers and submodules, PyTorch-compatible state_dict names ("layers.0.self_attn.in_proj_weight"),
// train()/eval() mode, zero_grad().
//
// A module registers pointers to its own Tensor members, so load_state_dict can replace a
// parameter by another tensor (e.g. a read-only view of a memory-mapped checkpoint: zero-copy
// inference) and the member sees the new tensor. Modules are therefore not copyable; hold them by
// std::shared_ptr.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "xfmr/core/tensor.h"

namespace xfmr::nn {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

struct LoadStateDictResult {
  std::vector<std::string> missing_keys;     // expected by the module, absent from the dict
  std::vector<std::string> unexpected_keys;  // in the dict, unknown to the module
};

struct LoadOptions {
  bool strict = true;  // throw when keys are missing or unexpected (after the lists are built)
  // true: copy values into the module's own (writable) tensors - needed for training.
  // false: use the given tensors as they are (zero-copy; converted only when the dtype differs).
  bool copy = true;
};

class Module {
 public:
  Module() = default;
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // ---- traversal (PyTorch order: own entries in registration order, then submodules) ----
  NamedTensors named_parameters(bool recurse = true) const;
  std::vector<Tensor> parameters(bool recurse = true) const;
  NamedTensors named_buffers(bool recurse = true) const;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> named_children() const;
  // Parameters + persistent buffers, with PyTorch's dotted names.
  NamedTensors state_dict() const;
  LoadStateDictResult load_state_dict(const NamedTensors& dict, const LoadOptions& opt = {});
  LoadStateDictResult load_state_dict(const std::map<std::string, Tensor>& dict, const LoadOptions& opt = {});
  // Looks up a parameter or buffer by dotted name (nullptr when absent).
  Tensor* find_tensor(const std::string& dotted_name);

  // ---- mode ----
  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }

  void zero_grad();
  int64_t num_parameters() const;
  // Makes every parameter and buffer an owned, writable f32 copy (e.g. before fine-tuning
  // memory-mapped weights).
  void to_owned();

  virtual std::string type_name() const { return "Module"; }

 protected:
  // `slot` points at a Tensor member of this module.
  void register_parameter(const std::string& name, Tensor* slot, bool requires_grad = true);
  void register_buffer(const std::string& name, Tensor* slot, bool persistent = true);
  template <typename M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> m) {
    children_.emplace_back(name, m);
    return m;
  }

 private:
  struct Slot {
    std::string name;
    Tensor* tensor;
    bool persistent = true;
  };
  std::vector<Slot> params_, buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
  void collect(const std::string& prefix, bool params, bool buffers, bool only_persistent, bool recurse,
               std::vector<std::pair<std::string, Tensor*>>& out) const;
};

// A list of modules named "0", "1", ... (torch.nn.ModuleList).
template <typename M>
class ModuleList : public Module {
 public:
  void push_back(std::shared_ptr<M> m) { items_.push_back(register_module(std::to_string(items_.size()), m)); }
  size_t size() const { return items_.size(); }
  const std::shared_ptr<M>& operator[](size_t i) const { return items_[i]; }
  auto begin() const { return items_.begin(); }
  auto end() const { return items_.end(); }
  std::string type_name() const override { return "ModuleList"; }

 private:
  std::vector<std::shared_ptr<M>> items_;
};

}  // namespace xfmr::nn
