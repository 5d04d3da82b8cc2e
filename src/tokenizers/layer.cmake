# Tokenizers: HuggingFace tokenizer.json pipelines and legacy vocab files; needs only core.
xfmr_add_layer(tokenizers DEPS xfmr_core
               PRIVATE_DEPS nlohmann_json::nlohmann_json PkgConfig::UTF8PROC PkgConfig::ONIG PkgConfig::SENTENCEPIECE)
