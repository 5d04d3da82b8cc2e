# Model-level benchmarks (docs/performance-models.md): random checkpoints of the real BERT-base /
# GPT-2 small sizes, load time, peak RSS, encoder latency, greedy decode tokens/s.
# Run everything with bench/models/run.sh.
add_executable(xfmr_bench_models ${CMAKE_CURRENT_LIST_DIR}/bench_models.cpp)
target_link_libraries(xfmr_bench_models PRIVATE xfmr_lib)
set_target_properties(xfmr_bench_models PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/bench)
