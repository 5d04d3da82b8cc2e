// Helpers of the pipeline tests: fixture discovery, structural JSON comparison with tolerances.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace xfmr::test {

using ojson = nlohmann::ordered_json;

// $XFMR_MODEL_FIXTURES, else ../shared/fixtures/models (empty when absent).
std::filesystem::path pipeline_fixtures_root();
// Sub-folders holding a goldens.json, sorted (names only; empty when the root is absent).
std::vector<std::string> pipeline_fixture_names();
std::filesystem::path pipeline_fixture(const std::string& name);  // root / name (empty when absent)
ojson read_ojson(const std::filesystem::path& file);

struct JsonTolerance {
  double atol = 1e-6, rtol = 1e-4;
};
// Compares `got` with `expected` structurally: same types, same keys in the same order, same list
// lengths, strings/integers/booleans equal, floats within atol + rtol * |expected|. Returns one
// message per difference (empty: equal), naming the JSON path.
std::vector<std::string> compare_json(const ojson& got, const ojson& expected, const JsonTolerance& tol,
                                      const std::string& path = "$");

}  // namespace xfmr::test
