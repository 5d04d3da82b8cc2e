xfmr_add_layer(nn DEPS xfmr_autograd xfmr_io)
