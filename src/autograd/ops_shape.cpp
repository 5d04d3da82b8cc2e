// Shape ops: forward is a core view (or copy), backward maps the gradient back to the input shape.
#include <numeric>

#include "record.h"
#include "xfmr/autograd/ops.h"
#include "xfmr/kernels/kernels.h"

namespace xfmr {

using autograd::BackwardContext;
using autograd::record;
using autograd::should_record;
namespace k = kernels;

namespace {
// Records a view op whose backward is `fn(grad)`; the output is a fresh handle (the view shares
// storage with x but has its own autograd history).
template <typename Fn>
Tensor record_view(const char* name, const Tensor& x, Tensor out, Fn fn) {
  if (should_record({&x})) {
    record(name, {x}, {out}, [fn](const BackwardContext& c) -> std::vector<Tensor> { return {fn(c.grad())}; });
  }
  return out;
}

// Gradient of a sub-range: zeros with the grad written into the range.
Tensor scatter_into(const Shape& shape, const Tensor& g, int64_t dim, int64_t start, int64_t len) {
  Tensor z = Tensor::zeros(shape);
  z.narrow(dim, start, len).copy_(g);
  return z;
}
}  // namespace

Tensor reshape(const Tensor& x, const Shape& shape) {
  Shape sx = x.shape();
  return record_view("ReshapeBackward", x, x.reshape(shape), [sx](const Tensor& g) { return g.reshape(sx); });
}

Tensor transpose(const Tensor& x, int64_t d0, int64_t d1) {
  return record_view("TransposeBackward", x, x.transpose(d0, d1),
                     [d0, d1](const Tensor& g) { return g.transpose(d0, d1); });
}

Tensor permute(const Tensor& x, const std::vector<int64_t>& dims) {
  std::vector<int64_t> inv(dims.size());
  for (size_t i = 0; i < dims.size(); ++i) inv[static_cast<size_t>(normalize_dim(dims[i], x.dim(), "permute"))] = i;
  return record_view("PermuteBackward", x, x.permute(dims), [inv](const Tensor& g) { return g.permute(inv); });
}

Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length) {
  Shape sx = x.shape();
  int d = normalize_dim(dim, x.dim(), "narrow");
  int64_t s0 = start < 0 ? start + sx[d] : start;
  return record_view("NarrowBackward", x, x.narrow(dim, start, length),
                     [sx, d, s0, length](const Tensor& g) { return scatter_into(sx, g, d, s0, length); });
}

Tensor select(const Tensor& x, int64_t dim, int64_t index) {
  Shape sx = x.shape();
  int d = normalize_dim(dim, x.dim(), "select");
  int64_t i0 = index < 0 ? index + sx[d] : index;
  return record_view("SelectBackward", x, x.select(dim, index),
                     [sx, d, i0](const Tensor& g) { return scatter_into(sx, g.unsqueeze(d), d, i0, 1); });
}

Tensor unsqueeze(const Tensor& x, int64_t dim) {
  Shape sx = x.shape();
  return record_view("UnsqueezeBackward", x, x.unsqueeze(dim), [sx](const Tensor& g) { return g.reshape(sx); });
}

Tensor squeeze(const Tensor& x, int64_t dim) {
  Shape sx = x.shape();
  return record_view("SqueezeBackward", x, x.squeeze(dim), [sx](const Tensor& g) { return g.reshape(sx); });
}

Tensor expand(const Tensor& x, const Shape& shape) {
  Shape sx = x.shape();
  return record_view("ExpandBackward", x, x.expand(shape), [sx](const Tensor& g) { return k::sum_to_shape(g, sx); });
}

Tensor contiguous(const Tensor& x) {
  if (x.is_contiguous()) return x;
  return record_view("ContiguousBackward", x, x.contiguous(), [](const Tensor& g) { return g; });
}

Tensor flatten(const Tensor& x, int64_t start_dim, int64_t end_dim) {
  Shape sx = x.shape();
  return record_view("FlattenBackward", x, x.flatten(start_dim, end_dim), [sx](const Tensor& g) { return g.reshape(sx); });
}

Tensor cat(const std::vector<Tensor>& xs, int64_t dim) {
  XFMR_CHECK(!xs.empty(), "cat: expected a non-empty list of tensors");
  int d = normalize_dim(dim, xs[0].dim(), "cat");
  Shape out_shape = xs[0].shape();
  int64_t total = 0;
  for (const Tensor& t : xs) {
    XFMR_CHECK(t.dim() == xs[0].dim() && t.dtype() == xs[0].dtype(), "cat: tensors differ in rank or dtype: ",
               xs[0].describe(), " vs ", t.describe());
    for (int i = 0; i < t.dim(); ++i)
      XFMR_CHECK(i == d || t.shape()[i] == out_shape[i], "cat: sizes of ", xs[0].describe(), " and ", t.describe(),
                 " differ outside dimension ", dim);
    total += t.shape()[d];
  }
  out_shape[d] = total;
  Tensor out = Tensor::empty(out_shape, xs[0].dtype());
  std::vector<int64_t> sizes;
  int64_t off = 0;
  for (const Tensor& t : xs) {
    out.narrow(d, off, t.shape()[d]).copy_(t);
    sizes.push_back(t.shape()[d]);
    off += t.shape()[d];
  }
  if (GradMode::is_enabled() && autograd::any_requires_grad(xs)) {
    record("CatBackward", xs, {out}, [sizes, d](const BackwardContext& c) -> std::vector<Tensor> {
      std::vector<Tensor> gs;
      int64_t o = 0;
      for (size_t i = 0; i < sizes.size(); ++i) {
        gs.push_back(c.need(i) ? c.grad().narrow(d, o, sizes[i]).contiguous() : Tensor());
        o += sizes[i];
      }
      return gs;
    });
  }
  return out;
}

Tensor stack(const std::vector<Tensor>& xs, int64_t dim) {
  XFMR_CHECK(!xs.empty(), "stack: expected a non-empty list of tensors");
  int d = normalize_dim(dim, xs[0].dim() + 1, "stack");
  std::vector<Tensor> us;
  for (const Tensor& t : xs) us.push_back(unsqueeze(t, d));
  return cat(us, d);
}

std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t dim) {
  XFMR_CHECK(chunks > 0, "chunk: number of chunks must be positive, got ", chunks);
  int d = normalize_dim(dim, x.dim(), "chunk");
  int64_t n = x.shape()[d], size = (n + chunks - 1) / chunks;
  std::vector<Tensor> out;
  for (int64_t s = 0; s < n; s += size) out.push_back(narrow(x, d, s, std::min(size, n - s)));
  return out;
}

}  // namespace xfmr
