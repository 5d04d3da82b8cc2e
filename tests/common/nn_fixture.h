// Reader for the PyTorch golden cases in ../shared/fixtures/nn (format "xfmr-nnref-1", see that
// folder's README): INDEX.json lists the cases; each is <case>.json + <case>.safetensors.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "xfmr/io/safetensors.h"

namespace xfmr::test {

struct NnCase {
  std::string name, family;
  nlohmann::json spec;            // the case's .json
  io::SafetensorsFile tensors;    // the case's .safetensors
  // Tensor by name, converted to f32 for floating types (ids/masks keep their dtype).
  Tensor get(const std::string& name) const;
  bool has(const std::string& name) const { return tensors.contains(name); }
  // Tolerance of an expected tensor from spec["expected"].
  double atol(const std::string& name) const;
  double rtol(const std::string& name) const;
};

// The fixture folder: $XFMR_NN_FIXTURES or <shared>/fixtures/nn; empty if absent.
std::filesystem::path nn_fixture_dir();
// All cases listed in INDEX.json (throws with a clear message when the index is malformed).
std::vector<std::string> nn_case_names(const std::filesystem::path& dir);
NnCase load_nn_case(const std::filesystem::path& dir, const std::string& name);

}  // namespace xfmr::test
