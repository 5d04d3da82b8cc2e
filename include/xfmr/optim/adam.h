// torch.optim.Adam and AdamW (PyTorch 1.13 update rule, single-tensor path). Step t counts from 1:
//   Adam:  g += weight_decay * p (coupled L2)         AdamW: p *= 1 - lr * weight_decay
//   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;  (amsgrad: vmax = max(vmax, v), used for v)
//   p -= (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
// State: "step" (f32 scalar tensor, like torch), "exp_avg", "exp_avg_sq" (+ "max_exp_avg_sq").
#pragma once

#include "xfmr/optim/optimizer.h"

namespace xfmr::optim {

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9, beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;  // AdamW's default is 1e-2 (see AdamW::default_options())
  bool amsgrad = false;
  bool maximize = false;
};

class Adam : public Optimizer {
 public:
  Adam(std::vector<Tensor> params, const AdamOptions& options = {});
  Adam(std::vector<ParamGroup> groups, const AdamOptions& options = {});
  void step() override;
  std::string type_name() const override { return decoupled_ ? "AdamW" : "Adam"; }

  static std::map<std::string, double> defaults(const AdamOptions& o);

 protected:
  Adam(std::vector<ParamGroup> groups, const AdamOptions& options, bool decoupled);
  bool decoupled_ = false;
};

class AdamW : public Adam {
 public:
  // torch.optim.AdamW defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight_decay 1e-2.
  static AdamOptions default_options() {
    AdamOptions o;
    o.weight_decay = 1e-2;
    return o;
  }
  AdamW(std::vector<Tensor> params, const AdamOptions& options = default_options());
  AdamW(std::vector<ParamGroup> groups, const AdamOptions& options = default_options());
};

}  // namespace xfmr::optim
