xfmr_add_fuzzer(fuzz_safetensors ${CMAKE_CURRENT_LIST_DIR}/fuzz_safetensors.cpp LIBS xfmr_io)
