# test_nn: the nn layer's unit tests, finite-difference checks of the nn/loss backward passes and
# the PyTorch parity suite over the nn fixtures. Test names are discovered when CTest runs
# (PRE_TEST), so XFMR_NN_FIXTURES set at `ctest` time selects the cases (one CTest test per case).
file(GLOB nn_test_srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/*.cpp)
add_executable(test_nn ${nn_test_srcs})
target_link_libraries(test_nn PRIVATE xfmr_gradcheck GTest::gtest_main)
gtest_discover_tests(test_nn DISCOVERY_MODE PRE_TEST DISCOVERY_TIMEOUT 120
                     PROPERTIES LABELS "nn" WORKING_DIRECTORY ${PROJECT_BINARY_DIR})
