# Tokenizer throughput (xfmr side of bench/tokenizers/run.sh, which also runs HF's library).
add_executable(bench_tokenizers ${CMAKE_CURRENT_LIST_DIR}/bench_tokenizers.cpp)
target_link_libraries(bench_tokenizers PRIVATE xfmr_tokenizers)
