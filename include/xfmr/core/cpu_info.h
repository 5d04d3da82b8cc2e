// What the CPU and this build can do (printed by `xfmr info`).
#pragma once

#include <string>
#include <vector>

namespace xfmr {

struct CpuInfo {
  std::string model_name;
  int logical_cores = 0;
  bool avx2 = false, fma = false, f16c = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512_vnni = false, avx512_bf16 = false;
  bool amx = false;
};
CpuInfo detect_cpu();

struct BuildInfo {
  std::string version, compiler, build_type, flags;
  bool avx512_kernels = false;  // compiled with AVX-512 code paths
  bool sanitizers = false;
  std::string gemm_backend;
};
BuildInfo build_info();

}  // namespace xfmr
