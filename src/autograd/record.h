// Helpers for writing differentiable ops (private to the autograd layer).
#pragma once

#include "xfmr/autograd/autograd.h"

namespace xfmr::autograd {

// True when the op must record its backward.
inline bool should_record(std::initializer_list<const Tensor*> inputs) {
  return GradMode::is_enabled() && any_requires_grad(inputs);
}

// Saved tensors are captured detached so a node never owns its own outputs' history (no cycles).
inline Tensor saved(const Tensor& t) { return t.defined() ? t.detach() : t; }

}  // namespace xfmr::autograd
