#include <algorithm>
#include <atomic>
#include <map>
#include <queue>
#include <unordered_map>
#include <unordered_set>

#include "xfmr/autograd/autograd.h"
#include "xfmr/kernels/elementwise.h"

namespace xfmr {
namespace {

thread_local bool g_grad_enabled = true;
std::atomic<uint64_t> g_sequence{0};

}  // namespace

bool GradMode::is_enabled() { return g_grad_enabled; }
void GradMode::set_enabled(bool enabled) { g_grad_enabled = enabled; }

namespace autograd {
namespace {

// Adds `g` into the leaf's .grad (a private contiguous copy the first time: incoming gradients may
// alias other tensors, e.g. the two inputs of an addition receive the same gradient object).
class AccumulateGrad : public Node {
 public:
  explicit AccumulateGrad(Tensor leaf) : leaf_(std::move(leaf)) {}
  std::vector<Tensor> apply(const std::vector<Tensor>& grads) override {
    const Tensor& g = grads[0];
    if (!g.defined()) return {};
    XFMR_CHECK(g.shape() == leaf_.shape(), "backward: gradient ", g.describe(), " does not match parameter ",
               leaf_.describe());
    Tensor cur = leaf_.grad();
    if (!cur.defined()) {
      leaf_.set_grad(g.clone());
    } else {
      kernels::add_(cur, g);
    }
    return {};
  }
  std::string name() const override { return "AccumulateGrad"; }
  const Tensor& leaf() const { return leaf_; }

 private:
  Tensor leaf_;
};

class LambdaNode : public Node {
 public:
  LambdaNode(const char* name, BackwardFn fn) : name_(name), fn_(std::move(fn)) {}
  std::vector<Tensor> apply(const std::vector<Tensor>& grads) override {
    XFMR_CHECK(fn_ != nullptr, "backward through ", name_,
               " a second time: its saved tensors were freed (pass retain_graph=true)");
    std::vector<bool> needs(next.size());
    for (size_t i = 0; i < next.size(); ++i) needs[i] = next[i].fn != nullptr;
    BackwardContext ctx{grads, needs};
    return fn_(ctx);
  }
  std::string name() const override { return name_; }
  void release() override { fn_ = nullptr; }

 private:
  std::string name_;
  BackwardFn fn_;
};

Edge edge_for(const Tensor& t) {
  AutogradMeta* m = t.autograd_meta();
  if (!m || !m->requires_grad) return {};
  if (m->grad_fn) return {m->grad_fn, m->output_nr};
  std::shared_ptr<Node> acc = m->grad_accumulator.lock();
  if (!acc) {
    acc = std::make_shared<AccumulateGrad>(t);
    acc->output_shapes.push_back(t.shape());
    acc->sequence = g_sequence++;
    m->grad_accumulator = acc;
  }
  return {acc, 0};
}

// Runs the graph from the given (edge, gradient) roots. When `capture` is non-null, gradients
// arriving at the captured edges are stored there instead of (for leaves) being accumulated.
void run_backward(const std::vector<std::pair<Edge, Tensor>>& roots, bool retain_graph,
                  std::map<std::pair<Node*, int>, Tensor>* capture) {
  // 1. Dependencies: how many edges from reachable nodes point at each node.
  std::unordered_map<Node*, int> deps;
  std::vector<Node*> stack;
  std::unordered_set<Node*> seen;
  for (const auto& [e, g] : roots)
    if (e.fn && seen.insert(e.fn.get()).second) stack.push_back(e.fn.get());
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    for (const Edge& e : n->next) {
      if (!e.fn) continue;
      ++deps[e.fn.get()];
      if (seen.insert(e.fn.get()).second) stack.push_back(e.fn.get());
    }
  }
  // 2. Gradient buffers per node output.
  std::unordered_map<Node*, std::vector<Tensor>> buffers;
  std::unordered_map<Node*, std::shared_ptr<Node>> keep;  // nodes stay alive while queued
  auto add_grad = [&](const Edge& e, const Tensor& g) {
    auto& buf = buffers[e.fn.get()];
    if (buf.empty()) buf.resize(e.fn->output_shapes.size());
    Tensor& slot = buf[static_cast<size_t>(e.input_nr)];
    if (!g.defined()) return;
    if (!slot.defined()) slot = g;
    else slot = kernels::add(slot, g);
    keep[e.fn.get()] = e.fn;
  };
  auto cmp = [](Node* a, Node* b) { return a->sequence < b->sequence; };
  std::priority_queue<Node*, std::vector<Node*>, decltype(cmp)> ready(cmp);
  std::unordered_set<Node*> queued;
  for (const auto& [e, g] : roots) {
    if (!e.fn) continue;
    add_grad(e, g);
    keep[e.fn.get()] = e.fn;
  }
  for (const auto& [e, g] : roots)
    if (e.fn && deps[e.fn.get()] == 0 && queued.insert(e.fn.get()).second) ready.push(e.fn.get());
  // 3. Reverse creation order.
  while (!ready.empty()) {
    Node* n = ready.top();
    ready.pop();
    std::shared_ptr<Node> hold = keep[n];
    std::vector<Tensor> grads = std::move(buffers[n]);
    buffers.erase(n);
    grads.resize(n->output_shapes.size());
    for (size_t i = 0; i < grads.size(); ++i)
      if (!grads[i].defined()) grads[i] = Tensor::zeros(n->output_shapes[i]);
    bool captured_leaf = false;
    if (capture) {
      for (size_t i = 0; i < grads.size(); ++i) {
        auto it = capture->find({n, static_cast<int>(i)});
        if (it != capture->end()) {
          it->second = it->second.defined() ? kernels::add(it->second, grads[i]) : grads[i];
          if (dynamic_cast<AccumulateGrad*>(n)) captured_leaf = true;
        }
      }
    }
    std::vector<Tensor> in_grads;
    if (!captured_leaf && !(capture && dynamic_cast<AccumulateGrad*>(n))) in_grads = n->apply(grads);
    if (!retain_graph) n->release();
    for (size_t i = 0; i < n->next.size(); ++i) {
      const Edge& e = n->next[i];
      if (!e.fn) continue;
      add_grad(e, i < in_grads.size() ? in_grads[i] : Tensor());
      if (--deps[e.fn.get()] == 0 && queued.insert(e.fn.get()).second) ready.push(e.fn.get());
    }
    keep.erase(n);
  }
}

}  // namespace

bool any_requires_grad(std::initializer_list<const Tensor*> inputs) {
  for (const Tensor* t : inputs)
    if (t && t->defined() && t->requires_grad()) return true;
  return false;
}

bool any_requires_grad(const std::vector<Tensor>& inputs) {
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

void record(const char* name, const std::vector<Tensor>& inputs, const std::vector<Tensor>& outputs, BackwardFn fn) {
  auto node = std::make_shared<LambdaNode>(name, std::move(fn));
  node->sequence = g_sequence++;
  node->next.reserve(inputs.size());
  for (const Tensor& t : inputs) node->next.push_back(t.defined() ? edge_for(t) : Edge{});
  for (size_t i = 0; i < outputs.size(); ++i) {
    node->output_shapes.push_back(outputs[i].shape());
    AutogradMeta& m = outputs[i].ensure_autograd_meta();
    m.requires_grad = true;
    m.grad_fn = node;
    m.output_nr = static_cast<int>(i);
  }
}

}  // namespace autograd

void backward(const Tensor& root, const Tensor& grad, bool retain_graph) {
  XFMR_CHECK(root.defined(), "backward: undefined tensor");
  XFMR_CHECK(root.requires_grad(), "backward: ", root.describe(),
             " does not require grad (no parameter needing gradients was used, or it was computed under NoGradGuard)");
  Tensor g = grad;
  if (!g.defined()) {
    XFMR_CHECK(root.numel() == 1, "backward: grad can be implicitly created only for scalar outputs, got ",
               root.describe());
    g = Tensor::ones(root.shape());
  }
  XFMR_CHECK(g.shape() == root.shape(), "backward: gradient ", g.describe(), " does not match ", root.describe());
  NoGradGuard no_grad;  // backward functions compute plain tensors (no higher-order graphs)
  autograd::run_backward({{autograd::edge_for(root), g}}, retain_graph, nullptr);
}

std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs, bool retain_graph) {
  std::vector<std::pair<autograd::Edge, Tensor>> roots;
  for (size_t i = 0; i < outputs.size(); ++i) {
    const Tensor& o = outputs[i];
    XFMR_CHECK(o.requires_grad(), "grad: output ", i, " ", o.describe(), " does not require grad");
    Tensor g = i < grad_outputs.size() && grad_outputs[i].defined() ? grad_outputs[i] : Tensor::ones(o.shape());
    roots.push_back({autograd::edge_for(o), g});
  }
  std::map<std::pair<autograd::Node*, int>, Tensor> capture;
  std::vector<std::pair<autograd::Node*, int>> keys;
  for (const Tensor& in : inputs) {
    XFMR_CHECK(in.requires_grad(), "grad: input ", in.describe(), " does not require grad");
    autograd::Edge e = autograd::edge_for(in);
    keys.push_back({e.fn.get(), e.input_nr});
    capture[keys.back()] = Tensor();
  }
  NoGradGuard no_grad;
  autograd::run_backward(roots, retain_graph, &capture);
  std::vector<Tensor> out;
  for (size_t i = 0; i < inputs.size(); ++i) {
    Tensor g = capture[keys[i]];
    out.push_back(g.defined() ? g : Tensor::zeros(inputs[i].shape()));
  }
  return out;
}

}  // namespace xfmr
