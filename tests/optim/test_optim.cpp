// Optimizers, gradient clipping and schedulers: behaviour beyond the PyTorch goldens (which the
// nn parity suite checks) - resuming from saved state gives a bit-identical trajectory, parameter
// groups, zero_grad semantics, clipping edge cases and errors.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "common/test_util.h"
#include "xfmr/autograd/ops.h"
#include "xfmr/io/safetensors.h"
#include "xfmr/nn/functional.h"
#include "xfmr/nn/transformer.h"
#include "xfmr/optim/adam.h"
#include "xfmr/optim/checkpoint.h"
#include "xfmr/optim/clip_grad.h"
#include "xfmr/optim/lr_scheduler.h"
#include "xfmr/optim/sgd.h"

using namespace xfmr;

namespace {

// A small model with dropout: an encoder layer and a classifier head.
struct Net : nn::Module {
  std::shared_ptr<nn::TransformerEncoderLayer> layer =
      register_module("layer", std::make_shared<nn::TransformerEncoderLayer>(8, 2, 16, 0.2f));
  std::shared_ptr<nn::Linear> head = register_module("head", std::make_shared<nn::Linear>(8, 5));
  Tensor forward(const Tensor& x) const { return head->forward(layer->forward(x)); }
};

enum class Kind { SgdStep, AdamWLinear, AdamCosine };

struct Trajectory {
  std::vector<float> losses;
  std::vector<std::vector<float>> params;
};

std::unique_ptr<optim::Optimizer> make_opt(Kind k, Net& net) {
  if (k == Kind::SgdStep) return std::make_unique<optim::SGD>(net.parameters(), optim::SGDOptions{.lr = 0.1, .momentum = 0.9, .nesterov = true});
  optim::AdamOptions o = optim::AdamW::default_options();
  o.lr = 3e-3;
  if (k == Kind::AdamWLinear) return std::make_unique<optim::AdamW>(net.parameters(), o);
  o.amsgrad = true;
  o.weight_decay = 0.01;
  return std::make_unique<optim::Adam>(net.parameters(), o);
}

std::unique_ptr<optim::LRScheduler> make_sched(Kind k, optim::Optimizer& opt) {
  if (k == Kind::SgdStep) return std::make_unique<optim::StepLR>(opt, 3, 0.5);
  if (k == Kind::AdamWLinear) return optim::get_linear_schedule_with_warmup(opt, 3, 12);
  return std::make_unique<optim::CosineAnnealingLR>(opt, 5, 1e-4);
}

// Trains `steps` steps starting at `first`; data and dropout come from seeded generators.
void train_steps(Net& net, optim::Optimizer& opt, optim::LRScheduler& sched, Generator& dropout_gen, int first,
                 int steps, Trajectory& run) {
  net.train();
  net.layer->set_generator(&dropout_gen);
  for (int s = first; s < first + steps; ++s) {
    Tensor x = test::random_tensor({6, 4, 8}, 1000 + static_cast<uint64_t>(s));
    std::vector<int64_t> t(24);
    for (int i = 0; i < 24; ++i) t[static_cast<size_t>(i)] = (i * 7 + s) % 5;
    Tensor loss = nn::functional::cross_entropy(reshape(net.forward(x), {-1, 5}), Tensor::from_vector<int64_t>(t));
    opt.zero_grad();
    backward(loss);
    optim::clip_grad_norm_(net.parameters(), 1.0);
    opt.step();
    sched.step();
    run.losses.push_back(static_cast<float>(loss.item()));
  }
  for (const Tensor& p : net.parameters()) run.params.push_back(p.to_vector<float>());
}

class Resume : public ::testing::TestWithParam<Kind> {};

TEST_P(Resume, BitIdenticalTrajectory) {
  const Kind kind = GetParam();
  const int total = 10, cut = 4;
  Generator init(7);
  manual_seed(7);
  // Uninterrupted run.
  Trajectory full;
  {
    manual_seed(42);
    Net net;
    auto opt = make_opt(kind, net);
    auto sched = make_sched(kind, *opt);
    Generator g(99);
    train_steps(net, *opt, *sched, g, 0, total, full);
  }
  // Interrupted: `cut` steps, save everything, rebuild from scratch, load, continue.
  Trajectory part, resumed;
  auto dir = std::filesystem::temp_directory_path();
  auto model_path = dir / "xfmr_resume_model.safetensors", state_path = dir / "xfmr_resume_state.safetensors";
  {
    manual_seed(42);
    Net net;
    auto opt = make_opt(kind, net);
    auto sched = make_sched(kind, *opt);
    Generator g(99);
    train_steps(net, *opt, *sched, g, 0, cut, part);
    io::save_safetensors(model_path, net.state_dict());
    optim::save_training_state(state_path, *opt, sched.get(), {{"dropout_rng", g.state()}, {"step", std::to_string(cut)}});
  }
  {
    manual_seed(1234);  // a different initialisation: everything must come from the checkpoint
    Net net;
    auto opt = make_opt(kind, net);
    auto sched = make_sched(kind, *opt);
    auto f = io::SafetensorsFile::open(model_path);
    std::map<std::string, Tensor> sd;
    for (const auto& info : f.tensors()) sd[info.name] = f.get(info.name);
    net.load_state_dict(sd);
    auto meta = optim::load_training_state(state_path, *opt, sched.get());
    Generator g(0);
    g.set_state(meta.at("dropout_rng"));
    EXPECT_EQ(meta.at("step"), std::to_string(cut));
    train_steps(net, *opt, *sched, g, cut, total - cut, resumed);
  }
  std::filesystem::remove(model_path);
  std::filesystem::remove(state_path);
  std::vector<float> joined = part.losses;
  joined.insert(joined.end(), resumed.losses.begin(), resumed.losses.end());
  ASSERT_EQ(joined.size(), full.losses.size());
  for (size_t i = 0; i < joined.size(); ++i) EXPECT_EQ(joined[i], full.losses[i]) << "step " << i;
  ASSERT_EQ(resumed.params.size(), full.params.size());
  for (size_t i = 0; i < full.params.size(); ++i) EXPECT_EQ(resumed.params[i], full.params[i]) << "parameter " << i;
  EXPECT_NE(full.losses.front(), full.losses.back());
}

INSTANTIATE_TEST_SUITE_P(Optimizers, Resume, ::testing::Values(Kind::SgdStep, Kind::AdamWLinear, Kind::AdamCosine));

TEST(Optim, StateDictRoundTripAndMismatches) {
  Tensor a = test::random_tensor({3, 2}, 1).set_requires_grad(true);
  Tensor b = test::random_tensor({4}, 2).set_requires_grad(true);
  optim::Adam opt({a, b});
  a.set_grad(Tensor::ones({3, 2}));
  b.set_grad(Tensor::ones({4}));
  opt.step();
  auto st = opt.state_dict();
  EXPECT_EQ(st.tensors.size(), 6u);  // step, exp_avg, exp_avg_sq for each
  EXPECT_EQ(opt.state_of(0)->at("step").item(), 1.0);
  // Same structure: loads. Other type or shapes: throws naming the problem.
  Tensor a2 = Tensor::zeros({3, 2}).set_requires_grad(true), b2 = Tensor::zeros({4}).set_requires_grad(true);
  optim::Adam same({a2, b2});
  same.load_state_dict(st);
  EXPECT_EQ(same.state_of(1)->at("exp_avg").to_vector<float>(), opt.state_of(1)->at("exp_avg").to_vector<float>());
  optim::SGD sgd({a2, b2}, {.lr = 0.1});
  EXPECT_THROW(sgd.load_state_dict(st), Error);
  Tensor c = Tensor::zeros({5}).set_requires_grad(true);
  optim::Adam other({a2, c});
  try {
    other.load_state_dict(st);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("shape"), std::string::npos) << e.what();
  }
  // Hyper-parameters are part of the state.
  same.param_groups()[0].set_lr(0.5);
  same.load_state_dict(st);
  EXPECT_EQ(same.param_groups()[0].lr(), 1e-3);
}

TEST(Optim, ParamGroupsAndErrors) {
  Tensor a = Tensor::ones({2}).set_requires_grad(true), b = Tensor::ones({2}).set_requires_grad(true);
  optim::SGD opt({optim::make_group({a}), optim::make_group({b}, {{"lr", 1.0}})}, {.lr = 0.1});
  a.set_grad(Tensor::ones({2}));
  b.set_grad(Tensor::ones({2}));
  opt.step();
  EXPECT_FLOAT_EQ(a.to_vector<float>()[0], 0.9f);
  EXPECT_FLOAT_EQ(b.to_vector<float>()[0], 0.0f);
  optim::StepLR sched(opt, 1, 0.5);
  sched.step();
  EXPECT_DOUBLE_EQ(opt.param_groups()[0].lr(), 0.05);
  EXPECT_DOUBLE_EQ(opt.param_groups()[1].lr(), 0.5);
  EXPECT_THROW(optim::SGD({a, a}, {.lr = 0.1}), Error);  // the same parameter twice in a group
  EXPECT_THROW(optim::SGD({optim::make_group({a}), optim::make_group({a})}, {.lr = 0.1}), Error);
  EXPECT_THROW(optim::SGD({Tensor::ones({2})}, {.lr = 0.1}), Error);  // does not require grad
  EXPECT_THROW(optim::SGD({optim::make_group({a}, {{"momentun", 0.9}})}, {.lr = 0.1}), Error);
  EXPECT_THROW(optim::Adam({a}, {.beta1 = 1.0}), Error);
}

TEST(Optim, ZeroGradKeepsOrDropsTensors) {
  Tensor w = Tensor::ones({3}).set_requires_grad(true);
  optim::SGD opt({w}, {.lr = 0.1});
  backward(sum(mul(w, 2.0f)));
  Tensor g = w.grad();
  opt.zero_grad();  // torch 1.13 default: zero in place
  EXPECT_TRUE(w.grad().is_same(g));
  EXPECT_EQ(g.to_vector<float>(), std::vector<float>(3, 0.0f));
  backward(sum(mul(w, 3.0f)));
  backward(sum(mul(w, 1.0f)));  // accumulates
  EXPECT_EQ(w.grad().to_vector<float>(), std::vector<float>(3, 4.0f));
  opt.zero_grad(true);
  EXPECT_FALSE(w.grad().defined());
  opt.step();  // no gradient: nothing happens
  EXPECT_EQ(w.to_vector<float>(), std::vector<float>(3, 1.0f));
}

TEST(Optim, ClipGradNorm) {
  Tensor a = Tensor::zeros({2}).set_requires_grad(true), b = Tensor::zeros({1}).set_requires_grad(true);
  Tensor none = Tensor::zeros({4}).set_requires_grad(true);  // no gradient: ignored
  a.set_grad(Tensor::from_vector<float>({3.0f, 0.0f}));
  b.set_grad(Tensor::from_vector<float>({4.0f}));
  float total = optim::clip_grad_norm_({a, b, none}, 10.0);
  EXPECT_FLOAT_EQ(total, 5.0f);
  EXPECT_EQ(a.grad().to_vector<float>()[0], 3.0f);  // under the limit: untouched
  total = optim::clip_grad_norm_({a, b, none}, 1.0);
  EXPECT_FLOAT_EQ(total, 5.0f);
  EXPECT_NEAR(a.grad().to_vector<float>()[0], 0.6f, 1e-6);
  EXPECT_NEAR(b.grad().to_vector<float>()[0], 0.8f, 1e-6);
  EXPECT_FLOAT_EQ(optim::clip_grad_norm_({a, b}, 1.0, INFINITY), 0.8f);
  EXPECT_THROW(optim::clip_grad_norm_({a}, 1.0, 3.0), Error);
  a.grad().data<float>()[0] = NAN;
  EXPECT_THROW(optim::clip_grad_norm_({a, b}, 1.0, 2.0, true), Error);
  EXPECT_TRUE(std::isnan(optim::clip_grad_norm_({a, b}, 1.0)));
  // A large gradient (many blocks): the f64 block sums are exact for integers.
  Tensor big = Tensor::zeros({100003}).set_requires_grad(true);
  big.set_grad(Tensor::ones({100003}));
  EXPECT_FLOAT_EQ(optim::clip_grad_norm_({big}, 1e9), std::sqrt(100003.0f));
  optim::clip_grad_value_({big}, 0.25);
  EXPECT_EQ(big.grad().to_vector<float>()[17], 0.25f);
}

TEST(Optim, SchedulerStateResumesSequence) {
  Tensor p = Tensor::zeros({1}).set_requires_grad(true);
  optim::SGD a({p}, {.lr = 0.01}), b({p}, {.lr = 0.01});
  optim::CosineAnnealingLR sa(a, 6, 1e-4), sb(b, 6, 1e-4);
  for (int i = 0; i < 4; ++i) sa.step();
  sb.load_state_dict(sa.state_dict());
  b.load_state_dict(a.state_dict());
  for (int i = 0; i < 12; ++i) {
    sa.step();
    sb.step();
    EXPECT_EQ(a.param_groups()[0].lr(), b.param_groups()[0].lr()) << i;
  }
  EXPECT_EQ(sa.last_epoch(), 16);
  optim::StepLR other(b, 2);
  EXPECT_THROW(other.load_state_dict(sa.state_dict()), Error);
  // HF warmup: lr starts at 0 and peaks at base after num_warmup_steps.
  optim::SGD c({p}, {.lr = 1.0});
  auto w = optim::get_linear_schedule_with_warmup(c, 4, 10);
  EXPECT_EQ(c.param_groups()[0].lr(), 0.0);
  for (int i = 0; i < 4; ++i) w->step();
  EXPECT_EQ(c.param_groups()[0].lr(), 1.0);
  for (int i = 0; i < 10; ++i) w->step();
  EXPECT_EQ(c.param_groups()[0].lr(), 0.0);
}

}  // namespace
