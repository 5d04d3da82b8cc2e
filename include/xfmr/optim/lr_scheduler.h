// Learning-rate schedules (torch.optim.lr_scheduler, PyTorch 1.13 semantics) and the HuggingFace
// warmup schedules. A scheduler sets every group's lr at construction (lr after 0 steps, e.g. 0 for
// a warmup schedule) and on each step(); call it after optimizer.step(), like PyTorch.
//
// Learning rates are doubles computed with torch's (chainable) formulas, so they agree with Python
// to the last bit. Scheduler state (last_epoch, base_lrs, last lrs, step count) is saved as JSON;
// to resume, build the optimizer and the scheduler as for a fresh run, then load both states.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "xfmr/optim/optimizer.h"

namespace xfmr::optim {

class LRScheduler {
 public:
  virtual ~LRScheduler() = default;
  LRScheduler(const LRScheduler&) = delete;
  LRScheduler& operator=(const LRScheduler&) = delete;

  void step();
  const std::vector<double>& get_last_lr() const { return last_lr_; }
  int64_t last_epoch() const { return last_epoch_; }
  const std::vector<double>& base_lrs() const { return base_lrs_; }
  virtual std::string type_name() const = 0;

  // JSON text: {"type", "last_epoch", "step_count", "base_lrs", "last_lr"}.
  std::string state_dict() const;
  void load_state_dict(const std::string& json);

 protected:
  explicit LRScheduler(Optimizer& optimizer);
  // Call at the end of a derived constructor (torch's _initial_step): sets lr for epoch 0.
  void initial_step();
  // The lrs for last_epoch_ (already advanced), torch's get_lr().
  virtual std::vector<double> get_lr() = 0;
  double group_lr(size_t i) const { return optimizer_.param_groups()[i].lr(); }

  Optimizer& optimizer_;
  std::vector<double> base_lrs_;
  std::vector<double> last_lr_;
  int64_t last_epoch_ = -1;
  int64_t step_count_ = 0;
};

// lr *= gamma every step_size steps.
class StepLR : public LRScheduler {
 public:
  StepLR(Optimizer& optimizer, int64_t step_size, double gamma = 0.1);
  std::string type_name() const override { return "StepLR"; }

 protected:
  std::vector<double> get_lr() override;
  int64_t step_size_;
  double gamma_;
};

// lr *= gamma at every milestone.
class MultiStepLR : public LRScheduler {
 public:
  MultiStepLR(Optimizer& optimizer, std::vector<int64_t> milestones, double gamma = 0.1);
  std::string type_name() const override { return "MultiStepLR"; }

 protected:
  std::vector<double> get_lr() override;
  std::vector<int64_t> milestones_;
  double gamma_;
};

// lr *= gamma every step.
class ExponentialLR : public LRScheduler {
 public:
  ExponentialLR(Optimizer& optimizer, double gamma);
  std::string type_name() const override { return "ExponentialLR"; }

 protected:
  std::vector<double> get_lr() override;
  double gamma_;
};

// torch's CosineAnnealingLR (recursive form; equals eta_min + (base - eta_min)(1 + cos(pi k / T_max))/2
// up to rounding, and keeps going past T_max: the lr rises again).
class CosineAnnealingLR : public LRScheduler {
 public:
  CosineAnnealingLR(Optimizer& optimizer, int64_t T_max, double eta_min = 0.0);
  std::string type_name() const override { return "CosineAnnealingLR"; }

 protected:
  std::vector<double> get_lr() override;
  int64_t t_max_;
  double eta_min_;
};

// lr = base_lr * lambda(step). The lambda itself is not part of the saved state (as in PyTorch).
class LambdaLR : public LRScheduler {
 public:
  using Lambda = std::function<double(int64_t)>;
  LambdaLR(Optimizer& optimizer, Lambda lr_lambda, std::string name = "LambdaLR");
  std::string type_name() const override { return name_; }

 protected:
  std::vector<double> get_lr() override;
  Lambda lambda_;
  std::string name_;
};

// HuggingFace transformers' schedules (LambdaLR with their lambdas, bit-identical formulas):
// linear warmup from 0 over num_warmup_steps, then linear decay to 0 at num_training_steps.
std::unique_ptr<LambdaLR> get_linear_schedule_with_warmup(Optimizer& optimizer, int64_t num_warmup_steps,
                                                          int64_t num_training_steps);
// linear warmup, then cosine decay: max(0, 0.5 (1 + cos(pi * num_cycles * 2 * progress))).
std::unique_ptr<LambdaLR> get_cosine_schedule_with_warmup(Optimizer& optimizer, int64_t num_warmup_steps,
                                                          int64_t num_training_steps, double num_cycles = 0.5);
// linear warmup, then constant.
std::unique_ptr<LambdaLR> get_constant_schedule_with_warmup(Optimizer& optimizer, int64_t num_warmup_steps);

// The lambdas themselves (multiplier of base_lr after `step` scheduler steps).
double linear_warmup_decay_factor(int64_t step, int64_t num_warmup_steps, int64_t num_training_steps);
double cosine_warmup_factor(int64_t step, int64_t num_warmup_steps, int64_t num_training_steps, double num_cycles);

}  // namespace xfmr::optim
