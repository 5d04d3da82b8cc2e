xfmr_add_layer(autograd DEPS xfmr_kernels)
