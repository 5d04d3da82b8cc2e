#include "pipeline_test_util.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>

#include "common/test_util.h"

namespace fs = std::filesystem;

namespace xfmr::test {

fs::path pipeline_fixtures_root() {
  if (const char* e = std::getenv("XFMR_MODEL_FIXTURES"); e && *e) return e;
  fs::path p = shared_dir() / "fixtures" / "models";
  return fs::exists(p) ? p : fs::path();
}

std::vector<std::string> pipeline_fixture_names() {
  std::vector<std::string> out;
  fs::path root = pipeline_fixtures_root();
  std::error_code ec;
  if (root.empty() || !fs::is_directory(root, ec)) return out;
  for (const auto& e : fs::directory_iterator(root, ec))
    if (e.is_directory() && fs::exists(e.path() / "goldens.json")) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

fs::path pipeline_fixture(const std::string& name) {
  fs::path root = pipeline_fixtures_root();
  if (root.empty() || !fs::exists(root / name / "goldens.json")) return {};
  return root / name;
}

ojson read_ojson(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + file.string());
  std::stringstream ss;
  ss << in.rdbuf();
  // Python's json writes Infinity / -Infinity / NaN (e.g. "margins"); JSON has no such literals.
  const std::string text = ss.str();
  std::string clean;
  clean.reserve(text.size());
  bool in_str = false;
  for (size_t i = 0; i < text.size();) {
    const char c = text[i];
    if (in_str) {
      clean.push_back(c);
      if (c == '\\' && i + 1 < text.size()) {
        clean.push_back(text[i + 1]);
        i += 2;
        continue;
      }
      if (c == '"') in_str = false;
      ++i;
      continue;
    }
    bool replaced = false;
    for (const char* lit : {"-Infinity", "Infinity", "NaN"}) {
      const size_t n = std::char_traits<char>::length(lit);
      if (text.compare(i, n, lit) == 0) {
        clean += "null";
        i += n;
        replaced = true;
        break;
      }
    }
    if (replaced) continue;
    if (c == '"') in_str = true;
    clean.push_back(c);
    ++i;
  }
  return ojson::parse(clean);
}

std::vector<std::string> compare_json(const ojson& got, const ojson& exp, const JsonTolerance& tol,
                                      const std::string& path) {
  std::vector<std::string> errs;
  auto show = [](const ojson& v) {
    std::string s = v.dump();
    return s.size() > 200 ? s.substr(0, 200) + "..." : s;
  };
  if (exp.is_number_float()) {
    if (!got.is_number()) {
      errs.push_back(path + ": expected the number " + show(exp) + ", got " + show(got));
    } else {
      double g = got.get<double>(), e = exp.get<double>();
      if (!(std::fabs(g - e) <= tol.atol + tol.rtol * std::fabs(e))) {
        std::ostringstream os;
        os.precision(10);
        os << path << ": got " << g << ", expected " << e << " (atol " << tol.atol << ", rtol " << tol.rtol << ")";
        errs.push_back(os.str());
      }
    }
    return errs;
  }
  if (exp.is_number_integer()) {
    if (!got.is_number_integer() || got.get<int64_t>() != exp.get<int64_t>())
      errs.push_back(path + ": expected the integer " + show(exp) + ", got " + show(got));
    return errs;
  }
  if (exp.type() != got.type()) {
    errs.push_back(path + ": expected " + show(exp) + ", got " + show(got));
    return errs;
  }
  if (exp.is_array()) {
    if (exp.size() != got.size()) {
      errs.push_back(path + ": expected " + std::to_string(exp.size()) + " elements, got " + std::to_string(got.size()) +
                     ": " + show(got));
      return errs;
    }
    for (size_t i = 0; i < exp.size(); ++i) {
      auto sub = compare_json(got[i], exp[i], tol, path + "[" + std::to_string(i) + "]");
      errs.insert(errs.end(), sub.begin(), sub.end());
    }
    return errs;
  }
  if (exp.is_object()) {
    std::vector<std::string> ke, kg;
    for (auto it = exp.begin(); it != exp.end(); ++it) ke.push_back(it.key());
    for (auto it = got.begin(); it != got.end(); ++it) kg.push_back(it.key());
    if (ke != kg) {
      errs.push_back(path + ": keys differ: expected " + ojson(ke).dump() + ", got " + ojson(kg).dump());
      return errs;
    }
    for (const auto& k : ke) {
      auto sub = compare_json(got[k], exp[k], tol, path + "." + k);
      errs.insert(errs.end(), sub.begin(), sub.end());
    }
    return errs;
  }
  if (exp != got) errs.push_back(path + ": expected " + show(exp) + ", got " + show(got));
  return errs;
}

}  // namespace xfmr::test
