# Third-party libraries, all from Debian 12 packages (see docs/dependencies.md for why each one).
find_package(OpenMP REQUIRED)            # thread pool for our kernels and oneDNN (libgomp)
find_package(dnnl CONFIG REQUIRED)       # libdnnl-dev: GEMM (matmul primitive), see docs/performance.md
find_package(nlohmann_json 3.10 REQUIRED) # nlohmann-json3-dev: config.json, tokenizer.json, goldens
find_package(CLI11 CONFIG REQUIRED)      # libcli11-dev: the xfmr command line
find_package(PkgConfig REQUIRED)
pkg_check_modules(UTF8PROC REQUIRED IMPORTED_TARGET libutf8proc)   # Unicode normalisation/categories
pkg_check_modules(ONIG REQUIRED IMPORTED_TARGET oniguruma)         # tokenizer regexes (HF uses Oniguruma)
pkg_check_modules(SENTENCEPIECE REQUIRED IMPORTED_TARGET sentencepiece) # spiece.model / *.spm
pkg_check_modules(CURL REQUIRED IMPORTED_TARGET libcurl)           # hub downloads
if(XFMR_BUILD_TESTS)
  find_package(GTest REQUIRED)
  include(GoogleTest)
endif()
if(XFMR_BUILD_BENCH)
  find_package(benchmark REQUIRED)
endif()
