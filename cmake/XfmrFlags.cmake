# Compiler flags shared by every xfmr target (applied through the xfmr_flags interface target).
add_library(xfmr_flags INTERFACE)
target_compile_options(xfmr_flags INTERFACE -Wall -Wextra -Wno-unused-parameter)
if(XFMR_NATIVE)
  # The machines xfmr targets have AVX-512; -march=native lets the compiler use it everywhere and
  # enables our AVX-512 kernel paths (guarded by __AVX512F__ with portable fallbacks).
  target_compile_options(xfmr_flags INTERFACE -march=native)
endif()
# Kernels rely on IEEE semantics for inf/NaN masks: no -ffast-math. -fno-math-errno lets the compiler
# inline sqrt and vectorise libm-free loops.
target_compile_options(xfmr_flags INTERFACE -fno-math-errno)
if(XFMR_SANITIZE)
  target_compile_options(xfmr_flags INTERFACE -fsanitize=address,undefined -fno-omit-frame-pointer
                                               -fno-sanitize-recover=undefined)
  target_link_options(xfmr_flags INTERFACE -fsanitize=address,undefined)
endif()
if(XFMR_BUILD_FUZZ)
  # Instrument the whole library for coverage-guided fuzzing (the fuzz targets add -fsanitize=fuzzer).
  target_compile_options(xfmr_flags INTERFACE -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer)
  target_link_options(xfmr_flags INTERFACE -fsanitize=address,undefined)
endif()
