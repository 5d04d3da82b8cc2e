// Seeded random numbers. Every stochastic component (dropout, initialisation, sampling, shuffling)
// takes a Generator so a run is reproducible from its seed.
#pragma once

#include <cstdint>
#include <random>

#include "xfmr/core/tensor.h"

namespace xfmr {

class Generator {
 public:
  explicit Generator(uint64_t seed = 0) : engine_(seed), seed_(seed) {}
  void manual_seed(uint64_t seed) {
    engine_.seed(seed);
    seed_ = seed;
  }
  uint64_t seed() const { return seed_; }
  uint64_t next_u64() { return engine_(); }
  // Uniform in [0, 1) with 24 random bits (exactly representable in f32).
  float uniform() { return static_cast<float>(engine_() >> 40) * (1.0f / 16777216.0f); }
  double uniform_double() { return static_cast<double>(engine_() >> 11) * (1.0 / 9007199254740992.0); }
  float normal();  // standard normal (Box-Muller)
  std::mt19937_64& engine() { return engine_; }

  // Engine state as text (for resumable training checkpoints).
  std::string state() const;
  void set_state(const std::string& s);

 private:
  std::mt19937_64 engine_;
  uint64_t seed_;
  bool has_spare_ = false;
  float spare_ = 0;
};

// The process-wide default generator (seeded with 0 unless manual_seed is called).
Generator& default_generator();
void manual_seed(uint64_t seed);

// Fills f32 tensors in place.
void uniform_(const Tensor& t, float low, float high, Generator& gen = default_generator());
void normal_(const Tensor& t, float mean, float stddev, Generator& gen = default_generator());
Tensor randn(const Shape& shape, Generator& gen = default_generator());
Tensor rand(const Shape& shape, Generator& gen = default_generator());

}  // namespace xfmr
