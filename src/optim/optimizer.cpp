#include "xfmr/optim/optimizer.h"

#include <nlohmann/json.hpp>

#include "xfmr/io/safetensors.h"

namespace xfmr::optim {

double ParamGroup::get(const std::string& key) const {
  auto it = options.find(key);
  XFMR_CHECK(it != options.end(), "optimizer: parameter group has no hyper-parameter '", key, "'");
  return it->second;
}

ParamGroup make_group(std::vector<Tensor> params, std::map<std::string, double> options) {
  return ParamGroup{std::move(params), std::move(options)};
}

Optimizer::Optimizer(std::vector<ParamGroup> groups, std::map<std::string, double> defaults)
    : defaults_(std::move(defaults)) {
  XFMR_CHECK(!groups.empty(), "optimizer got an empty parameter list");
  for (auto& g : groups) add_param_group(std::move(g));
}

void Optimizer::add_param_group(ParamGroup group) {
  XFMR_CHECK(!group.params.empty(), "optimizer: a parameter group has no parameters");
  for (const Tensor& p : group.params) {
    XFMR_CHECK(p.defined(), "optimizer: undefined parameter");
    XFMR_CHECK(p.dtype() == DType::F32, "optimizer: parameters must be f32, got ", p.describe());
    XFMR_CHECK(p.requires_grad(), "optimizer: parameter ", p.describe(), " does not require grad (a non-leaf or ",
               "frozen tensor cannot be optimized)");
    for (const auto& g : groups_)
      for (const Tensor& q : g.params)
        XFMR_CHECK(!q.is_same(p), "optimizer: some parameters appear in more than one parameter group");
  }
  for (size_t i = 0; i < group.params.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      XFMR_CHECK(!group.params[i].is_same(group.params[j]),
                 "optimizer: a parameter group contains the same parameter twice (it would be updated twice)");
  for (const auto& [k, v] : defaults_) group.options.emplace(k, v);
  for (const auto& [k, v] : group.options)
    XFMR_CHECK(defaults_.count(k), "optimizer: unknown hyper-parameter '", k, "' in a parameter group");
  groups_.push_back(std::move(group));
}

void Optimizer::zero_grad(bool set_to_none) {
  for (auto& g : groups_)
    for (Tensor& p : g.params) {
      Tensor gr = p.grad();
      if (!gr.defined()) continue;
      if (set_to_none)
        p.set_grad(Tensor());
      else
        gr.zero_();
    }
}

size_t Optimizer::param_index(size_t group, size_t i) const {
  size_t idx = 0;
  for (size_t g = 0; g < group; ++g) idx += groups_[g].params.size();
  return idx + i;
}

const std::map<std::string, Tensor>* Optimizer::state_of(size_t param_index) const {
  auto it = state_.find(param_index);
  return it == state_.end() ? nullptr : &it->second;
}

OptimizerState Optimizer::state_dict() const {
  nlohmann::json j;
  j["type"] = type_name();
  j["param_groups"] = nlohmann::json::array();
  size_t idx = 0;
  for (const auto& g : groups_) {
    nlohmann::json jg;
    jg["options"] = g.options;
    jg["params"] = nlohmann::json::array();
    jg["shapes"] = nlohmann::json::array();
    for (const Tensor& p : g.params) {
      jg["params"].push_back(idx++);
      jg["shapes"].push_back(p.shape().vec());
    }
    j["param_groups"].push_back(jg);
  }
  OptimizerState s;
  nlohmann::json js = nlohmann::json::object();
  for (const auto& [i, m] : state_) {
    nlohmann::json names = nlohmann::json::array();
    for (const auto& [name, t] : m) {
      s.tensors.emplace_back("state." + std::to_string(i) + "." + name, t);
      names.push_back(name);
    }
    js[std::to_string(i)] = names;
  }
  j["state"] = js;
  s.json = j.dump();
  return s;
}

void Optimizer::load_state_dict(const OptimizerState& s) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(s.json);
  } catch (const nlohmann::json::exception& e) {
    detail::fail("optimizer.load_state_dict: malformed JSON: ", e.what());
  }
  try {
    XFMR_CHECK(j.at("type").get<std::string>() == type_name(), "optimizer.load_state_dict: the state is for ",
               j.at("type").get<std::string>(), ", this optimizer is ", type_name());
    const auto& jgs = j.at("param_groups");
    XFMR_CHECK(jgs.size() == groups_.size(), "optimizer.load_state_dict: the state has ", jgs.size(),
               " parameter groups, the optimizer ", groups_.size());
    for (size_t g = 0; g < groups_.size(); ++g) {
      const auto& shapes = jgs[g].at("shapes");
      XFMR_CHECK(shapes.size() == groups_[g].params.size(), "optimizer.load_state_dict: group ", g, " has ",
                 shapes.size(), " parameters in the state, ", groups_[g].params.size(), " in the optimizer");
      for (size_t i = 0; i < shapes.size(); ++i)
        XFMR_CHECK(Shape(shapes[i].get<std::vector<int64_t>>()) == groups_[g].params[i].shape(),
                   "optimizer.load_state_dict: parameter ", i, " of group ", g, " has shape ",
                   Shape(shapes[i].get<std::vector<int64_t>>()), " in the state but ",
                   groups_[g].params[i].describe(), " in the optimizer");
    }
    std::map<std::string, Tensor> by_name;
    for (const auto& [n, t] : s.tensors) by_name[n] = t;
    std::map<size_t, std::map<std::string, Tensor>> new_state;
    for (const auto& [key, names] : j.at("state").items()) {
      size_t i = std::stoul(key);
      for (const auto& jn : names) {
        std::string name = jn.get<std::string>();
        std::string full = "state." + key + "." + name;
        auto it = by_name.find(full);
        XFMR_CHECK(it != by_name.end(), "optimizer.load_state_dict: missing tensor ", full);
        new_state[i][name] = it->second.to(DType::F32).clone();  // owned, writable
      }
    }
    for (size_t g = 0; g < groups_.size(); ++g)
      for (const auto& [k, v] : jgs[g].at("options").items()) groups_[g].options[k] = v.get<double>();
    state_ = std::move(new_state);
  } catch (const nlohmann::json::exception& e) {
    detail::fail("optimizer.load_state_dict: malformed state: ", e.what());
  }
}

void Optimizer::save(const std::filesystem::path& path) const {
  OptimizerState s = state_dict();
  io::save_safetensors(path, s.tensors, {{"xfmr.optimizer", s.json}});
}

void Optimizer::load(const std::filesystem::path& path) {
  io::SafetensorsFile f = io::SafetensorsFile::open(path);
  auto it = f.metadata().find("xfmr.optimizer");
  XFMR_CHECK(it != f.metadata().end(), path.string(), ": no optimizer state (metadata entry xfmr.optimizer)");
  OptimizerState s;
  s.json = it->second;
  for (const auto& info : f.tensors()) s.tensors.emplace_back(info.name, f.get(info.name));
  load_state_dict(s);
}

}  // namespace xfmr::optim
