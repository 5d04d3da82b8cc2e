// Head split / merge for multi-head attention.
#include "xfmr/autograd/attention.h"

#include "record.h"
#include "xfmr/autograd/ops.h"

namespace xfmr {

using autograd::BackwardContext;
using autograd::record;
using autograd::should_record;

namespace {
// [A, B, chunks, H, D] view of the packed tensor, and the permutation to [N, H, T, D] of one chunk.
Tensor five_d(const Tensor& packed, int64_t chunks, int64_t heads, int64_t d) {
  Shape s{packed.size(0), packed.size(1), chunks, heads, d};
  try {
    return packed.view(s);
  } catch (const Error&) {
    return packed.contiguous().view(s);
  }
}
std::vector<int64_t> chunk_perm(bool batch_first) {
  return batch_first ? std::vector<int64_t>{0, 2, 1, 3} : std::vector<int64_t>{1, 2, 0, 3};
}
}  // namespace

std::vector<Tensor> split_heads(const Tensor& packed, int64_t chunks, int64_t num_heads, bool batch_first) {
  XFMR_CHECK(packed.dim() == 3, "split_heads: expected a [T, N, E] or [N, T, E] tensor, got ", packed.describe());
  XFMR_CHECK(chunks > 0 && num_heads > 0 && packed.size(2) % (chunks * num_heads) == 0, "split_heads: ",
             packed.describe(), " cannot be split into ", chunks, " chunks of ", num_heads, " heads");
  const int64_t d = packed.size(2) / (chunks * num_heads);
  Tensor v5 = five_d(packed, chunks, num_heads, d);
  const std::vector<int64_t> perm = chunk_perm(batch_first);
  std::vector<Tensor> out;
  out.reserve(static_cast<size_t>(chunks));
  for (int64_t i = 0; i < chunks; ++i) out.push_back(v5.select(2, i).permute(perm));
  if (should_record({&packed})) {
    Shape shape = packed.shape();
    record("SplitHeadsBackward", {packed}, out,
           [shape, chunks, num_heads, d, perm](const BackwardContext& c) -> std::vector<Tensor> {
             Tensor g = Tensor::empty(shape);
             Tensor g5 = g.view({shape[0], shape[1], chunks, num_heads, d});
             for (int64_t i = 0; i < chunks; ++i) g5.select(2, i).permute(perm).copy_(c.grad(static_cast<size_t>(i)));
             return {g};
           });
  }
  return out;
}

Tensor merge_heads(const Tensor& x, bool batch_first) {
  XFMR_CHECK(x.dim() == 4, "merge_heads: expected [N, H, T, D], got ", x.describe());
  const int64_t n = x.size(0), h = x.size(1), t = x.size(2), d = x.size(3);
  Tensor p = contiguous(permute(x, batch_first ? std::vector<int64_t>{0, 2, 1, 3} : std::vector<int64_t>{2, 0, 1, 3}));
  return batch_first ? reshape(p, {n, t, h * d}) : reshape(p, {t, n, h * d});
}

}  // namespace xfmr
