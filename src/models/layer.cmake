# HF architectures (one file per family) + the course's word-level Transformer LM.
xfmr_add_layer(models DEPS xfmr_nn xfmr_io PRIVATE_DEPS nlohmann_json::nlohmann_json)
