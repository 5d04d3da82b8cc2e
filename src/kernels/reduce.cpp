#include "xfmr/kernels/reduce.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "xfmr/core/parallel.h"
#include "xfmr/core/strided.h"

namespace xfmr::kernels {
namespace {

// Reduced dims as a bitmask, validated.
uint32_t dims_mask(const Tensor& x, const std::vector<int64_t>& dims, const char* op) {
  uint32_t m = 0;
  if (dims.empty()) return (1u << x.dim()) - 1u;
  for (int64_t d : dims) m |= 1u << normalize_dim(d, x.dim(), op);
  return m;
}

// Generic sum: permute reduced dims to the end, make contiguous, sum each row in double-free f32
// pairwise-ish order (blocked accumulation), deterministic.
Tensor reduce_sum(const Tensor& x, uint32_t mask, bool keepdim, float scale) {
  std::vector<int64_t> keep, red;
  Shape out_shape, keep_shape;
  for (int i = 0; i < x.dim(); ++i) {
    if (mask >> i & 1u) {
      red.push_back(i);
      if (keepdim) out_shape.push_back(1);
    } else {
      keep.push_back(i);
      out_shape.push_back(x.shape()[i]);
    }
  }
  std::vector<int64_t> perm = keep;
  perm.insert(perm.end(), red.begin(), red.end());
  int64_t inner = 1;
  for (int64_t d : red) inner *= x.shape()[d];
  int64_t outer = inner == 0 ? Shape(out_shape).numel() : x.numel() / std::max<int64_t>(inner, 1);
  Tensor out = Tensor::empty(out_shape);
  float* po = out.data<float>();
  if (inner == 0) {
    std::fill(po, po + out.numel(), 0.0f);
    return out;
  }
  // Reducing leading dims of a contiguous tensor (e.g. bias gradients over [rows, cols]): sum rows
  // column-wise, which streams memory instead of striding.
  bool leading = x.is_contiguous();
  for (size_t i = 0; i < red.size(); ++i) leading = leading && red[i] == static_cast<int64_t>(i);
  if (leading && !keep.empty()) {
    const float* px = x.data<float>();
    int64_t cols = outer;
    parallel_for(0, cols, 256, [&](int64_t lo, int64_t hi) {
      for (int64_t c = lo; c < hi; ++c) po[c] = 0.0f;
      for (int64_t r = 0; r < inner; ++r) {
        const float* row = px + r * cols;
        for (int64_t c = lo; c < hi; ++c) po[c] += row[c];
      }
      for (int64_t c = lo; c < hi; ++c) po[c] *= scale;
    });
    return out;
  }
  Tensor xp = x.permute(perm).contiguous();
  const float* px = xp.data<float>();
  parallel_for(0, outer, std::max<int64_t>(1, 16384 / inner), [&](int64_t lo, int64_t hi) {
    for (int64_t o = lo; o < hi; ++o) {
      const float* row = px + o * inner;
      // 8 independent partial sums: vectorisable and better conditioned than one running sum.
      float acc[8] = {};
      int64_t i = 0;
      for (; i + 8 <= inner; i += 8)
        for (int j = 0; j < 8; ++j) acc[j] += row[i + j];
      float s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
      for (; i < inner; ++i) s += row[i];
      po[o] = s * scale;
    }
  });
  return out;
}

}  // namespace

Tensor sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  check_dtype(x, DType::F32, "sum", "input");
  return reduce_sum(x, dims_mask(x, dims, "sum"), keepdim, 1.0f);
}

Tensor mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  check_dtype(x, DType::F32, "mean", "input");
  uint32_t m = dims_mask(x, dims, "mean");
  int64_t count = 1;
  for (int i = 0; i < x.dim(); ++i)
    if (m >> i & 1u) count *= x.shape()[i];
  return reduce_sum(x, m, keepdim, count > 0 ? 1.0f / static_cast<float>(count) : NAN);
}

Tensor sum_to_shape(const Tensor& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  XFMR_CHECK(broadcast_shapes(shape, x.shape(), "sum_to_shape") == x.shape(), "sum_to_shape: ", x.describe(),
             " is not a broadcast of ", shape);
  int lead = x.dim() - shape.size();
  std::vector<int64_t> dims;
  for (int i = 0; i < x.dim(); ++i) {
    if (i < lead || (shape[i - lead] == 1 && x.shape()[i] != 1)) dims.push_back(i);
  }
  if (dims.empty()) return x.reshape(shape);
  Tensor s = reduce_sum(x, dims_mask(x, dims, "sum_to_shape"), true, 1.0f);
  return s.reshape(shape);
}

MaxResult max(const Tensor& x, int64_t dim, bool keepdim) {
  check_dtype(x, DType::F32, "max", "input");
  int d = normalize_dim(dim, x.dim(), "max");
  XFMR_CHECK(x.shape()[d] > 0, "max: cannot reduce over an empty dimension of ", x.describe());
  // Move `d` last (keeping the other dims in order) so each output element reduces one row.
  std::vector<int64_t> perm;
  for (int i = 0; i < x.dim(); ++i)
    if (i != d) perm.push_back(i);
  perm.push_back(d);
  Tensor xt = x.permute(perm).contiguous();
  int64_t n = x.shape()[d], rows = xt.numel() / n;
  Shape os = xt.shape();
  os.pop_back();
  Tensor vals = Tensor::empty(os), idx = Tensor::empty(os, DType::I64);
  const float* px = xt.data<float>();
  float* pv = vals.data<float>();
  int64_t* pi = idx.data<int64_t>();
  parallel_for(0, rows, std::max<int64_t>(1, 16384 / n), [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      const float* row = px + r * n;
      int64_t best = 0;
      for (int64_t i = 1; i < n; ++i) {
        if (row[best] != row[best]) break;  // NaN wins, like torch
        if (row[i] > row[best] || row[i] != row[i]) best = i;
      }
      pv[r] = row[best];
      pi[r] = best;
    }
  });
  if (keepdim) {
    vals = vals.unsqueeze(d);
    idx = idx.unsqueeze(d);
  }
  return {vals, idx};
}

Tensor argmax(const Tensor& x, int64_t dim, bool keepdim) { return max(x, dim, keepdim).indices; }

float max_all(const Tensor& x) {
  check_dtype(x, DType::F32, "max_all", "input");
  XFMR_CHECK(x.numel() > 0, "max_all: empty tensor");
  Tensor c = x.contiguous();
  const float* p = c.data<float>();
  float m = p[0];
  for (int64_t i = 1; i < c.numel(); ++i) m = (p[i] > m || p[i] != p[i]) ? p[i] : m;
  return m;
}

TopKResult topk(const Tensor& x, int64_t k, int64_t dim, bool largest) {
  check_dtype(x, DType::F32, "topk", "input");
  int d = normalize_dim(dim, x.dim(), "topk");
  int64_t n = x.shape()[d];
  XFMR_CHECK(k >= 0 && k <= n, "topk: k = ", k, " out of range for dimension of size ", n, " in ", x.describe());
  Tensor xt = x.transpose(d, -1).contiguous();
  int64_t rows = n > 0 ? xt.numel() / n : 0;
  Shape os = xt.shape();
  os[os.size() - 1] = k;
  Tensor vals = Tensor::empty(os), idx = Tensor::empty(os, DType::I64);
  const float* px = xt.data<float>();
  float* pv = vals.data<float>();
  int64_t* pi = idx.data<int64_t>();
  parallel_for(0, rows, 1, [&](int64_t lo, int64_t hi) {
    std::vector<int64_t> order(static_cast<size_t>(n));
    for (int64_t r = lo; r < hi; ++r) {
      const float* row = px + r * n;
      std::iota(order.begin(), order.end(), 0);
      auto better = [&](int64_t a, int64_t b) {
        float va = row[a], vb = row[b];
        bool na = va != va, nb = vb != vb;
        if (na != nb) return na;  // NaN counts as the largest
        if (va != vb) return largest ? va > vb : va < vb;
        return a < b;
      };
      std::partial_sort(order.begin(), order.begin() + k, order.end(), better);
      for (int64_t j = 0; j < k; ++j) {
        pv[r * k + j] = row[order[j]];
        pi[r * k + j] = order[j];
      }
    }
  });
  return {vals.transpose(d, -1).contiguous(), idx.transpose(d, -1).contiguous()};
}

double sum_of_squares(const Tensor& x) {
  check_dtype(x, DType::F32, "sum_of_squares", "input");
  Tensor c = x.contiguous();
  const float* p = c.data<float>();
  double s = 0;
  for (int64_t i = 0; i < c.numel(); ++i) s += static_cast<double>(p[i]) * p[i];
  return s;
}

}  // namespace xfmr::kernels
