// Errors: every failure in xfmr is an xfmr::Error whose message names the operation, the offending
// values and (for files) the path, so a user can act on it without a debugger.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace xfmr {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail {
template <typename... Args>
[[noreturn]] void fail(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  throw Error(os.str());
}
template <typename... Args>
std::string cat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}
}  // namespace detail

}  // namespace xfmr

// XFMR_CHECK(cond, "op: ", detail...) throws xfmr::Error with the concatenated message when cond is false.
#define XFMR_CHECK(cond, ...)                     \
  do {                                            \
    if (!(cond)) ::xfmr::detail::fail(__VA_ARGS__); \
  } while (0)
