// Activation modules (torch.nn.ReLU, torch.nn.GELU) - parameter-free wrappers of the
// differentiable functions, for building models module by module.
#pragma once

#include <string>

#include "xfmr/nn/module.h"

namespace xfmr::nn {

class ReLU : public Module {
 public:
  Tensor forward(const Tensor& x) const;
  Tensor operator()(const Tensor& x) const { return forward(x); }
  std::string type_name() const override { return "ReLU"; }
};

// approximate: "none" (exact erf form, PyTorch's default) or "tanh".
class GELU : public Module {
 public:
  explicit GELU(const std::string& approximate = "none");
  Tensor forward(const Tensor& x) const;
  Tensor operator()(const Tensor& x) const { return forward(x); }
  std::string type_name() const override { return "GELU"; }

  bool tanh_approximation;
};

}  // namespace xfmr::nn
