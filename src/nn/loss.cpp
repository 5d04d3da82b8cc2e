#include "xfmr/nn/loss.h"

namespace xfmr::nn {

CrossEntropyLoss::CrossEntropyLoss(Tensor weight, int64_t ignore_index, const std::string& reduction,
                                   float label_smoothing) {
  options.weight = std::move(weight);
  options.ignore_index = ignore_index;
  options.reduction = reduction_from_name(reduction.c_str());
  options.label_smoothing = label_smoothing;
  XFMR_CHECK(label_smoothing >= 0.0f && label_smoothing <= 1.0f,
             "CrossEntropyLoss: label_smoothing must be between 0.0 and 1.0, got ", label_smoothing);
  register_buffer("weight", &options.weight);
}

Tensor CrossEntropyLoss::forward(const Tensor& input, const Tensor& target) const {
  return functional::cross_entropy(input, target, options);
}

NLLLoss::NLLLoss(Tensor weight, int64_t ignore_index, const std::string& reduction) {
  options.weight = std::move(weight);
  options.ignore_index = ignore_index;
  options.reduction = reduction_from_name(reduction.c_str());
  register_buffer("weight", &options.weight);
}

Tensor NLLLoss::forward(const Tensor& input, const Tensor& target) const {
  return functional::nll_loss(input, target, options);
}

MSELoss::MSELoss(const std::string& r) : reduction(reduction_from_name(r.c_str())) {}

Tensor MSELoss::forward(const Tensor& input, const Tensor& target) const {
  return functional::mse_loss(input, target, reduction);
}

}  // namespace xfmr::nn
