// torch.nn.functional-style entry points that need more than one op: losses with PyTorch's
// keyword options, and attention-mask helpers.
#pragma once

#include <cstdint>
#include <string>

#include "xfmr/autograd/loss.h"
#include "xfmr/core/tensor.h"

namespace xfmr::nn::functional {

struct CrossEntropyOptions {
  Tensor weight;               // [C] class weights (optional)
  int64_t ignore_index = -100;
  Reduction reduction = Reduction::Mean;
  float label_smoothing = 0.0f;
};
// F.cross_entropy(input, target, weight, ignore_index, reduction, label_smoothing).
Tensor cross_entropy(const Tensor& input, const Tensor& target, const CrossEntropyOptions& options = {});

struct NllLossOptions {
  Tensor weight;
  int64_t ignore_index = -100;
  Reduction reduction = Reduction::Mean;
};
Tensor nll_loss(const Tensor& input, const Tensor& target, const NllLossOptions& options = {});

Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean);

// nn.Transformer.generate_square_subsequent_mask(n): f32 [n, n], 0 on and below the diagonal,
// -inf above (query i may attend keys j <= i).
Tensor generate_square_subsequent_mask(int64_t n);

// Converts an attention mask to the additive f32 form: bool/u8 (true = masked) -> 0 / -inf;
// floating masks are returned as f32 unchanged.
Tensor to_additive_mask(const Tensor& mask);

}  // namespace xfmr::nn::functional
