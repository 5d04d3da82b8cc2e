// PyTorch 1.13 parity suite: one test per case listed in INDEX.json of the nn fixture folder
// ($XFMR_NN_FIXTURES, default ../shared/fixtures/nn; see its README for the format). Every
// configuration (sizes, flags, masks, hyper-parameters, step counts) is read from the case JSON;
// a case of an unknown family, module, function, optimizer or scheduler fails, and so does a case
// whose expected tensors are not all compared. CTest discovers the cases when it runs (PRE_TEST),
// so pointing XFMR_NN_FIXTURES at another folder runs that folder's cases.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <regex>

#include "parity_common.h"

namespace xfmr::parity {

// ------------------------------------------------------------------ helpers

Tensor raw(const test::NnCase& c, const std::string& name) {
  XFMR_CHECK(c.tensors.contains(name), c.name, ": tensor '", name, "' is not in the safetensors file");
  return c.tensors.get(name);
}

Tensor tensor_ref(const test::NnCase& c, const json& v) {
  if (v.is_null()) return Tensor();
  XFMR_CHECK(v.is_string(), c.name, ": expected a tensor name, got ", v.dump());
  return c.get(v.get<std::string>());
}

const json& at(const json& j, const std::string& key, const std::string& where) {
  XFMR_CHECK(j.is_object() && j.contains(key), where, ": missing key '", key, "'");
  return j.at(key);
}

void require_known_keys(const json& args, const std::set<std::string>& known, const std::string& where) {
  XFMR_CHECK(args.is_object(), where, ": expected an object, got ", args.dump());
  for (const auto& [k, v] : args.items())
    XFMR_CHECK(known.count(k), where, ": unknown argument '", k, "' = ", v.dump(),
               " (the parity runner does not know how to apply it)");
}

double find_number(const std::string& text, const std::string& pattern, const std::string& where) {
  std::smatch m;
  std::regex re(pattern);
  XFMR_CHECK(std::regex_search(text, m, re) && m.size() >= 2, where, ": could not find /", pattern, "/ in: ", text);
  return std::stod(m[1].str());
}

std::string text_of(const json& j) {
  if (j.is_string()) return j.get<std::string>();
  std::string s;
  if (j.is_array())
    for (const auto& e : j) s += text_of(e) + "\n";
  else if (j.is_object())
    for (const auto& [k, v] : j.items()) s += k + ": " + text_of(v) + "\n";
  else
    s = j.dump();
  return s;
}

void Checker::expect(const std::string& name, const Tensor& actual, double atol, double rtol) {
  const json& e = c_.spec.at("expected");
  if (!e.contains(name)) {
    ADD_FAILURE() << c_.name << ": '" << name << "' has no entry in the case's \"expected\" map";
    return;
  }
  double a = atol >= 0 ? atol : e[name].at("atol").get<double>();
  double r = rtol >= 0 ? rtol : e[name].at("rtol").get<double>();
  expect_slice(name, actual, raw(c_, name), a, r);
}

void Checker::expect_slice(const std::string& name, const Tensor& actual, const Tensor& expected, double atol,
                           double rtol) {
  checked_.insert(name);
  std::string msg = test::compare_close(actual, expected, atol, rtol);
  EXPECT_TRUE(msg.empty()) << c_.name << ": " << name << ": " << msg;
}

void Checker::finish() const {
  const json& e = c_.spec.at("expected");
  for (const auto& [name, v] : e.items())
    EXPECT_TRUE(checked_.count(name)) << c_.name << ": expected tensor '" << name << "' was not compared";
  EXPECT_GT(checked_.size(), 0u) << c_.name << ": nothing was compared";
}

}  // namespace xfmr::parity

namespace {

using namespace xfmr;

std::vector<std::string> discover_cases() {
  auto dir = test::nn_fixture_dir();
  if (dir.empty() || !std::filesystem::exists(dir / "INDEX.json")) return {};
  try {
    return test::nn_case_names(dir);
  } catch (const std::exception&) {
    return {"INDEX_json_is_malformed"};  // fails in the test body with the parser's message
  }
}

std::string test_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string s = info.param;
  for (char& ch : s)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return s;
}

class NnParity : public ::testing::TestWithParam<std::string> {};

TEST_P(NnParity, Case) {
  auto dir = test::nn_fixture_dir();
  ASSERT_FALSE(dir.empty());
  std::vector<std::string> names = test::nn_case_names(dir);  // throws on a malformed index
  ASSERT_NE(std::find(names.begin(), names.end(), GetParam()), names.end());
  test::NnCase c = test::load_nn_case(dir, GetParam());
  parity::Checker k(c);
  const std::string& f = c.family;
  if (f == "mha") parity::run_mha(c, k);
  else if (f == "encoder_layer" || f == "decoder_layer" || f == "encoder" || f == "transformer")
    parity::run_module(c, k);
  else if (f == "posenc") parity::run_posenc(c, k);
  else if (f == "blocks") parity::run_blocks(c, k);
  else if (f == "lm") parity::run_lm(c, k);
  else if (f == "lm_traj") parity::run_lm_traj(c, k);
  else if (f == "optim") parity::run_optim(c, k);
  else if (f == "sched") parity::run_sched(c, k);
  else FAIL() << c.name << ": unknown family '" << f << "' - the parity runner cannot check it";
  k.finish();
}

INSTANTIATE_TEST_SUITE_P(Fixtures, NnParity, ::testing::ValuesIn(discover_cases()), test_name);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(NnParity);

// The fixture folder itself: present (or explicitly absent), with a well-formed, non-empty index
// whose files exist.
TEST(NnParityIndex, FixtureFolder) {
  const char* env = std::getenv("XFMR_NN_FIXTURES");
  auto dir = test::nn_fixture_dir();
  if (env && *env) {
    ASSERT_TRUE(std::filesystem::exists(std::filesystem::path(env) / "INDEX.json"))
        << "XFMR_NN_FIXTURES=" << env << " has no INDEX.json";
  } else if (dir.empty()) {
    GTEST_SKIP() << "../shared/fixtures/nn not found (set XFMR_NN_FIXTURES); skipping the parity suite";
  }
  std::vector<std::string> names = test::nn_case_names(dir);
  EXPECT_FALSE(names.empty()) << dir << "/INDEX.json lists no cases";
  std::set<std::string> unique(names.begin(), names.end());
  EXPECT_EQ(unique.size(), names.size()) << "duplicate case names in INDEX.json";
  for (const auto& n : names) {
    auto c = test::load_nn_case(dir, n);  // throws when a file is missing or malformed
    EXPECT_EQ(c.spec.value("case", ""), n);
    EXPECT_TRUE(c.spec.contains("expected")) << n << ": no \"expected\" map";
  }
}

}  // namespace
