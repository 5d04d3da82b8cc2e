// Parity with HuggingFace tokenizers over every golden file (XFMR_TOKENIZER_FIXTURES overrides the
// folder, XFMR_TOKENIZER_ASSETS the tokenizer files): every field of every record must match.
#include <gtest/gtest.h>

#include <iostream>

#include "common/test_util.h"
#include "tokenizers/golden.h"

namespace xfmr::test::tok {
namespace {

using tokenizers::Tokenizer;

// Runs all records of one golden file with `t`; returns the number of records that matched fully.
size_t run_file(const Tokenizer& t, const std::vector<json>& records, const std::string& what, bool check_decode) {
  size_t pass = 0, printed = 0;
  for (const auto& rec : records) {
    auto diffs = check_record(t, rec, check_decode);
    if (diffs.empty()) {
      ++pass;
      continue;
    }
    for (const auto& d : diffs) {
      if (printed++ < 200) ADD_FAILURE() << what << ": " << d;
    }
  }
  std::cout << "[parity] " << what << ": " << pass << "/" << records.size() << " records match\n";
  return pass;
}

TEST(TokenizerParity, TokenizerJsonMatchesGoldens) {
  auto fixtures = fixtures_dir();
  XFMR_REQUIRE_DIR(fixtures, "tokenizer goldens");
  auto assets = assets_dir();
  XFMR_REQUIRE_DIR(assets, "tokenizer assets (shared/assets/hf)");
  auto files = golden_files(fixtures);
  ASSERT_FALSE(files.empty()) << "no *.jsonl goldens in " << fixtures;
  for (const auto& f : files) {
    auto records = read_jsonl(f);
    ASSERT_FALSE(records.empty()) << f;
    fs::path dir = assets / records[0]["tokenizer"].get<std::string>();
    ASSERT_TRUE(fs::exists(dir / "tokenizer.json")) << "missing " << dir / "tokenizer.json" << " for " << f;
    Tokenizer t = Tokenizer::from_pretrained(dir);
    size_t pass = run_file(t, records, f.filename().string() + " (tokenizer.json)", true);
    EXPECT_EQ(pass, records.size()) << f;
  }
}

// The legacy files of the same folders (vocab.txt, vocab.json + merges.txt, spiece.model) must give
// the same encodings: transformers converts them into exactly these tokenizer.json pipelines.
TEST(TokenizerParity, LegacyFilesMatchGoldens) {
  auto fixtures = fixtures_dir();
  XFMR_REQUIRE_DIR(fixtures, "tokenizer goldens");
  auto assets = assets_dir();
  XFMR_REQUIRE_DIR(assets, "tokenizer assets (shared/assets/hf)");
  size_t tested = 0;
  for (const auto& f : golden_files(fixtures)) {
    auto records = read_jsonl(f);
    if (records.empty()) continue;
    fs::path dir = assets / records[0]["tokenizer"].get<std::string>();
    for (const char* file : {"vocab.txt", "vocab.json", "spiece.model"}) {
      if (!fs::exists(dir / file)) continue;
      Tokenizer t = Tokenizer::from_pretrained(dir / file);
      size_t pass = run_file(t, records, f.filename().string() + " (" + file + ")", true);
      EXPECT_EQ(pass, records.size()) << f << " via " << file;
      ++tested;
    }
  }
  if (tested == 0) GTEST_SKIP() << "no legacy tokenizer files next to the goldens' tokenizers";
}

}  // namespace
}  // namespace xfmr::test::tok
