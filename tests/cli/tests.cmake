# test_cli runs the xfmr executable (built first) on the README's commands, option errors and a tiny
# train-lm -> eval-lm -> generate-lm round trip.
xfmr_add_test_layer(cli)
add_dependencies(test_cli xfmr)
