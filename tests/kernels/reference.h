// Naive reference implementations (double accumulation, explicit index loops) used to check the
// optimised kernels on random shapes and non-contiguous layouts.
#pragma once

#include <cmath>
#include <vector>

#include "xfmr/core/tensor.h"

namespace xfmr::test::ref {

// Element (i0, i1, ...) of any-layout f32 tensor.
inline float at(const Tensor& t, std::initializer_list<int64_t> idx) {
  int64_t off = 0;
  int d = 0;
  for (int64_t i : idx) off += i * t.stride(d++);
  return static_cast<const float*>(t.raw_data())[off];
}

// C = op(A) op(B), A [m,k] B [k,n] logical (views), result contiguous [m,n].
inline Tensor matmul2d(const Tensor& a, const Tensor& b) {
  int64_t m = a.size(0), k = a.size(1), n = b.size(1);
  Tensor c = Tensor::empty({m, n});
  float* pc = c.data<float>();
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double s = 0;
      for (int64_t p = 0; p < k; ++p) s += static_cast<double>(at(a, {i, p})) * at(b, {p, j});
      pc[i * n + j] = static_cast<float>(s);
    }
  return c;
}

inline std::vector<double> softmax(const std::vector<double>& x) {
  double m = -INFINITY;
  for (double v : x) m = std::max(m, v);
  std::vector<double> y(x.size());
  double s = 0;
  for (size_t i = 0; i < x.size(); ++i) s += (y[i] = std::exp(x[i] - m));
  for (double& v : y) v /= s;
  return y;
}

}  // namespace xfmr::test::ref
