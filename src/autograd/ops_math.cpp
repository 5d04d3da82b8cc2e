// Arithmetic, element-wise functions, matmul/linear and reductions with their backward passes.
#include <algorithm>
#include <cmath>

#include "record.h"
#include "xfmr/autograd/ops.h"
#include "xfmr/kernels/kernels.h"

namespace xfmr {

using autograd::BackwardContext;
using autograd::record;
using autograd::saved;
using autograd::should_record;
namespace k = kernels;

// ------------------------------------------------------------------ arithmetic

Tensor add(const Tensor& a, const Tensor& b) {
  Tensor out = k::add(a, b);
  if (should_record({&a, &b})) {
    Shape sa = a.shape(), sb = b.shape();
    record("AddBackward", {a, b}, {out}, [sa, sb](const BackwardContext& c) -> std::vector<Tensor> {
      return {c.need(0) ? k::sum_to_shape(c.grad(), sa) : Tensor(), c.need(1) ? k::sum_to_shape(c.grad(), sb) : Tensor()};
    });
  }
  return out;
}

Tensor sub(const Tensor& a, const Tensor& b) {
  Tensor out = k::sub(a, b);
  if (should_record({&a, &b})) {
    Shape sa = a.shape(), sb = b.shape();
    record("SubBackward", {a, b}, {out}, [sa, sb](const BackwardContext& c) -> std::vector<Tensor> {
      return {c.need(0) ? k::sum_to_shape(c.grad(), sa) : Tensor(),
              c.need(1) ? k::sum_to_shape(k::affine(c.grad(), -1.0f), sb) : Tensor()};
    });
  }
  return out;
}

Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor out = k::mul(a, b);
  if (should_record({&a, &b})) {
    Tensor sa = saved(a), sb = saved(b);
    record("MulBackward", {a, b}, {out}, [sa, sb](const BackwardContext& c) -> std::vector<Tensor> {
      return {c.need(0) ? k::sum_to_shape(k::mul(c.grad(), sb), sa.shape()) : Tensor(),
              c.need(1) ? k::sum_to_shape(k::mul(c.grad(), sa), sb.shape()) : Tensor()};
    });
  }
  return out;
}

Tensor div(const Tensor& a, const Tensor& b) {
  Tensor out = k::div(a, b);
  if (should_record({&a, &b})) {
    Tensor sa = saved(a), sb = saved(b);
    record("DivBackward", {a, b}, {out}, [sa, sb](const BackwardContext& c) -> std::vector<Tensor> {
      Tensor ga, gb;
      if (c.need(0)) ga = k::sum_to_shape(k::div(c.grad(), sb), sa.shape());
      if (c.need(1))  // d(a/b)/db = -a / b^2
        gb = k::sum_to_shape(k::affine(k::div(k::mul(c.grad(), sa), k::mul(sb, sb)), -1.0f), sb.shape());
      return {ga, gb};
    });
  }
  return out;
}

Tensor add(const Tensor& a, float s) {
  Tensor out = k::affine(a, 1.0f, s);
  if (should_record({&a})) {
    record("AddScalarBackward", {a}, {out}, [](const BackwardContext& c) -> std::vector<Tensor> { return {c.grad()}; });
  }
  return out;
}

Tensor mul(const Tensor& a, float s) {
  Tensor out = k::affine(a, s, 0.0f);
  if (should_record({&a})) {
    record("MulScalarBackward", {a}, {out},
           [s](const BackwardContext& c) -> std::vector<Tensor> { return {k::affine(c.grad(), s)}; });
  }
  return out;
}

Tensor neg(const Tensor& a) { return mul(a, -1.0f); }

// ------------------------------------------------------------------ element-wise functions

namespace {
// Records the backward of a unary kernel op; `use_output` saves y instead of x.
Tensor unary_op(k::UnaryOp op, const Tensor& x, const char* name, bool use_output) {
  Tensor y = k::unary(op, x);
  if (should_record({&x})) {
    Tensor s = saved(use_output ? y : x);
    record(name, {x}, {y}, [op, s](const BackwardContext& c) -> std::vector<Tensor> {
      return {k::unary_backward(op, c.grad(), s)};
    });
  }
  return y;
}
}  // namespace

Tensor exp(const Tensor& x) { return unary_op(k::UnaryOp::Exp, x, "ExpBackward", true); }
Tensor log(const Tensor& x) { return unary_op(k::UnaryOp::Log, x, "LogBackward", false); }
Tensor sqrt(const Tensor& x) { return unary_op(k::UnaryOp::Sqrt, x, "SqrtBackward", true); }
Tensor rsqrt(const Tensor& x) { return unary_op(k::UnaryOp::Rsqrt, x, "RsqrtBackward", true); }
Tensor square(const Tensor& x) { return unary_op(k::UnaryOp::Square, x, "SquareBackward", false); }
Tensor tanh(const Tensor& x) { return unary_op(k::UnaryOp::Tanh, x, "TanhBackward", true); }
Tensor sigmoid(const Tensor& x) { return unary_op(k::UnaryOp::Sigmoid, x, "SigmoidBackward", true); }
Tensor relu(const Tensor& x) { return unary_op(k::UnaryOp::Relu, x, "ReluBackward", false); }
Tensor silu(const Tensor& x) { return unary_op(k::UnaryOp::Silu, x, "SiluBackward", false); }
Tensor gelu(const Tensor& x, bool tanh_approximation) {
  return tanh_approximation ? unary_op(k::UnaryOp::GeluTanh, x, "GeluTanhBackward", false)
                            : unary_op(k::UnaryOp::GeluErf, x, "GeluBackward", false);
}

Tensor pow(const Tensor& x, float e) {
  if (e == 2.0f) return square(x);
  Tensor y = k::pow_scalar(x, e);
  if (should_record({&x})) {
    Tensor sx = saved(x);
    record("PowBackward", {x}, {y}, [sx, e](const BackwardContext& c) -> std::vector<Tensor> {
      return {k::mul(c.grad(), k::affine(k::pow_scalar(sx, e - 1.0f), e))};
    });
  }
  return y;
}

Tensor masked_fill(const Tensor& x, const Tensor& mask, float value) {
  Tensor y = k::masked_fill(x, mask, value);
  if (should_record({&x})) {
    Tensor m = saved(mask);
    Shape sx = x.shape();
    record("MaskedFillBackward", {x}, {y}, [m, sx](const BackwardContext& c) -> std::vector<Tensor> {
      return {k::sum_to_shape(k::masked_fill(c.grad(), m, 0.0f), sx)};
    });
  }
  return y;
}

// ------------------------------------------------------------------ linear algebra

Tensor matmul(const Tensor& a, const Tensor& b) {
  Tensor out = k::matmul(a, b);
  if (should_record({&a, &b})) {
    Tensor sa = saved(a), sb = saved(b);
    record("MatmulBackward", {a, b}, {out}, [sa, sb](const BackwardContext& c) -> std::vector<Tensor> {
      // Promote 1-D operands to matrices as matmul did, then reduce broadcast batch dims.
      Tensor A = sa.dim() == 1 ? sa.unsqueeze(0) : sa;
      Tensor B = sb.dim() == 1 ? sb.unsqueeze(1) : sb;
      Tensor g = c.grad();
      if (sa.dim() == 1) g = g.unsqueeze(-2);
      if (sb.dim() == 1) g = g.unsqueeze(-1);
      Tensor ga, gb;
      if (c.need(0)) ga = k::sum_to_shape(k::matmul(g, B.transpose(-1, -2)), A.shape()).reshape(sa.shape());
      if (c.need(1)) gb = k::sum_to_shape(k::matmul(A.transpose(-1, -2), g), B.shape()).reshape(sb.shape());
      return {ga, gb};
    });
  }
  return out;
}

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  Tensor out = k::linear(x, weight, bias);
  if (should_record({&x, &weight, &bias})) {
    Tensor sx = saved(x), sw = saved(weight);
    record("LinearBackward", {x, weight, bias}, {out}, [sx, sw](const BackwardContext& c) -> std::vector<Tensor> {
      int64_t in = sw.size(1), outf = sw.size(0);
      Tensor g2 = c.grad().reshape({-1, outf});
      Tensor gx, gw, gb;
      if (c.need(0)) gx = k::matmul(g2, sw).reshape(sx.shape());
      if (c.need(1)) gw = k::matmul(g2.transpose(0, 1), sx.reshape({-1, in}));
      if (c.need(2)) gb = k::sum(g2, {0});
      return {gx, gw, gb};
    });
  }
  return out;
}

// ------------------------------------------------------------------ reductions

namespace {
// Gradient of a reduction over `dims`: grad (reduced shape) broadcast back to `shape`, times scale.
Tensor expand_reduced(const Tensor& g, const Shape& shape, const std::vector<int64_t>& dims, bool keepdim,
                      float scale) {
  Tensor gg = g;
  if (!keepdim) {
    std::vector<int> ds;
    if (dims.empty())
      for (int i = 0; i < shape.size(); ++i) ds.push_back(i);
    else
      for (int64_t d : dims) ds.push_back(normalize_dim(d, shape.size(), "sum_backward"));
    std::sort(ds.begin(), ds.end());
    for (int d : ds) gg = gg.unsqueeze(d);
  }
  Tensor out = gg.expand(shape).contiguous();
  if (scale != 1.0f) k::mul_(out, scale);
  return out;
}
}  // namespace

Tensor sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  Tensor out = k::sum(x, dims, keepdim);
  if (should_record({&x})) {
    Shape sx = x.shape();
    record("SumBackward", {x}, {out}, [sx, dims, keepdim](const BackwardContext& c) -> std::vector<Tensor> {
      return {expand_reduced(c.grad(), sx, dims, keepdim, 1.0f)};
    });
  }
  return out;
}

Tensor mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  Tensor out = k::mean(x, dims, keepdim);
  if (should_record({&x})) {
    Shape sx = x.shape();
    int64_t count = dims.empty() ? x.numel() : 1;
    for (int64_t d : dims) count *= x.size(d);
    float scale = 1.0f / static_cast<float>(count);
    record("MeanBackward", {x}, {out}, [sx, dims, keepdim, scale](const BackwardContext& c) -> std::vector<Tensor> {
      return {expand_reduced(c.grad(), sx, dims, keepdim, scale)};
    });
  }
  return out;
}

}  // namespace xfmr
