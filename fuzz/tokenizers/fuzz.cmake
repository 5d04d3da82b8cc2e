# One libFuzzer target per tokenizer family: WordPiece (BERT), byte-level BPE (GPT-2), Unigram (T5).
# The tokenizer files come from shared/assets/hf (XFMR_SHARED_DIR at run time overrides the path).
foreach(family "bert;google-bert--bert-base-uncased" "gpt2;openai-community--gpt2" "t5;google-t5--t5-small")
  list(GET family 0 short)
  list(GET family 1 folder)
  xfmr_add_fuzzer(fuzz_tokenizer_${short} ${CMAKE_CURRENT_LIST_DIR}/fuzz_tokenizer.cpp LIBS xfmr_tokenizers)
  target_compile_definitions(fuzz_tokenizer_${short} PRIVATE XFMR_FUZZ_TOKENIZER="${folder}"
                                                             XFMR_FUZZ_SHARED_DIR="${PROJECT_SOURCE_DIR}/../shared")
endforeach()
