#include <gtest/gtest.h>

#include <cmath>

#include "common/test_util.h"
#include "reference.h"
#include "xfmr/kernels/elementwise.h"
#include "xfmr/kernels/embedding.h"
#include "xfmr/kernels/norm.h"
#include "xfmr/kernels/reduce.h"
#include "xfmr/kernels/softmax.h"

using namespace xfmr;
using xfmr::test::random_tensor;

namespace {

TEST(Reduce, SumMeanOverDimsAndViews) {
  Tensor x = random_tensor({3, 4, 5}, 1).transpose(0, 2);  // [5, 4, 3] non-contiguous
  Tensor s = kernels::sum(x, {1});
  ASSERT_EQ(s.shape(), (Shape{5, 3}));
  for (int i = 0; i < 5; ++i)
    for (int k = 0; k < 3; ++k) {
      double r = 0;
      for (int j = 0; j < 4; ++j) r += test::ref::at(x, {i, j, k});
      EXPECT_NEAR(s.to_vector<float>()[i * 3 + k], r, 1e-5);
    }
  EXPECT_EQ(kernels::sum(x, {0, 2}, true).shape(), (Shape{1, 4, 1}));
  double total = 0;
  for (float v : x.contiguous().to_vector<float>()) total += v;
  EXPECT_NEAR(kernels::sum(x).item(), total, 1e-4);
  EXPECT_NEAR(kernels::mean(x).item(), total / 60, 1e-5);
  // leading-dims path (bias gradient)
  Tensor g = random_tensor({37, 11}, 2);
  Tensor gs = kernels::sum(g, {0});
  for (int c = 0; c < 11; ++c) {
    double r = 0;
    for (int i = 0; i < 37; ++i) r += g.to_vector<float>()[i * 11 + c];
    EXPECT_NEAR(gs.to_vector<float>()[c], r, 1e-5);
  }
  Tensor st = kernels::sum_to_shape(random_tensor({2, 3, 4}, 3), {3, 1});
  EXPECT_EQ(st.shape(), (Shape{3, 1}));
}

TEST(Reduce, MaxArgmaxTopk) {
  Tensor x = Tensor::from_vector<float>({1, 5, 3, 5, -1, 2}, {2, 3});
  auto m = kernels::max(x, 1);
  EXPECT_EQ(m.values.to_vector<float>(), (std::vector<float>{5, 5}));
  EXPECT_EQ(m.indices.to_vector<int64_t>(), (std::vector<int64_t>{1, 0}));
  auto m0 = kernels::max(x, 0, true);
  EXPECT_EQ(m0.values.shape(), (Shape{1, 3}));
  EXPECT_EQ(m0.indices.to_vector<int64_t>(), (std::vector<int64_t>{1, 0, 0}));
  Tensor y = Tensor::from_vector<float>({0.1f, 0.7f, 0.7f, 0.3f, 0.9f});
  auto t = kernels::topk(y, 3);
  EXPECT_EQ(t.indices.to_vector<int64_t>(), (std::vector<int64_t>{4, 1, 2}));
  EXPECT_EQ(kernels::topk(y, 2, 0, false).indices.to_vector<int64_t>(), (std::vector<int64_t>{0, 3}));
  Tensor z = random_tensor({4, 6, 3}, 9);
  auto tz = kernels::topk(z, 2, 1);
  EXPECT_EQ(tz.values.shape(), (Shape{4, 2, 3}));
  EXPECT_EQ(kernels::argmax(z, 1).to_vector<int64_t>(), tz.indices.select(1, 0).contiguous().to_vector<int64_t>());
  EXPECT_THROW(kernels::topk(y, 6), Error);
}

TEST(Softmax, StableAndMatchesReference) {
  Tensor x = random_tensor({5, 33}, 4);
  kernels::mul_(x, 30.0f);
  Tensor y = kernels::softmax(x), ly = kernels::log_softmax(x);
  auto vx = x.to_vector<float>(), vy = y.to_vector<float>(), vl = ly.to_vector<float>();
  for (int r = 0; r < 5; ++r) {
    std::vector<double> row(vx.begin() + r * 33, vx.begin() + (r + 1) * 33);
    auto ref = test::ref::softmax(row);
    for (int i = 0; i < 33; ++i) {
      EXPECT_NEAR(vy[r * 33 + i], ref[i], 1e-6);
      if (ref[i] > 1e-30) EXPECT_NEAR(vl[r * 33 + i], std::log(ref[i]), 2e-5);
    }
  }
  // huge offsets: no overflow
  Tensor big = Tensor::from_vector<float>({1000.f, 1001.f, -INFINITY});
  auto vb = kernels::softmax(big).to_vector<float>();
  EXPECT_NEAR(vb[1], 1 / (1 + std::exp(-1.0)), 1e-6);
  EXPECT_EQ(vb[2], 0.f);
  // other dim
  Tensor z = random_tensor({3, 4}, 5);
  EXPECT_TENSOR_CLOSE(kernels::softmax(z, 0), kernels::softmax(z.transpose(0, 1), 1).transpose(0, 1), 1e-7, 0);
  // all -inf row gives NaN like torch
  EXPECT_TRUE(std::isnan(kernels::softmax(Tensor::full({2}, -INFINITY)).to_vector<float>()[0]));
}

TEST(LayerNorm, LargeMeanSmallVarianceAndBackward) {
  Tensor x = random_tensor({6, 9}, 6);
  Tensor shifted = kernels::affine(x, 0.1f, 50.0f);
  Tensor w = random_tensor({9}, 7), b = random_tensor({9}, 8);
  auto r = kernels::layer_norm(shifted, w, b, 1e-5f);
  auto vx = shifted.to_vector<float>(), vy = r.y.to_vector<float>(), vw = w.to_vector<float>(), vb = b.to_vector<float>();
  for (int row = 0; row < 6; ++row) {
    double m = 0, v = 0;
    for (int i = 0; i < 9; ++i) m += vx[row * 9 + i];
    m /= 9;
    for (int i = 0; i < 9; ++i) v += (vx[row * 9 + i] - m) * (vx[row * 9 + i] - m);
    v /= 9;
    for (int i = 0; i < 9; ++i)
      EXPECT_NEAR(vy[row * 9 + i], (vx[row * 9 + i] - m) / std::sqrt(v + 1e-5) * vw[i] + vb[i], 2e-4);
  }
  // finite differences of sum(y * g)
  Tensor g = random_tensor({6, 9}, 9);
  auto grads = kernels::layer_norm_backward(g, x, kernels::layer_norm(x, w, b, 1e-5f).mean,
                                            kernels::layer_norm(x, w, b, 1e-5f).rstd, w, true);
  auto objective = [&](const Tensor& xx, const Tensor& ww) {
    auto y = kernels::layer_norm(xx, ww, b, 1e-5f).y.to_vector<float>();
    auto vg = g.to_vector<float>();
    double s = 0;
    for (size_t i = 0; i < y.size(); ++i) s += static_cast<double>(y[i]) * vg[i];
    return s;
  };
  for (int idx : {0, 13, 40}) {
    Tensor xp = x.clone(), xm = x.clone();
    xp.data<float>()[idx] += 1e-2f;
    xm.data<float>()[idx] -= 1e-2f;
    EXPECT_NEAR(grads.dx.to_vector<float>()[idx], (objective(xp, w) - objective(xm, w)) / 2e-2, 2e-2);
  }
  for (int idx : {0, 5}) {
    Tensor wp = w.clone(), wm = w.clone();
    wp.data<float>()[idx] += 1e-2f;
    wm.data<float>()[idx] -= 1e-2f;
    EXPECT_NEAR(grads.dweight.to_vector<float>()[idx], (objective(x, wp) - objective(x, wm)) / 2e-2, 2e-2);
  }
  double db0 = 0;
  for (int row = 0; row < 6; ++row) db0 += g.to_vector<float>()[row * 9];
  EXPECT_NEAR(grads.dbias.to_vector<float>()[0], db0, 1e-5);
}

TEST(RmsNorm, MatchesFormula) {
  Tensor x = random_tensor({3, 8}, 10), w = random_tensor({8}, 11);
  auto r = kernels::rms_norm(x, w, 1e-6f);
  auto vx = x.to_vector<float>(), vy = r.y.to_vector<float>(), vw = w.to_vector<float>();
  for (int row = 0; row < 3; ++row) {
    double ms = 0;
    for (int i = 0; i < 8; ++i) ms += vx[row * 8 + i] * vx[row * 8 + i];
    double rs = 1 / std::sqrt(ms / 8 + 1e-6);
    for (int i = 0; i < 8; ++i) EXPECT_NEAR(vy[row * 8 + i], vx[row * 8 + i] * rs * vw[i], 1e-5);
  }
}

TEST(Embedding, GatherScatterAndPadding) {
  Tensor w = random_tensor({5, 3}, 12);
  Tensor ids = Tensor::from_vector<int64_t>({4, 0, 4, 2}, {2, 2});
  Tensor e = kernels::embedding(w, ids);
  ASSERT_EQ(e.shape(), (Shape{2, 2, 3}));
  EXPECT_EQ(e.to_vector<float>()[0], w.to_vector<float>()[12]);
  EXPECT_THROW(kernels::embedding(w, Tensor::from_vector<int64_t>({5})), Error);
  EXPECT_THROW(kernels::embedding(w, Tensor::from_vector<int64_t>({-1})), Error);
  Tensor g = Tensor::ones({2, 2, 3});
  Tensor dw = kernels::embedding_backward(g, ids, 5, 0);
  auto v = dw.to_vector<float>();
  EXPECT_EQ(v[12], 2.f);
  EXPECT_EQ(v[0], 0.f);  // padding row
  EXPECT_EQ(v[6], 1.f);
  // bf16 tables are converted on the fly
  Tensor wb = w.to(DType::BF16);
  EXPECT_TENSOR_CLOSE(kernels::embedding(wb, ids), e, 1e-2, 1e-2);
}

}  // namespace
