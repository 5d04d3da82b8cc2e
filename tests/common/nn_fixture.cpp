#include "common/nn_fixture.h"

#include <fstream>

#include "common/test_util.h"

namespace xfmr::test {

std::filesystem::path nn_fixture_dir() { return fixture_dir("XFMR_NN_FIXTURES", "fixtures/nn"); }

static nlohmann::json read_json(const std::filesystem::path& p) {
  std::ifstream in(p);
  XFMR_CHECK(in.good(), "cannot read ", p);
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    detail::fail(p.string(), ": malformed JSON: ", e.what());
  }
}

std::vector<std::string> nn_case_names(const std::filesystem::path& dir) {
  nlohmann::json idx = read_json(dir / "INDEX.json");
  XFMR_CHECK(idx.contains("cases") && idx["cases"].is_array(), dir / "INDEX.json", ": no \"cases\" array");
  std::vector<std::string> names;
  for (const auto& c : idx["cases"]) names.push_back(c.at("case").get<std::string>());
  return names;
}

NnCase load_nn_case(const std::filesystem::path& dir, const std::string& name) {
  nlohmann::json idx = read_json(dir / "INDEX.json");
  std::string json_file = name + ".json", st_file = name + ".safetensors";
  for (const auto& c : idx["cases"])
    if (c.at("case") == name) {
      json_file = c.value("json", json_file);
      st_file = c.value("safetensors", st_file);
    }
  NnCase c{name, "", read_json(dir / json_file), io::SafetensorsFile::open(dir / st_file)};
  c.family = c.spec.value("family", "");
  return c;
}

Tensor NnCase::get(const std::string& n) const {
  Tensor t = tensors.get(n);
  return is_floating(t.dtype()) ? t.to(DType::F32) : t;
}

double NnCase::atol(const std::string& n) const {
  const auto& e = spec.at("expected");
  XFMR_CHECK(e.contains(n), name, ": no tolerance for expected tensor ", n);
  return e[n].at("atol").get<double>();
}

double NnCase::rtol(const std::string& n) const { return spec.at("expected").at(n).at("rtol").get<double>(); }

}  // namespace xfmr::test
