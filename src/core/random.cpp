#include "xfmr/core/random.h"

#include <cmath>
#include <sstream>

#include "xfmr/core/strided.h"

namespace xfmr {

float Generator::normal() {
  if (has_spare_) {
    has_spare_ = false;
    return spare_;
  }
  double u1, u2;
  do u1 = uniform_double(); while (u1 <= 0.0);
  u2 = uniform_double();
  double r = std::sqrt(-2.0 * std::log(u1)), a = 2.0 * M_PI * u2;
  spare_ = static_cast<float>(r * std::sin(a));
  has_spare_ = true;
  return static_cast<float>(r * std::cos(a));
}

std::string Generator::state() const {
  std::ostringstream os;
  os << seed_ << ' ' << has_spare_ << ' ' << spare_ << ' ' << engine_;
  return os.str();
}

void Generator::set_state(const std::string& s) {
  std::istringstream is(s);
  is >> seed_ >> has_spare_ >> spare_ >> engine_;
  XFMR_CHECK(!is.fail(), "Generator::set_state: malformed generator state");
}

Generator& default_generator() {
  static Generator g(0);
  return g;
}

void manual_seed(uint64_t seed) { default_generator().manual_seed(seed); }

namespace {
template <typename Fn>
void fill_f32(const Tensor& t, Fn&& next, const char* op) {
  check_dtype(t, DType::F32, op, "tensor");
  float* d = static_cast<float*>(t.mutable_raw_data());
  for_each_row<1>(t.shape(), {t.strides()}, [&](const int64_t* off, int64_t n, const int64_t* inner) {
    for (int64_t i = 0; i < n; ++i) d[off[0] + i * inner[0]] = next();
  });
}
}  // namespace

void uniform_(const Tensor& t, float low, float high, Generator& gen) {
  fill_f32(t, [&] { return low + (high - low) * gen.uniform(); }, "uniform_");
}

void normal_(const Tensor& t, float mean, float stddev, Generator& gen) {
  fill_f32(t, [&] { return mean + stddev * gen.normal(); }, "normal_");
}

Tensor randn(const Shape& shape, Generator& gen) {
  Tensor t = Tensor::empty(shape);
  normal_(t, 0.f, 1.f, gen);
  return t;
}

Tensor rand(const Shape& shape, Generator& gen) {
  Tensor t = Tensor::empty(shape);
  uniform_(t, 0.f, 1.f, gen);
  return t;
}

}  // namespace xfmr
