#include "xfmr/nn/activation.h"

#include "xfmr/autograd/ops.h"

namespace xfmr::nn {

Tensor ReLU::forward(const Tensor& x) const { return relu(x); }

GELU::GELU(const std::string& approximate) : tanh_approximation(approximate == "tanh") {
  XFMR_CHECK(approximate == "none" || approximate == "tanh", "GELU: approximate must be 'none' or 'tanh', got '",
             approximate, "'");
}

Tensor GELU::forward(const Tensor& x) const { return gelu(x, tanh_approximation); }

}  // namespace xfmr::nn
