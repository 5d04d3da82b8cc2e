#include "xfmr/optim/lr_scheduler.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

namespace xfmr::optim {

namespace {
constexpr double kPi = 3.141592653589793;  // math.pi
// Python's modulo (result has the sign of the divisor).
int64_t py_mod(int64_t a, int64_t b) { return ((a % b) + b) % b; }
}  // namespace

LRScheduler::LRScheduler(Optimizer& optimizer) : optimizer_(optimizer) {
  // torch (last_epoch=-1): initial_lr = lr of each group; base_lrs = initial_lrs.
  for (const auto& g : optimizer_.param_groups()) base_lrs_.push_back(g.lr());
}

void LRScheduler::initial_step() {
  step_count_ = 0;
  step();
}

void LRScheduler::step() {
  ++step_count_;
  ++last_epoch_;
  std::vector<double> lrs = get_lr();
  auto& groups = optimizer_.param_groups();
  XFMR_CHECK(lrs.size() == groups.size(), type_name(), ": the optimizer's parameter groups changed");
  for (size_t i = 0; i < groups.size(); ++i) groups[i].set_lr(lrs[i]);
  last_lr_ = lrs;
}

std::string LRScheduler::state_dict() const {
  nlohmann::json j;
  j["type"] = type_name();
  j["last_epoch"] = last_epoch_;
  j["step_count"] = step_count_;
  j["base_lrs"] = base_lrs_;
  j["last_lr"] = last_lr_;
  return j.dump();  // doubles are written with round-trip precision
}

void LRScheduler::load_state_dict(const std::string& text) {
  try {
    nlohmann::json j = nlohmann::json::parse(text);
    XFMR_CHECK(j.at("type").get<std::string>() == type_name(), "scheduler.load_state_dict: the state is for ",
               j.at("type").get<std::string>(), ", this scheduler is ", type_name());
    auto base = j.at("base_lrs").get<std::vector<double>>();
    XFMR_CHECK(base.size() == base_lrs_.size(), "scheduler.load_state_dict: ", base.size(),
               " parameter groups in the state, ", base_lrs_.size(), " in the optimizer");
    base_lrs_ = base;
    last_lr_ = j.at("last_lr").get<std::vector<double>>();
    last_epoch_ = j.at("last_epoch").get<int64_t>();
    step_count_ = j.at("step_count").get<int64_t>();
  } catch (const nlohmann::json::exception& e) {
    detail::fail("scheduler.load_state_dict: malformed state: ", e.what());
  }
}

// ------------------------------------------------------------------ StepLR / MultiStepLR / ExponentialLR

StepLR::StepLR(Optimizer& opt, int64_t step_size, double gamma) : LRScheduler(opt), step_size_(step_size), gamma_(gamma) {
  XFMR_CHECK(step_size > 0, "StepLR: step_size must be positive, got ", step_size);
  initial_step();
}

std::vector<double> StepLR::get_lr() {
  std::vector<double> out;
  for (size_t i = 0; i < base_lrs_.size(); ++i) {
    double lr = group_lr(i);
    out.push_back(last_epoch_ == 0 || last_epoch_ % step_size_ != 0 ? lr : lr * gamma_);
  }
  return out;
}

MultiStepLR::MultiStepLR(Optimizer& opt, std::vector<int64_t> milestones, double gamma)
    : LRScheduler(opt), milestones_(std::move(milestones)), gamma_(gamma) {
  std::sort(milestones_.begin(), milestones_.end());
  initial_step();
}

std::vector<double> MultiStepLR::get_lr() {
  int64_t hits = std::count(milestones_.begin(), milestones_.end(), last_epoch_);
  std::vector<double> out;
  for (size_t i = 0; i < base_lrs_.size(); ++i) out.push_back(group_lr(i) * std::pow(gamma_, static_cast<double>(hits)));
  return out;
}

ExponentialLR::ExponentialLR(Optimizer& opt, double gamma) : LRScheduler(opt), gamma_(gamma) { initial_step(); }

std::vector<double> ExponentialLR::get_lr() {
  std::vector<double> out;
  for (size_t i = 0; i < base_lrs_.size(); ++i) out.push_back(last_epoch_ == 0 ? group_lr(i) : group_lr(i) * gamma_);
  return out;
}

// ------------------------------------------------------------------ CosineAnnealingLR

CosineAnnealingLR::CosineAnnealingLR(Optimizer& opt, int64_t t_max, double eta_min)
    : LRScheduler(opt), t_max_(t_max), eta_min_(eta_min) {
  XFMR_CHECK(t_max > 0, "CosineAnnealingLR: T_max must be positive, got ", t_max);
  initial_step();
}

std::vector<double> CosineAnnealingLR::get_lr() {
  std::vector<double> out;
  const double T = static_cast<double>(t_max_), e = static_cast<double>(last_epoch_);
  for (size_t i = 0; i < base_lrs_.size(); ++i) {
    const double base = base_lrs_[i], lr = group_lr(i);
    if (last_epoch_ == 0) {
      out.push_back(lr);
    } else if (step_count_ == 1 && last_epoch_ > 0) {
      out.push_back(eta_min_ + (base - eta_min_) * (1 + std::cos(e * kPi / T)) / 2);
    } else if (py_mod(last_epoch_ - 1 - t_max_, 2 * t_max_) == 0) {
      out.push_back(lr + (base - eta_min_) * (1 - std::cos(kPi / T)) / 2);
    } else {
      out.push_back((1 + std::cos(kPi * e / T)) / (1 + std::cos(kPi * (e - 1) / T)) * (lr - eta_min_) + eta_min_);
    }
  }
  return out;
}

// ------------------------------------------------------------------ LambdaLR and the HF schedules

LambdaLR::LambdaLR(Optimizer& opt, Lambda lr_lambda, std::string name)
    : LRScheduler(opt), lambda_(std::move(lr_lambda)), name_(std::move(name)) {
  XFMR_CHECK(lambda_ != nullptr, "LambdaLR: lr_lambda is required");
  initial_step();
}

std::vector<double> LambdaLR::get_lr() {
  std::vector<double> out;
  for (double base : base_lrs_) out.push_back(base * lambda_(last_epoch_));
  return out;
}

double linear_warmup_decay_factor(int64_t step, int64_t warmup, int64_t total) {
  if (step < warmup) return static_cast<double>(step) / static_cast<double>(std::max<int64_t>(1, warmup));
  return std::max(0.0, static_cast<double>(total - step) / static_cast<double>(std::max<int64_t>(1, total - warmup)));
}

double cosine_warmup_factor(int64_t step, int64_t warmup, int64_t total, double num_cycles) {
  if (step < warmup) return static_cast<double>(step) / static_cast<double>(std::max<int64_t>(1, warmup));
  double progress = static_cast<double>(step - warmup) / static_cast<double>(std::max<int64_t>(1, total - warmup));
  return std::max(0.0, 0.5 * (1.0 + std::cos(kPi * num_cycles * 2.0 * progress)));
}

std::unique_ptr<LambdaLR> get_linear_schedule_with_warmup(Optimizer& opt, int64_t warmup, int64_t total) {
  return std::make_unique<LambdaLR>(
      opt, [warmup, total](int64_t s) { return linear_warmup_decay_factor(s, warmup, total); }, "LinearWarmupDecay");
}

std::unique_ptr<LambdaLR> get_cosine_schedule_with_warmup(Optimizer& opt, int64_t warmup, int64_t total,
                                                          double num_cycles) {
  return std::make_unique<LambdaLR>(
      opt, [warmup, total, num_cycles](int64_t s) { return cosine_warmup_factor(s, warmup, total, num_cycles); },
      "CosineWarmup");
}

std::unique_ptr<LambdaLR> get_constant_schedule_with_warmup(Optimizer& opt, int64_t warmup) {
  return std::make_unique<LambdaLR>(
      opt,
      [warmup](int64_t s) {
        return s < warmup ? static_cast<double>(s) / static_cast<double>(std::max<int64_t>(1, warmup)) : 1.0;
      },
      "ConstantWarmup");
}

}  // namespace xfmr::optim
