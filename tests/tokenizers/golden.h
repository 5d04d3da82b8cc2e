// Reading the tokenizer goldens (shared/fixtures/tokenizers/*.jsonl, format in its README.md) and
// comparing an Encoding with a record, field by field.
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "xfmr/tokenizers/tokenizer.h"

namespace xfmr::test::tok {

using nlohmann::json;
namespace fs = std::filesystem;

// $XFMR_TOKENIZER_FIXTURES or shared/fixtures/tokenizers (empty when missing).
fs::path fixtures_dir();
// $XFMR_TOKENIZER_ASSETS or shared/assets/hf (empty when missing).
fs::path assets_dir();
std::vector<fs::path> golden_files(const fs::path& dir);
std::vector<json> read_jsonl(const fs::path& file);

// The options a record was produced with.
tokenizers::EncodeOptions options_of(const json& rec);
tokenizers::Encoding encode_record(const tokenizers::Tokenizer& t, const json& rec);

// Differences between an encoding and the expected fields of `rec` (or of one overflowing window),
// one line per differing field, each prefixed with `label`.
std::vector<std::string> compare_encoding(const tokenizers::Encoding& got, const json& expected, const std::string& label);
// Full check of one record: main window, overflowing windows and both decodes.
std::vector<std::string> check_record(const tokenizers::Tokenizer& t, const json& rec, bool check_decode = true);

}  // namespace xfmr::test::tok
