# Optimizers, gradient clipping and learning-rate schedules.
xfmr_add_layer(optim DEPS xfmr_autograd xfmr_io PRIVATE_DEPS nlohmann_json::nlohmann_json)
