#include <gtest/gtest.h>

#include <cmath>

#include "common/test_util.h"
#include "xfmr/kernels/elementwise.h"
#include "xfmr/kernels/reduce.h"

using namespace xfmr;
using xfmr::test::random_tensor;

namespace {

TEST(Elementwise, BroadcastingMatchesLoops) {
  Tensor a = random_tensor({3, 1, 5}, 1), b = random_tensor({4, 1}, 2);
  Tensor c = kernels::add(a, b);
  ASSERT_EQ(c.shape(), (Shape{3, 4, 5}));
  auto va = a.to_vector<float>(), vb = b.to_vector<float>(), vc = c.to_vector<float>();
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 4; ++j)
      for (int k = 0; k < 5; ++k) EXPECT_FLOAT_EQ(vc[(i * 4 + j) * 5 + k], va[i * 5 + k] + vb[j]);
  Tensor d = kernels::div(a.transpose(0, 2), Tensor::full({1}, 2.0));
  EXPECT_FLOAT_EQ(d.to_vector<float>()[1], va[5] / 2);
  EXPECT_THROW(kernels::mul(random_tensor({2, 3}, 1), random_tensor({4}, 2)), Error);
}

TEST(Elementwise, BiasRowFastPathAndInPlace) {
  Tensor x = random_tensor({6, 7}, 3), b = random_tensor({7}, 4);
  Tensor y = kernels::add(x, b);
  for (int i = 0; i < 6; ++i)
    for (int j = 0; j < 7; ++j)
      EXPECT_FLOAT_EQ(y.to_vector<float>()[i * 7 + j], x.to_vector<float>()[i * 7 + j] + b.to_vector<float>()[j]);
  Tensor z = x.clone();
  kernels::add_(z, b, -1.0f);
  EXPECT_TENSOR_CLOSE(kernels::add(z, b), x, 1e-6, 0);
}

TEST(Elementwise, ActivationsMatchLibm) {
  Tensor x = Tensor::empty({2001});
  float* p = x.data<float>();
  for (int i = 0; i < 2001; ++i) p[i] = -10.0f + 0.01f * i;
  auto vx = x.to_vector<float>();
  auto check = [&](kernels::UnaryOp op, auto f, double tol) {
    auto y = kernels::unary(op, x).to_vector<float>();
    for (size_t i = 0; i < vx.size(); ++i) ASSERT_NEAR(y[i], f(static_cast<double>(vx[i])), tol) << "x = " << vx[i];
  };
  auto ye = kernels::unary(kernels::UnaryOp::Exp, x).to_vector<float>();
  for (size_t i = 0; i < vx.size(); ++i) ASSERT_NEAR(ye[i] / std::exp(static_cast<double>(vx[i])), 1.0, 5e-7);
  check(kernels::UnaryOp::Tanh, [](double v) { return std::tanh(v); }, 3e-7);
  check(kernels::UnaryOp::Sigmoid, [](double v) { return 1 / (1 + std::exp(-v)); }, 3e-7);
  check(kernels::UnaryOp::Relu, [](double v) { return v > 0 ? v : 0; }, 0);
  check(kernels::UnaryOp::GeluErf, [](double v) { return 0.5 * v * (1 + std::erf(v / std::sqrt(2.0))); }, 2e-6);
  check(kernels::UnaryOp::GeluTanh,
        [](double v) { return 0.5 * v * (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v))); }, 2e-6);
  check(kernels::UnaryOp::Silu, [](double v) { return v / (1 + std::exp(-v)); }, 3e-6);
  // exp at the limits
  Tensor lim = Tensor::from_vector<float>({-INFINITY, INFINITY, -100.f, 100.f, NAN});
  auto yl = kernels::unary(kernels::UnaryOp::Exp, lim).to_vector<float>();
  EXPECT_EQ(yl[0], 0.f);
  EXPECT_TRUE(std::isinf(yl[1]));
  EXPECT_EQ(yl[2], 0.f);
  EXPECT_TRUE(std::isinf(yl[3]));
  EXPECT_TRUE(std::isnan(yl[4]));
}

TEST(Elementwise, BackwardMatchesFiniteDifferences) {
  Tensor x = random_tensor({257}, 5);
  kernels::mul_(x, 4.0f);
  Tensor g = random_tensor({257}, 6);
  for (auto op : {kernels::UnaryOp::GeluErf, kernels::UnaryOp::GeluTanh, kernels::UnaryOp::Silu,
                  kernels::UnaryOp::Tanh, kernels::UnaryOp::Sigmoid, kernels::UnaryOp::Square}) {
    bool uses_output = op == kernels::UnaryOp::Tanh || op == kernels::UnaryOp::Sigmoid;
    Tensor y = kernels::unary(op, x);
    Tensor dx = kernels::unary_backward(op, g, uses_output ? y : x);
    float h = 1e-2f;
    Tensor yp = kernels::unary(op, kernels::affine(x, 1.0f, h)), ym = kernels::unary(op, kernels::affine(x, 1.0f, -h));
    auto vp = yp.to_vector<float>(), vm = ym.to_vector<float>(), vg = g.to_vector<float>(), vd = dx.to_vector<float>();
    for (int i = 0; i < 257; ++i) EXPECT_NEAR(vd[i], vg[i] * (vp[i] - vm[i]) / (2 * h), 2e-3) << static_cast<int>(op);
  }
}

TEST(Elementwise, MaskedFillWhereDropout) {
  Tensor x = random_tensor({2, 3}, 7);
  Tensor m = Tensor::from_vector<bool>({true, false, true}, {3});
  auto y = kernels::masked_fill(x, m, -1.f).to_vector<float>();
  EXPECT_EQ(y[0], -1.f);
  EXPECT_EQ(y[1], x.to_vector<float>()[1]);
  EXPECT_EQ(y[5], -1.f);
  Tensor w = kernels::where(m, x, Tensor::zeros({1}));
  EXPECT_EQ(w.to_vector<float>()[1], 0.f);
  Generator g1(3), g2(3);
  Tensor mask1, mask2;
  Tensor big = Tensor::ones({10000});
  Tensor d1 = kernels::dropout(big, 0.25f, g1, &mask1), d2 = kernels::dropout(big, 0.25f, g2, &mask2);
  EXPECT_EQ(d1.to_vector<float>(), d2.to_vector<float>());
  double kept = kernels::sum(d1).item() / (1 / 0.75);
  EXPECT_NEAR(kept / 10000, 0.75, 0.02);
  Tensor back = kernels::dropout_backward(Tensor::ones({10000}), mask1, 0.25f);
  EXPECT_EQ(back.to_vector<float>(), d1.to_vector<float>());
}

}  // namespace
