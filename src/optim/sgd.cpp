#include "xfmr/optim/sgd.h"

#include <cmath>

#include "update_util.h"

namespace xfmr::optim {

std::map<std::string, double> SGD::defaults(const SGDOptions& o) {
  XFMR_CHECK(o.lr >= 0.0, "SGD: invalid learning rate ", o.lr);
  XFMR_CHECK(o.momentum >= 0.0, "SGD: invalid momentum ", o.momentum);
  XFMR_CHECK(o.weight_decay >= 0.0, "SGD: invalid weight_decay ", o.weight_decay);
  XFMR_CHECK(!o.nesterov || (o.momentum > 0.0 && o.dampening == 0.0),
             "SGD: nesterov momentum requires a momentum and zero dampening");
  return {{"lr", o.lr},
          {"momentum", o.momentum},
          {"dampening", o.dampening},
          {"weight_decay", o.weight_decay},
          {"nesterov", o.nesterov ? 1.0 : 0.0},
          {"maximize", o.maximize ? 1.0 : 0.0}};
}

SGD::SGD(std::vector<Tensor> params, const SGDOptions& o) : Optimizer({make_group(std::move(params))}, defaults(o)) {}
SGD::SGD(std::vector<ParamGroup> groups, const SGDOptions& o) : Optimizer(std::move(groups), defaults(o)) {}

void SGD::step() {
  const char* op = "SGD.step";
  auto& groups = param_groups();
  for (size_t gi = 0; gi < groups.size(); ++gi) {
    const ParamGroup& g = groups[gi];
    const float lr = static_cast<float>(g.lr()), momentum = static_cast<float>(g.get("momentum"));
    const float dampening1 = static_cast<float>(1.0 - g.get("dampening"));
    const float wd = static_cast<float>(g.get("weight_decay"));
    const bool nesterov = g.flag("nesterov"), maximize = g.flag("maximize");
    const bool use_momentum = g.get("momentum") != 0.0;
    for (size_t i = 0; i < g.params.size(); ++i) {
      const Tensor& p = g.params[i];
      Tensor grad = detail::grad_of(p, op);
      if (!grad.defined()) continue;
      float* pp = detail::param_data(p, op);
      const float* pg = grad.data<float>();
      const int64_t n = p.numel();
      float* buf = nullptr;
      bool first = false;
      if (use_momentum) {
        auto& st = state(param_index(gi, i));
        auto it = st.find("momentum_buffer");
        if (it == st.end()) {
          it = st.emplace("momentum_buffer", Tensor::empty(p.shape())).first;
          first = true;
        }
        buf = it->second.data<float>();
      }
      parallel_for(0, n, detail::kGrain, [&](int64_t lo, int64_t hi) {
        for (int64_t j = lo; j < hi; ++j) {
          float d = maximize ? -pg[j] : pg[j];
          if (wd != 0.0f) d = std::fma(wd, pp[j], d);
          if (buf) {
            if (first)
              buf[j] = d;
            else
              buf[j] = std::fma(dampening1, d, buf[j] * momentum);
            d = nesterov ? std::fma(momentum, buf[j], d) : buf[j];
          }
          pp[j] = std::fma(-lr, d, pp[j]);
        }
      });
    }
  }
}

}  // namespace xfmr::optim
