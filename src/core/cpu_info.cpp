#include "xfmr/core/cpu_info.h"

#include <cpuid.h>
#include <unistd.h>

#include <fstream>

#include "xfmr/version.h"

namespace xfmr {

CpuInfo detect_cpu() {
  CpuInfo info;
  unsigned a, b, c, d;
  if (__get_cpuid(1, &a, &b, &c, &d)) {
    info.fma = c & bit_FMA;
    info.f16c = c & bit_F16C;
  }
  if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
    info.avx2 = b & bit_AVX2;
    info.avx512f = b & bit_AVX512F;
    info.avx512bw = b & bit_AVX512BW;
    info.avx512vl = b & bit_AVX512VL;
    info.avx512_vnni = c & bit_AVX512VNNI;
    info.amx = d & (1u << 24);  // AMX-TILE
  }
  if (__get_cpuid_count(7, 1, &a, &b, &c, &d)) info.avx512_bf16 = a & (1u << 5);
  info.logical_cores = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("model name", 0) == 0) {
      auto p = line.find(':');
      if (p != std::string::npos) info.model_name = line.substr(p + 2);
      break;
    }
  }
  return info;
}

BuildInfo build_info() {
  BuildInfo b;
  b.version = XFMR_VERSION_STRING;
  b.compiler = XFMR_COMPILER;
  b.build_type = XFMR_BUILD_TYPE;
  b.flags = XFMR_CXX_FLAGS;
#if defined(__AVX512F__)
  b.avx512_kernels = true;
#endif
#if defined(__SANITIZE_ADDRESS__)
  b.sanitizers = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
  b.sanitizers = true;
#endif
#endif
  b.gemm_backend = "oneDNN matmul primitive (f32)";
  return b;
}

}  // namespace xfmr
