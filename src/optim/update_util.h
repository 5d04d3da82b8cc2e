// Helpers shared by the optimizer implementations (private to the optim layer).
#pragma once

#include "xfmr/core/parallel.h"
#include "xfmr/core/tensor.h"

namespace xfmr::optim::detail {

constexpr int64_t kGrain = 1 << 14;

// Contiguous, writable f32 data of a parameter (optimizers update in place).
inline float* param_data(const Tensor& p, const char* op) {
  XFMR_CHECK(p.is_contiguous(), op, ": parameter ", p.describe(), " must be contiguous");
  return p.mutable_data<float>();
}

// The gradient as contiguous f32 (a copy only when it is not already contiguous).
inline Tensor grad_of(const Tensor& p, const char* op) {
  Tensor g = p.grad();
  if (!g.defined()) return g;
  check_dtype(g, DType::F32, op, "grad");
  XFMR_CHECK(g.shape() == p.shape(), op, ": gradient ", g.describe(), " does not match parameter ", p.describe());
  return g.contiguous();
}

}  // namespace xfmr::optim::detail
