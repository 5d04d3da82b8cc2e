// Conformance with HuggingFace's pipelines: every `pipelines` case of every fixture in
// ../shared/fixtures/models (or $XFMR_MODEL_FIXTURES) through the HF-shaped JSON call, once with
// batch size 1 and once with batch size 4. Labels, answers, spans, offsets, tokens, words, texts
// and order must be equal; scores within the goldens' tolerances. One test per fixture; the list
// is read when the tests are enumerated, so a held-out folder is covered the same way.
#include <gtest/gtest.h>

#include <map>

#include "common/test_util.h"
#include "pipeline_test_util.h"
#include "xfmr/core/error.h"
#include "xfmr/pipelines/pipelines.h"

using namespace xfmr;
using namespace xfmr::pipelines;
using xfmr::test::ojson;
namespace fs = std::filesystem;

namespace {

class PipelineGoldens : public ::testing::TestWithParam<std::string> {};

std::string short_dump(const ojson& v, size_t n = 120) {
  std::string s = v.dump();
  return s.size() > n ? s.substr(0, n) + "..." : s;
}

test::JsonTolerance tolerance_of(const ojson& goldens, const char* which, double atol, double rtol) {
  test::JsonTolerance t{atol, rtol};
  if (goldens.contains("tolerances") && goldens["tolerances"].contains(which)) {
    t.atol = goldens["tolerances"][which].value("atol", atol);
    t.rtol = goldens["tolerances"][which].value("rtol", rtol);
  }
  return t;
}

TEST_P(PipelineGoldens, EveryCaseMatchesHF) {
  const fs::path dir = test::pipeline_fixture(GetParam());
  ASSERT_FALSE(dir.empty());
  const ojson g = test::read_ojson(dir / "goldens.json");
  ASSERT_EQ(g.value("format", ""), "xfmr-model-fixture/1") << "unknown goldens format in " << dir.string();
  if (g.contains("generation") || test::read_ojson(dir / "config.json").value("is_encoder_decoder", false))
    GTEST_SKIP() << GetParam() << " is an encoder-decoder fixture (seq2seq pipelines are a later issue)";
  if (!g.contains("pipelines")) GTEST_SKIP() << GetParam() << " has no pipeline cases";
  const auto score_tol = tolerance_of(g, "scores", 1e-6, 1e-4);
  const auto hidden_tol = tolerance_of(g, "hidden_states", 1e-4, 1e-4);

  std::map<std::string, std::shared_ptr<Pipeline>> pipes;
  std::vector<std::string> warnings;
  int compared = 0;
  for (size_t c = 0; c < g["pipelines"].size(); ++c) {
    const ojson& pc = g["pipelines"][c];
    const std::string task = pc.value("task", "");
    SCOPED_TRACE(GetParam() + " case " + std::to_string(c) + " (" + task + ", inputs " + short_dump(pc["inputs"]) +
                 ", params " + short_dump(pc.value("params", ojson::object())) + ")");
    std::string canonical;
    try {
      canonical = resolve_task(task).name;
    } catch (const Error& e) {
      ADD_FAILURE() << "unknown task in goldens: " << e.what();
      continue;
    }
    if (!pipes.count(canonical)) {
      PipelineOptions o;
      o.model = dir.string();
      o.on_warning = [&](const std::string& w) { warnings.push_back(w); };
      try {
        pipes[canonical] = std::make_shared<Pipeline>(pipeline(task, o));
      } catch (const Error& e) {
        ADD_FAILURE() << "cannot build the " << task << " pipeline: " << e.what();
        continue;
      }
    }
    Pipeline& p = *pipes[canonical];
    const ojson params = pc.value("params", ojson::object());
    const auto& tol = canonical == "feature-extraction" ? hidden_tol : score_tol;
    for (int bs : {1, 4}) {
      SCOPED_TRACE("batch_size " + std::to_string(bs));
      p->set_batch_size(bs);
      std::string got;
      try {
        got = p.call_json(pc["inputs"].dump(), params.dump(), /*ensure_ascii=*/false);
      } catch (const Error& e) {
        ADD_FAILURE() << "the pipeline failed: " << e.what();
        continue;
      }
      ojson got_json;
      try {
        got_json = ojson::parse(got);
      } catch (const std::exception& e) {
        ADD_FAILURE() << "the output is not JSON: " << e.what() << "\n" << got.substr(0, 300);
        continue;
      }
      for (const auto& m : test::compare_json(got_json, pc["expected"], tol)) ADD_FAILURE() << m;
      ++compared;
    }
    // text-generation: the token ids (prompt + generated) first, as the README advises.
    if (canonical == "text-generation" && pc.contains("debug") && pc["debug"].contains("token_ids")) {
      std::vector<Input> inputs;
      if (pc["inputs"].is_array()) {
        for (const auto& s : pc["inputs"]) inputs.emplace_back(s.get<std::string>());
      } else {
        inputs.emplace_back(pc["inputs"].get<std::string>());
      }
      auto outs = p(inputs, Params::from_json(params.dump()));
      ASSERT_EQ(outs.size(), pc["debug"]["token_ids"].size());
      for (size_t i = 0; i < outs.size(); ++i) {
        const auto& gen = outs[i].get<std::vector<GeneratedText>>();
        ASSERT_FALSE(gen.empty());
        EXPECT_EQ(gen[0].token_ids, pc["debug"]["token_ids"][i].get<std::vector<int32_t>>()) << "prompt " << i;
      }
    }
  }
  RecordProperty("cases_compared", compared);
}

std::string fixture_test_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string s = info.param;
  for (char& c : s)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return s;
}

INSTANTIATE_TEST_SUITE_P(Fixtures, PipelineGoldens, ::testing::ValuesIn(test::pipeline_fixture_names()),
                         fixture_test_name);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(PipelineGoldens);

// The fixture set is present and every task of the public set has cases (fails loudly on a
// goldens file whose task is unknown).
TEST(PipelineGoldensIndex, FixturesHavePipelineCasesOfKnownTasks) {
  auto root = test::pipeline_fixtures_root();
  XFMR_REQUIRE_DIR(root, "model fixtures (../shared/fixtures/models or $XFMR_MODEL_FIXTURES)");
  auto names = test::pipeline_fixture_names();
  ASSERT_FALSE(names.empty()) << "no */goldens.json under " << root.string();
  std::map<std::string, int> per_task;
  for (const auto& n : names) {
    ojson g = test::read_ojson(root / n / "goldens.json");
    if (!g.contains("pipelines") || g.contains("generation")) continue;
    for (const auto& pc : g["pipelines"]) {
      const std::string task = pc.value("task", "");
      EXPECT_NO_THROW(resolve_task(task)) << n << ": unknown pipeline task '" << task << "'";
      ++per_task[task];
    }
  }
  int total = 0;
  for (auto& [t, n] : per_task) total += n;
  EXPECT_GT(total, 0);
  for (auto& [t, n] : per_task) std::cout << "  " << t << ": " << n << " cases\n";
}

}  // namespace
