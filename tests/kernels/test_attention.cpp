#include <gtest/gtest.h>

#include <cmath>

#include "common/test_util.h"
#include "reference.h"
#include "xfmr/kernels/attention.h"

using namespace xfmr;
using xfmr::test::random_tensor;

namespace {

// Reference: explicit loops in double.
Tensor ref_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask, bool causal, float scale,
                     Tensor* probs) {
  int64_t B = q.size(0), H = q.size(1), L = q.size(2), D = q.size(3), S = k.size(2), Dv = v.size(3);
  Tensor out = Tensor::empty({B, H, L, Dv});
  *probs = Tensor::empty({B, H, L, S});
  Tensor me = mask.defined() ? mask.expand({B, H, L, S}) : Tensor();
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t i = 0; i < L; ++i) {
        std::vector<double> s(S);
        for (int64_t j = 0; j < S; ++j) {
          double d = 0;
          for (int64_t c = 0; c < D; ++c)
            d += static_cast<double>(test::ref::at(q, {b, h, i, c})) * test::ref::at(k, {b, h, j, c});
          s[j] = d * scale + (me.defined() ? test::ref::at(me, {b, h, i, j}) : 0.0);
          if (causal && j > S - L + i) s[j] = -INFINITY;
        }
        auto p = test::ref::softmax(s);
        for (int64_t j = 0; j < S; ++j) probs->data<float>()[((b * H + h) * L + i) * S + j] = static_cast<float>(p[j]);
        for (int64_t c = 0; c < Dv; ++c) {
          double o = 0;
          for (int64_t j = 0; j < S; ++j) o += p[j] * test::ref::at(v, {b, h, j, c});
          out.data<float>()[((b * H + h) * L + i) * Dv + c] = static_cast<float>(o);
        }
      }
  return out;
}

TEST(Attention, MatchesReferenceWithMasksAndViews) {
  // q/k/v as head views of a [B, L, H*D] projection (the layout MHA produces).
  int64_t B = 2, H = 3, L = 70, S = 70, D = 8;
  Tensor proj = random_tensor({B, L, 3 * H * D}, 1);
  auto heads = [&](int i) { return proj.narrow(2, i * H * D, H * D).view({B, L, H, D}).transpose(1, 2); };
  Tensor q = heads(0), k = heads(1), v = heads(2);
  Tensor pad = Tensor::zeros({B, 1, 1, S});
  for (int64_t j = 60; j < S; ++j) pad.data<float>()[1 * S + j] = -INFINITY;  // batch 1 padded
  float scale = 1.0f / std::sqrt(static_cast<float>(D));
  for (bool causal : {false, true}) {
    kernels::AttentionMask m{pad, causal};
    auto r = kernels::scaled_dot_product_attention(q, k, v, m, scale, true);
    Tensor probs;
    Tensor ref = ref_attention(q, k, v, pad, causal, scale, &probs);
    EXPECT_TENSOR_CLOSE(r.out, ref, 2e-6, 1e-5);
    EXPECT_TENSOR_CLOSE(r.probs, probs, 1e-6, 1e-5);
    auto r2 = kernels::scaled_dot_product_attention(q, k, v, m, scale, false);
    EXPECT_EQ(r2.out.to_vector<float>(), r.out.to_vector<float>());
  }
}

TEST(Attention, KvCacheOffsetAndCrossLengths) {
  Tensor q = random_tensor({1, 2, 3, 4}, 2), k = random_tensor({1, 2, 9, 4}, 3), v = random_tensor({1, 2, 9, 5}, 4);
  auto r = kernels::scaled_dot_product_attention(q, k, v, {Tensor(), true}, 0.5f, true);
  Tensor probs;
  EXPECT_TENSOR_CLOSE(r.out, ref_attention(q, k, v, Tensor(), true, 0.5f, &probs), 2e-6, 1e-5);
  // query 0 sits at absolute position 6: keys 7, 8 are in its future
  EXPECT_EQ(r.probs.to_vector<float>()[7], 0.f);
  EXPECT_GT(r.probs.to_vector<float>()[6], 0.f);
}

TEST(Attention, BackwardMatchesFiniteDifferences) {
  int64_t B = 2, H = 2, L = 5, S = 6, D = 3;
  Tensor q = random_tensor({B, H, L, D}, 5), k = random_tensor({B, H, S, D}, 6), v = random_tensor({B, H, S, D}, 7);
  Tensor mask = random_tensor({L, S}, 8);
  Tensor g = random_tensor({B, H, L, D}, 9);
  float scale = 0.7f;
  auto fwd = kernels::scaled_dot_product_attention(q, k, v, {mask, false}, scale, true);
  auto grads = kernels::scaled_dot_product_attention_backward(g, q, k, v, fwd.probs, scale);
  auto objective = [&](const Tensor& qq, const Tensor& kk, const Tensor& vv) {
    auto y = kernels::scaled_dot_product_attention(qq, kk, vv, {mask, false}, scale, false).out.to_vector<float>();
    auto vg = g.to_vector<float>();
    double s = 0;
    for (size_t i = 0; i < y.size(); ++i) s += static_cast<double>(y[i]) * vg[i];
    return s;
  };
  auto fd = [&](int which, int idx) {
    Tensor ts[3] = {q.clone(), k.clone(), v.clone()};
    Tensor tm[3] = {q.clone(), k.clone(), v.clone()};
    ts[which].data<float>()[idx] += 1e-2f;
    tm[which].data<float>()[idx] -= 1e-2f;
    return (objective(ts[0], ts[1], ts[2]) - objective(tm[0], tm[1], tm[2])) / 2e-2;
  };
  for (int idx : {0, 7, 29, 59}) {
    EXPECT_NEAR(grads.dq.to_vector<float>()[idx], fd(0, idx), 3e-3);
    EXPECT_NEAR(grads.dk.to_vector<float>()[idx], fd(1, idx), 3e-3);
    EXPECT_NEAR(grads.dv.to_vector<float>()[idx], fd(2, idx), 3e-3);
  }
}

TEST(Attention, ErrorsNameShapes) {
  try {
    kernels::scaled_dot_product_attention(random_tensor({1, 2, 3, 4}, 1), random_tensor({1, 2, 3, 5}, 2),
                                          random_tensor({1, 2, 3, 5}, 3), {}, 1.0f, false);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("head size"), std::string::npos) << e.what();
  }
}

}  // namespace
