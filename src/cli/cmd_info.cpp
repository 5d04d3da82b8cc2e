// `xfmr info`: build flags, detected CPU features and thread count.
#include <iostream>

#include "cli/command.h"
#include "xfmr/core/cpu_info.h"
#include "xfmr/core/parallel.h"

namespace xfmr::cli {
namespace {

int run_info(int threads, bool json) {
  apply_threads(threads);
  CpuInfo cpu = detect_cpu();
  BuildInfo b = build_info();
  auto yn = [](bool v) { return v ? "yes" : "no"; };
  if (json) {
    std::cout << "{\"version\": \"" << b.version << "\", \"compiler\": \"" << b.compiler << "\", \"build_type\": \""
              << b.build_type << "\", \"avx512_kernels\": " << (b.avx512_kernels ? "true" : "false")
              << ", \"sanitizers\": " << (b.sanitizers ? "true" : "false") << ", \"gemm_backend\": \""
              << b.gemm_backend << "\", \"cpu\": \"" << cpu.model_name << "\", \"logical_cores\": "
              << cpu.logical_cores << ", \"threads\": " << num_threads() << ", \"avx2\": "
              << (cpu.avx2 ? "true" : "false") << ", \"avx512f\": " << (cpu.avx512f ? "true" : "false")
              << ", \"avx512_vnni\": " << (cpu.avx512_vnni ? "true" : "false")
              << ", \"avx512_bf16\": " << (cpu.avx512_bf16 ? "true" : "false") << "}\n";
    return 0;
  }
  std::cout << "xfmr " << b.version << "\n"
            << "build:    " << b.build_type << ", " << b.compiler << "\n"
            << "flags:    " << b.flags << "\n"
            << "kernels:  AVX-512 " << yn(b.avx512_kernels) << ", sanitizers " << yn(b.sanitizers) << "\n"
            << "gemm:     " << b.gemm_backend << "\n"
            << "cpu:      " << cpu.model_name << " (" << cpu.logical_cores << " logical cores)\n"
            << "features: avx2 " << yn(cpu.avx2) << ", fma " << yn(cpu.fma) << ", f16c " << yn(cpu.f16c)
            << ", avx512f " << yn(cpu.avx512f) << ", avx512bw " << yn(cpu.avx512bw) << ", avx512vl "
            << yn(cpu.avx512vl) << ", avx512_vnni " << yn(cpu.avx512_vnni) << ", avx512_bf16 "
            << yn(cpu.avx512_bf16) << ", amx " << yn(cpu.amx) << "\n"
            << "threads:  " << num_threads() << "\n";
  return 0;
}

XFMR_REGISTER_COMMAND("info", "Print build flags, detected CPU features and thread count", [](CLI::App& sub) {
  static int threads = 0;
  static bool json = false;
  add_threads_option(sub, &threads);
  sub.add_flag("--json", json, "Print as JSON");
  return std::function<int()>([] { return run_info(threads, json); });
});

}  // namespace
}  // namespace xfmr::cli
