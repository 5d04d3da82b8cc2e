// Unit tests of the Transformer modules beyond the golden comparisons: state_dict names and order,
// PyTorch state dicts (safetensors) loading by name, the round trip through our own safetensors,
// torch's deep-copy semantics of TransformerEncoder, dropout determinism, masks and error messages.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "common/nn_fixture.h"
#include "common/test_util.h"
#include "xfmr/autograd/ops.h"
#include "xfmr/io/safetensors.h"
#include "xfmr/nn/activation.h"
#include "xfmr/nn/functional.h"
#include "xfmr/nn/loss.h"
#include "xfmr/nn/multihead_attention.h"
#include "xfmr/nn/positional_encoding.h"
#include "xfmr/nn/transformer.h"

using namespace xfmr;

namespace {

std::vector<std::string> names_of(const nn::NamedTensors& t) {
  std::vector<std::string> out;
  for (const auto& [n, v] : t) out.push_back(n);
  return out;
}

bool bitwise_equal(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.contiguous().to_vector<float>() == b.contiguous().to_vector<float>();
}

TEST(TransformerModules, MultiheadAttentionStateDictNames) {
  nn::MultiheadAttention a(8, 2);
  EXPECT_EQ(names_of(a.state_dict()),
            (std::vector<std::string>{"in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"}));
  nn::MultiheadAttention b(8, 2, 0.0f, true, true, false, 3, 5);
  EXPECT_EQ(names_of(b.state_dict()),
            (std::vector<std::string>{"q_proj_weight", "k_proj_weight", "v_proj_weight", "in_proj_bias", "bias_k",
                                      "bias_v", "out_proj.weight", "out_proj.bias"}));
  EXPECT_EQ(b.k_proj_weight.shape(), Shape({8, 3}));
  EXPECT_EQ(b.v_proj_weight.shape(), Shape({8, 5}));
  EXPECT_EQ(b.bias_k.shape(), Shape({1, 1, 8}));
  nn::MultiheadAttention c(8, 4, 0.0f, false);
  EXPECT_EQ(names_of(c.state_dict()), (std::vector<std::string>{"in_proj_weight", "out_proj.weight"}));
  // torch's init: zero biases, xavier bound for the packed in-projection
  float bound = std::sqrt(6.0f / (8 + 24));
  for (float v : a.in_proj_weight.to_vector<float>()) EXPECT_LE(std::fabs(v), bound);
  for (float v : a.in_proj_bias.to_vector<float>()) EXPECT_EQ(v, 0.0f);
  for (float v : a.out_proj->bias.to_vector<float>()) EXPECT_EQ(v, 0.0f);
  EXPECT_THROW(nn::MultiheadAttention(10, 3), Error);
}

TEST(TransformerModules, LayerAndStackStateDictNames) {
  nn::TransformerEncoderLayer enc(8, 2, 16);
  EXPECT_EQ(names_of(enc.state_dict()),
            (std::vector<std::string>{"self_attn.in_proj_weight", "self_attn.in_proj_bias", "self_attn.out_proj.weight",
                                      "self_attn.out_proj.bias", "linear1.weight", "linear1.bias", "linear2.weight",
                                      "linear2.bias", "norm1.weight", "norm1.bias", "norm2.weight", "norm2.bias"}));
  nn::TransformerDecoderLayer dec(8, 2, 16);
  auto dn = names_of(dec.state_dict());
  ASSERT_EQ(dn.size(), 18u);
  EXPECT_EQ(dn[4], "multihead_attn.in_proj_weight");
  EXPECT_EQ(dn.back(), "norm3.bias");
  nn::Transformer t(8, 2, 2, 1, 16, 0.1f);
  auto tn = names_of(t.state_dict());
  EXPECT_EQ(tn.front(), "encoder.layers.0.self_attn.in_proj_weight");
  EXPECT_NE(std::find(tn.begin(), tn.end(), "encoder.norm.weight"), tn.end());
  EXPECT_NE(std::find(tn.begin(), tn.end(), "decoder.layers.0.multihead_attn.out_proj.bias"), tn.end());
  EXPECT_EQ(tn.back(), "decoder.norm.bias");
  EXPECT_EQ(tn.size(), 2 * 12 + 2 + 18 + 2);
  // bias=false (PyTorch 2.1): no Linear / LayerNorm / attention biases.
  nn::TransformerEncoderLayer nb(8, 2, 16, 0.1f, "relu", 1e-5f, false, false, false);
  for (const auto& n : names_of(nb.state_dict())) EXPECT_EQ(n.find("bias"), std::string::npos) << n;
}

TEST(TransformerModules, EncoderClonesTheLayerLikeTorch) {
  nn::TransformerEncoderLayer layer(8, 2, 16);
  nn::TransformerEncoder enc(layer, 3, std::make_shared<nn::LayerNorm>(8));
  auto sd = enc.state_dict();
  auto l0 = (*enc.layers)[0]->state_dict(), l2 = (*enc.layers)[2]->state_dict();
  for (size_t i = 0; i < l0.size(); ++i) {
    EXPECT_TRUE(bitwise_equal(l0[i].second, l2[i].second)) << l0[i].first;
    EXPECT_FALSE(l0[i].second.is_same(l2[i].second)) << "layers must not share tensors: " << l0[i].first;
  }
  EXPECT_EQ(enc.parameters().size(), 3 * 12 + 2u);
}

// The param.* tensors of an encoder case ARE a PyTorch nn.TransformerEncoder state dict saved as
// safetensors: they load by name (zero-copy) and reproduce PyTorch's output; our own state dict
// written to safetensors uses the same names and round-trips bit for bit.
TEST(TransformerModules, PyTorchEncoderStateDictLoadsByName) {
  auto dir = test::nn_fixture_dir();
  XFMR_REQUIRE_DIR(dir, "nn fixtures");
  int checked = 0;
  for (const auto& name : test::nn_case_names(dir)) {
    auto c = test::load_nn_case(dir, name);
    if (c.family != "encoder") continue;
    SCOPED_TRACE(name);
    const auto& args = c.spec["module"]["args"];
    const auto& la = args["encoder_layer"]["args"];
    nn::TransformerEncoderLayer layer(la["d_model"], la["nhead"], la["dim_feedforward"], la["dropout"],
                                      la["activation"].get<std::string>(), la["layer_norm_eps"], la["batch_first"],
                                      la["norm_first"]);
    auto norm = args["norm"].is_null() ? nullptr
                                       : std::make_shared<nn::LayerNorm>(la["d_model"].get<int64_t>(),
                                                                         args["norm"]["eps"].get<float>());
    nn::TransformerEncoder enc(layer, args["num_layers"], norm);
    enc.eval();
    std::map<std::string, Tensor> torch_sd;
    for (const auto& info : c.tensors.tensors())
      if (info.name.rfind("param.", 0) == 0) torch_sd[info.name.substr(6)] = c.tensors.get(info.name);
    auto r = enc.load_state_dict(torch_sd, {.strict = true, .copy = false});  // zero-copy views of the file
    EXPECT_TRUE(r.missing_keys.empty() && r.unexpected_keys.empty());
    EXPECT_FALSE(enc.parameters()[0].storage()->owned()) << "zero-copy load should use the mapped file";
    Tensor kpm = c.has("mask.src_key_padding_mask") ? c.get("mask.src_key_padding_mask") : Tensor();
    Tensor mask = c.has("mask.mask") ? c.get("mask.mask") : Tensor();
    Tensor out;
    {
      NoGradGuard ng;
      out = enc.forward(c.get("input.src"), mask, kpm);
    }
    EXPECT_TENSOR_CLOSE(out, c.get("out.output"), c.atol("out.output"), c.rtol("out.output"));

    // Our state dict -> safetensors -> a fresh module: same names as PyTorch's, identical output.
    auto path = std::filesystem::temp_directory_path() / ("xfmr_encoder_sd_" + name + ".safetensors");
    io::save_safetensors(path, enc.state_dict());
    auto f = io::SafetensorsFile::open(path);
    std::vector<std::string> ours, theirs;
    for (const auto& info : f.tensors()) ours.push_back(info.name);
    for (const auto& [k, v] : torch_sd) theirs.push_back(k);
    std::sort(ours.begin(), ours.end());
    EXPECT_EQ(ours, theirs);
    nn::TransformerEncoder enc2(layer, args["num_layers"],
                                args["norm"].is_null() ? nullptr
                                                       : std::make_shared<nn::LayerNorm>(la["d_model"].get<int64_t>(),
                                                                                         args["norm"]["eps"].get<float>()));
    enc2.eval();
    std::map<std::string, Tensor> mine;
    for (const auto& info : f.tensors()) mine[info.name] = f.get(info.name);
    enc2.load_state_dict(mine);  // copy into owned tensors (trainable)
    EXPECT_TRUE(enc2.parameters()[0].storage()->owned());
    NoGradGuard ng;
    EXPECT_TRUE(bitwise_equal(enc2.forward(c.get("input.src"), mask, kpm), out));
    std::filesystem::remove(path);
    ++checked;
  }
  EXPECT_GT(checked, 0) << "no encoder case in the fixtures";
}

TEST(TransformerModules, DropoutIsSeededAndOffInEval) {
  Generator g1(123), g2(123);
  nn::TransformerEncoderLayer layer(8, 2, 16, 0.3f);
  layer.train();
  Tensor x = test::random_tensor({5, 2, 8}, 1);
  layer.set_generator(&g1);
  Tensor a = layer.forward(x);
  layer.set_generator(&g2);
  Tensor b = layer.forward(x);
  EXPECT_TRUE(bitwise_equal(a, b));
  Tensor c = layer.forward(x);  // the generator advanced: another mask
  EXPECT_FALSE(bitwise_equal(b, c));
  layer.eval();
  EXPECT_TRUE(bitwise_equal(layer.forward(x), layer.forward(x)));
}

TEST(TransformerModules, AttentionDropoutTrainsThroughComposedPath) {
  nn::MultiheadAttention mha(8, 2, 0.5f);
  mha.train();
  Generator g(5);
  mha.generator = &g;
  Tensor x = test::random_tensor({4, 3, 8}, 2);
  auto r = mha.forward(x, x, x);
  // Dropped-out weights are returned (like PyTorch): some are zero, the rest scaled by 2.
  auto w = mha.forward(x, x, x, Tensor(), true, Tensor(), false).weights.to_vector<float>();
  int zeros = 0;
  for (float v : w) zeros += v == 0.0f;
  EXPECT_GT(zeros, 0);
  backward(sum(r.output));
  EXPECT_TRUE(mha.in_proj_weight.grad().defined());
}

TEST(TransformerModules, MaskEquivalences) {
  nn::MultiheadAttention mha(8, 2, 0.0f, true, false, false, -1, -1, true);
  mha.eval();
  Tensor x = test::random_tensor({2, 5, 8}, 3);
  NoGradGuard ng;
  Tensor causal = nn::functional::generate_square_subsequent_mask(5);
  EXPECT_EQ(causal.to_vector<float>()[1], -INFINITY);
  EXPECT_EQ(causal.to_vector<float>()[5], 0.0f);
  auto a = mha.forward(x, x, x, Tensor(), true, causal);
  auto b = mha.forward(x, x, x, Tensor(), true, Tensor(), true, /*is_causal=*/true);
  Tensor bool_causal = Tensor::zeros({5, 5}, DType::Bool);
  for (int i = 0; i < 5; ++i)
    for (int j = i + 1; j < 5; ++j) static_cast<uint8_t*>(bool_causal.raw_data())[i * 5 + j] = 1;
  auto c = mha.forward(x, x, x, Tensor(), true, bool_causal);
  EXPECT_TENSOR_CLOSE(a.output, b.output, 1e-6, 1e-5);
  EXPECT_TENSOR_CLOSE(a.output, c.output, 1e-6, 1e-5);
  EXPECT_TENSOR_CLOSE(a.weights, b.weights, 1e-6, 1e-5);
  // need_weights=false returns no weights
  EXPECT_FALSE(mha.forward(x, x, x, Tensor(), false).weights.defined());
}

TEST(TransformerModules, ErrorsNameTheProblem) {
  nn::MultiheadAttention mha(8, 2);
  Tensor x = test::random_tensor({5, 2, 8}, 4);
  try {
    mha.forward(x, x, x, Tensor::zeros({2, 4}, DType::Bool));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("key_padding_mask"), std::string::npos) << e.what();
  }
  try {
    mha.forward(x, x, x, Tensor(), true, Tensor::zeros({5, 4}));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("attn_mask"), std::string::npos) << e.what();
  }
  EXPECT_THROW(mha.forward(test::random_tensor({5, 2, 7}, 5), x, x), Error);
  EXPECT_THROW(nn::TransformerEncoderLayer(8, 2, 16, 0.1f, "swishy"), Error);
  nn::Transformer t(8, 2, 1, 1, 16);
  EXPECT_THROW(t.forward(test::random_tensor({5, 2, 8}, 6), test::random_tensor({4, 3, 8}, 7)), Error);
  EXPECT_THROW(nn::PositionalEncoding(7), Error);  // the tutorial's table needs an even d_model
  nn::CrossEntropyLoss ce;
  EXPECT_THROW(ce(test::random_tensor({3, 4}, 8), Tensor::from_vector<int64_t>({0, 4, 1})), Error);
}

TEST(TransformerModules, TransformerForwardShapesBothLayouts) {
  for (bool bf : {false, true}) {
    nn::Transformer t(16, 4, 2, 2, 32, 0.0f, "gelu", nullptr, nullptr, 1e-5f, bf, true);
    t.eval();
    Tensor src = test::random_tensor(bf ? Shape{3, 7, 16} : Shape{7, 3, 16}, 9);
    Tensor tgt = test::random_tensor(bf ? Shape{3, 5, 16} : Shape{5, 3, 16}, 10);
    Tensor out = t.forward(src, tgt, Tensor(), nn::Transformer::generate_square_subsequent_mask(5));
    EXPECT_EQ(out.shape(), tgt.shape());
    Tensor out2 = t.forward(src, tgt, Tensor(), Tensor(), Tensor(), Tensor(), Tensor(), Tensor(), false, true);
    EXPECT_TENSOR_CLOSE(out, out2, 1e-5, 1e-5);
  }
}

TEST(TransformerModules, LossModules) {
  Tensor logits = test::random_tensor({4, 3}, 11);
  Tensor t = Tensor::from_vector<int64_t>({0, 2, 1, 2});
  nn::CrossEntropyLoss mean_loss, sum_loss(Tensor(), -100, "sum"), none_loss(Tensor(), -100, "none");
  float m = static_cast<float>(mean_loss(logits, t).item()), s = static_cast<float>(sum_loss(logits, t).item());
  EXPECT_NEAR(m * 4, s, 1e-5);
  Tensor per = none_loss(logits, t);
  EXPECT_EQ(per.shape(), Shape({4}));
  // the same as nll_loss(log_softmax)
  Tensor ref = nn::NLLLoss()(log_softmax(logits, -1), t);
  EXPECT_NEAR(m, ref.item(), 1e-6);
  EXPECT_NEAR(nn::MSELoss()(logits, Tensor::zeros({4, 3})).item(), mean(mul(logits, logits)).item(), 1e-6);
  EXPECT_THROW(nn::CrossEntropyLoss(Tensor(), -100, "average"), Error);
}

TEST(TransformerModules, ActivationModules) {
  Tensor x = Tensor::from_vector<float>({-2.0f, 0.0f, 1.5f});
  EXPECT_EQ(nn::ReLU()(x).to_vector<float>(), (std::vector<float>{0.0f, 0.0f, 1.5f}));
  auto g = nn::GELU()(x).to_vector<float>();
  EXPECT_NEAR(g[2], 1.5f * 0.5f * (1.0f + std::erf(1.5f / std::sqrt(2.0f))), 1e-6);
  auto gt = nn::GELU("tanh")(x).to_vector<float>();
  EXPECT_NEAR(gt[0], -0.0454023f, 1e-5);
  EXPECT_THROW(nn::GELU("fast"), Error);
}

}  // namespace
