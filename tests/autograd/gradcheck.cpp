#include "gradcheck.h"

#include <cmath>
#include <sstream>

#include "common/test_util.h"

namespace xfmr::test {

std::string gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f, const std::vector<Tensor>& inputs,
                      const GradcheckOptions& opt) {
  std::vector<Tensor> xs;
  for (const Tensor& t : inputs) {
    Tensor c = t.clone();
    if (is_floating(c.dtype())) c.set_requires_grad(true);
    xs.push_back(c);
  }
  Tensor y = f(xs);
  Tensor w = random_tensor(y.shape(), 12345);
  auto objective = [&](const std::vector<Tensor>& in) {
    NoGradGuard ng;
    auto out = f(in).contiguous().to_vector<float>();
    auto wv = w.to_vector<float>();
    double s = 0;
    for (size_t i = 0; i < out.size(); ++i) s += static_cast<double>(out[i]) * wv[i];
    return s;
  };
  std::vector<Tensor> diff;
  for (const Tensor& x : xs)
    if (x.requires_grad()) diff.push_back(x);
  std::vector<Tensor> grads = xfmr::grad({y}, diff, {w});
  std::ostringstream report;
  size_t gi = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    if (!xs[i].requires_grad()) continue;
    Tensor g = grads[gi++].contiguous();
    auto gv = g.to_vector<float>();
    int64_t n = xs[i].numel();
    int64_t stride = std::max<int64_t>(1, n / opt.max_elements);
    for (int64_t j = 0; j < n; j += stride) {
      std::vector<Tensor> plus, minus;
      for (size_t m = 0; m < xs.size(); ++m) {
        plus.push_back(m == i ? xs[m].detach().clone() : xs[m].detach());
        minus.push_back(m == i ? xs[m].detach().clone() : xs[m].detach());
      }
      plus[i].data<float>()[j] += opt.step;
      minus[i].data<float>()[j] -= opt.step;
      double numeric = (objective(plus) - objective(minus)) / (2.0 * opt.step);
      double analytic = gv[static_cast<size_t>(j)];
      if (std::fabs(numeric - analytic) > opt.atol + opt.rtol * std::fabs(numeric)) {
        report << "input " << i << " element " << j << ": analytic " << analytic << " vs numeric " << numeric << "\n";
        if (report.str().size() > 2000) return report.str();
      }
    }
  }
  return report.str();
}

}  // namespace xfmr::test
