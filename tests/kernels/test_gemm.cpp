#include <gtest/gtest.h>

#include "common/test_util.h"
#include "reference.h"
#include "xfmr/core/parallel.h"
#include "xfmr/kernels/gemm.h"

using namespace xfmr;
using xfmr::test::random_tensor;

namespace {

TEST(Gemm, MatmulMatchesReferenceOnOddShapesAndTransposes) {
  uint64_t seed = 1;
  for (auto [m, k, n] : {std::tuple<int64_t, int64_t, int64_t>{1, 1, 1}, {3, 5, 7}, {17, 33, 9}, {64, 1, 65},
                         {1, 200, 31}, {129, 77, 130}}) {
    for (int ta = 0; ta < 2; ++ta)
      for (int tb = 0; tb < 2; ++tb) {
        Tensor a = ta ? random_tensor({k, m}, seed++).transpose(0, 1) : random_tensor({m, k}, seed++);
        Tensor b = tb ? random_tensor({n, k}, seed++).transpose(0, 1) : random_tensor({k, n}, seed++);
        Tensor c = kernels::matmul(a, b);
        EXPECT_TENSOR_CLOSE(c, test::ref::matmul2d(a, b), 1e-5, 1e-5);
      }
  }
}

TEST(Gemm, MatmulOnSlicedViews) {
  Tensor big = random_tensor({20, 30}, 7);
  Tensor a = big.narrow(0, 3, 9).narrow(1, 5, 11);  // row stride 30
  Tensor b = random_tensor({11, 40}, 8).slice(1, 0, 40, 2);  // column stride 2: needs a copy
  EXPECT_TENSOR_CLOSE(kernels::matmul(a, b), test::ref::matmul2d(a, b), 1e-5, 1e-5);
}

TEST(Gemm, BatchedBroadcastAndVectors) {
  Tensor a = random_tensor({2, 3, 5, 4}, 11);
  Tensor b = random_tensor({3, 4, 6}, 12);  // broadcast over the leading 2
  Tensor c = kernels::matmul(a, b);
  ASSERT_EQ(c.shape(), (Shape{2, 3, 5, 6}));
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      EXPECT_TENSOR_CLOSE(c.select(0, i).select(0, j), test::ref::matmul2d(a.select(0, i).select(0, j), b.select(0, j)),
                          1e-5, 1e-5);
  // x @ W with W shared (folded into one GEMM)
  Tensor x = random_tensor({4, 7, 5}, 13), w = random_tensor({5, 3}, 14);
  Tensor y = kernels::matmul(x, w);
  for (int i = 0; i < 4; ++i) EXPECT_TENSOR_CLOSE(y.select(0, i), test::ref::matmul2d(x.select(0, i), w), 1e-5, 1e-5);
  // A shared left operand (batch stride 0)
  Tensor l = random_tensor({3, 4}, 15), r = random_tensor({2, 4, 5}, 16);
  Tensor z = kernels::matmul(l, r);
  for (int i = 0; i < 2; ++i) EXPECT_TENSOR_CLOSE(z.select(0, i), test::ref::matmul2d(l, r.select(0, i)), 1e-5, 1e-5);
  // 1-D cases
  Tensor v = random_tensor({4}, 17);
  EXPECT_EQ(kernels::matmul(l, v).shape(), (Shape{3}));
  EXPECT_EQ(kernels::matmul(v, v).dim(), 0);
  EXPECT_NEAR(kernels::matmul(v, v).item(), test::ref::matmul2d(v.unsqueeze(0), v.unsqueeze(1)).item(), 1e-5);
}

TEST(Gemm, LinearWithBiasOnTransposedWeight) {
  Tensor x = random_tensor({2, 3, 5}, 21), w = random_tensor({7, 5}, 22), b = random_tensor({7}, 23);
  Tensor y = kernels::linear(x, w, b);
  ASSERT_EQ(y.shape(), (Shape{2, 3, 7}));
  Tensor ref = test::ref::matmul2d(x.reshape({6, 5}), w.transpose(0, 1));
  for (int64_t i = 0; i < 6; ++i)
    for (int64_t j = 0; j < 7; ++j)
      EXPECT_NEAR(y.reshape({6, 7}).to_vector<float>()[i * 7 + j], ref.to_vector<float>()[i * 7 + j] + b.to_vector<float>()[j],
                  1e-5);
  // weight given as a transposed view of [in, out] storage (GPT-2 Conv1D layout)
  Tensor wt = random_tensor({5, 7}, 24);
  EXPECT_TENSOR_CLOSE(kernels::linear(x, wt.transpose(0, 1)), kernels::linear(x, wt.transpose(0, 1).contiguous()), 1e-6,
                      1e-6);
}

TEST(Gemm, SgemmAlphaBeta) {
  Tensor a = random_tensor({4, 3}, 31), b = random_tensor({3, 5}, 32), c = random_tensor({4, 5}, 33);
  Tensor expect = test::ref::matmul2d(a, b);
  std::vector<float> e = expect.to_vector<float>(), c0 = c.to_vector<float>();
  kernels::sgemm(false, false, 4, 5, 3, 2.0f, a.data<float>(), 3, b.data<float>(), 5, 0.5f, c.data<float>(), 5);
  for (int i = 0; i < 20; ++i) EXPECT_NEAR(c.to_vector<float>()[i], 2 * e[i] + 0.5f * c0[i], 1e-5);
}

TEST(Gemm, ErrorsNameShapes) {
  try {
    kernels::matmul(random_tensor({2, 3}, 1), random_tensor({4, 5}, 2));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("f32[2, 3]"), std::string::npos) << e.what();
  }
  EXPECT_THROW(kernels::linear(random_tensor({2, 3}, 1), random_tensor({4, 5}, 2)), Error);
  EXPECT_THROW(kernels::matmul(Tensor::zeros({2, 2}, DType::I64), random_tensor({2, 2}, 2)), Error);
}

TEST(Gemm, DeterministicForAThreadCount) {
  Tensor a = random_tensor({128, 300}, 41), b = random_tensor({300, 200}, 42);
  Tensor c1 = kernels::matmul(a, b), c2 = kernels::matmul(a, b);
  EXPECT_EQ(c1.to_vector<float>(), c2.to_vector<float>());
}

}  // namespace
