#include "common/test_util.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "xfmr/core/random.h"

namespace fs = std::filesystem;

namespace xfmr::test {

std::filesystem::path shared_dir() {
  if (const char* e = std::getenv("XFMR_SHARED_DIR"); e && *e) return e;
  return XFMR_SHARED_DIR;
}

std::filesystem::path fixture_dir(const char* env_var, const std::string& relative) {
  if (env_var) {
    if (const char* e = std::getenv(env_var); e && *e) return e;
  }
  auto p = shared_dir() / relative;
  return std::filesystem::exists(p) ? p : std::filesystem::path();
}

std::string compare_close(const Tensor& actual, const Tensor& expected, double atol, double rtol) {
  if (!actual.defined() || !expected.defined()) return "undefined tensor in comparison";
  if (actual.shape() != expected.shape()) {
    std::ostringstream os;
    os << "shape mismatch: got " << actual.describe() << ", expected " << expected.describe();
    return os.str();
  }
  Tensor a = actual.to(DType::F64).contiguous(), e = expected.to(DType::F64).contiguous();
  const double* pa = a.data<double>();
  const double* pe = e.data<double>();
  int64_t bad = 0, worst = -1;
  double worst_excess = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    double x = pa[i], y = pe[i];
    bool ok;
    if (std::isinf(y) || std::isnan(y)) ok = (x == y) || (std::isnan(x) && std::isnan(y));
    else ok = std::isfinite(x) && std::fabs(x - y) <= atol + rtol * std::fabs(y);
    if (!ok) {
      ++bad;
      double excess = std::isfinite(x) && std::isfinite(y) ? std::fabs(x - y) - (atol + rtol * std::fabs(y)) : 1e300;
      if (worst < 0 || excess > worst_excess) {
        worst = i;
        worst_excess = excess;
      }
    }
  }
  if (bad == 0) return "";
  std::ostringstream os;
  os.precision(9);
  os << bad << " of " << a.numel() << " elements differ (atol " << atol << ", rtol " << rtol << "); worst at flat index "
     << worst << ": got " << pa[worst] << ", expected " << pe[worst];
  return os.str();
}

Tensor random_tensor(const Shape& shape, uint64_t seed) {
  Generator g(seed);
  Tensor t = Tensor::empty(shape);
  uniform_(t, -1.f, 1.f, g);
  return t;
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out.push_back(c);
    }
  }
  return out + "'";
}

namespace {
std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
}  // namespace

TempDir::TempDir(const std::string& prefix) {
  static int counter = 0;
  path = fs::temp_directory_path() / (prefix + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
  fs::remove_all(path);
  fs::create_directories(path);
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path, ec);
}

CommandResult run_xfmr(const std::string& args, const std::string& stdin_text, const std::string& env) {
  TempDir dir("xfmr_cli_run");
  fs::path in = dir.path / "stdin", out = dir.path / "stdout", err = dir.path / "stderr";
  {
    std::ofstream f(in, std::ios::binary);
    f << stdin_text;
  }
  std::string exe = std::string(XFMR_BINARY_DIR) + "/xfmr";
  std::string cmd = env + (env.empty() ? "" : " ") + shell_quote(exe) + " " + args + " < " + shell_quote(in.string()) +
                    " > " + shell_quote(out.string()) + " 2> " + shell_quote(err.string());
  int rc = std::system(cmd.c_str());
  CommandResult r;
  r.exit_code = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  r.out = slurp(out);
  r.err = slurp(err);
  return r;
}

}  // namespace xfmr::test
