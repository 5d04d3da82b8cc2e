# GEMM backend comparison (docs/performance.md (GEMM section)): peak FMA microbenchmark and one GEMM harness
# per library. Not part of the xfmr library. oneDNN is a required dependency of xfmr, so its
# harness is always built; OpenBLAS and BLIS are optional: when their Debian packages are absent
# that backend is skipped with a message. Run everything with bench/gemm/run.sh.
#
# Debian ships several variants of OpenBLAS/BLIS (openmp, pthread, serial) behind
# update-alternatives; we link the OpenMP variant by full path (and put its directory in the
# RPATH, as every variant has the same soname) so the measured library is the one named here.
set(XFMR_GEMM_BENCH_DIR ${CMAKE_CURRENT_LIST_DIR})
set(_gemm_libdir /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE})
set(_gemm_incdir /usr/include/${CMAKE_LIBRARY_ARCHITECTURE})
# The kernels are AVX-512 code whatever XFMR_NATIVE says; the programs check the CPU at run time.
set(_gemm_isa -mavx2 -mfma -mavx512f -mavx512dq -mavx512bw -mavx512vl -mavx512vnni)

add_executable(xfmr_peak_fma ${XFMR_GEMM_BENCH_DIR}/peak_fma.cpp)
target_compile_options(xfmr_peak_fma PRIVATE ${_gemm_isa})
target_link_libraries(xfmr_peak_fma PRIVATE xfmr_flags OpenMP::OpenMP_CXX)

add_executable(xfmr_gemm_dnnl ${XFMR_GEMM_BENCH_DIR}/gemm_backends.cpp)
target_compile_definitions(xfmr_gemm_dnnl PRIVATE GEMM_BENCH_DNNL)
target_compile_options(xfmr_gemm_dnnl PRIVATE ${_gemm_isa})
target_link_libraries(xfmr_gemm_dnnl PRIVATE xfmr_flags DNNL::dnnl OpenMP::OpenMP_CXX)

# OpenBLAS (libopenblas0-openmp; headers from any libopenblas-*-dev, they are identical).
find_library(XFMR_GEMM_OPENBLAS_LIB NAMES libopenblas.so.0
             PATHS ${_gemm_libdir}/openblas-openmp ${_gemm_libdir}/openblas-pthread NO_DEFAULT_PATH)
find_path(XFMR_GEMM_OPENBLAS_INC NAMES openblas_config.h
          PATHS ${_gemm_incdir}/openblas-openmp ${_gemm_incdir}/openblas-pthread ${_gemm_incdir}/openblas-serial
                /usr/include/openblas NO_DEFAULT_PATH)
if(XFMR_GEMM_OPENBLAS_LIB AND XFMR_GEMM_OPENBLAS_INC)
  get_filename_component(_ob_dir ${XFMR_GEMM_OPENBLAS_LIB} DIRECTORY)
  add_executable(xfmr_gemm_openblas ${XFMR_GEMM_BENCH_DIR}/gemm_backends.cpp)
  target_compile_definitions(xfmr_gemm_openblas PRIVATE GEMM_BENCH_OPENBLAS)
  target_include_directories(xfmr_gemm_openblas SYSTEM PRIVATE ${XFMR_GEMM_OPENBLAS_INC})
  target_link_libraries(xfmr_gemm_openblas PRIVATE xfmr_flags ${XFMR_GEMM_OPENBLAS_LIB} OpenMP::OpenMP_CXX)
  set_target_properties(xfmr_gemm_openblas PROPERTIES BUILD_RPATH ${_ob_dir} INSTALL_RPATH ${_ob_dir})
  message(STATUS "bench/gemm: OpenBLAS backend: ${XFMR_GEMM_OPENBLAS_LIB}")
else()
  message(STATUS "bench/gemm: OpenBLAS not found (apt-get install libopenblas0-openmp libopenblas-dev): "
                 "skipping its GEMM benchmark")
endif()

# BLIS (libblis4-openmp + libblis-openmp-dev).
find_library(XFMR_GEMM_BLIS_LIB NAMES libblis.so.4
             PATHS ${_gemm_libdir}/blis-openmp ${_gemm_libdir}/blis-pthread NO_DEFAULT_PATH)
find_path(XFMR_GEMM_BLIS_INC NAMES blis.h
          PATHS ${_gemm_incdir}/blis-openmp ${_gemm_incdir}/blis-pthread ${_gemm_incdir}/blis-serial NO_DEFAULT_PATH)
if(XFMR_GEMM_BLIS_LIB AND XFMR_GEMM_BLIS_INC)
  get_filename_component(_blis_dir ${XFMR_GEMM_BLIS_LIB} DIRECTORY)
  add_executable(xfmr_gemm_blis ${XFMR_GEMM_BENCH_DIR}/gemm_backends.cpp)
  target_compile_definitions(xfmr_gemm_blis PRIVATE GEMM_BENCH_BLIS)
  target_include_directories(xfmr_gemm_blis SYSTEM PRIVATE ${XFMR_GEMM_BLIS_INC})
  target_link_libraries(xfmr_gemm_blis PRIVATE xfmr_flags ${XFMR_GEMM_BLIS_LIB} OpenMP::OpenMP_CXX)
  set_target_properties(xfmr_gemm_blis PROPERTIES BUILD_RPATH ${_blis_dir} INSTALL_RPATH ${_blis_dir})
  message(STATUS "bench/gemm: BLIS backend: ${XFMR_GEMM_BLIS_LIB}")
else()
  message(STATUS "bench/gemm: BLIS not found (apt-get install libblis4-openmp libblis-openmp-dev): "
                 "skipping its GEMM benchmark")
endif()

# Prototype of the pre-packed Linear weight for src/kernels (self-test + timing).
if(EXISTS ${XFMR_GEMM_BENCH_DIR}/packed_linear_demo.cpp)
  add_executable(xfmr_gemm_packed_linear ${XFMR_GEMM_BENCH_DIR}/packed_linear_demo.cpp)
  target_link_libraries(xfmr_gemm_packed_linear PRIVATE xfmr_flags DNNL::dnnl OpenMP::OpenMP_CXX)
endif()
