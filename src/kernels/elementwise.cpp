#include "xfmr/kernels/elementwise.h"

#include <cmath>

#include "vec_math.h"
#include "xfmr/core/parallel.h"
#include "xfmr/core/strided.h"

namespace xfmr::kernels {
namespace {

constexpr int64_t kGrain = 16384;  // elements per thread below which we stay single-threaded

const char* binary_name(BinaryOp op) {
  switch (op) {
    case BinaryOp::Add: return "add";
    case BinaryOp::Sub: return "sub";
    case BinaryOp::Mul: return "mul";
    case BinaryOp::Div: return "div";
    case BinaryOp::Max: return "maximum";
    case BinaryOp::Min: return "minimum";
  }
  return "binary";
}

template <typename F>
void binary_loop(float* o, const float* a, const float* b, int64_t n, int64_t sa, int64_t sb, F f) {
  if (sa == 1 && sb == 1) {
    for (int64_t i = 0; i < n; ++i) o[i] = f(a[i], b[i]);
  } else if (sa == 1 && sb == 0) {
    float bv = b[0];
    for (int64_t i = 0; i < n; ++i) o[i] = f(a[i], bv);
  } else if (sa == 0 && sb == 1) {
    float av = a[0];
    for (int64_t i = 0; i < n; ++i) o[i] = f(av, b[i]);
  } else {
    for (int64_t i = 0; i < n; ++i) o[i] = f(a[i * sa], b[i * sb]);
  }
}

template <typename F>
void run_binary(const Tensor& out, const Tensor& a, const Tensor& b, F f) {
  float* po = out.data<float>();
  const float* pa = a.data<float>();
  const float* pb = b.data<float>();
  int64_t n = out.numel();
  // Fast paths: same-shape contiguous, or b a contiguous "row" broadcast over leading dims (bias).
  if (a.is_contiguous() && b.is_contiguous() && a.shape() == out.shape() && b.shape() == out.shape()) {
    parallel_for(0, n, kGrain, [&](int64_t lo, int64_t hi) { binary_loop(po + lo, pa + lo, pb + lo, hi - lo, 1, 1, f); });
    return;
  }
  if (a.is_contiguous() && a.shape() == out.shape() && b.is_contiguous() && b.numel() > 0 && n % b.numel() == 0 &&
      out.dim() >= b.dim()) {
    bool suffix = true;  // b's shape equals the trailing dims of out (after dropping leading 1s)
    int off = out.dim() - b.dim();
    for (int i = 0; i < b.dim(); ++i) suffix = suffix && b.shape()[i] == out.shape()[i + off];
    if (suffix) {
      int64_t cols = b.numel(), rows = n / cols;
      parallel_for(0, rows, std::max<int64_t>(1, kGrain / cols), [&](int64_t lo, int64_t hi) {
        for (int64_t r = lo; r < hi; ++r) binary_loop(po + r * cols, pa + r * cols, pb, cols, 1, 1, f);
      });
      return;
    }
  }
  // General strided/broadcast path.
  Shape sa, sb;
  sa.resize(out.dim());
  sb.resize(out.dim());
  auto bstrides = [&](const Tensor& t, Shape& st) {
    int off = out.dim() - t.dim();
    for (int i = 0; i < out.dim(); ++i) {
      int j = i - off;
      st[i] = (j < 0 || t.shape()[j] == 1) ? 0 : t.strides()[j];
    }
  };
  bstrides(a, sa);
  bstrides(b, sb);
  for_each_row<3>(out.shape(), {out.strides(), sa, sb}, [&](const int64_t* off, int64_t len, const int64_t* inner) {
    binary_loop(po + off[0], pa + off[1], pb + off[2], len, inner[1], inner[2], f);
  });
}

}  // namespace

Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b) {
  const char* name = binary_name(op);
  check_dtype(a, DType::F32, name, "a");
  check_dtype(b, DType::F32, name, "b");
  Tensor out = Tensor::empty(broadcast_shapes(a.shape(), b.shape(), name));
  if (out.numel() == 0) return out;
  switch (op) {
    case BinaryOp::Add: run_binary(out, a, b, [](float x, float y) { return x + y; }); break;
    case BinaryOp::Sub: run_binary(out, a, b, [](float x, float y) { return x - y; }); break;
    case BinaryOp::Mul: run_binary(out, a, b, [](float x, float y) { return x * y; }); break;
    case BinaryOp::Div: run_binary(out, a, b, [](float x, float y) { return x / y; }); break;
    case BinaryOp::Max: run_binary(out, a, b, [](float x, float y) { return (x != x || x > y) ? x : y; }); break;
    case BinaryOp::Min: run_binary(out, a, b, [](float x, float y) { return (x != x || x < y) ? x : y; }); break;
  }
  return out;
}

void add_(const Tensor& a, const Tensor& b, float alpha) {
  check_dtype(a, DType::F32, "add_", "self");
  check_dtype(b, DType::F32, "add_", "other");
  Shape bs = broadcast_shapes(a.shape(), b.shape(), "add_");
  XFMR_CHECK(bs == a.shape(), "add_: cannot broadcast ", b.describe(), " into ", a.describe());
  float* pa = a.mutable_data<float>();
  const float* pb = b.data<float>();
  if (a.is_contiguous() && b.is_contiguous() && a.shape() == b.shape()) {
    parallel_for(0, a.numel(), kGrain, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) pa[i] += alpha * pb[i];
    });
    return;
  }
  Tensor be = b.expand(a.shape());
  for_each_row<2>(a.shape(), {a.strides(), be.strides()}, [&](const int64_t* off, int64_t n, const int64_t* inner) {
    for (int64_t i = 0; i < n; ++i) pa[off[0] + i * inner[0]] += alpha * pb[off[1] + i * inner[1]];
  });
}

void mul_(const Tensor& a, float s) {
  check_dtype(a, DType::F32, "mul_", "self");
  float* pa = a.mutable_data<float>();
  for_each_row<1>(a.shape(), {a.strides()}, [&](const int64_t* off, int64_t n, const int64_t* inner) {
    for (int64_t i = 0; i < n; ++i) pa[off[0] + i * inner[0]] *= s;
  });
}

namespace {
template <typename F>
Tensor map_unary(const Tensor& x, const char* name, F f) {
  check_dtype(x, DType::F32, name, "input");
  Tensor xc = x.contiguous();
  Tensor out = Tensor::empty(x.shape());
  const float* px = xc.data<float>();
  float* po = out.data<float>();
  parallel_for(0, out.numel(), kGrain, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) po[i] = f(px[i]);
  });
  return out;
}

template <typename F>
Tensor map_binary_same(const Tensor& g, const Tensor& x, const char* name, F f) {
  check_dtype(g, DType::F32, name, "grad");
  check_dtype(x, DType::F32, name, "input");
  XFMR_CHECK(g.shape() == x.shape(), name, ": gradient ", g.describe(), " does not match input ", x.describe());
  Tensor gc = g.contiguous(), xc = x.contiguous();
  Tensor out = Tensor::empty(x.shape());
  const float* pg = gc.data<float>();
  const float* px = xc.data<float>();
  float* po = out.data<float>();
  parallel_for(0, out.numel(), kGrain, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) po[i] = f(pg[i], px[i]);
  });
  return out;
}

constexpr float kSqrt1_2 = 0.70710678118654752440f;
constexpr float kSqrt2OverPi = 0.79788456080286535588f;
constexpr float kInvSqrt2Pi = 0.39894228040143267794f;
}  // namespace

Tensor affine(const Tensor& a, float s, float t) {
  return map_unary(a, "affine", [s, t](float x) { return x * s + t; });
}

Tensor unary(UnaryOp op, const Tensor& x) {
  switch (op) {
    case UnaryOp::Neg: return map_unary(x, "neg", [](float v) { return -v; });
    case UnaryOp::Exp: return map_unary(x, "exp", [](float v) { return vec::exp(v); });
    case UnaryOp::Log: return map_unary(x, "log", [](float v) { return std::log(v); });
    case UnaryOp::Sqrt: return map_unary(x, "sqrt", [](float v) { return std::sqrt(v); });
    case UnaryOp::Rsqrt: return map_unary(x, "rsqrt", [](float v) { return 1.0f / std::sqrt(v); });
    case UnaryOp::Abs: return map_unary(x, "abs", [](float v) { return std::fabs(v); });
    case UnaryOp::Square: return map_unary(x, "square", [](float v) { return v * v; });
    case UnaryOp::Reciprocal: return map_unary(x, "reciprocal", [](float v) { return 1.0f / v; });
    case UnaryOp::Tanh: return map_unary(x, "tanh", [](float v) { return vec::tanh(v); });
    case UnaryOp::Sigmoid: return map_unary(x, "sigmoid", [](float v) { return vec::sigmoid(v); });
    case UnaryOp::Relu: return map_unary(x, "relu", [](float v) { return v > 0.0f ? v : (v != v ? v : 0.0f); });
    case UnaryOp::GeluErf:
      return map_unary(x, "gelu", [](float v) { return 0.5f * v * (1.0f + vec::erf(v * kSqrt1_2)); });
    case UnaryOp::GeluTanh:
      return map_unary(x, "gelu_tanh", [](float v) {
        return 0.5f * v * (1.0f + vec::tanh(kSqrt2OverPi * (v + 0.044715f * v * v * v)));
      });
    case UnaryOp::Silu: return map_unary(x, "silu", [](float v) { return v * vec::sigmoid(v); });
  }
  detail::fail("unary: unknown op");
}

Tensor unary_backward(UnaryOp op, const Tensor& grad, const Tensor& xy) {
  switch (op) {
    case UnaryOp::Neg: return map_binary_same(grad, xy, "neg_backward", [](float g, float) { return -g; });
    case UnaryOp::Exp:  // xy = output
      return map_binary_same(grad, xy, "exp_backward", [](float g, float y) { return g * y; });
    case UnaryOp::Log: return map_binary_same(grad, xy, "log_backward", [](float g, float x) { return g / x; });
    case UnaryOp::Sqrt:  // xy = output
      return map_binary_same(grad, xy, "sqrt_backward", [](float g, float y) { return g / (2.0f * y); });
    case UnaryOp::Rsqrt:  // xy = output: d/dx x^-1/2 = -1/2 y^3
      return map_binary_same(grad, xy, "rsqrt_backward", [](float g, float y) { return -0.5f * g * y * y * y; });
    case UnaryOp::Abs:
      return map_binary_same(grad, xy, "abs_backward",
                             [](float g, float x) { return x > 0 ? g : (x < 0 ? -g : 0.0f); });
    case UnaryOp::Square:
      return map_binary_same(grad, xy, "square_backward", [](float g, float x) { return 2.0f * g * x; });
    case UnaryOp::Reciprocal:  // xy = output: d/dx 1/x = -y^2
      return map_binary_same(grad, xy, "reciprocal_backward", [](float g, float y) { return -g * y * y; });
    case UnaryOp::Tanh:  // xy = output
      return map_binary_same(grad, xy, "tanh_backward", [](float g, float y) { return g * (1.0f - y * y); });
    case UnaryOp::Sigmoid:  // xy = output
      return map_binary_same(grad, xy, "sigmoid_backward", [](float g, float y) { return g * y * (1.0f - y); });
    case UnaryOp::Relu:
      return map_binary_same(grad, xy, "relu_backward", [](float g, float x) { return x > 0.0f ? g : 0.0f; });
    case UnaryOp::GeluErf:
      return map_binary_same(grad, xy, "gelu_backward", [](float g, float x) {
        float cdf = 0.5f * (1.0f + vec::erf(x * kSqrt1_2));
        float pdf = kInvSqrt2Pi * vec::exp(-0.5f * x * x);
        return g * (cdf + x * pdf);
      });
    case UnaryOp::GeluTanh:
      return map_binary_same(grad, xy, "gelu_tanh_backward", [](float g, float x) {
        float x2 = x * x;
        float inner = kSqrt2OverPi * (x + 0.044715f * x2 * x);
        float t = vec::tanh(inner);
        float dinner = kSqrt2OverPi * (1.0f + 3.0f * 0.044715f * x2);
        return g * (0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * dinner);
      });
    case UnaryOp::Silu:
      return map_binary_same(grad, xy, "silu_backward", [](float g, float x) {
        float s = vec::sigmoid(x);
        return g * s * (1.0f + x * (1.0f - s));
      });
  }
  detail::fail("unary_backward: unknown op");
}

Tensor pow_scalar(const Tensor& x, float e) {
  if (e == 2.0f) return unary(UnaryOp::Square, x);
  return map_unary(x, "pow", [e](float v) { return std::pow(v, e); });
}

Tensor masked_fill(const Tensor& x, const Tensor& mask, float value) {
  check_dtype(x, DType::F32, "masked_fill", "input");
  XFMR_CHECK(mask.dtype() == DType::Bool || mask.dtype() == DType::U8, "masked_fill: mask must be bool, got ",
             mask.describe());
  Shape s = broadcast_shapes(x.shape(), mask.shape(), "masked_fill");
  Tensor out = Tensor::empty(s);
  out.copy_(x);
  Tensor m = mask.expand(s);
  float* po = out.data<float>();
  const uint8_t* pm = static_cast<const uint8_t*>(m.raw_data());
  for_each_row<2>(s, {out.strides(), m.strides()}, [&](const int64_t* off, int64_t n, const int64_t* inner) {
    for (int64_t i = 0; i < n; ++i)
      if (pm[off[1] + i * inner[1]]) po[off[0] + i * inner[0]] = value;
  });
  return out;
}

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  check_dtype(a, DType::F32, "where", "a");
  check_dtype(b, DType::F32, "where", "b");
  XFMR_CHECK(cond.dtype() == DType::Bool || cond.dtype() == DType::U8, "where: condition must be bool, got ",
             cond.describe());
  Shape s = broadcast_shapes(broadcast_shapes(cond.shape(), a.shape(), "where"), b.shape(), "where");
  Tensor out = Tensor::empty(s);
  out.copy_(b);
  Tensor c = cond.expand(s), ae = a.expand(s);
  float* po = out.data<float>();
  const float* pa = a.data<float>();
  const uint8_t* pc = static_cast<const uint8_t*>(c.raw_data());
  for_each_row<3>(s, {out.strides(), c.strides(), ae.strides()}, [&](const int64_t* off, int64_t n, const int64_t* in) {
    for (int64_t i = 0; i < n; ++i)
      if (pc[off[1] + i * in[1]]) po[off[0] + i * in[0]] = pa[off[2] + i * in[2]];
  });
  return out;
}

Tensor dropout(const Tensor& x, float p, Generator& gen, Tensor* mask) {
  check_dtype(x, DType::F32, "dropout", "input");
  XFMR_CHECK(p >= 0.0f && p <= 1.0f, "dropout: probability must be in [0, 1], got ", p);
  Tensor xc = x.contiguous();
  Tensor out = Tensor::empty(x.shape());
  Tensor m = Tensor::empty(x.shape(), DType::U8);
  const float* px = xc.data<float>();
  float* po = out.data<float>();
  uint8_t* pm = m.data<uint8_t>();
  float scale = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
  // Draw all random numbers serially: the mask depends only on the seed, not on the thread count.
  for (int64_t i = 0; i < out.numel(); ++i) {
    bool keep = gen.uniform() >= p;
    pm[i] = keep;
    po[i] = keep ? px[i] * scale : 0.0f;
  }
  if (mask) *mask = m;
  return out;
}

Tensor dropout_backward(const Tensor& grad, const Tensor& mask, float p) {
  check_dtype(grad, DType::F32, "dropout_backward", "grad");
  XFMR_CHECK(grad.shape() == mask.shape(), "dropout_backward: grad ", grad.describe(), " vs mask ", mask.describe());
  Tensor gc = grad.contiguous();
  Tensor out = Tensor::empty(grad.shape());
  const float* pg = gc.data<float>();
  Tensor mc = mask.contiguous();
  const uint8_t* pm = static_cast<const uint8_t*>(mc.raw_data());
  float* po = out.data<float>();
  float scale = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
  for (int64_t i = 0; i < out.numel(); ++i) po[i] = pm[i] ? pg[i] * scale : 0.0f;
  return out;
}

}  // namespace xfmr::kernels
