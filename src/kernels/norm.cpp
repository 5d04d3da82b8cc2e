#include "xfmr/kernels/norm.h"

#include <cmath>
#include <vector>

#include "xfmr/core/parallel.h"

namespace xfmr::kernels {
namespace {

void check_affine(const Tensor& p, int64_t n, const char* op, const char* what) {
  if (!p.defined()) return;
  check_dtype(p, DType::F32, op, what);
  XFMR_CHECK(p.dim() == 1 && p.size(0) == n, op, ": ", what, " ", p.describe(), " does not match the normalised size ",
             n);
}

// Per-thread partial sums for parameter gradients, combined in thread order (deterministic).
struct Partials {
  int threads;
  int64_t n;
  std::vector<float> buf;
  Partials(int t, int64_t n_) : threads(t), n(n_), buf(static_cast<size_t>(t * n_ * 2), 0.0f) {}
  float* dw(int t) { return buf.data() + 2 * t * n; }
  float* db(int t) { return buf.data() + (2 * t + 1) * n; }
};

}  // namespace

LayerNormResult layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps) {
  check_dtype(x, DType::F32, "layer_norm", "input");
  XFMR_CHECK(x.dim() >= 1, "layer_norm: input must have at least 1 dimension");
  int64_t n = x.size(-1), rows = n ? x.numel() / n : 0;
  check_affine(weight, n, "layer_norm", "weight");
  check_affine(bias, n, "layer_norm", "bias");
  Tensor xc = x.contiguous();
  LayerNormResult r;
  r.y = Tensor::empty(x.shape());
  r.mean = Tensor::empty({rows});
  r.rstd = Tensor::empty({rows});
  const float* px = xc.data<float>();
  const float* pw = weight.defined() ? weight.data<float>() : nullptr;
  const float* pb = bias.defined() ? bias.data<float>() : nullptr;
  float* py = r.y.data<float>();
  float* pm = r.mean.data<float>();
  float* pr = r.rstd.data<float>();
  parallel_for(0, rows, std::max<int64_t>(1, 4096 / std::max<int64_t>(n, 1)), [&](int64_t lo, int64_t hi) {
    for (int64_t row = lo; row < hi; ++row) {
      const float* xr = px + row * n;
      float* yr = py + row * n;
      // Two passes (mean, then centred variance): exact for inputs with a large mean.
      float s = 0.0f;
      for (int64_t i = 0; i < n; ++i) s += xr[i];
      float mean = s / static_cast<float>(n);
      float v = 0.0f;
      for (int64_t i = 0; i < n; ++i) {
        float d = xr[i] - mean;
        v += d * d;
      }
      float rstd = 1.0f / std::sqrt(v / static_cast<float>(n) + eps);
      pm[row] = mean;
      pr[row] = rstd;
      for (int64_t i = 0; i < n; ++i) {
        float h = (xr[i] - mean) * rstd;
        yr[i] = (pw ? h * pw[i] : h) + (pb ? pb[i] : 0.0f);
      }
    }
  });
  return r;
}

LayerNormGrads layer_norm_backward(const Tensor& grad_y, const Tensor& x, const Tensor& mean, const Tensor& rstd,
                                   const Tensor& weight, bool need_weight_grads) {
  check_dtype(grad_y, DType::F32, "layer_norm_backward", "grad");
  XFMR_CHECK(grad_y.shape() == x.shape(), "layer_norm_backward: grad ", grad_y.describe(), " vs input ", x.describe());
  int64_t n = x.size(-1), rows = n ? x.numel() / n : 0;
  Tensor gc = grad_y.contiguous(), xc = x.contiguous();
  const float* pg = gc.data<float>();
  const float* px = xc.data<float>();
  const float* pm = mean.data<float>();
  const float* pr = rstd.data<float>();
  const float* pw = weight.defined() ? weight.data<float>() : nullptr;
  LayerNormGrads g;
  g.dx = Tensor::empty(x.shape());
  float* pdx = g.dx.data<float>();
  int nt = std::max(1, num_threads());
  Partials part(nt, need_weight_grads ? n : 0);
  int64_t chunk = (rows + nt - 1) / nt;
  parallel_for(0, nt, 1, [&](int64_t tlo, int64_t thi) {
    std::vector<float> gw(static_cast<size_t>(n));
    for (int64_t t = tlo; t < thi; ++t) {
      int64_t lo = t * chunk, hi = std::min(rows, lo + chunk);
      for (int64_t row = lo; row < hi; ++row) {
        const float* gr = pg + row * n;
        const float* xr = px + row * n;
        float* dxr = pdx + row * n;
        float mu = pm[row], rs = pr[row];
        float sum_g = 0.0f, sum_gx = 0.0f;
        for (int64_t i = 0; i < n; ++i) {
          float gi = pw ? gr[i] * pw[i] : gr[i];
          float xh = (xr[i] - mu) * rs;
          gw[i] = gi;
          sum_g += gi;
          sum_gx += gi * xh;
        }
        float inv_n = 1.0f / static_cast<float>(n);
        float mg = sum_g * inv_n, mgx = sum_gx * inv_n;
        for (int64_t i = 0; i < n; ++i) {
          float xh = (xr[i] - mu) * rs;
          dxr[i] = rs * (gw[i] - mg - xh * mgx);
        }
        if (need_weight_grads) {
          float* dw = part.dw(static_cast<int>(t));
          float* db = part.db(static_cast<int>(t));
          for (int64_t i = 0; i < n; ++i) {
            float xh = (xr[i] - mu) * rs;
            dw[i] += gr[i] * xh;
            db[i] += gr[i];
          }
        }
      }
    }
  });
  if (need_weight_grads) {
    g.dweight = Tensor::zeros({n});
    g.dbias = Tensor::zeros({n});
    float* dw = g.dweight.data<float>();
    float* db = g.dbias.data<float>();
    for (int t = 0; t < nt; ++t)
      for (int64_t i = 0; i < n; ++i) {
        dw[i] += part.dw(t)[i];
        db[i] += part.db(t)[i];
      }
  }
  return g;
}

RmsNormResult rms_norm(const Tensor& x, const Tensor& weight, float eps) {
  check_dtype(x, DType::F32, "rms_norm", "input");
  int64_t n = x.size(-1), rows = n ? x.numel() / n : 0;
  check_affine(weight, n, "rms_norm", "weight");
  Tensor xc = x.contiguous();
  RmsNormResult r;
  r.y = Tensor::empty(x.shape());
  r.rstd = Tensor::empty({rows});
  const float* px = xc.data<float>();
  const float* pw = weight.defined() ? weight.data<float>() : nullptr;
  float* py = r.y.data<float>();
  float* pr = r.rstd.data<float>();
  parallel_for(0, rows, std::max<int64_t>(1, 4096 / std::max<int64_t>(n, 1)), [&](int64_t lo, int64_t hi) {
    for (int64_t row = lo; row < hi; ++row) {
      const float* xr = px + row * n;
      float s = 0.0f;
      for (int64_t i = 0; i < n; ++i) s += xr[i] * xr[i];
      float rs = 1.0f / std::sqrt(s / static_cast<float>(n) + eps);
      pr[row] = rs;
      for (int64_t i = 0; i < n; ++i) py[row * n + i] = pw ? xr[i] * rs * pw[i] : xr[i] * rs;
    }
  });
  return r;
}

RmsNormGrads rms_norm_backward(const Tensor& grad_y, const Tensor& x, const Tensor& rstd, const Tensor& weight) {
  check_dtype(grad_y, DType::F32, "rms_norm_backward", "grad");
  XFMR_CHECK(grad_y.shape() == x.shape(), "rms_norm_backward: grad ", grad_y.describe(), " vs input ", x.describe());
  int64_t n = x.size(-1), rows = n ? x.numel() / n : 0;
  Tensor gc = grad_y.contiguous(), xc = x.contiguous();
  const float* pg = gc.data<float>();
  const float* px = xc.data<float>();
  const float* pr = rstd.data<float>();
  const float* pw = weight.defined() ? weight.data<float>() : nullptr;
  RmsNormGrads g;
  g.dx = Tensor::empty(x.shape());
  float* pdx = g.dx.data<float>();
  int nt = std::max(1, num_threads());
  Partials part(nt, n);
  int64_t chunk = (rows + nt - 1) / nt;
  parallel_for(0, nt, 1, [&](int64_t tlo, int64_t thi) {
    for (int64_t t = tlo; t < thi; ++t) {
      int64_t lo = t * chunk, hi = std::min(rows, lo + chunk);
      float* dw = part.dw(static_cast<int>(t));
      for (int64_t row = lo; row < hi; ++row) {
        const float* gr = pg + row * n;
        const float* xr = px + row * n;
        float rs = pr[row];
        float sum_gx = 0.0f;
        for (int64_t i = 0; i < n; ++i) sum_gx += (pw ? gr[i] * pw[i] : gr[i]) * xr[i] * rs;
        float mgx = sum_gx / static_cast<float>(n);
        for (int64_t i = 0; i < n; ++i) {
          float xh = xr[i] * rs;
          float gi = pw ? gr[i] * pw[i] : gr[i];
          pdx[row * n + i] = rs * (gi - xh * mgx);
          dw[i] += gr[i] * xh;
        }
      }
    }
  });
  if (weight.defined()) {
    g.dweight = Tensor::zeros({n});
    float* dw = g.dweight.data<float>();
    for (int t = 0; t < nt; ++t)
      for (int64_t i = 0; i < n; ++i) dw[i] += part.dw(t)[i];
  }
  return g;
}

}  // namespace xfmr::kernels
