// Fused loss kernels. Cross-entropy works row by row on the logits: max, sum of exp (16 independent
// partial sums, so the compiler vectorises them without -ffast-math), log-sum-exp, the target term
// and, with label smoothing, one more pass for sum_c w_c (lse - x_c). The backward pass recomputes
// softmax from the saved log-sum-exp and writes the gradient in one pass - the [N, C] log-softmax of
// the unfused formulation is never materialised (for a 33k-word vocabulary that is 90 MB per step).
#include "xfmr/kernels/loss.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "vec_math.h"
#include "xfmr/core/parallel.h"

namespace xfmr {

Reduction reduction_from_name(const char* name) {
  std::string n = name ? name : "";
  if (n == "none") return Reduction::None;
  if (n == "mean") return Reduction::Mean;
  if (n == "sum") return Reduction::Sum;
  detail::fail("reduction: '", n, "' is not a valid value (expected 'none', 'mean' or 'sum')");
}

namespace kernels {
namespace {

constexpr int kLanes = 16;

// Targets as int64 (i64 or i32 input).
std::vector<int64_t> read_targets(const Tensor& target, int64_t n, const char* op) {
  XFMR_CHECK(target.dim() == 1 && target.size(0) == n, op, ": target ", target.describe(), " does not match ", n,
             " input rows");
  Tensor t = target.contiguous();
  std::vector<int64_t> out(static_cast<size_t>(n));
  if (t.dtype() == DType::I64) {
    std::memcpy(out.data(), t.data<int64_t>(), static_cast<size_t>(n) * sizeof(int64_t));
  } else if (t.dtype() == DType::I32) {
    const int32_t* p = t.data<int32_t>();
    for (int64_t i = 0; i < n; ++i) out[static_cast<size_t>(i)] = p[i];
  } else {
    detail::fail(op, ": target must hold class indices (i64 or i32), got ", target.describe());
  }
  return out;
}

void check_targets(const std::vector<int64_t>& t, int64_t classes, int64_t ignore_index, const char* op) {
  for (size_t i = 0; i < t.size(); ++i)
    XFMR_CHECK(t[i] == ignore_index || (t[i] >= 0 && t[i] < classes), op, ": target ", t[i], " at position ", i,
               " is out of bounds for ", classes, " classes");
}

// Class weights as a contiguous f32 vector (empty = all ones).
std::vector<float> read_weight(const Tensor& weight, int64_t classes, const char* op) {
  if (!weight.defined()) return {};
  check_dtype(weight, DType::F32, op, "weight");
  XFMR_CHECK(weight.dim() == 1 && weight.size(0) == classes, op, ": weight ", weight.describe(),
             " must have one entry per class (", classes, ")");
  return weight.to_vector<float>();
}

inline float row_max(const float* x, int64_t n) {
  float m[kLanes];
  for (int j = 0; j < kLanes; ++j) m[j] = -INFINITY;
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int j = 0; j < kLanes; ++j) m[j] = x[i + j] > m[j] ? x[i + j] : m[j];
  float r = -INFINITY;
  for (int j = 0; j < kLanes; ++j) r = m[j] > r ? m[j] : r;
  for (; i < n; ++i) r = x[i] > r ? x[i] : r;
  return r;
}

inline float lane_sum(const float* acc) {
  float s8[8];
  for (int j = 0; j < 8; ++j) s8[j] = acc[j] + acc[j + 8];
  return ((s8[0] + s8[4]) + (s8[1] + s8[5])) + ((s8[2] + s8[6]) + (s8[3] + s8[7]));
}

// log(sum(exp(x))) computed stably in one pass over memory: the row is processed in L1-sized
// chunks (max of the chunk, then the sum of exp relative to the running max, which rescales the
// previous partial sum when it grows). NaN in the row (or +inf) propagates as NaN.
inline float row_logsumexp(const float* x, int64_t n) {
  constexpr int64_t kChunk = 2048;
  float m = -INFINITY, s = 0.0f;
  for (int64_t c0 = 0; c0 < n; c0 += kChunk) {
    const int64_t len = std::min(kChunk, n - c0);
    const float* xc = x + c0;
    const float cm = row_max(xc, len);
    if (cm == -INFINITY) continue;  // an all -inf chunk adds nothing
    const float nm = cm > m ? cm : m;
    float acc[kLanes] = {};
    int64_t i = 0;
    for (; i + kLanes <= len; i += kLanes)
      for (int j = 0; j < kLanes; ++j) acc[j] += vec::exp(xc[i + j] - nm);
    float cs = lane_sum(acc);
    for (; i < len; ++i) cs += vec::exp(xc[i] - nm);
    s = (m == -INFINITY ? 0.0f : s * std::exp(m - nm)) + cs;
    m = nm;
  }
  if (m == -INFINITY) return -INFINITY;  // every logit -inf
  return m + std::log(s);
}

// sum_c w_c (lse - x_c) in f64-free lanes (w = 1 when empty).
inline double row_smooth(const float* x, int64_t n, float lse, const float* w) {
  float acc[kLanes] = {};
  int64_t i = 0;
  if (w) {
    for (; i + kLanes <= n; i += kLanes)
      for (int j = 0; j < kLanes; ++j) acc[j] += w[i + j] * (lse - x[i + j]);
  } else {
    for (; i + kLanes <= n; i += kLanes)
      for (int j = 0; j < kLanes; ++j) acc[j] += lse - x[i + j];
  }
  double s = lane_sum(acc);
  for (; i < n; ++i) s += (w ? w[i] : 1.0f) * (lse - x[i]);
  return s;
}

Tensor rows_contiguous(const Tensor& x, const char* op, const char* arg) {
  check_dtype(x, DType::F32, op, arg);
  XFMR_CHECK(x.dim() == 2, op, ": expected ", arg, " [N, C], got ", x.describe());
  return x.stride(1) == 1 && x.stride(0) >= x.size(1) ? x : x.contiguous();
}

int64_t row_stride(const Tensor& x) { return x.size(0) > 1 ? x.stride(0) : x.size(1); }

}  // namespace

CrossEntropyResult cross_entropy(const Tensor& logits_in, const Tensor& target, const Tensor& weight,
                                 int64_t ignore_index, Reduction reduction, float eps) {
  const char* op = "cross_entropy";
  Tensor logits = rows_contiguous(logits_in, op, "input");
  XFMR_CHECK(eps >= 0.0f && eps <= 1.0f, op, ": label_smoothing must be between 0.0 and 1.0, got ", eps);
  const int64_t n = logits.size(0), c = logits.size(1);
  XFMR_CHECK(c > 0, op, ": input ", logits_in.describe(), " has no classes");
  std::vector<int64_t> t = read_targets(target, n, op);
  check_targets(t, c, ignore_index, op);
  std::vector<float> w = read_weight(weight, c, op);
  const float* pw = w.empty() ? nullptr : w.data();
  const float* px = logits.data<float>();
  const int64_t ld = row_stride(logits);

  CrossEntropyResult r;
  r.lse = Tensor::empty({n});
  float* plse = r.lse.data<float>();
  std::vector<double> row_loss(static_cast<size_t>(n), 0.0);
  parallel_for(0, n, std::max<int64_t>(1, 4096 / c), [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      const float* x = px + i * ld;
      float lse = row_logsumexp(x, c);
      plse[i] = lse;
      int64_t ti = t[static_cast<size_t>(i)];
      if (ti == ignore_index) continue;
      double wt = pw ? pw[ti] : 1.0;
      double loss = (1.0 - eps) * wt * (static_cast<double>(lse) - x[ti]);
      if (eps > 0.0f) loss += eps / static_cast<double>(c) * row_smooth(x, c, lse, pw);
      row_loss[static_cast<size_t>(i)] = loss;
    }
  });
  double denom = 0;
  for (int64_t i = 0; i < n; ++i) {
    int64_t ti = t[static_cast<size_t>(i)];
    if (ti != ignore_index) denom += pw ? pw[ti] : 1.0;
  }
  r.denom = reduction == Reduction::Mean ? denom : 1.0;
  if (reduction == Reduction::None) {
    r.loss = Tensor::empty({n});
    float* pl = r.loss.data<float>();
    for (int64_t i = 0; i < n; ++i) pl[i] = static_cast<float>(row_loss[static_cast<size_t>(i)]);
  } else {
    double s = 0;
    for (double v : row_loss) s += v;
    r.loss = Tensor::scalar(reduction == Reduction::Mean ? s / denom : s);
  }
  return r;
}

Tensor cross_entropy_backward(const Tensor& grad, const Tensor& logits_in, const Tensor& target, const Tensor& weight,
                              const Tensor& lse, int64_t ignore_index, Reduction reduction, float eps, double denom) {
  const char* op = "cross_entropy_backward";
  Tensor logits = rows_contiguous(logits_in, op, "input");
  const int64_t n = logits.size(0), c = logits.size(1);
  std::vector<int64_t> t = read_targets(target, n, op);
  std::vector<float> w = read_weight(weight, c, op);
  const float* pw = w.empty() ? nullptr : w.data();
  double wsum = 0;
  if (pw)
    for (float v : w) wsum += v;
  else
    wsum = static_cast<double>(c);
  check_dtype(grad, DType::F32, op, "grad");
  std::vector<float> g;
  if (reduction == Reduction::None) {
    XFMR_CHECK(grad.numel() == n, op, ": grad ", grad.describe(), " does not match ", n, " rows");
    g = grad.contiguous().to_vector<float>();
  } else {
    XFMR_CHECK(grad.numel() == 1, op, ": grad ", grad.describe(), " of a reduced loss must have one element");
    g.assign(1, static_cast<float>(grad.item()));
  }
  const double scale = reduction == Reduction::Mean ? 1.0 / denom : 1.0;
  Tensor out = Tensor::empty({n, c});
  float* po = out.data<float>();
  const float* px = logits.data<float>();
  const float* plse = lse.data<float>();
  const int64_t ld = row_stride(logits);
  parallel_for(0, n, std::max<int64_t>(1, 4096 / c), [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      float* d = po + i * c;
      int64_t ti = t[static_cast<size_t>(i)];
      if (ti == ignore_index) {
        std::memset(d, 0, static_cast<size_t>(c) * sizeof(float));
        continue;
      }
      const float* x = px + i * ld;
      double gi = (reduction == Reduction::None ? g[static_cast<size_t>(i)] : g[0]) * scale;
      double wt = pw ? pw[ti] : 1.0;
      // d_c = a p_c - b w_c - [c == t] gi (1 - eps) w_t
      const float a = static_cast<float>(gi * ((1.0 - eps) * wt + eps * wsum / static_cast<double>(c)));
      const float b = static_cast<float>(gi * eps / static_cast<double>(c));
      const float l = plse[i];
      if (pw && b != 0.0f) {
        for (int64_t j = 0; j < c; ++j) d[j] = a * vec::exp(x[j] - l) - b * pw[j];
      } else {
        for (int64_t j = 0; j < c; ++j) d[j] = a * vec::exp(x[j] - l) - b;
      }
      d[ti] -= static_cast<float>(gi * (1.0 - eps) * wt);
    }
  });
  return out;
}

NllLossResult nll_loss(const Tensor& log_probs_in, const Tensor& target, const Tensor& weight, int64_t ignore_index,
                       Reduction reduction) {
  const char* op = "nll_loss";
  Tensor lp = rows_contiguous(log_probs_in, op, "input");
  const int64_t n = lp.size(0), c = lp.size(1);
  std::vector<int64_t> t = read_targets(target, n, op);
  check_targets(t, c, ignore_index, op);
  std::vector<float> w = read_weight(weight, c, op);
  const float* px = lp.data<float>();
  const int64_t ld = row_stride(lp);
  NllLossResult r;
  std::vector<double> row_loss(static_cast<size_t>(n), 0.0);
  double denom = 0, total = 0;
  for (int64_t i = 0; i < n; ++i) {
    int64_t ti = t[static_cast<size_t>(i)];
    if (ti == ignore_index) continue;
    double wt = w.empty() ? 1.0 : w[static_cast<size_t>(ti)];
    row_loss[static_cast<size_t>(i)] = -wt * px[i * ld + ti];
    denom += wt;
    total += row_loss[static_cast<size_t>(i)];
  }
  r.denom = reduction == Reduction::Mean ? denom : 1.0;
  if (reduction == Reduction::None) {
    r.loss = Tensor::empty({n});
    float* pl = r.loss.data<float>();
    for (int64_t i = 0; i < n; ++i) pl[i] = static_cast<float>(row_loss[static_cast<size_t>(i)]);
  } else {
    r.loss = Tensor::scalar(reduction == Reduction::Mean ? total / denom : total);
  }
  return r;
}

Tensor nll_loss_backward(const Tensor& grad, const Shape& input_shape, const Tensor& target, const Tensor& weight,
                         int64_t ignore_index, Reduction reduction, double denom) {
  const char* op = "nll_loss_backward";
  const int64_t n = input_shape[0], c = input_shape[1];
  std::vector<int64_t> t = read_targets(target, n, op);
  std::vector<float> w = read_weight(weight, c, op);
  std::vector<float> g = grad.contiguous().to_vector<float>();
  XFMR_CHECK(reduction == Reduction::None ? static_cast<int64_t>(g.size()) == n : g.size() == 1, op, ": grad ",
             grad.describe(), " does not match the loss");
  Tensor out = Tensor::zeros({n, c});
  float* po = out.data<float>();
  const double scale = reduction == Reduction::Mean ? 1.0 / denom : 1.0;
  for (int64_t i = 0; i < n; ++i) {
    int64_t ti = t[static_cast<size_t>(i)];
    if (ti == ignore_index) continue;
    double wt = w.empty() ? 1.0 : w[static_cast<size_t>(ti)];
    double gi = reduction == Reduction::None ? g[static_cast<size_t>(i)] : g[0];
    po[i * c + ti] = static_cast<float>(-wt * gi * scale);
  }
  return out;
}

Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction) {
  const char* op = "mse_loss";
  check_dtype(input, DType::F32, op, "input");
  check_dtype(target, DType::F32, op, "target");
  XFMR_CHECK(input.shape() == target.shape(), op, ": input ", input.describe(), " and target ", target.describe(),
             " must have the same shape");
  Tensor x = input.contiguous(), y = target.contiguous();
  const float* px = x.data<float>();
  const float* py = y.data<float>();
  const int64_t n = x.numel();
  if (reduction == Reduction::None) {
    Tensor out = Tensor::empty(input.shape());
    float* po = out.data<float>();
    parallel_for(0, n, 1 << 15, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) {
        float d = px[i] - py[i];
        po[i] = d * d;
      }
    });
    return out;
  }
  // Fixed-size blocks summed in order: the result does not depend on the thread count.
  constexpr int64_t kBlock = 1 << 14;
  const int64_t nb = (n + kBlock - 1) / kBlock;
  std::vector<double> partial(static_cast<size_t>(nb), 0.0);
  parallel_for(0, nb, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t b = lo; b < hi; ++b) {
      double s = 0;
      for (int64_t i = b * kBlock, e = std::min(n, (b + 1) * kBlock); i < e; ++i) {
        double d = static_cast<double>(px[i]) - py[i];
        s += d * d;
      }
      partial[static_cast<size_t>(b)] = s;
    }
  });
  double s = 0;
  for (double v : partial) s += v;
  return Tensor::scalar(reduction == Reduction::Mean ? s / static_cast<double>(n) : s);
}

Tensor mse_loss_backward(const Tensor& grad, const Tensor& input, const Tensor& target, Reduction reduction) {
  const char* op = "mse_loss_backward";
  Tensor x = input.contiguous(), y = target.contiguous();
  const float* px = x.data<float>();
  const float* py = y.data<float>();
  const int64_t n = x.numel();
  Tensor out = Tensor::empty(input.shape());
  float* po = out.data<float>();
  if (reduction == Reduction::None) {
    check_dtype(grad, DType::F32, op, "grad");
    XFMR_CHECK(grad.shape() == input.shape(), op, ": grad ", grad.describe(), " does not match ", input.describe());
    Tensor g = grad.contiguous();
    const float* pg = g.data<float>();
    parallel_for(0, n, 1 << 15, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) po[i] = 2.0f * (px[i] - py[i]) * pg[i];
    });
    return out;
  }
  XFMR_CHECK(grad.numel() == 1, op, ": grad ", grad.describe(), " of a reduced loss must have one element");
  const float s = static_cast<float>(2.0 * grad.item() / (reduction == Reduction::Mean ? static_cast<double>(n) : 1.0));
  parallel_for(0, n, 1 << 15, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) po[i] = s * (px[i] - py[i]);
  });
  return out;
}

}  // namespace kernels
}  // namespace xfmr
