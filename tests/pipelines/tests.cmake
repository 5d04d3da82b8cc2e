# test_pipelines: golden conformance over ../shared/fixtures/models (or $XFMR_MODEL_FIXTURES: test
# names are discovered when CTest runs, PRE_TEST, so a held-out folder is enumerated). The `xfmr`
# command line is tested in tests/cli.
file(GLOB pipelines_test_srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/*.cpp)
add_executable(test_pipelines ${pipelines_test_srcs})
target_link_libraries(test_pipelines PRIVATE xfmr_test_common GTest::gtest_main)
gtest_discover_tests(test_pipelines DISCOVERY_MODE PRE_TEST DISCOVERY_TIMEOUT 120
                     PROPERTIES LABELS "pipelines" WORKING_DIRECTORY ${PROJECT_BINARY_DIR})
