#include "xfmr/optim/sgd.h"

#include <cmath>

#include "update_util.h"

namespace xfmr::optim {
namespace {

struct SgdUpdate {
  float* p;
  const float* g;
  float* buf;
  float sign, wd, neg_lr, momentum, dampening1;
};

// Branch-free (vectorisable) update of one element range; wd = 0 adds exactly nothing.
template <bool kMomentum, bool kFirst, bool kNesterov>
void sgd_update(const SgdUpdate& u, int64_t lo, int64_t hi) {
  float* __restrict p = u.p;
  const float* __restrict g = u.g;
  float* __restrict buf = u.buf;
  for (int64_t j = lo; j < hi; ++j) {
    float d = std::fma(u.wd, p[j], u.sign * g[j]);
    if constexpr (kMomentum) {
      float b = kFirst ? d : std::fma(u.dampening1, d, buf[j] * u.momentum);
      buf[j] = b;
      d = kNesterov ? std::fma(u.momentum, b, d) : b;
    }
    p[j] = std::fma(u.neg_lr, d, p[j]);
  }
}

}  // namespace

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
      SgdUpdate u{pp, pg, buf, maximize ? -1.0f : 1.0f, wd, -lr, momentum, dampening1};
      parallel_for(0, n, detail::kGrain, [&](int64_t lo, int64_t hi) {
        if (!buf)
          sgd_update<false, false, false>(u, lo, hi);
        else if (first)
          nesterov ? sgd_update<true, true, true>(u, lo, hi) : sgd_update<true, true, false>(u, lo, hi);
        else
          nesterov ? sgd_update<true, false, true>(u, lo, hi) : sgd_update<true, false, false>(u, lo, hi);
      });
    }
  }
}

}  // namespace xfmr::optim
