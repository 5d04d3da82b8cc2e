#include <gtest/gtest.h>

#include "common/test_util.h"
#include "xfmr/autograd/ops.h"

using namespace xfmr;

namespace {

TEST(Autograd, AccumulatesAcrossBackwardCallsAndDiamonds) {
  Tensor w = Tensor::from_vector<float>({2.0f, 3.0f}).set_requires_grad(true);
  // y = sum(w * w + w): dy/dw = 2w + 1 (w used twice: a diamond in the graph)
  Tensor y = sum(add(mul(w, w), w));
  backward(y);
  EXPECT_EQ(w.grad().to_vector<float>(), (std::vector<float>{5.f, 7.f}));
  Tensor y2 = sum(mul(w, 2.0f));
  backward(y2);  // accumulates
  EXPECT_EQ(w.grad().to_vector<float>(), (std::vector<float>{7.f, 9.f}));
  w.set_grad(Tensor());
  EXPECT_FALSE(w.grad().defined());
}

TEST(Autograd, NoGradRecordsNothing) {
  Tensor w = Tensor::ones({3}).set_requires_grad(true);
  Tensor y;
  {
    NoGradGuard ng;
    y = mul(w, 2.0f);
  }
  EXPECT_FALSE(y.requires_grad());
  EXPECT_EQ(y.autograd_meta(), nullptr);
  EXPECT_THROW(backward(sum(y)), Error);
  Tensor z = mul(w, 2.0f);
  EXPECT_TRUE(z.requires_grad());
  EXPECT_FALSE(z.detach().requires_grad());
  // inputs that need no grad record nothing either
  Tensor c = Tensor::ones({3});
  EXPECT_EQ(mul(c, c).autograd_meta(), nullptr);
}

TEST(Autograd, GraphIsFreedAfterBackward) {
  Tensor w = Tensor::ones({3}).set_requires_grad(true);
  Tensor y = sum(exp(w));
  backward(y);
  EXPECT_THROW(backward(y), Error);  // saved tensors released
  Tensor y2 = sum(exp(w));
  backward(y2, Tensor(), /*retain_graph=*/true);
  backward(y2);
  EXPECT_NEAR(w.grad().to_vector<float>()[0], 3 * std::exp(1.0), 1e-5);
}

TEST(Autograd, GradFunctionDoesNotTouchLeafGrads) {
  Tensor a = Tensor::from_vector<float>({1.f, 2.f}).set_requires_grad(true);
  Tensor h = mul(a, a);  // non-leaf input
  Tensor y = sum(mul(h, 3.0f));
  auto g = grad({y}, {h, a});
  EXPECT_EQ(g[0].to_vector<float>(), (std::vector<float>{3.f, 3.f}));
  EXPECT_EQ(g[1].to_vector<float>(), (std::vector<float>{6.f, 12.f}));
  EXPECT_FALSE(a.grad().defined());
}

TEST(Autograd, ErrorsAreClear) {
  Tensor w = Tensor::ones({2, 2}).set_requires_grad(true);
  try {
    backward(mul(w, 2.0f));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("scalar"), std::string::npos);
  }
  EXPECT_THROW(Tensor::zeros({2}, DType::I64).set_requires_grad(true), Error);
  Tensor y = mul(w, 2.0f);
  EXPECT_THROW(y.set_requires_grad(false), Error);  // not a leaf
}

TEST(Autograd, ViewsCarryGradientsBack) {
  Tensor x = test::random_tensor({2, 3}, 1).set_requires_grad(true);
  Tensor y = sum(mul(select(transpose(x, 0, 1), 0, 2), 5.0f));  // x[:, 2] * 5
  backward(y);
  EXPECT_EQ(x.grad().to_vector<float>(), (std::vector<float>{0, 0, 5, 0, 0, 5}));
}

}  // namespace
