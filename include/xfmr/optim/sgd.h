// torch.optim.SGD (PyTorch 1.13 update rule, single-tensor path):
//   d = g (+ weight_decay * p); with momentum: buf = d on the first step, else
//   buf = momentum * buf + (1 - dampening) * d; d = nesterov ? d + momentum * buf : buf;
//   p -= lr * d   (maximize negates g first). State: "momentum_buffer".
#pragma once

#include "xfmr/optim/optimizer.h"

namespace xfmr::optim {

struct SGDOptions {
  double lr = 1e-3;  // torch requires lr; pass it explicitly
  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;
  bool nesterov = false;
  bool maximize = false;
};

class SGD : public Optimizer {
 public:
  SGD(std::vector<Tensor> params, const SGDOptions& options);
  SGD(std::vector<ParamGroup> groups, const SGDOptions& options);
  void step() override;
  std::string type_name() const override { return "SGD"; }

  static std::map<std::string, double> defaults(const SGDOptions& o);
};

}  // namespace xfmr::optim
