// Losses: cross_entropy, nll_loss, mse_loss with fused backward passes.
#include <vector>

#include "record.h"
#include "xfmr/autograd/loss.h"
#include "xfmr/autograd/ops.h"
#include "xfmr/kernels/kernels.h"
#include "xfmr/kernels/loss.h"

namespace xfmr {

using autograd::BackwardContext;
using autograd::record;
using autograd::saved;
using autograd::should_record;
namespace k = kernels;

namespace {

// Brings (input, target) of any supported layout to input [M, C] / target [M]; `out_shape` receives
// the shape of an unreduced loss. Differentiable (permute/reshape are recorded ops).
struct Flat {
  Tensor input, target;
  Shape out_shape;
};

Flat flatten_classes(const Tensor& input, const Tensor& target, const char* op) {
  XFMR_CHECK(input.defined() && target.defined(), op, ": undefined input or target");
  XFMR_CHECK(!is_floating(target.dtype()), op, ": target ", target.describe(),
             " must hold class indices (i64); class-probability targets are not supported");
  Flat f;
  if (input.dim() == 1) {
    XFMR_CHECK(target.dim() == 0, op, ": for an unbatched input ", input.describe(), " the target must be 0-dim, got ",
               target.describe());
    f.input = reshape(input, {1, input.size(0)});
    f.target = target.reshape({1});
    f.out_shape = Shape{};
    return f;
  }
  XFMR_CHECK(input.dim() >= 2, op, ": input ", input.describe(), " must be [N, C] or [N, C, d1, ...]");
  Shape expect_t;
  expect_t.push_back(input.size(0));
  for (int d = 2; d < input.dim(); ++d) expect_t.push_back(input.size(d));
  XFMR_CHECK(target.shape() == expect_t, op, ": target ", target.describe(), " does not match input ",
             input.describe(), " (expected target shape ", expect_t, ")");
  f.out_shape = expect_t;
  if (input.dim() == 2) {
    f.input = input;
    f.target = target;
    return f;
  }
  std::vector<int64_t> perm{0};
  for (int d = 2; d < input.dim(); ++d) perm.push_back(d);
  perm.push_back(1);
  f.input = reshape(contiguous(permute(input, perm)), {-1, input.size(1)});
  f.target = target.reshape({-1});
  return f;
}

Tensor shape_loss(const Tensor& loss, Reduction r, const Shape& out_shape) {
  return r == Reduction::None ? reshape(loss, out_shape) : loss;
}

}  // namespace

Tensor cross_entropy(const Tensor& input, const Tensor& target, const Tensor& weight, int64_t ignore_index,
                     Reduction reduction, float label_smoothing) {
  Flat f = flatten_classes(input, target, "cross_entropy");
  auto r = k::cross_entropy(f.input, f.target, weight, ignore_index, reduction, label_smoothing);
  if (should_record({&f.input})) {
    Tensor sx = saved(f.input), st = f.target.detach(), sw = saved(weight), lse = r.lse;
    double denom = r.denom;
    record("CrossEntropyBackward", {f.input}, {r.loss},
           [sx, st, sw, lse, ignore_index, reduction, label_smoothing, denom](const BackwardContext& c)
               -> std::vector<Tensor> {
             return {k::cross_entropy_backward(c.grad(), sx, st, sw, lse, ignore_index, reduction, label_smoothing,
                                               denom)};
           });
  }
  return shape_loss(r.loss, reduction, f.out_shape);
}

Tensor nll_loss(const Tensor& input, const Tensor& target, const Tensor& weight, int64_t ignore_index,
                Reduction reduction) {
  Flat f = flatten_classes(input, target, "nll_loss");
  auto r = k::nll_loss(f.input, f.target, weight, ignore_index, reduction);
  if (should_record({&f.input})) {
    Shape shape = f.input.shape();
    Tensor st = f.target.detach(), sw = saved(weight);
    double denom = r.denom;
    record("NllLossBackward", {f.input}, {r.loss},
           [shape, st, sw, ignore_index, reduction, denom](const BackwardContext& c) -> std::vector<Tensor> {
             return {k::nll_loss_backward(c.grad(), shape, st, sw, ignore_index, reduction, denom)};
           });
  }
  return shape_loss(r.loss, reduction, f.out_shape);
}

Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction) {
  Tensor out = k::mse_loss(input, target, reduction);
  if (should_record({&input, &target})) {
    Tensor sx = saved(input), sy = saved(target);
    record("MseLossBackward", {input, target}, {out}, [sx, sy, reduction](const BackwardContext& c) -> std::vector<Tensor> {
      Tensor gx = k::mse_loss_backward(c.grad(), sx, sy, reduction);
      Tensor gy = c.need(1) ? k::affine(gx, -1.0f) : Tensor();
      return {c.need(0) ? gx : Tensor(), gy};
    });
  }
  return out;
}

}  // namespace xfmr
