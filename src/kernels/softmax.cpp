#include "xfmr/kernels/softmax.h"

#include <cmath>
#include <vector>

#include "internal.h"
#include "vec_math.h"
#include "xfmr/core/parallel.h"

namespace xfmr::kernels {
namespace {

// Runs fn(in_row, out_row, n) (or with two inputs) over rows along `dim`, moving `dim` last first
// when needed and restoring the layout afterwards.
template <typename Fn>
Tensor rowwise(const Tensor& x, int64_t dim, const char* op, Fn fn) {
  check_dtype(x, DType::F32, op, "input");
  if (x.dim() == 0) return rowwise(x.reshape({1}), 0, op, fn).reshape(x.shape());
  int d = normalize_dim(dim, x.dim(), op);
  Tensor xt = d == x.dim() - 1 ? x.contiguous() : x.transpose(d, -1).contiguous();
  Tensor out = Tensor::empty(xt.shape());
  int64_t n = xt.size(-1), rows = n ? xt.numel() / n : 0;
  const float* px = xt.data<float>();
  float* po = out.data<float>();
  parallel_for(0, rows, std::max<int64_t>(1, 8192 / std::max<int64_t>(n, 1)), [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) fn(px + r * n, po + r * n, n);
  });
  return d == x.dim() - 1 ? out : out.transpose(d, -1).contiguous();
}

template <typename Fn>
Tensor rowwise2(const Tensor& a, const Tensor& b, int64_t dim, const char* op, Fn fn) {
  check_dtype(a, DType::F32, op, "grad");
  check_dtype(b, DType::F32, op, "output");
  XFMR_CHECK(a.shape() == b.shape(), op, ": grad ", a.describe(), " does not match ", b.describe());
  if (a.dim() == 0) return rowwise2(a.reshape({1}), b.reshape({1}), 0, op, fn).reshape(a.shape());
  int d = normalize_dim(dim, a.dim(), op);
  bool last = d == a.dim() - 1;
  Tensor at = last ? a.contiguous() : a.transpose(d, -1).contiguous();
  Tensor bt = last ? b.contiguous() : b.transpose(d, -1).contiguous();
  Tensor out = Tensor::empty(at.shape());
  int64_t n = at.size(-1), rows = n ? at.numel() / n : 0;
  const float* pa = at.data<float>();
  const float* pb = bt.data<float>();
  float* po = out.data<float>();
  parallel_for(0, rows, std::max<int64_t>(1, 8192 / std::max<int64_t>(n, 1)), [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) fn(pa + r * n, pb + r * n, po + r * n, n);
  });
  return last ? out : out.transpose(d, -1).contiguous();
}

inline float row_max(const float* x, int64_t n) {
  float m = -INFINITY;
  bool nan = false;
  for (int64_t i = 0; i < n; ++i) {
    m = x[i] > m ? x[i] : m;
    nan |= x[i] != x[i];
  }
  return nan ? NAN : m;
}

}  // namespace

void softmax_row(const float* x, float* y, int64_t n) {
  float m = row_max(x, n);
  float s = 0.0f;
  for (int64_t i = 0; i < n; ++i) {
    y[i] = vec::exp(x[i] - m);
    s += y[i];
  }
  float inv = 1.0f / s;
  for (int64_t i = 0; i < n; ++i) y[i] *= inv;
}

Tensor softmax(const Tensor& x, int64_t dim) { return rowwise(x, dim, "softmax", softmax_row); }

Tensor log_softmax(const Tensor& x, int64_t dim) {
  return rowwise(x, dim, "log_softmax", [](const float* in, float* out, int64_t n) {
    float m = row_max(in, n);
    float s = 0.0f;
    for (int64_t i = 0; i < n; ++i) s += vec::exp(in[i] - m);
    float lse = m + std::log(s);
    for (int64_t i = 0; i < n; ++i) out[i] = in[i] - lse;
  });
}

Tensor softmax_backward(const Tensor& grad_y, const Tensor& y, int64_t dim) {
  return rowwise2(grad_y, y, dim, "softmax_backward", [](const float* g, const float* yy, float* out, int64_t n) {
    float dot = 0.0f;
    for (int64_t i = 0; i < n; ++i) dot += g[i] * yy[i];
    for (int64_t i = 0; i < n; ++i) out[i] = yy[i] * (g[i] - dot);
  });
}

Tensor log_softmax_backward(const Tensor& grad_y, const Tensor& y, int64_t dim) {
  return rowwise2(grad_y, y, dim, "log_softmax_backward", [](const float* g, const float* yy, float* out, int64_t n) {
    float s = 0.0f;
    for (int64_t i = 0; i < n; ++i) s += g[i];
    for (int64_t i = 0; i < n; ++i) out[i] = g[i] - vec::exp(yy[i]) * s;
  });
}

}  // namespace xfmr::kernels
