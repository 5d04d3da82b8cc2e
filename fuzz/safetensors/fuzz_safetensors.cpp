// libFuzzer target: arbitrary bytes into the safetensors parser. Every input must either parse
// (and then every tensor must be readable) or throw xfmr::Error - never crash.
#include <cstddef>
#include <cstdint>

#include "xfmr/core/error.h"
#include "xfmr/io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    auto f = xfmr::io::SafetensorsFile::parse(data, size, nullptr, "fuzz-input");
    for (const auto& t : f.tensors()) {
      xfmr::Tensor x = f.get(t.name);
      if (x.numel() > 0 && xfmr::is_floating(x.dtype())) (void)x.to(xfmr::DType::F32);
    }
  } catch (const xfmr::Error&) {
  }
  return 0;
}
