#include "xfmr/core/tensor.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <ostream>
#include <sstream>

#include "xfmr/core/strided.h"

namespace xfmr {
namespace {

// Reads element `i` of a buffer of dtype `t` as double (conversion path for non-hot copies).
inline double load_as_double(const void* base, DType t, int64_t i) {
  switch (t) {
    case DType::F32: return static_cast<const float*>(base)[i];
    case DType::F64: return static_cast<const double*>(base)[i];
    case DType::F16: return f16_to_f32(static_cast<const uint16_t*>(base)[i]);
    case DType::BF16: return bf16_to_f32(static_cast<const uint16_t*>(base)[i]);
    case DType::I64: return static_cast<double>(static_cast<const int64_t*>(base)[i]);
    case DType::I32: return static_cast<const int32_t*>(base)[i];
    case DType::I16: return static_cast<const int16_t*>(base)[i];
    case DType::I8: return static_cast<const int8_t*>(base)[i];
    case DType::U8: return static_cast<const uint8_t*>(base)[i];
    case DType::Bool: return static_cast<const uint8_t*>(base)[i] != 0;
  }
  return 0;
}

inline void store_from_double(void* base, DType t, int64_t i, double v) {
  switch (t) {
    case DType::F32: static_cast<float*>(base)[i] = static_cast<float>(v); break;
    case DType::F64: static_cast<double*>(base)[i] = v; break;
    case DType::F16: static_cast<uint16_t*>(base)[i] = f32_to_f16(static_cast<float>(v)); break;
    case DType::BF16: static_cast<uint16_t*>(base)[i] = f32_to_bf16(static_cast<float>(v)); break;
    case DType::I64: static_cast<int64_t*>(base)[i] = static_cast<int64_t>(v); break;
    case DType::I32: static_cast<int32_t*>(base)[i] = static_cast<int32_t>(v); break;
    case DType::I16: static_cast<int16_t*>(base)[i] = static_cast<int16_t>(v); break;
    case DType::I8: static_cast<int8_t*>(base)[i] = static_cast<int8_t>(v); break;
    case DType::U8: static_cast<uint8_t*>(base)[i] = static_cast<uint8_t>(v); break;
    case DType::Bool: static_cast<uint8_t*>(base)[i] = v != 0; break;
  }
}

template <typename T>
void copy_rows_same_type(const Tensor& dst, const Tensor& src, const Shape& src_strides) {
  T* d = static_cast<T*>(dst.mutable_raw_data());
  const T* s = static_cast<const T*>(src.raw_data());
  for_each_row<2>(dst.shape(), {dst.strides(), src_strides},
                  [&](const int64_t* off, int64_t n, const int64_t* inner) {
                    T* dp = d + off[0];
                    const T* sp = s + off[1];
                    if (inner[0] == 1 && inner[1] == 1) {
                      std::memcpy(dp, sp, static_cast<size_t>(n) * sizeof(T));
                    } else {
                      for (int64_t i = 0; i < n; ++i) dp[i * inner[0]] = sp[i * inner[1]];
                    }
                  });
}

// Strides of `src` broadcast to `shape` (stride 0 on expanded dims).
Shape broadcast_strides(const Tensor& src, const Shape& shape, const char* op) {
  Shape bshape = broadcast_shapes(shape, src.shape(), op);
  XFMR_CHECK(bshape == shape, op, ": cannot broadcast ", src.describe(), " to ", shape);
  Shape st;
  st.resize(shape.size());
  int off = shape.size() - src.dim();
  for (int i = 0; i < shape.size(); ++i) {
    int j = i - off;
    st[i] = (j < 0 || src.shape()[j] == 1) ? 0 : src.strides()[j];
  }
  return st;
}

}  // namespace

// ---------------------------------------------------------------- factories

Tensor Tensor::empty(const Shape& shape, DType dtype) {
  for (int64_t d : shape) XFMR_CHECK(d >= 0, "Tensor::empty: negative dimension in shape ", shape);
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = Storage::allocate(static_cast<size_t>(shape.numel()) * dtype_size(dtype));
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

Tensor Tensor::zeros(const Shape& shape, DType dtype) {
  Tensor t = empty(shape, dtype);
  std::memset(t.raw_data(), 0, t.nbytes());
  return t;
}

Tensor Tensor::ones(const Shape& shape, DType dtype) { return full(shape, 1.0, dtype); }

Tensor Tensor::full(const Shape& shape, double value, DType dtype) {
  Tensor t = empty(shape, dtype);
  t.fill_(value);
  return t;
}

Tensor Tensor::scalar(double value, DType dtype) { return full(Shape{}, value, dtype); }

Tensor Tensor::arange(int64_t begin, int64_t end, DType dtype) {
  Tensor t = empty(Shape{std::max<int64_t>(0, end - begin)}, dtype);
  for (int64_t i = 0; i < t.numel(); ++i) store_from_double(t.raw_data(), dtype, i, static_cast<double>(begin + i));
  return t;
}

template <typename T>
Tensor Tensor::from_vector(const std::vector<T>& values, const Shape& shape) {
  XFMR_CHECK(static_cast<int64_t>(values.size()) == shape.numel(), "Tensor::from_vector: ", values.size(),
             " values for shape ", shape);
  Tensor t = empty(shape, dtype_of<T>::value);
  if constexpr (std::is_same_v<T, bool>) {
    auto* d = static_cast<uint8_t*>(t.raw_data());
    for (size_t i = 0; i < values.size(); ++i) d[i] = values[i] ? 1 : 0;
  } else {
    std::memcpy(t.raw_data(), values.data(), values.size() * sizeof(T));
  }
  return t;
}
template Tensor Tensor::from_vector(const std::vector<float>&, const Shape&);
template Tensor Tensor::from_vector(const std::vector<double>&, const Shape&);
template Tensor Tensor::from_vector(const std::vector<int64_t>&, const Shape&);
template Tensor Tensor::from_vector(const std::vector<int32_t>&, const Shape&);
template Tensor Tensor::from_vector(const std::vector<int8_t>&, const Shape&);
template Tensor Tensor::from_vector(const std::vector<uint8_t>&, const Shape&);
template Tensor Tensor::from_vector(const std::vector<bool>&, const Shape&);

Tensor Tensor::from_storage(std::shared_ptr<Storage> storage, DType dtype, const Shape& shape,
                            const Shape& strides, int64_t offset) {
  XFMR_CHECK(storage != nullptr, "Tensor::from_storage: null storage");
  XFMR_CHECK(strides.size() == shape.size(), "Tensor::from_storage: shape ", shape, " and strides ", strides,
             " differ in rank");
  // The furthest element must lie inside the storage.
  int64_t max_off = offset;
  for (int i = 0; i < shape.size(); ++i) {
    XFMR_CHECK(shape[i] >= 0 && strides[i] >= 0, "Tensor::from_storage: bad shape ", shape, " / strides ",
               strides);
    if (shape[i] == 0) max_off = -1;
    if (max_off >= 0) max_off += (shape[i] - 1) * strides[i];
  }
  if (max_off >= 0)
    XFMR_CHECK(static_cast<size_t>(max_off + 1) * dtype_size(dtype) <= storage->nbytes(),
               "Tensor::from_storage: view ", shape, " (", dtype_name(dtype), ") at offset ", offset,
               " exceeds the storage of ", storage->nbytes(), " bytes");
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::move(storage);
  impl->dtype = dtype;
  impl->shape = shape;
  impl->strides = strides;
  impl->offset = offset;
  return Tensor(std::move(impl));
}

// ---------------------------------------------------------------- properties

int64_t Tensor::size(int64_t d) const { return shape()[normalize_dim(d, dim(), "Tensor::size")]; }
int64_t Tensor::stride(int64_t d) const { return strides()[normalize_dim(d, dim(), "Tensor::stride")]; }

bool Tensor::is_contiguous() const {
  const auto& im = impl();
  int64_t expected = 1;
  for (int i = im.shape.size() - 1; i >= 0; --i) {
    if (im.shape[i] == 1) continue;
    if (im.strides[i] != expected) return false;
    expected *= im.shape[i];
  }
  return true;
}

std::string Tensor::describe() const {
  if (!defined()) return "undefined tensor";
  std::ostringstream os;
  os << dtype_name(dtype()) << shape();
  if (!is_contiguous()) os << " (strides " << strides() << ")";
  return os.str();
}

void* Tensor::raw_data() const {
  const auto& im = impl();
  return static_cast<char*>(im.storage->data()) + im.offset * static_cast<int64_t>(dtype_size(im.dtype));
}

void* Tensor::mutable_raw_data() const {
  XFMR_CHECK(impl().storage->writable(), "cannot write into a read-only tensor ", describe(),
             " (memory-mapped weights are read-only; clone() it first)");
  return raw_data();
}

double Tensor::item() const {
  XFMR_CHECK(numel() == 1, "Tensor::item: tensor ", describe(), " has ", numel(), " elements, expected 1");
  return load_as_double(raw_data(), dtype(), 0);
}

std::vector<float> Tensor::to_float_vector() const {
  Tensor c = to(DType::F32).contiguous();
  const float* p = static_cast<const float*>(c.raw_data());
  return std::vector<float>(p, p + c.numel());
}

template <typename T>
std::vector<T> Tensor::to_vector() const {
  Tensor c = contiguous();
  const T* p = c.data<T>();
  return std::vector<T>(p, p + c.numel());
}
template std::vector<float> Tensor::to_vector() const;
template std::vector<double> Tensor::to_vector() const;
template std::vector<int64_t> Tensor::to_vector() const;
template std::vector<int32_t> Tensor::to_vector() const;
template std::vector<uint8_t> Tensor::to_vector() const;

// ---------------------------------------------------------------- views

Tensor Tensor::make_view(const Shape& shape, const Shape& strides, int64_t offset) const {
  auto impl2 = std::make_shared<TensorImpl>();
  impl2->storage = impl().storage;
  impl2->dtype = impl().dtype;
  impl2->shape = shape;
  impl2->strides = strides;
  impl2->offset = offset;
  return Tensor(std::move(impl2));
}

namespace {
// Resolves a single -1 in a requested shape.
Shape infer_shape(const Shape& req, int64_t numel, const char* op, const Shape& from) {
  Shape s = req;
  int infer = -1;
  int64_t known = 1;
  for (int i = 0; i < s.size(); ++i) {
    if (s[i] == -1) {
      XFMR_CHECK(infer < 0, op, ": only one dimension can be -1 in ", req);
      infer = i;
    } else {
      XFMR_CHECK(s[i] >= 0, op, ": invalid shape ", req);
      known *= s[i];
    }
  }
  if (infer >= 0) {
    XFMR_CHECK(known != 0 && numel % known == 0, op, ": shape ", req, " is invalid for input of shape ", from);
    s[infer] = numel / known;
  }
  XFMR_CHECK(s.numel() == numel, op, ": shape ", req, " is invalid for input of shape ", from, " (", numel,
             " elements)");
  return s;
}

// Strides for viewing a tensor with (shape, strides) as new_shape without copying, if possible
// (PyTorch's computeStride algorithm).
bool view_strides(const Shape& shape, const Shape& strides, const Shape& new_shape, Shape* out) {
  out->resize(new_shape.size());
  if (shape.numel() == 0 || shape.empty()) {
    *out = contiguous_strides(new_shape);
    return true;
  }
  int view_d = new_shape.size() - 1;
  int64_t chunk_base_stride = strides.back();
  int64_t tensor_numel = 1, view_numel = 1;
  for (int tensor_d = shape.size() - 1; tensor_d >= 0; --tensor_d) {
    tensor_numel *= shape[tensor_d];
    if (tensor_d == 0 || (shape[tensor_d - 1] != 1 && strides[tensor_d - 1] != tensor_numel * chunk_base_stride)) {
      while (view_d >= 0 && (view_numel < tensor_numel || new_shape[view_d] == 1)) {
        (*out)[view_d] = view_numel * chunk_base_stride;
        view_numel *= new_shape[view_d];
        --view_d;
      }
      if (view_numel != tensor_numel) return false;
      if (tensor_d > 0) {
        chunk_base_stride = strides[tensor_d - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  return view_d == -1;
}
}  // namespace

Tensor Tensor::view(const Shape& shape_req) const {
  Shape s = infer_shape(shape_req, numel(), "view", shape());
  Shape st;
  XFMR_CHECK(view_strides(shape(), strides(), s, &st), "view: cannot view ", describe(), " as ", s,
             " without a copy (use reshape)");
  return make_view(s, st, offset());
}

Tensor Tensor::reshape(const Shape& shape_req) const {
  Shape s = infer_shape(shape_req, numel(), "reshape", shape());
  Shape st;
  if (view_strides(shape(), strides(), s, &st)) return make_view(s, st, offset());
  return contiguous().view(s);
}

Tensor Tensor::transpose(int64_t d0, int64_t d1) const {
  int a = normalize_dim(d0, dim(), "transpose"), b = normalize_dim(d1, dim(), "transpose");
  Shape s = shape(), st = strides();
  std::swap(s[a], s[b]);
  std::swap(st[a], st[b]);
  return make_view(s, st, offset());
}

Tensor Tensor::permute(const std::vector<int64_t>& dims) const {
  XFMR_CHECK(static_cast<int>(dims.size()) == dim(), "permute: ", dims.size(), " dims given for ", describe());
  Shape s, st;
  bool seen[Shape::kMaxDims] = {};
  for (int64_t d : dims) {
    int n = normalize_dim(d, dim(), "permute");
    XFMR_CHECK(!seen[n], "permute: dimension ", d, " repeated");
    seen[n] = true;
    s.push_back(shape()[n]);
    st.push_back(strides()[n]);
  }
  return make_view(s, st, offset());
}

Tensor Tensor::narrow(int64_t d, int64_t start, int64_t length) const {
  int n = normalize_dim(d, dim(), "narrow");
  if (start < 0) start += shape()[n];
  XFMR_CHECK(start >= 0 && length >= 0 && start + length <= shape()[n], "narrow: range [", start, ", ",
             start + length, ") out of bounds for dimension ", d, " of ", describe());
  Shape s = shape();
  s[n] = length;
  return make_view(s, strides(), offset() + start * strides()[n]);
}

Tensor Tensor::slice(int64_t d, int64_t start, int64_t end, int64_t step) const {
  int n = normalize_dim(d, dim(), "slice");
  int64_t len = shape()[n];
  XFMR_CHECK(step > 0, "slice: step must be positive, got ", step);
  if (start < 0) start += len;
  if (end < 0) end += len;
  start = std::clamp<int64_t>(start, 0, len);
  end = std::clamp<int64_t>(end, start, len);
  Shape s = shape(), st = strides();
  s[n] = (end - start + step - 1) / step;
  st[n] *= step;
  return make_view(s, st, offset() + start * strides()[n]);
}

Tensor Tensor::select(int64_t d, int64_t index) const {
  int n = normalize_dim(d, dim(), "select");
  if (index < 0) index += shape()[n];
  XFMR_CHECK(index >= 0 && index < shape()[n], "select: index ", index, " out of range for dimension ", d, " of ",
             describe());
  Shape s = shape(), st = strides();
  int64_t off = offset() + index * st[n];
  s.erase(n);
  st.erase(n);
  return make_view(s, st, off);
}

Tensor Tensor::unsqueeze(int64_t d) const {
  int n = normalize_dim(d, dim() + 1, "unsqueeze");
  Shape s = shape(), st = strides();
  int64_t stv = n < dim() ? st[n] * s[n] : 1;
  s.insert(n, 1);
  st.insert(n, stv);
  return make_view(s, st, offset());
}

Tensor Tensor::squeeze(int64_t d) const {
  int n = normalize_dim(d, dim(), "squeeze");
  if (shape()[n] != 1) return *this;
  Shape s = shape(), st = strides();
  s.erase(n);
  st.erase(n);
  return make_view(s, st, offset());
}

Tensor Tensor::expand(const Shape& req) const {
  XFMR_CHECK(req.size() >= dim(), "expand: cannot expand ", describe(), " to fewer dimensions ", req);
  Shape s, st;
  s.resize(req.size());
  st.resize(req.size());
  int off = req.size() - dim();
  for (int i = 0; i < req.size(); ++i) {
    int j = i - off;
    int64_t cur = j >= 0 ? shape()[j] : 1;
    int64_t want = req[i] == -1 ? cur : req[i];
    XFMR_CHECK(j >= 0 || req[i] != -1, "expand: -1 not allowed for new leading dimension in ", req);
    if (j >= 0 && cur == want) {
      s[i] = cur;
      st[i] = strides()[j];
    } else {
      XFMR_CHECK(cur == 1, "expand: the size of ", describe(), " at dimension ", j, " (", cur,
                 ") must match ", want, " or be 1 (target ", req, ")");
      s[i] = want;
      st[i] = 0;
    }
  }
  return make_view(s, st, offset());
}

Tensor Tensor::flatten(int64_t start_dim, int64_t end_dim) const {
  if (dim() == 0) return reshape(Shape{1});
  int a = normalize_dim(start_dim, dim(), "flatten"), b = normalize_dim(end_dim, dim(), "flatten");
  XFMR_CHECK(a <= b, "flatten: start_dim ", start_dim, " after end_dim ", end_dim);
  Shape s;
  for (int i = 0; i < a; ++i) s.push_back(shape()[i]);
  int64_t m = 1;
  for (int i = a; i <= b; ++i) m *= shape()[i];
  s.push_back(m);
  for (int i = b + 1; i < dim(); ++i) s.push_back(shape()[i]);
  return reshape(s);
}

// ---------------------------------------------------------------- copies

Tensor Tensor::contiguous() const {
  if (is_contiguous()) return *this;
  return clone();
}

Tensor Tensor::clone() const {
  Tensor out = empty(shape(), dtype());
  out.copy_(*this);
  return out;
}

Tensor Tensor::to(DType t) const {
  if (t == dtype()) return *this;
  Tensor out = empty(shape(), t);
  out.copy_(*this);
  return out;
}

void Tensor::copy_(const Tensor& src) const {
  Shape sst = broadcast_strides(src, shape(), "copy_");
  if (numel() == 0) return;
  (void)mutable_raw_data();
  if (src.dtype() == dtype()) {
    switch (dtype_size(dtype())) {
      case 8: copy_rows_same_type<uint64_t>(*this, src, sst); return;
      case 4: copy_rows_same_type<uint32_t>(*this, src, sst); return;
      case 2: copy_rows_same_type<uint16_t>(*this, src, sst); return;
      default: copy_rows_same_type<uint8_t>(*this, src, sst); return;
    }
  }
  void* d = mutable_raw_data();
  const void* s = src.raw_data();
  DType dt = dtype(), st = src.dtype();
  for_each_row<2>(shape(), {strides(), sst}, [&](const int64_t* off, int64_t n, const int64_t* inner) {
    if (dt == DType::F32 && st == DType::BF16) {
      float* dp = static_cast<float*>(d) + off[0];
      const uint16_t* sp = static_cast<const uint16_t*>(s) + off[1];
      for (int64_t i = 0; i < n; ++i) dp[i * inner[0]] = bf16_to_f32(sp[i * inner[1]]);
    } else if (dt == DType::F32 && st == DType::F16) {
      float* dp = static_cast<float*>(d) + off[0];
      const uint16_t* sp = static_cast<const uint16_t*>(s) + off[1];
      for (int64_t i = 0; i < n; ++i) dp[i * inner[0]] = f16_to_f32(sp[i * inner[1]]);
    } else {
      for (int64_t i = 0; i < n; ++i)
        store_from_double(d, dt, off[0] + i * inner[0], load_as_double(s, st, off[1] + i * inner[1]));
    }
  });
}

void Tensor::fill_(double value) const {
  if (numel() == 0) return;
  void* d = mutable_raw_data();
  DType dt = dtype();
  if (dt == DType::F32) {
    float v = static_cast<float>(value);
    for_each_row<1>(shape(), {strides()}, [&](const int64_t* off, int64_t n, const int64_t* inner) {
      float* p = static_cast<float*>(d) + off[0];
      for (int64_t i = 0; i < n; ++i) p[i * inner[0]] = v;
    });
    return;
  }
  for_each_row<1>(shape(), {strides()}, [&](const int64_t* off, int64_t n, const int64_t* inner) {
    for (int64_t i = 0; i < n; ++i) store_from_double(d, dt, off[0] + i * inner[0], value);
  });
}

// ---------------------------------------------------------------- autograd slot

AutogradMeta& Tensor::ensure_autograd_meta() const {
  auto& im = impl();
  if (!im.autograd) im.autograd = std::make_shared<AutogradMeta>();
  return *im.autograd;
}

Tensor& Tensor::set_requires_grad(bool value) {
  auto* meta = autograd_meta();
  XFMR_CHECK(!(meta && meta->grad_fn), "set_requires_grad: only leaf tensors can change requires_grad (",
             describe(), " was produced by an operation; use detach())");
  XFMR_CHECK(!value || is_floating(dtype()), "set_requires_grad: only floating-point tensors can require "
             "gradients, got ", describe());
  ensure_autograd_meta().requires_grad = value;
  return *this;
}

Tensor Tensor::grad() const {
  auto* meta = autograd_meta();
  return meta && meta->grad ? *meta->grad : Tensor();
}

void Tensor::set_grad(const Tensor& g) const {
  auto& meta = ensure_autograd_meta();
  if (!g.defined()) {
    meta.grad.reset();
    return;
  }
  XFMR_CHECK(g.shape() == shape(), "set_grad: gradient ", g.describe(), " does not match ", describe());
  meta.grad = std::make_shared<Tensor>(g);
}

Tensor Tensor::detach() const { return make_view(shape(), strides(), offset()); }

// ---------------------------------------------------------------- printing and checks

std::ostream& operator<<(std::ostream& os, const Tensor& t) {
  if (!t.defined()) return os << "Tensor(undefined)";
  os << "Tensor(" << t.describe() << ", [";
  std::vector<float> v = t.to_float_vector();
  size_t n = std::min<size_t>(v.size(), 16);
  for (size_t i = 0; i < n; ++i) os << (i ? ", " : "") << v[i];
  if (v.size() > n) os << ", ...";
  return os << "])";
}

void check_dtype(const Tensor& t, DType expected, const char* op, const char* arg) {
  XFMR_CHECK(t.defined(), op, ": ", arg, " is an undefined tensor");
  XFMR_CHECK(t.dtype() == expected, op, ": ", arg, " must be ", dtype_name(expected), ", got ", t.describe());
}

void check_dim(const Tensor& t, int ndim, const char* op, const char* arg) {
  XFMR_CHECK(t.defined(), op, ": ", arg, " is an undefined tensor");
  XFMR_CHECK(t.dim() == ndim, op, ": ", arg, " must have ", ndim, " dimensions, got ", t.describe());
}

}  // namespace xfmr
