// Parameter initialisation (torch.nn.init). All draw from the given generator (default: the
// process-wide one, seeded by xfmr::manual_seed).
#pragma once

#include "xfmr/core/random.h"
#include "xfmr/core/tensor.h"

namespace xfmr::nn::init {

void uniform_(const Tensor& t, float a, float b, Generator& gen = default_generator());
void normal_(const Tensor& t, float mean, float std, Generator& gen = default_generator());
void constant_(const Tensor& t, float value);
void zeros_(const Tensor& t);
void ones_(const Tensor& t);
// fan_in / fan_out as PyTorch computes them (dim 1 / dim 0 times the receptive field).
std::pair<int64_t, int64_t> fans(const Tensor& t);
void xavier_uniform_(const Tensor& t, float gain = 1.0f, Generator& gen = default_generator());
void xavier_normal_(const Tensor& t, float gain = 1.0f, Generator& gen = default_generator());
// kaiming_uniform_(a = sqrt(5)) is nn.Linear's default weight init.
void kaiming_uniform_(const Tensor& t, float a = 0.0f, Generator& gen = default_generator());

}  // namespace xfmr::nn::init
