#include "xfmr/core/shape.h"

#include <ostream>
#include <sstream>

namespace xfmr {

void Shape::insert(int pos, int64_t v) {
  XFMR_CHECK(n_ < kMaxDims, "Shape: more than ", kMaxDims, " dimensions");
  for (int i = n_; i > pos; --i) d_[i] = d_[i - 1];
  d_[pos] = v;
  ++n_;
}

void Shape::erase(int pos) {
  for (int i = pos; i + 1 < n_; ++i) d_[i] = d_[i + 1];
  --n_;
}

void Shape::resize(int n, int64_t fill) {
  XFMR_CHECK(n >= 0 && n <= kMaxDims, "Shape: bad number of dimensions ", n);
  for (int i = n_; i < n; ++i) d_[i] = fill;
  n_ = n;
}

std::string Shape::str() const {
  std::ostringstream os;
  os << *this;
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const Shape& s) {
  os << '[';
  for (int i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  return os << ']';
}

Shape contiguous_strides(const Shape& shape) {
  Shape st;
  st.resize(shape.size());
  int64_t acc = 1;
  for (int i = shape.size() - 1; i >= 0; --i) {
    st[i] = acc;
    acc *= shape[i] > 0 ? shape[i] : 1;
  }
  return st;
}

int normalize_dim(int64_t dim, int ndim, const char* op) {
  int64_t d = dim < 0 ? dim + ndim : dim;
  XFMR_CHECK(d >= 0 && d < ndim, op, ": dimension ", dim, " out of range for a tensor with ", ndim,
             " dimensions");
  return static_cast<int>(d);
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  int n = std::max(a.size(), b.size());
  Shape out;
  out.resize(n);
  for (int i = 0; i < n; ++i) {
    int ia = a.size() - n + i, ib = b.size() - n + i;
    int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
    XFMR_CHECK(da == db || da == 1 || db == 1, op, ": shapes ", a, " and ", b,
               " cannot be broadcast together (dimension ", i, ": ", da, " vs ", db, ")");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

}  // namespace xfmr
