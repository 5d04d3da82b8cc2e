// Finite-difference gradient checks. Kernels compute in f32, so the check uses central
// differences with a moderate step on an objective accumulated in double:
//   L = sum_i f(x)_i * w_i with fixed random weights w,
// comparing dL/dx from backward() with (L(x + h e_j) - L(x - h e_j)) / 2h for every element j
// (or a deterministic sample of elements for large inputs).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "xfmr/autograd/ops.h"

namespace xfmr::test {

struct GradcheckOptions {
  float step = 1e-2f;
  double atol = 2e-3, rtol = 1e-2;
  int max_elements = 64;  // per input
};

// Returns an empty string on success, else a description of the worst mismatch.
std::string gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f, const std::vector<Tensor>& inputs,
                      const GradcheckOptions& opt = {});

}  // namespace xfmr::test
