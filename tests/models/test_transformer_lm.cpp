// The tutorial's TransformerModel (models::TransformerLM) and its data helpers: structure and
// state_dict names, initialisation (torch's distributions), batchify/get_batch semantics, causal-mask
// equivalence, dropout determinism, and that a few SGD steps learn a deterministic sequence. (Exact
// PyTorch parity of the model, its gradients and training trajectories - with dropout 0, and with
// dropout masks shared through xfmr's generator - is checked by the nn parity suite: lm and lm_traj.)
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>

#include "common/test_util.h"
#include "xfmr/autograd/ops.h"
#include "xfmr/models/transformer_lm.h"
#include "xfmr/nn/functional.h"
#include "xfmr/optim/clip_grad.h"
#include "xfmr/optim/lr_scheduler.h"
#include "xfmr/optim/sgd.h"

using namespace xfmr;

namespace {

models::TransformerLMConfig small_config(int64_t ntoken = 23, float dropout = 0.0f) {
  models::TransformerLMConfig c;
  c.ntoken = ntoken;
  c.d_model = 16;
  c.nhead = 2;
  c.d_hid = 24;
  c.nlayers = 2;
  c.dropout = dropout;
  c.max_len = 64;
  return c;
}

TEST(TransformerLM, StateDictNamesAndInit) {
  Generator g(3);
  models::TransformerLM lm(small_config(), g);
  auto sd = lm.state_dict();
  std::vector<std::string> names;
  for (auto& [n, t] : sd) names.push_back(n);
  // The tutorial's registration order: pos_encoder (buffer pe), transformer_encoder, encoder, decoder.
  ASSERT_EQ(names.size(), 1 + 2 * 12 + 3u);
  EXPECT_EQ(names[0], "pos_encoder.pe");
  EXPECT_EQ(names[1], "transformer_encoder.layers.0.self_attn.in_proj_weight");
  EXPECT_EQ(names[names.size() - 3], "encoder.weight");
  EXPECT_EQ(names[names.size() - 2], "decoder.weight");
  EXPECT_EQ(names.back(), "decoder.bias");
  EXPECT_EQ(lm.pos_encoder->pe.shape(), Shape({64, 1, 16}));
  EXPECT_EQ(lm.parameters().size(), 2 * 12 + 3u);  // pe is a buffer, not a parameter
  for (float v : lm.encoder->weight.to_vector<float>()) EXPECT_LE(std::fabs(v), 0.1f);
  for (float v : lm.decoder->weight.to_vector<float>()) EXPECT_LE(std::fabs(v), 0.1f);
  for (float v : lm.decoder->bias.to_vector<float>()) EXPECT_EQ(v, 0.0f);
  // torch deep-copies the encoder layer: both layers start with the same weights.
  auto& layers = *lm.transformer_encoder->layers;
  EXPECT_EQ(layers[0]->linear1->weight.to_vector<float>(), layers[1]->linear1->weight.to_vector<float>());
  EXPECT_FALSE(lm.transformer_encoder->norm) << "the tutorial's encoder has no final norm";
  EXPECT_FALSE(layers[0]->norm_first);
  // Same seed, same model.
  Generator g2(3);
  models::TransformerLM again(small_config(), g2);
  EXPECT_EQ(again.encoder->weight.to_vector<float>(), lm.encoder->weight.to_vector<float>());
}

TEST(TransformerLM, BatchifyAndGetBatch) {
  std::vector<int64_t> stream(26);
  for (int i = 0; i < 26; ++i) stream[static_cast<size_t>(i)] = i;
  Tensor data = models::batchify(Tensor::from_vector<int64_t>(stream), 4);  // 6 rows, 2 tokens dropped
  ASSERT_EQ(data.shape(), Shape({6, 4}));
  auto v = data.to_vector<int64_t>();
  // Column j holds the j-th contiguous slice of the stream.
  EXPECT_EQ(v[0 * 4 + 0], 0);
  EXPECT_EQ(v[1 * 4 + 0], 1);
  EXPECT_EQ(v[0 * 4 + 1], 6);
  EXPECT_EQ(v[5 * 4 + 3], 23);
  auto b = models::get_batch(data, 0, 4);
  EXPECT_EQ(b.data.shape(), Shape({4, 4}));
  EXPECT_EQ(b.targets.shape(), Shape({16}));
  EXPECT_EQ(b.targets.to_vector<int64_t>()[0], 1);   // next token of data[0][0]
  EXPECT_EQ(b.targets.to_vector<int64_t>()[1], 7);   // next token of data[0][1]
  auto last = models::get_batch(data, 4, 4);          // seq_len = min(bptt, 6 - 1 - 4) = 1
  EXPECT_EQ(last.data.shape(), Shape({1, 4}));
  EXPECT_EQ(last.targets.to_vector<int64_t>(), (std::vector<int64_t>{5, 11, 17, 23}));
  EXPECT_THROW(models::get_batch(data, 5, 4), Error);
  EXPECT_THROW(models::batchify(Tensor::from_vector<int64_t>({1, 2}), 3), Error);
}

TEST(TransformerLM, CausalFlagEqualsMaskAndMaskIsCausal) {
  Generator g(5);
  models::TransformerLM lm(small_config(), g);
  lm.eval();
  Tensor src = Tensor::from_vector<int64_t>({1, 5, 7, 2, 9, 3, 4, 8, 0, 22, 11, 6}, {6, 2});
  NoGradGuard ng;
  Tensor a = lm.forward(src, nn::functional::generate_square_subsequent_mask(6));
  Tensor b = lm.forward(src, Tensor(), true);
  EXPECT_EQ(a.shape(), Shape({6, 2, 23}));
  EXPECT_TENSOR_CLOSE(a, b, 1e-5, 1e-5);
  // Causality: changing the last token leaves the earlier positions' logits unchanged.
  Tensor src2 = src.clone();
  src2.data<int64_t>()[5 * 2 + 0] = 13;
  Tensor c = lm.forward(src2, Tensor(), true);
  EXPECT_TENSOR_CLOSE(c.narrow(0, 0, 5), b.narrow(0, 0, 5), 0, 0);
  EXPECT_FALSE(test::compare_close(c.narrow(0, 5, 1), b.narrow(0, 5, 1), 1e-6, 0).empty());
}

// The parity goldens load PyTorch's initial weights, so they cannot see an initialisation that
// differs from torch's in distribution. Check every tensor against torch 1.13's recipe: uniform on
// [-bound, bound] (max |w| close to the bound, variance bound^2 / 3) or a constant.
TEST(TransformerLM, InitialisationFollowsTorchDistributions) {
  models::TransformerLMConfig c = small_config(500);
  c.d_model = 200;
  c.d_hid = 300;  // differs from d_model so that fan_in mix-ups show
  Generator g(4);
  models::TransformerLM lm(c, g);
  const double d = 200, h = 300;
  std::map<std::string, double> bound = {
      {"self_attn.in_proj_weight", std::sqrt(6.0 / (d + 3 * d))},  // xavier_uniform on [3d, d]
      {"self_attn.in_proj_bias", 0},
      {"self_attn.out_proj.weight", 1 / std::sqrt(d)},  // Linear's kaiming_uniform(a=sqrt(5))
      {"self_attn.out_proj.bias", 0},                   // zeroed by MultiheadAttention
      {"linear1.weight", 1 / std::sqrt(d)},
      {"linear1.bias", 1 / std::sqrt(d)},
      {"linear2.weight", 1 / std::sqrt(h)},
      {"linear2.bias", 1 / std::sqrt(h)},
      {"encoder.weight", 0.1},  // the tutorial's init_weights()
      {"decoder.weight", 0.1},
      {"decoder.bias", 0}};
  int checked = 0;
  for (const auto& [name, t] : lm.named_parameters()) {
    std::vector<float> v = t.to_vector<float>();
    if (name.find(".norm") != std::string::npos) {  // LayerNorm: weight 1, bias 0
      for (float x : v) EXPECT_EQ(x, name.find("weight") != std::string::npos ? 1.0f : 0.0f) << name;
      ++checked;
      continue;
    }
    const std::string layers = "transformer_encoder.layers.";  // strip "transformer_encoder.layers.N."
    const std::string key = name.rfind(layers, 0) == 0 ? name.substr(name.find('.', layers.size()) + 1) : name;
    ASSERT_TRUE(bound.count(key)) << name;
    const double b = bound[key];
    double mx = 0, sum = 0, sq = 0;
    for (float x : v) {
      mx = std::max(mx, static_cast<double>(std::fabs(x)));
      sum += x;
      sq += static_cast<double>(x) * x;
    }
    const double n = static_cast<double>(v.size()), mean = sum / n, var = sq / n - mean * mean;
    if (b == 0) {
      EXPECT_EQ(mx, 0.0) << name;
    } else {
      EXPECT_LE(mx, b) << name;
      EXPECT_GE(mx, b * (1 - 20.0 / n)) << name;  // n draws: max |w| misses the bound by ~b/n
      EXPECT_NEAR(var, b * b / 3, 1.5 * b * b / std::sqrt(n)) << name;  // U(-b,b): sd of this estimate 0.3 b^2/sqrt(n)
      EXPECT_NEAR(mean, 0.0, 6 * b / std::sqrt(3 * n)) << name;
    }
    ++checked;
  }
  EXPECT_EQ(checked, 2 * 12 + 3);
}

TEST(TransformerLM, DropoutUsesTheModelsGenerator) {
  Generator g(9);
  models::TransformerLM lm(small_config(23, 0.3f), g);
  lm.train();
  Tensor src = Tensor::from_vector<int64_t>({1, 2, 3, 4, 5, 6}, {3, 2});
  Generator d1(77), d2(77);
  lm.set_generator(&d1);
  Tensor a = lm.forward(src, Tensor(), true);
  lm.set_generator(&d2);
  Tensor b = lm.forward(src, Tensor(), true);
  EXPECT_EQ(a.to_vector<float>(), b.to_vector<float>());
  lm.eval();
  Tensor e1 = lm.forward(src, Tensor(), true), e2 = lm.forward(src, Tensor(), true);
  EXPECT_EQ(e1.to_vector<float>(), e2.to_vector<float>());
  EXPECT_NE(a.to_vector<float>(), e1.to_vector<float>());
}

// The tutorial's loop (SGD lr 5, clip 0.5, StepLR) on a periodic stream: the loss must fall well
// below the uniform-prediction loss log(ntoken).
TEST(TransformerLM, TutorialLoopLearnsAPeriodicStream) {
  const int64_t ntoken = 11;
  Generator g(1);
  models::TransformerLM lm(small_config(ntoken, 0.0f), g);
  std::vector<int64_t> stream(2000);
  for (size_t i = 0; i < stream.size(); ++i) stream[i] = static_cast<int64_t>((i * 3) % ntoken);
  Tensor data = models::batchify(Tensor::from_vector<int64_t>(stream), 8);
  optim::SGD opt(lm.parameters(), {.lr = 5.0});
  optim::StepLR sched(opt, 1, 0.95);
  lm.train();
  float first = 0, last = 0;
  int step = 0;
  for (int epoch = 0; epoch < 2; ++epoch) {
    for (int64_t i = 0; i < data.size(0) - 1 && step < 40; i += 20, ++step) {
      auto b = models::get_batch(data, i, 20);
      Tensor out = lm.forward(b.data, Tensor(), true);
      Tensor loss = nn::functional::cross_entropy(reshape(out, {-1, ntoken}), b.targets);
      opt.zero_grad();
      backward(loss);
      optim::clip_grad_norm_(lm.parameters(), 0.5);
      opt.step();
      if (step == 0) first = static_cast<float>(loss.item());
      last = static_cast<float>(loss.item());
    }
    sched.step();
  }
  EXPECT_NEAR(first, std::log(static_cast<float>(ntoken)), 0.5f);
  EXPECT_LT(last, 0.5f) << "first loss " << first;
}

}  // namespace
