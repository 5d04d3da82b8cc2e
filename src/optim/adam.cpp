#include "xfmr/optim/adam.h"

#include <cmath>

#include "update_util.h"

namespace xfmr::optim {
namespace {

struct AdamUpdate {
  float* p;
  const float* g;
  float *m, *v, *vmax;
  float sign, decay, l2, b1, b2, one_b1, one_b2, bc2_sqrt, neg_step_size, eps;
};

// One element range of the update, branch-free so that it vectorises: sign = -1 for maximize,
// decay = 1 - lr * wd for AdamW (1 otherwise: exact), l2 = wd for Adam (0 otherwise: exact).
template <bool kAmsgrad>
void adam_update(const AdamUpdate& u, int64_t lo, int64_t hi) {
  float* __restrict p = u.p;
  const float* __restrict g = u.g;
  float* __restrict m = u.m;
  float* __restrict v = u.v;
  float* __restrict vmax = u.vmax;
  for (int64_t j = lo; j < hi; ++j) {
    float pj = p[j] * u.decay;
    float gr = std::fma(u.l2, pj, u.sign * g[j]);
    float mj = std::fma(u.one_b1, gr, m[j] * u.b1);
    float vj = v[j] * u.b2 + u.one_b2 * gr * gr;
    m[j] = mj;
    v[j] = vj;
    if constexpr (kAmsgrad) {
      vj = vmax[j] > vj ? vmax[j] : vj;
      vmax[j] = vj;
    }
    float denom = std::sqrt(vj) / u.bc2_sqrt + u.eps;
    p[j] = pj + u.neg_step_size * mj / denom;
  }
}

}  // namespace

std::map<std::string, double> Adam::defaults(const AdamOptions& o) {
  XFMR_CHECK(o.lr >= 0.0, "Adam: invalid learning rate ", o.lr);
  XFMR_CHECK(o.eps >= 0.0, "Adam: invalid epsilon ", o.eps);
  XFMR_CHECK(o.beta1 >= 0.0 && o.beta1 < 1.0, "Adam: invalid beta parameter at index 0: ", o.beta1);
  XFMR_CHECK(o.beta2 >= 0.0 && o.beta2 < 1.0, "Adam: invalid beta parameter at index 1: ", o.beta2);
  XFMR_CHECK(o.weight_decay >= 0.0, "Adam: invalid weight_decay ", o.weight_decay);
  return {{"lr", o.lr},
          {"beta1", o.beta1},
          {"beta2", o.beta2},
          {"eps", o.eps},
          {"weight_decay", o.weight_decay},
          {"amsgrad", o.amsgrad ? 1.0 : 0.0},
          {"maximize", o.maximize ? 1.0 : 0.0}};
}

Adam::Adam(std::vector<Tensor> params, const AdamOptions& o) : Adam({make_group(std::move(params))}, o, false) {}
Adam::Adam(std::vector<ParamGroup> groups, const AdamOptions& o) : Adam(std::move(groups), o, false) {}
Adam::Adam(std::vector<ParamGroup> groups, const AdamOptions& o, bool decoupled)
    : Optimizer(std::move(groups), defaults(o)), decoupled_(decoupled) {}

AdamW::AdamW(std::vector<Tensor> params, const AdamOptions& o) : Adam({make_group(std::move(params))}, o, true) {}
AdamW::AdamW(std::vector<ParamGroup> groups, const AdamOptions& o) : Adam(std::move(groups), o, true) {}

void Adam::step() {
  const char* op = decoupled_ ? "AdamW.step" : "Adam.step";
  auto& groups = param_groups();
  for (size_t gi = 0; gi < groups.size(); ++gi) {
    const ParamGroup& g = groups[gi];
    const double lr = g.lr(), beta1 = g.get("beta1"), beta2 = g.get("beta2"), wd = g.get("weight_decay");
    const bool amsgrad = g.flag("amsgrad"), maximize = g.flag("maximize");
    for (size_t i = 0; i < g.params.size(); ++i) {
      const Tensor& p = g.params[i];
      Tensor grad = detail::grad_of(p, op);
      if (!grad.defined()) continue;
      auto& st = state(param_index(gi, i));
      if (!st.count("step")) {
        st["step"] = Tensor::scalar(0.0);
        st["exp_avg"] = Tensor::zeros(p.shape());
        st["exp_avg_sq"] = Tensor::zeros(p.shape());
      }
      if (amsgrad && !st.count("max_exp_avg_sq")) st["max_exp_avg_sq"] = Tensor::zeros(p.shape());
      // torch 1.13: step_t += 1 (an f32 tensor); the bias corrections use its value as a python float.
      float* step_t = st["step"].data<float>();
      *step_t += 1.0f;
      const double step = *step_t;
      const double bc1 = 1.0 - std::pow(beta1, step), bc2 = 1.0 - std::pow(beta2, step);
      const float step_size = static_cast<float>(lr / bc1), bc2_sqrt = static_cast<float>(std::sqrt(bc2));
      const float b1 = static_cast<float>(beta1), b2 = static_cast<float>(beta2);
      const float one_b1 = static_cast<float>(1.0 - beta1), one_b2 = static_cast<float>(1.0 - beta2);
      const float eps = static_cast<float>(g.get("eps"));
      const float l2 = decoupled_ ? 0.0f : static_cast<float>(wd);
      const float decay = decoupled_ ? static_cast<float>(1.0 - lr * wd) : 1.0f;
      float* pp = detail::param_data(p, op);
      const float* pg = grad.data<float>();
      float* m = st["exp_avg"].data<float>();
      float* v = st["exp_avg_sq"].data<float>();
      float* vmax = amsgrad ? st["max_exp_avg_sq"].data<float>() : nullptr;
      AdamUpdate u{pp, pg, m, v, vmax, maximize ? -1.0f : 1.0f, decay, l2, b1, b2, one_b1, one_b2, bc2_sqrt,
                   -step_size, eps};
      parallel_for(0, p.numel(), detail::kGrain, [&](int64_t lo, int64_t hi) {
        if (vmax)
          adam_update<true>(u, lo, hi);
        else
          adam_update<false>(u, lo, hi);
      });
    }
  }
}

}  // namespace xfmr::optim
