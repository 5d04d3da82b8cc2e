// Branch-free float math that GCC auto-vectorises (AVX-512 with -march=native) inside simple loops.
// Accuracy: exp ~2 ulp; erf abs error < 2e-7; tanh abs error < 2e-7. Special cases: exp(-inf) = 0,
// exp(+inf) = inf, NaN propagates.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

namespace xfmr::kernels::vec {

inline float bits_to_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// exp(x): range reduction x = n ln2 + r, |r| <= ln2/2, degree-6 polynomial for e^r.
inline float exp(float x) {
  const float hi = 88.3762626647949f, lo = -87.3365478515625f;
  float xc = x > hi ? hi : (x < lo ? lo : x);
  float n = std::nearbyint(xc * 1.44269504088896341f);
  float r = xc - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  float scale = bits_to_float(static_cast<uint32_t>(static_cast<int32_t>(n) + 127) << 23);
  float y = p * scale;
  y = x > hi ? INFINITY : y;
  y = x < lo ? 0.0f : y;
  return x != x ? x : y;
}

// erf(x) = 1 - t (a1 + a2 t + ... + a5 t^4) exp(-x^2), t = 1/(1 + p|x|) (Abramowitz & Stegun 7.1.26,
// |error| <= 1.5e-7), with the odd Taylor series near 0 where the formula loses relative accuracy.
inline float erf(float x) {
  float ax = std::fabs(x);
  float t = 1.0f / (1.0f + 0.3275911f * ax);
  float poly = ((((1.061405429f * t - 1.453152027f) * t + 1.421413741f) * t - 0.284496736f) * t + 0.254829592f) * t;
  float y = 1.0f - poly * exp(-ax * ax);
  float x2 = x * x;  // erf(x) = 2/sqrt(pi) (x - x^3/3 + x^5/10 - x^7/42 + x^9/216) for small |x|
  float small = x * (1.1283791671f + x2 * (-0.3761263890f + x2 * (0.1128379167f + x2 * (-0.0268661706f +
                                                                                       x2 * 0.0052239776f))));
  y = std::copysign(y, x);
  return ax < 0.25f ? small : y;
}

// tanh(x) = sign(x) (1 - 2 / (exp(2|x|) + 1)), with the odd series near 0.
inline float tanh(float x) {
  float ax = std::fabs(x);
  float e = exp(2.0f * ax);
  float y = std::copysign(1.0f - 2.0f / (e + 1.0f), x);
  float x2 = x * x;
  float small = x * (1.0f + x2 * (-0.333333333f + x2 * (0.133333333f + x2 * (-0.053968254f + x2 * 0.021869488f))));
  return ax < 0.125f ? small : y;
}

inline float sigmoid(float x) { return 1.0f / (1.0f + exp(-x)); }

}  // namespace xfmr::kernels::vec
