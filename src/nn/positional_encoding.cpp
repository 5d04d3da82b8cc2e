#include "xfmr/nn/positional_encoding.h"

#include <cmath>

#include "xfmr/autograd/ops.h"

namespace xfmr::nn {

Tensor PositionalEncoding::div_term(int64_t d) {
  XFMR_CHECK(d > 0 && d % 2 == 0, "PositionalEncoding: d_model must be positive and even, got ", d);
  const float factor = static_cast<float>(-std::log(10000.0) / static_cast<double>(d));
  Tensor t = Tensor::empty({d / 2});
  float* p = t.data<float>();
  for (int64_t i = 0; i < d / 2; ++i) p[i] = std::exp(static_cast<float>(2 * i) * factor);
  return t;
}

PositionalEncoding::PositionalEncoding(int64_t d, float p, int64_t n) : d_model(d), max_len(n) {
  XFMR_CHECK(n > 0, "PositionalEncoding: max_len must be positive, got ", n);
  Tensor div = div_term(d);
  const float* pd = div.data<float>();
  pe = Tensor::empty({n, 1, d});
  float* pp = pe.data<float>();
  for (int64_t pos = 0; pos < n; ++pos) {
    float* row = pp + pos * d;
    for (int64_t i = 0; i < d / 2; ++i) {
      float arg = static_cast<float>(pos) * pd[i];  // f32 product, like torch
      row[2 * i] = std::sin(arg);
      row[2 * i + 1] = std::cos(arg);
    }
  }
  dropout = register_module("dropout", std::make_shared<Dropout>(p));
  register_buffer("pe", &pe);
}

Tensor PositionalEncoding::forward(const Tensor& x) const {
  XFMR_CHECK(x.defined() && x.dim() == 3 && x.size(2) == d_model, "PositionalEncoding: x must be [seq_len, batch, ",
             d_model, "], got ", x.defined() ? x.describe() : std::string("undefined"));
  XFMR_CHECK(x.size(0) <= max_len, "PositionalEncoding: sequence length ", x.size(0), " exceeds max_len ", max_len);
  return dropout->forward(add(x, pe.narrow(0, 0, x.size(0))));
}

}  // namespace xfmr::nn
