// Helpers shared by the test suites: where ../shared is, tolerance comparisons, reference data.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "xfmr/core/tensor.h"

namespace xfmr::test {

// The shared fixtures/assets folder: $XFMR_SHARED_DIR or ../shared next to the source tree.
std::filesystem::path shared_dir();
// A folder under shared_dir(), overridable by an environment variable (e.g. XFMR_NN_FIXTURES);
// returns an empty path when it does not exist.
std::filesystem::path fixture_dir(const char* env_var, const std::string& relative);

// Skips the current test with a clear message when `dir` is empty / missing.
#define XFMR_REQUIRE_DIR(dir, what)                                                                  \
  do {                                                                                              \
    if ((dir).empty() || !std::filesystem::exists(dir))                                             \
      GTEST_SKIP() << what << " not found (expected ../shared next to the source tree, or set the " \
                      "environment variable); skipping";                                            \
  } while (0)

// Element-wise |a - e| <= atol + rtol * |e| (inf must match exactly). Returns a failure message
// naming the worst element, or an empty string.
std::string compare_close(const Tensor& actual, const Tensor& expected, double atol, double rtol);

#define EXPECT_TENSOR_CLOSE(actual, expected, atol, rtol)                            \
  do {                                                                               \
    std::string xfmr_msg_ = ::xfmr::test::compare_close(actual, expected, atol, rtol); \
    EXPECT_TRUE(xfmr_msg_.empty()) << xfmr_msg_;                                     \
  } while (0)

// Deterministic random f32 tensor in [-1, 1).
Tensor random_tensor(const Shape& shape, uint64_t seed);

// A fresh, empty scratch folder (unique per process and instance), removed with its contents on
// destruction.
struct TempDir {
  std::filesystem::path path;
  explicit TempDir(const std::string& prefix = "xfmr_test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

// Runs `xfmr ARGS` (a shell command line fragment), optionally feeding `stdin_text`; captures stdout
// and stderr and the exit code.
struct CommandResult {
  int exit_code = -1;
  std::string out, err;
};
CommandResult run_xfmr(const std::string& args, const std::string& stdin_text = "", const std::string& env = "");
std::string shell_quote(const std::string& s);

}  // namespace xfmr::test
