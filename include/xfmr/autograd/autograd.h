// Reverse-mode automatic differentiation.
//
// An op on tensors that require gradients records a Node: the function that maps the gradients of
// its outputs to the gradients of its inputs, plus edges to the nodes that produced those inputs.
// backward(loss) walks that graph in reverse creation order and accumulates gradients into the
// `.grad()` of leaf tensors (parameters). With NoGradGuard active - or when no input requires a
// gradient - ops record nothing, so inference pays only a flag check.
//
// Saved tensors are released after backward (unless retain_graph), so the graph of a training
// step is freed as soon as its gradients are computed. In-place modification of a tensor saved
// for backward is not detected: differentiable ops here are all out-of-place.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "xfmr/core/tensor.h"

namespace xfmr {

// Thread-local switch for recording (like torch.set_grad_enabled).
class GradMode {
 public:
  static bool is_enabled();
  static void set_enabled(bool enabled);
};

// RAII: disables recording in its scope (torch.no_grad()).
class NoGradGuard {
 public:
  NoGradGuard() : prev_(GradMode::is_enabled()) { GradMode::set_enabled(false); }
  ~NoGradGuard() { GradMode::set_enabled(prev_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool prev_;
};

// RAII: enables recording in its scope (torch.enable_grad()).
class EnableGradGuard {
 public:
  EnableGradGuard() : prev_(GradMode::is_enabled()) { GradMode::set_enabled(true); }
  ~EnableGradGuard() { GradMode::set_enabled(prev_); }

 private:
  bool prev_;
};

// Computes d(root)/d(leaf) for every leaf reachable from `root` and adds it to leaf.grad().
// `grad` defaults to ones (root must then have one element, like PyTorch).
void backward(const Tensor& root, const Tensor& grad = Tensor(), bool retain_graph = false);

// Gradients of `outputs` (weighted by `grad_outputs`) w.r.t. `inputs`, returned instead of
// accumulated (torch.autograd.grad). Leaves' .grad() are left untouched.
std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs = {}, bool retain_graph = false);

namespace autograd {

struct Edge {
  std::shared_ptr<Node> fn;  // null: the input needs no gradient
  int input_nr = 0;          // which output of `fn` the input was
};

class Node {
 public:
  virtual ~Node() = default;
  // grads[i] is the gradient of output i (zeros already filled in for outputs that got none);
  // returns one gradient per input edge (undefined where needs_input_grad(i) is false).
  virtual std::vector<Tensor> apply(const std::vector<Tensor>& grads) = 0;
  virtual std::string name() const = 0;
  // Drops saved tensors after backward.
  virtual void release() {}

  bool needs_input_grad(size_t i) const { return i < next.size() && next[i].fn != nullptr; }

  std::vector<Edge> next;
  std::vector<Shape> output_shapes;
  uint64_t sequence = 0;  // creation order: later nodes run first
};

// Context passed to a recorded backward function.
struct BackwardContext {
  const std::vector<Tensor>& grads;   // gradients of the outputs
  const std::vector<bool>& needs;     // which inputs need a gradient
  const Tensor& grad(size_t i = 0) const { return grads[i]; }
  bool need(size_t i) const { return i < needs.size() && needs[i]; }
};
using BackwardFn = std::function<std::vector<Tensor>(const BackwardContext&)>;

// True when an op on these inputs must be recorded.
bool any_requires_grad(std::initializer_list<const Tensor*> inputs);
bool any_requires_grad(const std::vector<Tensor>& inputs);

// Records `outputs` as produced from `inputs` by an op whose backward is `fn`. Call only when
// any_requires_grad(inputs) and GradMode::is_enabled(). Marks the outputs as requiring grad.
void record(const char* name, const std::vector<Tensor>& inputs, const std::vector<Tensor>& outputs, BackwardFn fn);

}  // namespace autograd
}  // namespace xfmr
