#include "xfmr/kernels/embedding.h"

#include <cstring>

#include "xfmr/core/parallel.h"

namespace xfmr::kernels {
namespace {
int64_t id_at(const Tensor& ids, const void* base, int64_t i) {
  return ids.dtype() == DType::I64 ? static_cast<const int64_t*>(base)[i] : static_cast<const int32_t*>(base)[i];
}
}  // namespace

Tensor embedding(const Tensor& weight, const Tensor& ids) {
  XFMR_CHECK(ids.dtype() == DType::I64 || ids.dtype() == DType::I32, "embedding: ids must be i64 or i32, got ",
             ids.describe());
  check_dim(weight, 2, "embedding", "weight");
  int64_t rows = weight.size(0), dim = weight.size(1);
  Tensor idc = ids.contiguous();
  const void* pid = idc.raw_data();
  int64_t n = idc.numel();
  for (int64_t i = 0; i < n; ++i) {
    int64_t id = id_at(idc, pid, i);
    XFMR_CHECK(id >= 0 && id < rows, "embedding: index ", id, " out of range for a table of ", rows, " rows");
  }
  Shape os = ids.shape();
  os.push_back(dim);
  Tensor out = Tensor::empty(os);
  float* po = out.data<float>();
  if (weight.dtype() == DType::F32 && weight.stride(1) == 1) {
    const float* pw = weight.data<float>();
    int64_t ld = weight.stride(0);
    parallel_for(0, n, std::max<int64_t>(1, 4096 / std::max<int64_t>(dim, 1)), [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i)
        std::memcpy(po + i * dim, pw + id_at(idc, pid, i) * ld, static_cast<size_t>(dim) * sizeof(float));
    });
  } else {  // f16/bf16 (or strided) tables: convert the selected rows only
    for (int64_t i = 0; i < n; ++i) {
      Tensor dst = Tensor::from_storage(out.storage(), DType::F32, {dim}, {1}, i * dim);
      dst.copy_(weight.select(0, id_at(idc, pid, i)));
    }
  }
  return out;
}

Tensor embedding_backward(const Tensor& grad, const Tensor& ids, int64_t num_rows, int64_t padding_idx) {
  check_dtype(grad, DType::F32, "embedding_backward", "grad");
  int64_t dim = grad.size(-1);
  Tensor idc = ids.contiguous(), gc = grad.contiguous();
  XFMR_CHECK(gc.numel() == idc.numel() * dim, "embedding_backward: grad ", grad.describe(), " does not match ids ",
             ids.describe());
  Tensor dw = Tensor::zeros({num_rows, dim});
  float* pdw = dw.data<float>();
  const float* pg = gc.data<float>();
  const void* pid = idc.raw_data();
  int64_t n = idc.numel();
  // Parallel over embedding columns: every thread sees all ids in order, so sums are deterministic.
  parallel_for(0, dim, 64, [&](int64_t lo, int64_t hi) {
    for (int64_t i = 0; i < n; ++i) {
      int64_t id = id_at(idc, pid, i);
      if (id == padding_idx) continue;
      float* row = pdw + id * dim;
      const float* g = pg + i * dim;
      for (int64_t c = lo; c < hi; ++c) row[c] += g[c];
    }
  });
  return dw;
}

}  // namespace xfmr::kernels
