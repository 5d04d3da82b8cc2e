// Row primitives shared between kernel files (not part of the public API).
#pragma once

#include <cstdint>

namespace xfmr::kernels {

// y = softmax(x) over n contiguous elements (x and y may alias).
void softmax_row(const float* x, float* y, int64_t n);

}  // namespace xfmr::kernels
