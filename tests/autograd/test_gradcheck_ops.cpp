// Finite-difference checks of every differentiable op's backward, on random odd shapes.
#include <gtest/gtest.h>

#include <cmath>

#include "common/test_util.h"
#include "gradcheck.h"

using namespace xfmr;
using test::gradcheck;
using test::random_tensor;

namespace {

using Fn = std::function<Tensor(const std::vector<Tensor>&)>;
#define EXPECT_GRADCHECK(f, inputs, ...) \
  do {                                   \
    std::string r = gradcheck(f, inputs, ##__VA_ARGS__); \
    EXPECT_TRUE(r.empty()) << r;         \
  } while (0)

TEST(Gradcheck, Arithmetic) {
  Tensor a = random_tensor({3, 1, 5}, 1), b = random_tensor({4, 1}, 2);
  EXPECT_GRADCHECK([](auto& x) { return add(x[0], x[1]); }, {a, b});
  EXPECT_GRADCHECK([](auto& x) { return sub(x[0], x[1]); }, {a, b});
  EXPECT_GRADCHECK([](auto& x) { return mul(x[0], x[1]); }, {a, b});
  Tensor pos = add(random_tensor({4, 1}, 3), 2.0f);
  EXPECT_GRADCHECK([](auto& x) { return div(x[0], x[1]); }, {a, pos});
  EXPECT_GRADCHECK([](auto& x) { return add(mul(x[0], 3.0f), -1.0f); }, {a});
  EXPECT_GRADCHECK([](auto& x) { return neg(x[0]); }, {a});
}

TEST(Gradcheck, ElementwiseFunctions) {
  Tensor x = mul(random_tensor({7, 3}, 4), 3.0f);
  Tensor pos = add(mul(random_tensor({7, 3}, 5), 0.5f), 1.0f);
  EXPECT_GRADCHECK([](auto& v) { return exp(v[0]); }, {x}, {1e-3f, 1e-2, 1e-2});
  EXPECT_GRADCHECK([](auto& v) { return log(v[0]); }, {pos});
  EXPECT_GRADCHECK([](auto& v) { return sqrt(v[0]); }, {pos});
  EXPECT_GRADCHECK([](auto& v) { return rsqrt(v[0]); }, {pos});
  EXPECT_GRADCHECK([](auto& v) { return square(v[0]); }, {x});
  EXPECT_GRADCHECK([](auto& v) { return pow(v[0], 1.5f); }, {pos});
  EXPECT_GRADCHECK([](auto& v) { return tanh(v[0]); }, {x});
  EXPECT_GRADCHECK([](auto& v) { return sigmoid(v[0]); }, {x});
  EXPECT_GRADCHECK([](auto& v) { return gelu(v[0]); }, {x});
  EXPECT_GRADCHECK([](auto& v) { return gelu(v[0], true); }, {x});
  EXPECT_GRADCHECK([](auto& v) { return silu(v[0]); }, {x});
  // relu: keep inputs away from the kink
  Tensor away = add(x, 0.05f);
  EXPECT_GRADCHECK([](auto& v) { return relu(v[0]); }, {away}, {1e-3f, 2e-3, 1e-2});
  Tensor mask = Tensor::from_vector<bool>({true, false, true}, {3});
  EXPECT_GRADCHECK([mask](auto& v) { return masked_fill(v[0], mask, 2.0f); }, {x});
}

TEST(Gradcheck, MatmulLinear) {
  EXPECT_GRADCHECK([](auto& v) { return matmul(v[0], v[1]); }, {random_tensor({3, 5}, 6), random_tensor({5, 4}, 7)});
  EXPECT_GRADCHECK([](auto& v) { return matmul(v[0], v[1]); },
                   {random_tensor({2, 3, 5}, 8), random_tensor({5, 4}, 9)});  // broadcast batch
  EXPECT_GRADCHECK([](auto& v) { return matmul(v[0], v[1]); }, {random_tensor({5}, 10), random_tensor({2, 5, 3}, 11)});
  EXPECT_GRADCHECK([](auto& v) { return linear(v[0], v[1], v[2]); },
                   {random_tensor({2, 3, 5}, 12), random_tensor({7, 5}, 13), random_tensor({7}, 14)});
  EXPECT_GRADCHECK([](auto& v) { return linear(v[0], v[1]); }, {random_tensor({6, 5}, 15), random_tensor({7, 5}, 16)});
}

TEST(Gradcheck, Reductions) {
  Tensor x = random_tensor({3, 4, 5}, 17);
  EXPECT_GRADCHECK([](auto& v) { return sum(v[0]); }, {x});
  EXPECT_GRADCHECK([](auto& v) { return sum(v[0], {1}); }, {x});
  EXPECT_GRADCHECK([](auto& v) { return sum(v[0], {0, 2}, true); }, {x});
  EXPECT_GRADCHECK([](auto& v) { return mean(v[0], {-1}); }, {x});
  EXPECT_GRADCHECK([](auto& v) { return mean(v[0]); }, {x});
}

TEST(Gradcheck, ShapeOps) {
  Tensor x = random_tensor({3, 4, 5}, 18);
  EXPECT_GRADCHECK([](auto& v) { return reshape(v[0], {12, 5}); }, {x});
  EXPECT_GRADCHECK([](auto& v) { return mul(transpose(v[0], 0, 2), 2.0f); }, {x});
  EXPECT_GRADCHECK([](auto& v) { return permute(v[0], {2, 0, 1}); }, {x});
  EXPECT_GRADCHECK([](auto& v) { return narrow(v[0], 1, 1, 2); }, {x});
  EXPECT_GRADCHECK([](auto& v) { return select(v[0], 2, -1); }, {x});
  EXPECT_GRADCHECK([](auto& v) { return squeeze(unsqueeze(v[0], 1), 1); }, {x});
  EXPECT_GRADCHECK([](auto& v) { return expand(v[0], {2, 3, 4, 5}); }, {x});
  EXPECT_GRADCHECK([](auto& v) { return contiguous(transpose(v[0], 0, 1)); }, {x});
  EXPECT_GRADCHECK([](auto& v) { return flatten(v[0], 1); }, {x});
  EXPECT_GRADCHECK([](auto& v) { return cat({v[0], v[1]}, 1); }, {x, random_tensor({3, 2, 5}, 19)});
  EXPECT_GRADCHECK([](auto& v) { return stack({v[0], v[1]}, 0); }, {x, random_tensor({3, 4, 5}, 20)});
  EXPECT_GRADCHECK([](auto& v) { return mul(chunk(v[0], 3, 2)[1], chunk(v[0], 3, 2)[2]); }, {random_tensor({3, 4, 6}, 21)});
}

TEST(Gradcheck, NeuralNetworkFunctions) {
  Tensor x = mul(random_tensor({4, 7}, 22), 2.0f);
  EXPECT_GRADCHECK([](auto& v) { return softmax(v[0], -1); }, {x});
  EXPECT_GRADCHECK([](auto& v) { return softmax(v[0], 0); }, {x});
  EXPECT_GRADCHECK([](auto& v) { return log_softmax(v[0], -1); }, {x});
  EXPECT_GRADCHECK([](auto& v) { return layer_norm(v[0], v[1], v[2], 1e-5f); },
                   {x, random_tensor({7}, 23), random_tensor({7}, 24)});
  EXPECT_GRADCHECK([](auto& v) { return layer_norm(v[0], Tensor(), Tensor(), 1e-5f); }, {x});
  EXPECT_GRADCHECK([](auto& v) { return rms_norm(v[0], v[1], 1e-6f); }, {x, random_tensor({7}, 25)});
  Tensor ids = Tensor::from_vector<int64_t>({3, 1, 3, 0, 4}, {5});
  // padding_idx rows get zero gradient by definition (PyTorch), so check with an unused padding row
  EXPECT_GRADCHECK([ids](auto& v) { return embedding(v[0], ids, 2); }, {random_tensor({6, 3}, 26)});
  // dropout: fixed seed so the mask is the same in every evaluation
  EXPECT_GRADCHECK(
      [](auto& v) {
        Generator g(7);
        return dropout(v[0], 0.3f, true, g);
      },
      {x});
}

TEST(Gradcheck, AttentionFusedAndComposed) {
  Tensor q = random_tensor({2, 2, 5, 3}, 27), k = random_tensor({2, 2, 6, 3}, 28), v = random_tensor({2, 2, 6, 4}, 29);
  Tensor mask = random_tensor({5, 6}, 30);
  EXPECT_GRADCHECK([mask](auto& x) { return scaled_dot_product_attention(x[0], x[1], x[2], mask); }, {q, k, v});
  EXPECT_GRADCHECK([](auto& x) { return scaled_dot_product_attention(x[0], x[1], x[2], Tensor(), true); }, {q, k, v});
  EXPECT_GRADCHECK(
      [mask](auto& x) {
        Generator g(3);
        return scaled_dot_product_attention(x[0], x[1], x[2], mask, true, -1.0f, 0.2f, true, nullptr, g);
      },
      {q, k, v});
}

}  // namespace
