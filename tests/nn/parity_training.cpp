// Parity runners for the training families: lm (tutorial model: eval + SGD steps with clipping and
// StepLR), lm_traj (the tutorial's train()/evaluate() loop), optim (optimizer updates and state)
// and sched (learning-rate schedules).
#include <cmath>

#include "parity_common.h"
#include "xfmr/autograd/ops.h"
#include "xfmr/models/transformer_lm.h"
#include "xfmr/nn/functional.h"
#include "xfmr/optim/adam.h"
#include "xfmr/optim/clip_grad.h"
#include "xfmr/optim/lr_scheduler.h"
#include "xfmr/optim/sgd.h"

namespace xfmr::parity {
namespace {

const std::string kNum = "([-+]?[0-9]*\\.?[0-9]+(?:[eE][-+]?[0-9]+)?)";

// TransformerModel(...) from model.args, loaded with param.* (pos_encoder.pe is a recomputed buffer).
std::shared_ptr<models::TransformerLM> make_lm(const test::NnCase& c, float dropout) {
  const json& model = at(c.spec, "model", c.name);
  XFMR_CHECK(at(model, "type", c.name).get<std::string>().find("TransformerModel") != std::string::npos, c.name,
             ": unknown model type ", model["type"].dump());
  const json& a = at(model, "args", c.name);
  require_known_keys(a, {"ntoken", "d_model", "nhead", "d_hid", "nlayers", "dropout"}, c.name + ".model.args");
  models::TransformerLMConfig cfg;
  cfg.ntoken = at(a, "ntoken", c.name).get<int64_t>();
  cfg.d_model = at(a, "d_model", c.name).get<int64_t>();
  cfg.nhead = at(a, "nhead", c.name).get<int64_t>();
  cfg.d_hid = at(a, "d_hid", c.name).get<int64_t>();
  cfg.nlayers = at(a, "nlayers", c.name).get<int64_t>();
  cfg.dropout = dropout;
  auto m = std::make_shared<models::TransformerLM>(cfg);
  std::map<std::string, Tensor> dict;
  for (const auto& [name, tname] : at(c.spec, "params", c.name).items()) dict[name] = c.get(tname.get<std::string>());
  auto r = m->load_state_dict(dict, {.strict = false});
  EXPECT_EQ(r.missing_keys, std::vector<std::string>{"pos_encoder.pe"}) << c.name;
  EXPECT_TRUE(r.unexpected_keys.empty()) << c.name;
  // model.parameters() order (the optimizer's parameter order) must be PyTorch's.
  if (c.spec.contains("param_order")) {
    std::vector<std::string> ours;
    for (const auto& [n, t] : m->named_parameters()) ours.push_back(n);
    EXPECT_EQ(ours, c.spec["param_order"].get<std::vector<std::string>>()) << c.name;
  }
  return m;
}

Tensor scalar_of(double v) { return Tensor::scalar(v, DType::F64); }

Tensor lm_loss(const models::TransformerLM& m, const Tensor& logits, const Tensor& targets) {
  return nn::functional::cross_entropy(reshape(logits, {-1, m.config().ntoken}), targets);
}

}  // namespace

// ------------------------------------------------------------------ lm

void run_lm(const test::NnCase& c, Checker& k) {
  const json& data = at(c.spec, "data", c.name);
  const json& model = at(c.spec, "model", c.name);
  const float eval_dropout = at(at(model, "args", c.name), "dropout", c.name).get<float>();
  auto lm = make_lm(c, eval_dropout);
  const int64_t bsz = static_cast<int64_t>(find_number(text_of(at(data, "batchify", c.name)), "bsz=" + kNum, c.name));
  const int64_t bptt =
      static_cast<int64_t>(find_number(text_of(at(data, "get_batch", c.name)), "bptt=" + kNum, c.name));
  // Our batchify/get_batch reproduce the stored batches exactly.
  Tensor batched = models::batchify(c.get(at(data, "stream", c.name).get<std::string>()), bsz);
  std::map<std::string, models::LMBatch> batches;
  for (const auto& [key, b] : data.items()) {
    if (key.rfind("batch", 0) != 0 || !b.is_object()) continue;
    models::LMBatch ours = models::get_batch(batched, at(b, "i", c.name).get<int64_t>(), bptt);
    Tensor src = c.get(at(b, "src", c.name).get<std::string>()), tgt = c.get(at(b, "targets", c.name).get<std::string>());
    EXPECT_EQ(ours.data.shape(), src.shape()) << c.name << ": " << key;
    EXPECT_EQ(ours.data.contiguous().to_vector<int64_t>(), src.to_vector<int64_t>()) << c.name << ": " << key;
    EXPECT_EQ(ours.targets.contiguous().to_vector<int64_t>(), tgt.to_vector<int64_t>()) << c.name << ": " << key;
    batches[key] = {src, tgt};
  }
  Tensor src_mask = c.get(at(data, "src_mask", c.name).get<std::string>());
  EXPECT_TRUE(test::compare_close(src_mask, nn::functional::generate_square_subsequent_mask(src_mask.size(0)), 0, 0)
                  .empty());

  // (a) eval forward on batch0
  const json& fe = at(c.spec, "forward_eval", c.name);
  XFMR_CHECK(text_of(at(fe, "procedure", c.name)).find("model.eval()") != std::string::npos, c.name,
             ": unexpected forward_eval procedure");
  const models::LMBatch& b0 = batches.at("batch0");
  {
    lm->eval();
    NoGradGuard ng;
    Tensor logits = lm->forward(b0.data, src_mask.narrow(0, 0, b0.data.size(0)).narrow(1, 0, b0.data.size(0)));
    k.expect(at(fe, "logits", c.name).get<std::string>(), logits);
    k.expect(at(fe, "loss", c.name).get<std::string>(), lm_loss(*lm, logits, b0.targets));
    // is_causal (no mask tensor) is the same model.
    k.expect(at(fe, "logits", c.name).get<std::string>(), lm->forward(b0.data, Tensor(), true));
  }

  // (b) training steps
  const json& ts = at(c.spec, "train_steps", c.name);
  const std::string proc = text_of(at(ts, "procedure", c.name));
  const float train_dropout = static_cast<float>(find_number(proc, "dropout=" + kNum, c.name + ".train_steps"));
  const double lr = find_number(proc, "SGD\\(model\\.parameters\\(\\), lr=" + kNum, c.name);
  const double step_size = find_number(proc, "StepLR\\(optimizer, " + kNum, c.name);
  const double gamma = find_number(proc, "StepLR\\(optimizer, [^,]+, gamma=" + kNum, c.name);
  const double max_norm = find_number(proc, "clip_grad_norm_\\(model\\.parameters\\(\\), " + kNum, c.name);
  XFMR_CHECK(step_size == std::floor(step_size) && step_size >= 1, c.name, ": StepLR step_size ", step_size);
  auto tm = make_lm(c, train_dropout);
  tm->train();
  std::map<std::string, Tensor*> by_name;
  for (const auto& [n, t] : tm->named_parameters()) by_name[n] = tm->find_tensor(n);
  optim::SGD opt(tm->parameters(), {.lr = lr});
  optim::StepLR sched(opt, static_cast<int64_t>(step_size), gamma);
  for (const auto& step : at(ts, "steps", c.name)) {
    const models::LMBatch& b = batches.at(at(step, "batch", c.name).get<std::string>());
    EXPECT_DOUBLE_EQ(opt.param_groups()[0].lr(), at(step, "lr_used", c.name).get<double>()) << c.name;
    const int64_t L = b.data.size(0);
    Tensor out = tm->forward(b.data, src_mask.narrow(0, 0, L).narrow(1, 0, L));
    Tensor loss = lm_loss(*tm, out, b.targets);
    k.expect(at(step, "loss", c.name).get<std::string>(), loss);
    opt.zero_grad();
    backward(loss);
    for (const auto& [pname, gname] : at(step, "grads_before_clipping", c.name).items()) {
      XFMR_CHECK(by_name.count(pname), c.name, ": unknown parameter ", pname);
      k.expect(gname.get<std::string>(), by_name[pname]->grad());
    }
    float total = optim::clip_grad_norm_(tm->parameters(), max_norm);
    k.expect(at(step, "total_norm", c.name).get<std::string>(), Tensor::scalar(total));
    opt.step();
    sched.step();
    for (const auto& [pname, tname] : at(step, "params_after", c.name).items()) {
      XFMR_CHECK(by_name.count(pname), c.name, ": unknown parameter ", pname);
      k.expect(tname.get<std::string>(), *by_name[pname]);
    }
  }
}

// ------------------------------------------------------------------ lm_traj

void run_lm_traj(const test::NnCase& c, Checker& k) {
  const json& data = at(c.spec, "data", c.name);
  auto lm = make_lm(c, at(at(at(c.spec, "model", c.name), "args", c.name), "dropout", c.name).get<float>());
  // With dropout, PyTorch drew its masks from our generator's stream (see extra_fixtures/lm_dropout.py):
  // seeding ours the same way must give the same masks, hence the same trajectory.
  Generator dropout_gen;
  if (c.spec.contains("dropout_stream")) {
    const json& ds = c.spec["dropout_stream"];
    XFMR_CHECK(at(ds, "generator", c.name).get<std::string>() == "std::mt19937_64" &&
                   at(ds, "keep", c.name).get<std::string>() == "uniform >= p",
               c.name, ": unsupported dropout_stream ", ds.dump());
    dropout_gen.manual_seed(at(ds, "seed", c.name).get<uint64_t>());
    lm->set_generator(&dropout_gen);
  }
  const std::string proc = text_of(at(c.spec, "procedure", c.name));
  const double lr = find_number(proc, "SGD\\(model\\.parameters\\(\\), lr=" + kNum, c.name);
  const double step_size = find_number(proc, "StepLR\\(optimizer, " + kNum, c.name);
  const double gamma = find_number(proc, "StepLR\\(optimizer, [^,]+, gamma=" + kNum, c.name);
  const double max_norm = find_number(proc, "clip_grad_norm_\\(model\\.parameters\\(\\), " + kNum, c.name);
  const int64_t bsz = static_cast<int64_t>(find_number(text_of(at(data, "train_data", c.name)), "bsz=" + kNum, c.name));
  const int64_t eval_bsz =
      static_cast<int64_t>(find_number(text_of(at(data, "val_data", c.name)), "eval_batch_size=" + kNum, c.name));
  const int64_t bptt = at(data, "bptt", c.name).get<int64_t>();
  Tensor train_data = models::batchify(c.get(at(data, "train_stream", c.name).get<std::string>()), bsz);
  Tensor val_data = models::batchify(c.get(at(data, "val_stream", c.name).get<std::string>()), eval_bsz);
  const json& steps = at(c.spec, "steps", c.name);
  int64_t epochs = 0;
  for (const auto& s : steps) epochs = std::max<int64_t>(epochs, at(s, "epoch", c.name).get<int64_t>());
  XFMR_CHECK(epochs >= 1, c.name, ": no steps");

  optim::SGD opt(lm->parameters(), {.lr = lr});
  optim::StepLR sched(opt, static_cast<int64_t>(step_size), gamma);
  const int64_t ntokens = lm->config().ntoken;
  Tensor full_mask = nn::functional::generate_square_subsequent_mask(bptt);
  std::vector<double> losses, norms, lrs, val_losses;
  size_t step_idx = 0;
  for (int64_t epoch = 1; epoch <= epochs; ++epoch) {
    lm->train();
    for (int64_t i = 0; i < train_data.size(0) - 1; i += bptt) {
      models::LMBatch b = models::get_batch(train_data, i, bptt);
      const int64_t L = b.data.size(0);
      if (step_idx < steps.size()) {
        const json& s = steps[step_idx];
        EXPECT_EQ(at(s, "epoch", c.name).get<int64_t>(), epoch) << c.name << " step " << step_idx + 1;
        EXPECT_EQ(at(s, "i", c.name).get<int64_t>(), i) << c.name << " step " << step_idx + 1;
        EXPECT_EQ(at(s, "seq_len", c.name).get<int64_t>(), L) << c.name << " step " << step_idx + 1;
      }
      ++step_idx;
      Tensor mask = L == bptt ? full_mask : full_mask.narrow(0, 0, L).narrow(1, 0, L);
      Tensor out = lm->forward(b.data, mask);
      Tensor loss = nn::functional::cross_entropy(reshape(out, {-1, ntokens}), b.targets);
      lrs.push_back(opt.param_groups()[0].lr());
      opt.zero_grad();
      backward(loss);
      norms.push_back(optim::clip_grad_norm_(lm->parameters(), max_norm));
      opt.step();
      losses.push_back(loss.item());
    }
    // evaluate(model, val_data)
    lm->eval();
    double total = 0;
    {
      NoGradGuard ng;
      for (int64_t i = 0; i < val_data.size(0) - 1; i += bptt) {
        models::LMBatch b = models::get_batch(val_data, i, bptt);
        const int64_t L = b.data.size(0);
        Tensor mask = L == bptt ? full_mask : full_mask.narrow(0, 0, L).narrow(1, 0, L);
        Tensor out = lm->forward(b.data, mask);
        total += static_cast<double>(L) *
                 nn::functional::cross_entropy(reshape(out, {-1, ntokens}), b.targets).item();
      }
    }
    val_losses.push_back(total / static_cast<double>(val_data.size(0) - 1));
    sched.step();
  }
  EXPECT_EQ(losses.size(), steps.size()) << c.name << ": number of training steps";
  const json& outputs = at(c.spec, "outputs", c.name);
  const json& expected = c.spec.at("expected");
  // Per-step tolerances for the loss (the trajectory diverges slowly from float rounding).
  const std::string loss_name = at(outputs, "train_loss", c.name).get<std::string>();
  Tensor exp_loss = raw(c, loss_name);
  ASSERT_EQ(exp_loss.numel(), static_cast<int64_t>(losses.size())) << c.name;
  std::vector<double> per_step;
  if (c.spec.contains("per_step_atol")) per_step = c.spec["per_step_atol"].get<std::vector<double>>();
  for (size_t i = 0; i < losses.size(); ++i) {
    double atol = i < per_step.size() ? per_step[i] : at(expected, loss_name, c.name).at("atol").get<double>();
    k.expect_slice(loss_name, scalar_of(losses[i]), exp_loss.select(0, static_cast<int64_t>(i)), atol,
                   expected[loss_name].at("rtol").get<double>());
  }
  k.expect(at(outputs, "grad_norm", c.name).get<std::string>(), Tensor::from_vector<double>(norms));
  k.expect(at(outputs, "lr", c.name).get<std::string>(), Tensor::from_vector<double>(lrs));
  k.expect(at(outputs, "val_loss", c.name).get<std::string>(), Tensor::from_vector<double>(val_losses));
  for (const auto& [pname, tname] : at(outputs, "final_params", c.name).items()) {
    Tensor* p = lm->find_tensor(pname);
    XFMR_CHECK(p != nullptr, c.name, ": unknown parameter ", pname);
    k.expect(tname.get<std::string>(), *p);
  }
}

// ------------------------------------------------------------------ optim

void run_optim(const test::NnCase& c, Checker& k) {
  const json& o = at(c.spec, "optimizer", c.name);
  const std::string type = at(o, "type", c.name).get<std::string>();
  const json& args = at(o, "args", c.name);
  const std::string where = c.name + ".optimizer.args";
  const bool maximize = o.value("maximize", false) || args.value("maximize", false);
  std::map<std::string, Tensor> params;
  std::vector<Tensor> plist;
  for (const auto& [name, tname] : at(c.spec, "params", c.name).items()) {
    Tensor p = c.get(tname.get<std::string>()).clone();
    p.set_requires_grad(true);
    params[name] = p;
    plist.push_back(p);
  }
  std::unique_ptr<optim::Optimizer> opt;
  if (type == "torch.optim.SGD") {
    require_known_keys(args, {"lr", "momentum", "dampening", "weight_decay", "nesterov", "maximize", "foreach",
                              "differentiable"},
                       where);
    optim::SGDOptions so;
    so.lr = at(args, "lr", where).get<double>();
    so.momentum = args.value("momentum", 0.0);
    so.dampening = args.value("dampening", 0.0);
    so.weight_decay = args.value("weight_decay", 0.0);
    so.nesterov = args.value("nesterov", false);
    so.maximize = maximize;
    opt = std::make_unique<optim::SGD>(plist, so);
  } else if (type == "torch.optim.Adam" || type == "torch.optim.AdamW") {
    require_known_keys(args, {"lr", "betas", "eps", "weight_decay", "amsgrad", "maximize", "foreach", "capturable",
                              "differentiable", "fused"},
                       where);
    optim::AdamOptions ao = type == "torch.optim.AdamW" ? optim::AdamW::default_options() : optim::AdamOptions{};
    ao.lr = args.value("lr", ao.lr);
    if (args.contains("betas")) {
      auto b = args["betas"].get<std::vector<double>>();
      XFMR_CHECK(b.size() == 2, where, ": betas must have two entries");
      ao.beta1 = b[0], ao.beta2 = b[1];
    }
    ao.eps = args.value("eps", ao.eps);
    ao.weight_decay = args.value("weight_decay", ao.weight_decay);
    ao.amsgrad = args.value("amsgrad", false);
    ao.maximize = maximize;
    if (type == "torch.optim.AdamW")
      opt = std::make_unique<optim::AdamW>(plist, ao);
    else
      opt = std::make_unique<optim::Adam>(plist, ao);
  } else {
    FAIL() << c.name << ": unknown optimizer '" << type << "'";
  }
  std::map<std::string, size_t> index;  // param name -> index in plist
  {
    size_t i = 0;
    for (const auto& [name, p] : params) index[name] = i++;
  }
  const json& grads = at(c.spec, "grads_given", c.name);
  const json& by_step = at(c.spec, "expected_by_step", c.name);
  XFMR_CHECK(grads.size() == by_step.size(), c.name, ": grads_given and expected_by_step differ in length");
  for (size_t t = 0; t < grads.size(); ++t) {
    for (const auto& [pname, gname] : grads[t].items()) {
      XFMR_CHECK(params.count(pname), c.name, ": gradient for unknown parameter ", pname);
      params[pname].set_grad(c.get(gname.get<std::string>()).clone());
    }
    opt->step();
    for (const auto& [key, tname] : by_step[t].items()) {
      const std::string expected = tname.get<std::string>();
      if (key == "step") {
        const auto* st = opt->state_of(0);
        XFMR_CHECK(st && st->count("step"), c.name, ": the optimizer keeps no step count");
        k.expect(expected, st->at("step"));
        continue;
      }
      size_t dot = key.rfind('.');
      XFMR_CHECK(dot != std::string::npos, c.name, ": unknown expected entry ", key);
      std::string what = key.substr(0, dot), pname = key.substr(dot + 1);
      XFMR_CHECK(params.count(pname), c.name, ": expected entry for unknown parameter ", key);
      if (what == "param") {
        k.expect(expected, params[pname]);
      } else {
        const auto* st = opt->state_of(index[pname]);
        XFMR_CHECK(st && st->count(what), c.name, ": optimizer state '", what, "' of ", pname, " does not exist");
        k.expect(expected, st->at(what));
      }
    }
  }
}

// ------------------------------------------------------------------ sched

void run_sched(const test::NnCase& c, Checker& k) {
  const json& s = at(c.spec, "scheduler", c.name);
  const std::string type = at(s, "type", c.name).get<std::string>();
  const double base = at(s, "base_lr", c.name).get<double>();
  const json& args = at(s, "args", c.name);
  const std::string where = c.name + ".scheduler.args";
  const json& outputs = at(c.spec, "outputs", c.name);
  const std::string lr_name = at(outputs, "lr", c.name).get<std::string>();
  const int64_t n = raw(c, lr_name).numel() - 1;
  Tensor dummy_param = Tensor::zeros({1});
  dummy_param.set_requires_grad(true);
  optim::SGD opt({dummy_param}, {.lr = base});
  std::unique_ptr<optim::LRScheduler> sched;
  std::function<double(int64_t)> closed;
  const std::string ts = "torch.optim.lr_scheduler.";
  if (type == ts + "StepLR") {
    require_known_keys(args, {"step_size", "gamma"}, where);
    int64_t step = at(args, "step_size", where).get<int64_t>();
    double gamma = args.value("gamma", 0.1);
    sched = std::make_unique<optim::StepLR>(opt, step, gamma);
    closed = [=](int64_t i) { return base * std::pow(gamma, std::floor(static_cast<double>(i) / step)); };
  } else if (type == ts + "MultiStepLR") {
    require_known_keys(args, {"milestones", "gamma"}, where);
    auto ms = at(args, "milestones", where).get<std::vector<int64_t>>();
    double gamma = args.value("gamma", 0.1);
    sched = std::make_unique<optim::MultiStepLR>(opt, ms, gamma);
    closed = [=](int64_t i) {
      int64_t passed = 0;
      for (int64_t m : ms) passed += m <= i;
      return base * std::pow(gamma, static_cast<double>(passed));
    };
  } else if (type == ts + "ExponentialLR") {
    require_known_keys(args, {"gamma"}, where);
    double gamma = at(args, "gamma", where).get<double>();
    sched = std::make_unique<optim::ExponentialLR>(opt, gamma);
    closed = [=](int64_t i) { return base * std::pow(gamma, static_cast<double>(i)); };
  } else if (type == ts + "CosineAnnealingLR") {
    require_known_keys(args, {"T_max", "eta_min"}, where);
    int64_t tmax = at(args, "T_max", where).get<int64_t>();
    double eta = args.value("eta_min", 0.0);
    sched = std::make_unique<optim::CosineAnnealingLR>(opt, tmax, eta);
    closed = [=](int64_t i) {
      return eta + (base - eta) * (1 + std::cos(3.141592653589793 * static_cast<double>(i) / tmax)) / 2;
    };
  } else if (type.rfind(ts + "LambdaLR (HF linear", 0) == 0) {
    require_known_keys(args, {"num_warmup_steps", "num_training_steps"}, where);
    int64_t w = at(args, "num_warmup_steps", where).get<int64_t>(), tot = at(args, "num_training_steps", where).get<int64_t>();
    sched = optim::get_linear_schedule_with_warmup(opt, w, tot);
    closed = [=](int64_t i) { return base * optim::linear_warmup_decay_factor(i, w, tot); };
  } else if (type.rfind(ts + "LambdaLR (HF cosine", 0) == 0) {
    require_known_keys(args, {"num_warmup_steps", "num_training_steps", "num_cycles"}, where);
    int64_t w = at(args, "num_warmup_steps", where).get<int64_t>(), tot = at(args, "num_training_steps", where).get<int64_t>();
    double cyc = args.value("num_cycles", 0.5);
    sched = optim::get_cosine_schedule_with_warmup(opt, w, tot, cyc);
    closed = [=](int64_t i) { return base * optim::cosine_warmup_factor(i, w, tot, cyc); };
  } else if (type.rfind(ts + "LambdaLR (HF constant", 0) == 0) {
    require_known_keys(args, {"num_warmup_steps"}, where);
    int64_t w = at(args, "num_warmup_steps", where).get<int64_t>();
    sched = optim::get_constant_schedule_with_warmup(opt, w);
    closed = [=](int64_t i) { return base * (i < w ? static_cast<double>(i) / std::max<int64_t>(1, w) : 1.0); };
  } else {
    FAIL() << c.name << ": unknown scheduler '" << type << "'";
  }
  std::vector<double> lrs{opt.param_groups()[0].lr()}, closed_lrs{closed(0)};
  for (int64_t i = 1; i <= n; ++i) {
    opt.step();  // no gradient: a no-op, like the reference loop's optimizer.step()
    sched->step();
    lrs.push_back(opt.param_groups()[0].lr());
    closed_lrs.push_back(closed(i));
  }
  EXPECT_EQ(sched->get_last_lr().at(0), lrs.back()) << c.name;
  k.expect(lr_name, Tensor::from_vector<double>(lrs));
  if (outputs.contains("lr_closed_form"))
    k.expect(outputs["lr_closed_form"].get<std::string>(), Tensor::from_vector<double>(closed_lrs));
}

}  // namespace xfmr::parity
