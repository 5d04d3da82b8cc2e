# Training loops and checkpoints on top of models + optim + data (train-lm, train-classifier, tokenizer trainers' drivers).
xfmr_add_layer(train DEPS xfmr_models xfmr_optim xfmr_data xfmr_tokenizers PRIVATE_DEPS nlohmann_json::nlohmann_json)
