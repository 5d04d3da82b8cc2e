// The model-fixture parity runner (shared by the tests of tests/models): loads a fixture folder of
// ../shared/fixtures/models (README.md there), runs every `forward` case and compares the outputs
// with goldens.json at the stated tolerances.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "xfmr/models/models.h"

namespace xfmr::test {

// $XFMR_MODEL_FIXTURES, else ../shared/fixtures/models (empty path when absent).
std::filesystem::path model_fixtures_root();
// Sub-folders of `root` holding a goldens.json, sorted.
std::vector<std::filesystem::path> model_fixture_dirs(const std::filesystem::path& root);

nlohmann::json read_json(const std::filesystem::path& file);

// The goldens of one fixture, validated: throws xfmr::Error on an unknown `format`, an
// `hf_class` xfmr does not support, or an hf_class that differs from config.json.
nlohmann::json load_goldens(const std::filesystem::path& dir);

// i64 [B, L] from a JSON list of lists.
Tensor json_ids(const nlohmann::json& rows);
// {"shape": [...], "data": [...]} -> f32 tensor.
Tensor json_tensor(const nlohmann::json& t);

struct Tolerance {
  double atol = 1e-4, rtol = 1e-4;
};

// Inputs of a forward case (token_type_ids only when the case has them).
models::ModelInputs case_inputs(const nlohmann::json& fcase);

// Compares every output of one forward case; returns one message per mismatch (empty: all match).
// Unknown output names are reported as mismatches (fail loudly).
std::vector<std::string> compare_forward_case(const models::PreTrainedModel& model, const nlohmann::json& goldens,
                                              const nlohmann::json& fcase, const models::ModelOutput& out);

// Loads the fixture with `options` and checks every forward case plus the weight facts of
// goldens.json (dtype, shards, prefix, tied keys stored once, ignorable keys, parameter count).
// Returns the mismatch messages.
std::vector<std::string> run_model_fixture(const std::filesystem::path& dir, const models::LoadOptions& options = {});

}  // namespace xfmr::test
