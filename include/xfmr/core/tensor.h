// Tensor: a typed, strided view into a Storage, with PyTorch's semantics for shapes, strides and
// views. A Tensor is a cheap handle (shared_ptr) to a TensorImpl: copies share the same tensor,
// exactly like torch.Tensor objects in Python.
//
// Layering: this is the core layer. View methods here (view, transpose, narrow, ...) never copy
// and never record autograd history; the differentiable versions live in xfmr/autograd/functions.h.
// The AutogradMeta slot is carried opaquely so that the autograd layer can attach gradients.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "xfmr/core/dtype.h"
#include "xfmr/core/error.h"
#include "xfmr/core/shape.h"
#include "xfmr/core/storage.h"

namespace xfmr {

namespace autograd {
class Node;
}
class Tensor;

// Autograd bookkeeping attached to a tensor (filled by the autograd layer).
struct AutogradMeta {
  bool requires_grad = false;
  std::shared_ptr<Tensor> grad;                 // accumulated gradient of a leaf (or retained)
  std::shared_ptr<autograd::Node> grad_fn;      // producer node for non-leaf tensors
  std::weak_ptr<autograd::Node> grad_accumulator;  // leaves: the node that accumulates into grad
  int output_nr = 0;                            // which output of grad_fn this tensor is
};

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  int64_t offset = 0;  // in elements
  Shape shape;
  Shape strides;  // in elements
  DType dtype = DType::F32;
  std::shared_ptr<AutogradMeta> autograd;
};

class Tensor {
 public:
  Tensor() = default;

  // ---- factories (contiguous, owned) ----
  static Tensor empty(const Shape& shape, DType dtype = DType::F32);
  static Tensor zeros(const Shape& shape, DType dtype = DType::F32);
  static Tensor ones(const Shape& shape, DType dtype = DType::F32);
  static Tensor full(const Shape& shape, double value, DType dtype = DType::F32);
  static Tensor scalar(double value, DType dtype = DType::F32);  // 0-dim
  static Tensor arange(int64_t begin, int64_t end, DType dtype = DType::I64);
  template <typename T>
  static Tensor from_vector(const std::vector<T>& values, const Shape& shape);
  template <typename T>
  static Tensor from_vector(const std::vector<T>& values) {
    return from_vector(values, Shape{static_cast<int64_t>(values.size())});
  }
  // A view of existing storage (no copy).
  static Tensor from_storage(std::shared_ptr<Storage> storage, DType dtype, const Shape& shape,
                             const Shape& strides, int64_t offset = 0);

  // ---- properties ----
  bool defined() const { return impl_ != nullptr; }
  DType dtype() const { return impl().dtype; }
  const Shape& shape() const { return impl().shape; }
  const Shape& strides() const { return impl().strides; }
  int dim() const { return impl().shape.size(); }
  int64_t size(int64_t d) const;    // negative d counts from the end
  int64_t stride(int64_t d) const;
  int64_t numel() const { return impl().shape.numel(); }
  int64_t offset() const { return impl().offset; }
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype()); }
  bool is_contiguous() const;
  const std::shared_ptr<Storage>& storage() const { return impl().storage; }
  bool is_same(const Tensor& o) const { return impl_ == o.impl_; }
  std::string describe() const;  // "f32[2, 3]" for messages

  // ---- data access (checks the element type) ----
  template <typename T>
  T* data() const {
    XFMR_CHECK(defined(), "Tensor::data: undefined tensor");
    XFMR_CHECK(dtype_of<T>::value == dtype(), "Tensor::data<", dtype_name(dtype_of<T>::value),
               ">: tensor is ", describe());
    return static_cast<T*>(raw_data());
  }
  void* raw_data() const;                 // pointer to element [0,...,0]
  void* mutable_raw_data() const;         // same, but throws if the storage is read-only
  template <typename T>
  T* mutable_data() const {
    (void)data<T>();
    return static_cast<T*>(mutable_raw_data());
  }
  double item() const;                    // value of a one-element tensor, any dtype
  std::vector<float> to_float_vector() const;  // all elements in logical order, converted to f32
  template <typename T>
  std::vector<T> to_vector() const;       // all elements in logical order (dtype must match T)

  // ---- views (no copy, no autograd) ----
  Tensor view(const Shape& shape) const;      // requires compatible strides; one dim may be -1
  Tensor reshape(const Shape& shape) const;   // view when possible, else a contiguous copy
  Tensor transpose(int64_t d0, int64_t d1) const;
  Tensor permute(const std::vector<int64_t>& dims) const;
  Tensor narrow(int64_t dim, int64_t start, int64_t length) const;
  Tensor slice(int64_t dim, int64_t start, int64_t end, int64_t step = 1) const;
  Tensor select(int64_t dim, int64_t index) const;  // removes `dim`
  Tensor unsqueeze(int64_t dim) const;
  Tensor squeeze(int64_t dim) const;
  Tensor expand(const Shape& shape) const;    // broadcast view; -1 keeps a size
  Tensor flatten(int64_t start_dim = 0, int64_t end_dim = -1) const;

  // ---- copies ----
  Tensor contiguous() const;                  // itself when already contiguous
  Tensor clone() const;                       // always a fresh contiguous copy
  Tensor to(DType dtype) const;               // converted copy (itself when dtype matches)
  void copy_(const Tensor& src) const;        // element-wise copy with broadcasting and conversion
  void fill_(double value) const;
  void zero_() const { fill_(0.0); }

  // ---- autograd slot (managed by xfmr/autograd) ----
  bool requires_grad() const { return impl_ && impl_->autograd && impl_->autograd->requires_grad; }
  Tensor& set_requires_grad(bool value);      // leaves only; returns *this
  Tensor grad() const;                        // undefined when none accumulated
  void set_grad(const Tensor& g) const;
  AutogradMeta* autograd_meta() const { return impl_ ? impl_->autograd.get() : nullptr; }
  AutogradMeta& ensure_autograd_meta() const;
  // A tensor sharing storage with this one but without autograd history.
  Tensor detach() const;

  TensorImpl& impl() const {
    XFMR_CHECK(impl_ != nullptr, "operation on an undefined tensor");
    return *impl_;
  }

 private:
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}
  Tensor make_view(const Shape& shape, const Shape& strides, int64_t offset) const;
  std::shared_ptr<TensorImpl> impl_;
};

std::ostream& operator<<(std::ostream& os, const Tensor& t);

// Throws "op: expected dtype X, got <tensor>".
void check_dtype(const Tensor& t, DType expected, const char* op, const char* arg = "input");
// Throws "op: expected N dims, got <tensor>".
void check_dim(const Tensor& t, int ndim, const char* op, const char* arg = "input");

}  // namespace xfmr
