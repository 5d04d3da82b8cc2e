#include <gtest/gtest.h>

#include "common/test_util.h"
#include "xfmr/autograd/ops.h"
#include "xfmr/nn/layers.h"

using namespace xfmr;

namespace {

struct Block : nn::Module {
  std::shared_ptr<nn::Linear> fc = register_module("fc", std::make_shared<nn::Linear>(4, 3));
  std::shared_ptr<nn::LayerNorm> norm = register_module("norm", std::make_shared<nn::LayerNorm>(3));
  Tensor scale = Tensor::ones({3});
  Tensor running = Tensor::zeros({3});
  Block() {
    register_parameter("scale", &scale);
    register_buffer("running", &running);
  }
};

TEST(Module, StateDictNamesAndOrder) {
  Block b;
  auto sd = b.state_dict();
  std::vector<std::string> names;
  for (auto& [n, t] : sd) names.push_back(n);
  EXPECT_EQ(names, (std::vector<std::string>{"scale", "running", "fc.weight", "fc.bias", "norm.weight", "norm.bias"}));
  EXPECT_EQ(b.num_parameters(), 3 + 12 + 3 + 3 + 3);
  EXPECT_EQ(b.parameters().size(), 5u);
  for (auto& p : b.parameters()) EXPECT_TRUE(p.requires_grad());
}

TEST(Module, LoadStateDictCopiesInPlaceAndReportsKeys) {
  Block a, b;
  Tensor handle = b.fc->weight;
  b.load_state_dict(a.state_dict());
  EXPECT_EQ(b.fc->weight.to_vector<float>(), a.fc->weight.to_vector<float>());
  EXPECT_TRUE(b.fc->weight.is_same(handle));  // same tensor object: optimizers stay valid
  EXPECT_TRUE(b.fc->weight.requires_grad());
  auto sd = a.state_dict();
  sd.pop_back();
  sd.emplace_back("extra", Tensor::zeros({1}));
  try {
    b.load_state_dict(sd);
    FAIL();
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("missing keys: norm.bias"), std::string::npos) << m;
    EXPECT_NE(m.find("unexpected keys: extra"), std::string::npos) << m;
  }
  auto r = b.load_state_dict(sd, {.strict = false});
  EXPECT_EQ(r.missing_keys, (std::vector<std::string>{"norm.bias"}));
  auto bad = a.state_dict();
  bad[2].second = Tensor::zeros({2, 2});
  EXPECT_THROW(b.load_state_dict(bad), Error);
}

TEST(Module, ZeroCopyLoadAndToOwned) {
  Block a, b;
  static float buf[12];
  for (int i = 0; i < 12; ++i) buf[i] = static_cast<float>(i);
  auto st = Storage::borrow(buf, sizeof(buf), nullptr, false);
  auto sd = a.state_dict();
  sd[2].second = Tensor::from_storage(st, DType::F32, {3, 4}, {4, 1});
  b.load_state_dict(sd, {.strict = true, .copy = false});
  EXPECT_EQ(b.fc->weight.raw_data(), static_cast<void*>(buf));
  b.to_owned();
  EXPECT_NE(b.fc->weight.raw_data(), static_cast<void*>(buf));
  EXPECT_EQ(b.fc->weight.to_vector<float>()[5], 5.f);
  EXPECT_TRUE(b.fc->weight.requires_grad());
}

TEST(Module, TrainEvalAndDropout) {
  auto d = std::make_shared<nn::Dropout>(0.5f);
  Tensor x = Tensor::ones({1000});
  EXPECT_NE(d->forward(x).to_vector<float>(), x.to_vector<float>());
  d->eval();
  EXPECT_TRUE(d->forward(x).is_same(x));
  EXPECT_THROW(nn::Dropout(1.5f), Error);
}

TEST(Module, LinearInitBoundsAndEmbeddingPadding) {
  nn::Linear l(100, 50);
  for (float v : l.weight.to_vector<float>()) EXPECT_LE(std::fabs(v), 0.1f);
  nn::Embedding e(10, 4, 3);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(e.weight.to_vector<float>()[12 + i], 0.f);
  EXPECT_THROW(nn::activation_from_name("mish"), Error);
}

TEST(Module, ZeroGradClearsGradients) {
  Block b;
  backward(sum(b.fc->forward(Tensor::ones({2, 4}))));
  EXPECT_TRUE(b.fc->weight.grad().defined());
  b.zero_grad();
  EXPECT_FALSE(b.fc->weight.grad().defined());
}

}  // namespace
