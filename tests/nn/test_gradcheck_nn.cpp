// Finite-difference checks of every backward pass added for the nn layer: the fused losses
// (cross_entropy with ignore_index / label smoothing / class weights / every reduction and input
// layout, nll_loss, mse_loss), the head split of multi-head attention, and the composed modules
// (MultiheadAttention in all its paths, encoder/decoder layers, the tutorial LM's pieces).
//
// Method (tests/autograd/gradcheck.h): the kernels compute in f32 only, so the checks use central
// differences (L(x + h e_j) - L(x - h e_j)) / 2h with a moderate step h on an objective
// L = sum_i f(x)_i w_i (fixed random weights w) that is accumulated in f64, and compare with the
// analytic gradient from backward() at |analytic - numeric| <= atol + rtol |numeric|. Shapes are
// small and odd (5, 7, 3, ...) so that no code path relies on even or aligned sizes; large inputs
// are checked on a deterministic sample of elements.
#include <gtest/gtest.h>

#include <cmath>

#include "common/test_util.h"
#include "gradcheck.h"
#include "xfmr/autograd/attention.h"
#include "xfmr/autograd/loss.h"
#include "xfmr/autograd/ops.h"
#include "xfmr/nn/functional.h"
#include "xfmr/nn/multihead_attention.h"
#include "xfmr/nn/positional_encoding.h"
#include "xfmr/nn/transformer.h"

using namespace xfmr;
using test::gradcheck;
using test::GradcheckOptions;
using test::random_tensor;

namespace {

#define EXPECT_GRADCHECK(f, inputs, ...)                   \
  do {                                                     \
    std::string gc_report_ = gradcheck(f, inputs, ##__VA_ARGS__); \
    EXPECT_TRUE(gc_report_.empty()) << gc_report_;         \
  } while (0)

Tensor targets(std::vector<int64_t> v) { return Tensor::from_vector<int64_t>(v); }

TEST(GradcheckNn, CrossEntropyAllOptions) {
  Tensor logits = mul(random_tensor({7, 5}, 1), 3.0f);
  Tensor t = targets({0, 4, 2, -100, 1, 3, 4});
  Tensor w = add(random_tensor({5}, 2), 1.5f);  // positive class weights
  for (Reduction r : {Reduction::Mean, Reduction::Sum, Reduction::None})
    for (float eps : {0.0f, 0.15f})
      for (bool weighted : {false, true}) {
        SCOPED_TRACE(::testing::Message() << "reduction " << static_cast<int>(r) << " eps " << eps << " weighted "
                                          << weighted);
        Tensor wt = weighted ? w : Tensor();
        EXPECT_GRADCHECK([&](auto& x) { return cross_entropy(x[0], t, wt, -100, r, eps); }, {logits});
      }
}

TEST(GradcheckNn, CrossEntropyLayouts) {
  // [C] with a 0-dim target, and [N, C, d] with target [N, d] (class dim moved last internally).
  Tensor l1 = random_tensor({7}, 3);
  Tensor t0 = Tensor::scalar(4.0, DType::I64);
  EXPECT_GRADCHECK([&](auto& x) { return cross_entropy(x[0], t0); }, {l1});
  Tensor l3 = mul(random_tensor({3, 5, 4}, 4), 2.0f);
  Tensor t2 = Tensor::from_vector<int64_t>({0, 1, 4, 2, 3, 3, 0, 1, 2, 4, 4, 1}, {3, 4});
  EXPECT_GRADCHECK([&](auto& x) { return cross_entropy(x[0], t2, Tensor(), -100, Reduction::None, 0.1f); }, {l3});
  EXPECT_GRADCHECK([&](auto& x) { return cross_entropy(x[0], t2, Tensor(), 3, Reduction::Mean, 0.0f); }, {l3});
}

TEST(GradcheckNn, CrossEntropyLargeLogitsStable) {
  // Rows shifted by +60 and scaled x10: the max subtraction keeps exp finite.
  Tensor logits = add(mul(random_tensor({3, 9}, 5), 10.0f), 60.0f);
  Tensor t = targets({8, 0, 4});
  EXPECT_GRADCHECK([&](auto& x) { return cross_entropy(x[0], t, Tensor(), -100, Reduction::Mean, 0.2f); }, {logits},
                   GradcheckOptions{1e-2f, 3e-3, 2e-2});
}

TEST(GradcheckNn, NllAndMse) {
  Tensor lp = random_tensor({5, 7}, 6);
  Tensor t = targets({6, 0, -100, 3, 3});
  Tensor w = add(random_tensor({7}, 7), 2.0f);
  for (Reduction r : {Reduction::Mean, Reduction::Sum, Reduction::None}) {
    EXPECT_GRADCHECK([&](auto& x) { return nll_loss(x[0], t, Tensor(), -100, r); }, {lp});
    EXPECT_GRADCHECK([&](auto& x) { return nll_loss(x[0], t, w, -100, r); }, {lp});
    EXPECT_GRADCHECK([&](auto& x) { return mse_loss(x[0], x[1], r); }, {random_tensor({3, 5, 7}, 8), random_tensor({3, 5, 7}, 9)});
  }
}

TEST(GradcheckNn, SplitAndMergeHeads) {
  for (bool bf : {false, true}) {
    Tensor packed = random_tensor({5, 3, 3 * 6}, 10);  // [A, B, 3 * E], E = 6 = 3 heads x 2
    EXPECT_GRADCHECK(
        [bf](auto& x) {
          auto hs = split_heads(x[0], 3, 3, bf);
          // Use the chunks unequally so each gradient slot differs.
          return add(add(mul(hs[0], 2.0f), mul(hs[1], hs[1])), reshape(merge_heads(hs[2], bf), hs[2].shape()));
        },
        {packed});
    EXPECT_GRADCHECK([bf](auto& x) { return merge_heads(x[0], bf); }, {random_tensor({3, 2, 5, 3}, 11)});
  }
}

// MultiheadAttention forward as a function of (query, key, value, parameters...).
struct MhaCase {
  bool batch_first, self_attn, kv_same, need_weights, average;
  int64_t kdim, vdim;
  bool bias_kv, zero_attn, bias;
  int mask;  // 0 none, 1 float [L, S], 2 bool [L, S] + bool key padding, 3 float 3-D + float kpm? (see below)
};

void check_mha(const MhaCase& mc, uint64_t seed) {
  const int64_t E = 6, H = 3, L = 5, S = mc.self_attn ? 5 : 7, N = 3;
  nn::MultiheadAttention mha(E, H, 0.0f, mc.bias, mc.bias_kv, mc.zero_attn, mc.kdim, mc.vdim, mc.batch_first);
  mha.eval();
  auto params = mha.parameters();
  auto shape = [&](int64_t T, int64_t D) { return mc.batch_first ? Shape{N, T, D} : Shape{T, N, D}; };
  Tensor q = random_tensor(shape(L, E), seed);
  Tensor k = random_tensor(shape(S, mha.kdim), seed + 1);
  Tensor v = random_tensor(shape(S, mha.vdim), seed + 2);
  Tensor am, kpm;
  if (mc.mask == 1) {
    am = mul(random_tensor({L, S}, seed + 3), 2.0f);
    am.data<float>()[1] = -INFINITY;
  } else if (mc.mask == 2) {
    am = Tensor::zeros({L, S}, DType::Bool);
    static_cast<uint8_t*>(am.raw_data())[S - 1] = 1;
    kpm = Tensor::zeros({N, S}, DType::Bool);
    static_cast<uint8_t*>(kpm.raw_data())[2 * S - 1] = 1;
  } else if (mc.mask == 3) {
    am = mul(random_tensor({N * H, L, S}, seed + 4), 2.0f);
    kpm = Tensor::zeros({N, S}, DType::Bool);
    static_cast<uint8_t*>(kpm.raw_data())[S - 2] = 1;
  }
  std::vector<Tensor> inputs{q};
  if (!mc.self_attn) {
    inputs.push_back(k);
    if (!mc.kv_same) inputs.push_back(v);
  }
  const size_t n_in = inputs.size();
  for (auto& p : params) inputs.push_back(p.detach());
  auto f = [&](const std::vector<Tensor>& x) {
    // Swap the module's parameters for the (perturbed / differentiable) inputs.
    auto named = mha.named_parameters();
    for (size_t i = 0; i < named.size(); ++i) *mha.find_tensor(named[i].first) = x[n_in + i];
    const Tensor& qq = x[0];
    const Tensor& kk = mc.self_attn ? x[0] : x[1];
    const Tensor& vv = mc.self_attn ? x[0] : (mc.kv_same ? x[1] : x[2]);
    auto r = mha.forward(qq, kk, vv, kpm, mc.need_weights, am, mc.average);
    return mc.need_weights ? add(sum(r.output), mul(sum(mul(r.weights, r.weights)), 3.0f)) : r.output;
  };
  EXPECT_GRADCHECK(f, inputs, GradcheckOptions{1e-2f, 3e-3, 2e-2, 48});
}

TEST(GradcheckNn, MultiheadAttentionPaths) {
  // self-attention (packed GEMM + fused kernel), seq-first and batch-first, masks of every kind
  check_mha({false, true, true, false, true, -1, -1, false, false, true, 0}, 20);
  check_mha({true, true, true, false, true, -1, -1, false, false, true, 1}, 21);
  check_mha({false, true, true, false, true, -1, -1, false, false, false, 2}, 22);
  check_mha({true, true, true, false, true, -1, -1, false, false, true, 3}, 23);
  // cross-attention with key == value (packed kv GEMM) and separate key/value
  check_mha({false, false, true, false, true, -1, -1, false, false, true, 2}, 24);
  check_mha({true, false, false, false, true, -1, -1, false, false, true, 1}, 25);
  // kdim/vdim != embed_dim (separate projection weights)
  check_mha({false, false, false, false, true, 4, 5, false, false, true, 2}, 26);
  // differentiable attention weights (composed path), averaged and per head
  check_mha({false, true, true, true, true, -1, -1, false, false, true, 1}, 27);
  check_mha({true, false, false, true, false, -1, -1, false, false, true, 2}, 28);
  // add_bias_kv and add_zero_attn
  check_mha({false, true, true, false, true, -1, -1, true, false, true, 2}, 29);
  check_mha({true, false, false, false, true, -1, -1, true, true, true, 1}, 30);
}

TEST(GradcheckNn, MultiheadAttentionCausalAndUnbatched) {
  nn::MultiheadAttention mha(6, 2, 0.0f);
  Tensor x = random_tensor({5, 6}, 31);  // unbatched [L, E]
  EXPECT_GRADCHECK([&](auto& in) { return mha.forward(in[0], in[0], in[0], Tensor(), false, Tensor(), true, true).output; },
                   {x});
  Tensor xb = random_tensor({4, 3, 6}, 32);
  EXPECT_GRADCHECK([&](auto& in) { return mha.forward(in[0], in[0], in[0], Tensor(), false, Tensor(), true, true).output; },
                   {xb});
}

TEST(GradcheckNn, EncoderAndDecoderLayers) {
  for (bool norm_first : {false, true})
    for (const char* act : {"relu", "gelu"}) {
      SCOPED_TRACE(::testing::Message() << "norm_first " << norm_first << " " << act);
      nn::TransformerEncoderLayer enc(6, 3, 7, 0.0f, act, 1e-5f, norm_first, norm_first);
      Tensor src = random_tensor(norm_first ? Shape{2, 5, 6} : Shape{5, 2, 6}, 40);
      Tensor mask = nn::functional::generate_square_subsequent_mask(5);
      EXPECT_GRADCHECK([&](auto& in) { return enc.forward(in[0], mask); }, {src},
                       GradcheckOptions{1e-2f, 3e-3, 2e-2, 40});
      nn::TransformerDecoderLayer dec(6, 3, 7, 0.0f, act, 1e-5f, false, norm_first);
      Tensor tgt = random_tensor({4, 2, 6}, 41), mem = random_tensor({5, 2, 6}, 42);
      EXPECT_GRADCHECK([&](auto& in) { return dec.forward(in[0], in[1], Tensor(), Tensor(), Tensor(), Tensor(), true); },
                       {tgt, mem}, GradcheckOptions{1e-2f, 3e-3, 2e-2, 40});
    }
}

TEST(GradcheckNn, PositionalEncodingAndEmbeddingScale) {
  nn::PositionalEncoding pe(6, 0.1f, 50);
  pe.eval();
  EXPECT_GRADCHECK([&](auto& in) { return pe.forward(mul(in[0], std::sqrt(6.0f))); }, {random_tensor({5, 3, 6}, 50)});
}

}  // namespace
