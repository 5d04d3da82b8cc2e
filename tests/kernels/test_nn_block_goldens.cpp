// The optimised kernels (forward and backward) against PyTorch 1.13's building-block goldens in
// ../shared/fixtures/nn (family "blocks"). Losses are checked by the nn-layer parity runner.
#include <gtest/gtest.h>

#include <cmath>

#include "common/nn_fixture.h"
#include "common/test_util.h"
#include "xfmr/kernels/kernels.h"

using namespace xfmr;

namespace {

class BlockGoldens : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = test::nn_fixture_dir();
    if (dir_.empty()) GTEST_SKIP() << "../shared/fixtures/nn not found (set XFMR_NN_FIXTURES); skipping";
  }
  test::NnCase load(const std::string& name) { return test::load_nn_case(dir_, name); }
  void expect(const test::NnCase& c, const std::string& name, const Tensor& actual) {
    SCOPED_TRACE(c.name + ": " + name);
    EXPECT_TENSOR_CLOSE(actual, c.get(name), c.atol(name), c.rtol(name));
  }
  std::filesystem::path dir_;
};

TEST_F(BlockGoldens, Linear) {
  for (const char* name : {"grad_linear", "grad_linear_nobias"}) {
    auto c = load(name);
    Tensor x = c.get("input.x"), w = c.get("input.weight");
    Tensor b = c.has("input.bias") ? c.get("input.bias") : Tensor();
    expect(c, "out.y", kernels::linear(x, w, b));
    Tensor g = c.get("grad_out.y");
    Tensor g2 = g.reshape({-1, w.size(0)}), x2 = x.reshape({-1, w.size(1)});
    expect(c, "grad.input.x", kernels::matmul(g2, w).reshape(x.shape()));
    expect(c, "grad.input.weight", kernels::matmul(g2.transpose(0, 1), x2));
    if (b.defined()) expect(c, "grad.input.bias", kernels::sum(g2, {0}));
  }
}

TEST_F(BlockGoldens, Embedding) {
  for (auto [name, pad] : {std::pair<const char*, int64_t>{"grad_embedding", -1}, {"grad_embedding_padding_idx", 0}}) {
    auto c = load(name);
    Tensor w = c.get("input.weight"), ids = c.get("input.indices");
    expect(c, "out.y", kernels::embedding(w, ids));
    expect(c, "grad.input.weight", kernels::embedding_backward(c.get("grad_out.y"), ids, w.size(0), pad));
  }
}

TEST_F(BlockGoldens, LayerNorm) {
  for (const char* name : {"grad_layernorm", "grad_layernorm_large_mean", "grad_layernorm_small_var"}) {
    auto c = load(name);
    Tensor x = c.get("input.x"), w = c.get("input.weight"), b = c.get("input.bias");
    float eps = c.spec["call"]["args"]["eps"].get<float>();
    auto r = kernels::layer_norm(x, w, b, eps);
    expect(c, "out.y", r.y);
    auto g = kernels::layer_norm_backward(c.get("grad_out.y"), x, r.mean, r.rstd, w, true);
    expect(c, "grad.input.x", g.dx);
    expect(c, "grad.input.weight", g.dweight);
    expect(c, "grad.input.bias", g.dbias);
  }
}

TEST_F(BlockGoldens, SoftmaxAndLogSoftmax) {
  auto c = load("grad_softmax");
  Tensor y = kernels::softmax(c.get("input.x"), -1);
  expect(c, "out.y", y);
  expect(c, "grad.input.x", kernels::softmax_backward(c.get("grad_out.y"), y, -1));
  auto l = load("grad_log_softmax");
  Tensor ly = kernels::log_softmax(l.get("input.x"), -1);
  expect(l, "out.y", ly);
  expect(l, "grad.input.x", kernels::log_softmax_backward(l.get("grad_out.y"), ly, -1));
}

TEST_F(BlockGoldens, Activations) {
  for (auto [name, op] : {std::pair<const char*, kernels::UnaryOp>{"grad_gelu_erf", kernels::UnaryOp::GeluErf},
                          {"grad_gelu_tanh", kernels::UnaryOp::GeluTanh},
                          {"grad_relu", kernels::UnaryOp::Relu}}) {
    auto c = load(name);
    Tensor x = c.get("input.x");
    expect(c, "out.y", kernels::unary(op, x));
    expect(c, "grad.input.x", kernels::unary_backward(op, c.get("grad_out.y"), x));
  }
}

TEST_F(BlockGoldens, ScaledDotProductAttention) {
  for (const char* name : {"grad_sdpa_causal", "grad_sdpa_floatmask"}) {
    auto c = load(name);
    Tensor q = c.get("input.q"), k = c.get("input.k"), v = c.get("input.v");
    kernels::AttentionMask m;
    m.causal = c.spec["call"].value("is_causal", false);
    if (c.has("input.mask")) m.additive = c.get("input.mask");
    float scale = 1.0f / std::sqrt(static_cast<float>(q.size(-1)));
    auto r = kernels::scaled_dot_product_attention(q, k, v, m, scale, true);
    expect(c, "out.y", r.out);
    expect(c, "out.attn_weights", r.probs);
    auto g = kernels::scaled_dot_product_attention_backward(c.get("grad_out.y"), q, k, v, r.probs, scale);
    expect(c, "grad.input.q", g.dq);
    expect(c, "grad.input.k", g.dk);
    expect(c, "grad.input.v", g.dv);
  }
}

}  // namespace
