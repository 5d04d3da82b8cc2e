// Parity with HuggingFace: every fixture of ../shared/fixtures/models (or $XFMR_MODEL_FIXTURES),
// every forward case, at the tolerances of goldens.json. The fixture list is read at run time, so
// a held-out folder with other fixtures is checked the same way.
#include <gtest/gtest.h>

#include <fstream>

#include "common/test_util.h"
#include "fixture_runner.h"
#include "xfmr/autograd/autograd.h"
#include "xfmr/io/safetensors.h"

using namespace xfmr;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

#define XFMR_REQUIRE_MODEL_FIXTURES(root)                                                                \
  auto root = test::model_fixtures_root();                                                              \
  XFMR_REQUIRE_DIR(root, "model fixtures (../shared/fixtures/models or $XFMR_MODEL_FIXTURES)");         \
  ASSERT_FALSE(test::model_fixture_dirs(root).empty()) << "no */goldens.json under " << root.string()

void expect_clean(const std::string& what, const std::vector<std::string>& errors) {
  for (auto& e : errors) ADD_FAILURE() << what << ": " << e;
}

TEST(ModelFixtures, EveryForwardCaseMatchesGoldens) {
  XFMR_REQUIRE_MODEL_FIXTURES(root);
  for (const fs::path& dir : test::model_fixture_dirs(root)) {
    SCOPED_TRACE(dir.filename().string());
    try {
      expect_clean(dir.filename().string(), test::run_model_fixture(dir));
    } catch (const std::exception& e) {
      ADD_FAILURE() << dir.filename().string() << ": " << e.what();
    }
  }
}

// f16/bf16 checkpoints, weights kept in their stored dtype (converted inside the kernels).
TEST(ModelFixtures, HalfPrecisionWeightsKeptInStoredDtypeMatchGoldens) {
  XFMR_REQUIRE_MODEL_FIXTURES(root);
  int checked = 0;
  for (const fs::path& dir : test::model_fixture_dirs(root)) {
    json g = test::load_goldens(dir);
    const std::string dtype = g["weights"].value("dtype", "F32");
    if (dtype == "F32") continue;
    SCOPED_TRACE(dir.filename().string());
    ++checked;
    models::LoadOptions opt;
    opt.keep_stored_dtype = true;
    expect_clean(dir.filename().string() + " (keep_stored_dtype)", test::run_model_fixture(dir, opt));
    auto m = models::AutoModel::from_pretrained(dir.string(), opt);
    int64_t half = 0, f32 = 0;
    for (auto& [n, t] : m->named_parameters()) {
      if (t.dim() >= 2) {
        EXPECT_EQ(dtype_safetensors_name(t.dtype()), dtype) << n << " should stay " << dtype;
        EXPECT_FALSE(t.storage()->owned()) << n << " should be a view of the mapped file";
        ++half;
      } else {
        EXPECT_EQ(t.dtype(), DType::F32) << n;
        ++f32;
      }
    }
    EXPECT_GT(half, 0);
    EXPECT_EQ(m->load_report().converted_tensors, f32);
  }
  if (checked == 0) GTEST_SKIP() << "no f16/bf16 fixture in " << root.string();
}

// A padded batch gives, at real positions, what each sequence gives alone without padding.
TEST(ModelFixtures, PaddedBatchEqualsSequencesRunAlone) {
  XFMR_REQUIRE_MODEL_FIXTURES(root);
  NoGradGuard no_grad;
  for (const fs::path& dir : test::model_fixture_dirs(root)) {
    json g = test::load_goldens(dir);
    auto m = models::AutoModel::from_pretrained(dir.string(), {.on_warning = [](const std::string&) {}});
    for (const json& c : g["forward"]) {
      models::ModelInputs in = test::case_inputs(c);
      if (!m->accepts_token_type_ids()) in.token_type_ids = Tensor();
      const int64_t B = in.input_ids.size(0), L = in.input_ids.size(1);
      if (B < 2) continue;
      SCOPED_TRACE(dir.filename().string() + "/" + c.value("name", ""));
      models::ModelOutput padded = m->forward(in);
      auto mask = in.attention_mask.to_vector<int64_t>();
      bool any_padding = false;
      for (int64_t b = 0; b < B; ++b) {
        int64_t n = 0;
        for (int64_t t = 0; t < L; ++t) n += mask[b * L + t];
        for (int64_t t = 0; t < n; ++t) ASSERT_EQ(mask[b * L + t], 1) << "expected right padding";
        any_padding = any_padding || n < L;
        models::ModelInputs one;
        one.input_ids = in.input_ids.narrow(0, b, 1).narrow(1, 0, n).contiguous();
        if (in.token_type_ids.defined()) one.token_type_ids = in.token_type_ids.narrow(0, b, 1).narrow(1, 0, n).contiguous();
        models::ModelOutput alone = m->forward(one);
        EXPECT_TENSOR_CLOSE(padded.last_hidden_state.narrow(0, b, 1).narrow(1, 0, n), alone.last_hidden_state, 1e-5, 1e-5);
        if (padded.pooler_output.defined())
          EXPECT_TENSOR_CLOSE(padded.pooler_output.narrow(0, b, 1), alone.pooler_output, 1e-5, 1e-5);
        if (padded.start_logits.defined()) {
          EXPECT_TENSOR_CLOSE(padded.start_logits.narrow(0, b, 1).narrow(1, 0, n), alone.start_logits, 1e-5, 1e-5);
          EXPECT_TENSOR_CLOSE(padded.end_logits.narrow(0, b, 1).narrow(1, 0, n), alone.end_logits, 1e-5, 1e-5);
        }
        if (padded.logits.defined()) {
          Tensor p = padded.logits.narrow(0, b, 1);
          if (p.dim() >= 3 || m->task() == models::Task::TokenClassification) p = p.narrow(1, 0, n);
          EXPECT_TENSOR_CLOSE(p, alone.logits, 1e-5, 1e-5);
        }
      }
      EXPECT_TRUE(any_padding) << "the batch case has no padding";
    }
  }
}

// Incremental decoding with the KV cache reproduces the full forward pass (GPT-2 fixtures).
TEST(ModelFixtures, CausalLMCacheMatchesFullForward) {
  XFMR_REQUIRE_MODEL_FIXTURES(root);
  NoGradGuard no_grad;
  int checked = 0;
  for (const fs::path& dir : test::model_fixture_dirs(root)) {
    json g = test::load_goldens(dir);
    auto m = models::AutoModel::from_pretrained(dir.string(), {.on_warning = [](const std::string&) {}});
    models::CausalLM* lm = m->as_causal_lm();
    if (!lm) continue;
    ++checked;
    for (const json& c : g["forward"]) {
      SCOPED_TRACE(dir.filename().string() + "/" + c.value("name", ""));
      models::ModelInputs in = test::case_inputs(c);
      const int64_t B = in.input_ids.size(0), L = in.input_ids.size(1);
      models::ModelOutput full = m->forward(in);
      // Prompt of 3 tokens, then one token per step; the mask grows with the cache.
      models::KVCache cache = lm->make_cache();
      const int64_t first = std::min<int64_t>(3, L);
      auto step = lm->forward_step(in.input_ids.narrow(1, 0, first).contiguous(), cache,
                                   in.attention_mask.narrow(1, 0, first).contiguous(), Tensor(), true);
      ASSERT_EQ(step.logits.shape(), Shape({B, first, lm->vocab_size()}));
      auto mask = in.attention_mask.to_vector<int64_t>();
      auto check = [&](const Tensor& got, int64_t t) {
        for (int64_t b = 0; b < B; ++b)
          if (mask[b * L + t]) EXPECT_TENSOR_CLOSE(got.select(0, b), full.logits.select(0, b).select(0, t), 1e-4, 1e-4);
      };
      for (int64_t t = 0; t < first; ++t) check(step.logits.select(1, t), t);
      for (int64_t t = first; t < L; ++t) {
        auto s = lm->forward_step(in.input_ids.narrow(1, t, 1).contiguous(), cache,
                                  in.attention_mask.narrow(1, 0, t + 1).contiguous());
        ASSERT_EQ(s.logits.shape(), Shape({B, lm->vocab_size()}));
        check(s.logits, t);
      }
      EXPECT_EQ(cache.length(), L);
    }
  }
  if (checked == 0) GTEST_SKIP() << "no causal LM fixture";
}

// The runner fails loudly on what it does not know.
TEST(ModelFixtures, RunnerRejectsUnknownFormatAndClass) {
  XFMR_REQUIRE_MODEL_FIXTURES(root);
  const fs::path src = test::model_fixture_dirs(root).front();
  const fs::path tmp = fs::temp_directory_path() / ("xfmr_fixture_" + std::to_string(::getpid()));
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  for (auto& e : fs::directory_iterator(src))
    if (e.path().filename() != "goldens.json") fs::create_symlink(fs::absolute(e.path()), tmp / e.path().filename());
  json g = test::read_json(src / "goldens.json");
  auto write = [&](const json& j) { std::ofstream(tmp / "goldens.json") << j.dump(); };
  json bad_format = g;
  bad_format["format"] = "xfmr-model-fixture/2";
  write(bad_format);
  EXPECT_THROW(test::run_model_fixture(tmp), Error);
  json bad_class = g;
  bad_class["hf_class"] = "BertForNextSentencePrediction";
  write(bad_class);
  EXPECT_THROW(test::run_model_fixture(tmp), Error);
  json bad_output = g;
  bad_output["forward"][0]["outputs"]["attentions"] = json::object();
  write(bad_output);
  auto errors = test::run_model_fixture(tmp);
  ASSERT_FALSE(errors.empty());
  EXPECT_NE(errors.back().find("unknown output 'attentions'"), std::string::npos) << errors.back();
  // A wrong golden value is caught.
  json wrong = g;
  auto& lhs = wrong["forward"][0]["outputs"]["last_hidden_state"]["data"];
  lhs[0] = lhs[0].get<double>() + 1e-3;
  write(wrong);
  errors = test::run_model_fixture(tmp);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("last_hidden_state"), std::string::npos) << errors[0];
  fs::remove_all(tmp);
}

}  // namespace
