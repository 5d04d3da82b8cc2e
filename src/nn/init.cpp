#include "xfmr/nn/init.h"

#include <cmath>

namespace xfmr::nn::init {

void uniform_(const Tensor& t, float a, float b, Generator& gen) { xfmr::uniform_(t, a, b, gen); }
void normal_(const Tensor& t, float mean, float std, Generator& gen) { xfmr::normal_(t, mean, std, gen); }
void constant_(const Tensor& t, float value) { t.fill_(value); }
void zeros_(const Tensor& t) { t.fill_(0.0); }
void ones_(const Tensor& t) { t.fill_(1.0); }

std::pair<int64_t, int64_t> fans(const Tensor& t) {
  XFMR_CHECK(t.dim() >= 2, "init: fan in/out need at least 2 dimensions, got ", t.describe());
  int64_t field = 1;
  for (int i = 2; i < t.dim(); ++i) field *= t.size(i);
  return {t.size(1) * field, t.size(0) * field};
}

void xavier_uniform_(const Tensor& t, float gain, Generator& gen) {
  auto [in, out] = fans(t);
  float a = gain * std::sqrt(6.0f / static_cast<float>(in + out));
  init::uniform_(t, -a, a, gen);
}

void xavier_normal_(const Tensor& t, float gain, Generator& gen) {
  auto [in, out] = fans(t);
  init::normal_(t, 0.0f, gain * std::sqrt(2.0f / static_cast<float>(in + out)), gen);
}

void kaiming_uniform_(const Tensor& t, float a, Generator& gen) {
  auto [in, out] = fans(t);
  float gain = std::sqrt(2.0f / (1.0f + a * a));
  float bound = gain * std::sqrt(3.0f / static_cast<float>(in));
  init::uniform_(t, -bound, bound, gen);
}

}  // namespace xfmr::nn::init
