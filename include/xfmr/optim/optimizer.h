// Optimizer base (torch.optim.Optimizer): parameter groups with per-group hyper-parameters,
// zero_grad, per-parameter state, and state save/restore for resuming training.
//
// Saved state = tensors (per-parameter buffers such as exp_avg, named "state.<i>.<name>" with i the
// parameter's position across all groups, as in torch's state_dict) + a JSON document (optimizer
// type, every group's hyper-parameters and parameter indices, scalar state). save()/load() store
// both in one safetensors file (the JSON in the metadata entry "xfmr.optimizer"). Restoring into
// an optimizer built over the same parameters reproduces the trajectory bit for bit.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "xfmr/core/tensor.h"

namespace xfmr::optim {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

struct ParamGroup {
  std::vector<Tensor> params;
  // Hyper-parameters by PyTorch name ("lr", "momentum", "weight_decay", "beta1", "beta2", "eps",
  // booleans as 0/1 such as "nesterov", "amsgrad", "maximize"). Keys missing when a group is added
  // are filled from the optimizer's defaults.
  std::map<std::string, double> options;

  double lr() const { return get("lr"); }
  void set_lr(double lr) { options["lr"] = lr; }
  double get(const std::string& key) const;
  bool flag(const std::string& key) const { return get(key) != 0.0; }
};

struct OptimizerState {
  NamedTensors tensors;
  std::string json;
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // Applies one update to every parameter that has a gradient.
  virtual void step() = 0;
  // torch 1.13 default (set_to_none=false): gradients are zeroed in place and later accumulated
  // into; set_to_none=true drops them (the next backward then allocates fresh ones).
  void zero_grad(bool set_to_none = false);

  std::vector<ParamGroup>& param_groups() { return groups_; }
  const std::vector<ParamGroup>& param_groups() const { return groups_; }
  void add_param_group(ParamGroup group);
  virtual std::string type_name() const = 0;

  OptimizerState state_dict() const;
  // Restores hyper-parameters and per-parameter state. The optimizer must have been built over
  // parameters of the same number, order and shapes; mismatches throw naming the entry.
  void load_state_dict(const OptimizerState& state);
  void save(const std::filesystem::path& path) const;
  void load(const std::filesystem::path& path);

  // Per-parameter state buffers ("exp_avg", "momentum_buffer", "step", ...), by parameter index.
  const std::map<std::string, Tensor>* state_of(size_t param_index) const;

 protected:
  Optimizer(std::vector<ParamGroup> groups, std::map<std::string, double> defaults);
  std::map<std::string, Tensor>& state(size_t param_index) { return state_[param_index]; }
  // Index of a parameter across all groups (position in the flattened list).
  size_t param_index(size_t group, size_t i) const;

 private:
  std::vector<ParamGroup> groups_;
  std::map<std::string, double> defaults_;
  std::map<size_t, std::map<std::string, Tensor>> state_;
};

// A group holding `params` with the given options (convenience for building optimizers).
ParamGroup make_group(std::vector<Tensor> params, std::map<std::string, double> options = {});

}  // namespace xfmr::optim
