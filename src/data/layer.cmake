# Datasets: text corpora, vocabularies and batching for training (language modelling, classification).
xfmr_add_layer(data DEPS xfmr_core xfmr_tokenizers PRIVATE_DEPS nlohmann_json::nlohmann_json)
