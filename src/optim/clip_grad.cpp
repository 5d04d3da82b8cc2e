#include "xfmr/optim/clip_grad.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "xfmr/core/parallel.h"
#include "xfmr/kernels/elementwise.h"
#include "xfmr/kernels/reduce.h"

namespace xfmr::optim {
namespace {

// Sum of squares in f64 over fixed 16k-element blocks (8 independent lanes each), the blocks summed
// in order: fast (vectorised, parallel) and independent of the thread count.
double sum_squares(const Tensor& g) {
  Tensor c = g.contiguous();
  const float* p = c.data<float>();
  const int64_t n = c.numel();
  constexpr int64_t kBlock = 1 << 14;
  const int64_t nb = (n + kBlock - 1) / kBlock;
  std::vector<double> partial(static_cast<size_t>(nb));
  parallel_for(0, nb, 4, [&](int64_t lo, int64_t hi) {
    for (int64_t b = lo; b < hi; ++b) {
      const int64_t s = b * kBlock, e = std::min(n, s + kBlock);
      double acc[8] = {};
      int64_t i = s;
      for (; i + 8 <= e; i += 8)
        for (int j = 0; j < 8; ++j) acc[j] += static_cast<double>(p[i + j]) * p[i + j];
      double t = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
      for (; i < e; ++i) t += static_cast<double>(p[i]) * p[i];
      partial[static_cast<size_t>(b)] = t;
    }
  });
  double t = 0;
  for (double v : partial) t += v;
  return t;
}

void scale_(const Tensor& g, float coef) {
  if (!g.is_contiguous()) {
    kernels::mul_(g, coef);
    return;
  }
  float* p = g.mutable_data<float>();
  parallel_for(0, g.numel(), 1 << 15, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) p[i] *= coef;
  });
}

}  // namespace

float clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type, bool error_if_nonfinite) {
  std::vector<Tensor> grads;
  for (const Tensor& p : params) {
    Tensor g = p.grad();
    if (g.defined()) grads.push_back(g);
  }
  if (grads.empty()) return 0.0f;
  float total;
  if (std::isinf(norm_type)) {
    float m = 0.0f;
    for (const Tensor& g : grads) {
      Tensor a = kernels::unary(kernels::UnaryOp::Abs, g);
      float gm = kernels::max_all(a);
      m = gm > m || std::isnan(gm) ? gm : m;
    }
    total = m;
  } else {
    XFMR_CHECK(norm_type == 2.0, "clip_grad_norm_: only the 2-norm and the inf-norm are supported, got norm_type ",
               norm_type);
    // Per-parameter norms are f32 values (torch.norm of each grad), then the norm of those norms.
    double s = 0;
    for (const Tensor& g : grads) {
      float n = static_cast<float>(std::sqrt(sum_squares(g)));
      s += static_cast<double>(n) * n;
    }
    total = static_cast<float>(std::sqrt(s));
  }
  XFMR_CHECK(!(error_if_nonfinite && !std::isfinite(total)), "clip_grad_norm_: the total norm of order ", norm_type,
             " for gradients from `parameters` is non-finite, so it cannot be clipped");
  // torch: clip_coef = max_norm / (total + 1e-6) evaluated as reciprocal(total + 1e-6) * max_norm in f32.
  const float coef = (1.0f / (total + 1e-6f)) * static_cast<float>(max_norm);
  if (coef < 1.0f || std::isnan(coef))
    for (const Tensor& g : grads) scale_(g, coef);
  return total;
}

void clip_grad_value_(const std::vector<Tensor>& params, double clip_value) {
  const float c = static_cast<float>(clip_value);
  for (const Tensor& p : params) {
    Tensor g = p.grad();
    if (!g.defined()) continue;
    XFMR_CHECK(g.is_contiguous(), "clip_grad_value_: gradient ", g.describe(), " must be contiguous");
    float* pg = g.mutable_data<float>();
    parallel_for(0, g.numel(), 1 << 15, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) pg[i] = pg[i] < -c ? -c : (pg[i] > c ? c : pg[i]);
    });
  }
}

}  // namespace xfmr::optim
