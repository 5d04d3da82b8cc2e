// Loss modules (torch.nn.CrossEntropyLoss, NLLLoss, MSELoss) with PyTorch's constructor arguments.
#pragma once

#include <string>

#include "xfmr/nn/functional.h"
#include "xfmr/nn/module.h"

namespace xfmr::nn {

class CrossEntropyLoss : public Module {
 public:
  // reduction: "mean" | "sum" | "none".
  explicit CrossEntropyLoss(Tensor weight = Tensor(), int64_t ignore_index = -100, const std::string& reduction = "mean",
                            float label_smoothing = 0.0f);
  Tensor forward(const Tensor& input, const Tensor& target) const;
  Tensor operator()(const Tensor& input, const Tensor& target) const { return forward(input, target); }
  std::string type_name() const override { return "CrossEntropyLoss"; }

  functional::CrossEntropyOptions options;
};

class NLLLoss : public Module {
 public:
  explicit NLLLoss(Tensor weight = Tensor(), int64_t ignore_index = -100, const std::string& reduction = "mean");
  Tensor forward(const Tensor& input, const Tensor& target) const;
  Tensor operator()(const Tensor& input, const Tensor& target) const { return forward(input, target); }
  std::string type_name() const override { return "NLLLoss"; }

  functional::NllLossOptions options;
};

class MSELoss : public Module {
 public:
  explicit MSELoss(const std::string& reduction = "mean");
  Tensor forward(const Tensor& input, const Tensor& target) const;
  Tensor operator()(const Tensor& input, const Tensor& target) const { return forward(input, target); }
  std::string type_name() const override { return "MSELoss"; }

  Reduction reduction;
};

}  // namespace xfmr::nn
