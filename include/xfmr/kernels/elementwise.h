// Element-wise kernels on f32 tensors with NumPy/PyTorch broadcasting. Outputs are fresh
// contiguous tensors unless the name ends in '_' (in place, like PyTorch).
#pragma once

#include "xfmr/core/random.h"
#include "xfmr/core/tensor.h"

namespace xfmr::kernels {

enum class BinaryOp { Add, Sub, Mul, Div, Max, Min };
Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b);
inline Tensor add(const Tensor& a, const Tensor& b) { return binary(BinaryOp::Add, a, b); }
inline Tensor sub(const Tensor& a, const Tensor& b) { return binary(BinaryOp::Sub, a, b); }
inline Tensor mul(const Tensor& a, const Tensor& b) { return binary(BinaryOp::Mul, a, b); }
inline Tensor div(const Tensor& a, const Tensor& b) { return binary(BinaryOp::Div, a, b); }

// a = a + alpha * b (b broadcast to a's shape).
void add_(const Tensor& a, const Tensor& b, float alpha = 1.0f);
// a = a * s
void mul_(const Tensor& a, float s);
// out = a * s + t
Tensor affine(const Tensor& a, float s, float t = 0.0f);

enum class UnaryOp { Neg, Exp, Log, Sqrt, Rsqrt, Abs, Square, Reciprocal, Tanh, Sigmoid, Relu, GeluErf, GeluTanh, Silu };
Tensor unary(UnaryOp op, const Tensor& x);
// Gradient of unary op w.r.t. its input: grad * f'(x). For Tanh/Sigmoid pass the forward
// *output* as `x_or_y` (cheaper and what PyTorch does); for the others pass the input.
Tensor unary_backward(UnaryOp op, const Tensor& grad, const Tensor& x_or_y);

Tensor pow_scalar(const Tensor& x, float exponent);

// x where mask is false, value where mask is true (mask: bool/u8, broadcast to x).
Tensor masked_fill(const Tensor& x, const Tensor& mask, float value);
// cond ? a : b, all broadcast together.
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);

// Dropout: keeps each element with probability 1-p and scales by 1/(1-p). `mask` (u8, same shape
// as x) receives the keep decisions for the backward pass.
Tensor dropout(const Tensor& x, float p, Generator& gen, Tensor* mask);
// grad * mask / (1 - p)
Tensor dropout_backward(const Tensor& grad, const Tensor& mask, float p);

}  // namespace xfmr::kernels
