// The bundled offline sentiment model (models/xfmr-sst2-small): the default of sentiment-analysis,
// the course's two answers, its size budget, and its SST-2 dev accuracy when the data is present.
#include <gtest/gtest.h>

#include <filesystem>

#include "common/test_util.h"
#include "xfmr/data/classification_dataset.h"
#include "xfmr/models/models.h"
#include "xfmr/pipelines/pipeline.h"
#include "xfmr/tokenizers/tokenizer.h"
#include "xfmr/train/classifier_trainer.h"

using namespace xfmr;
namespace fs = std::filesystem;

namespace {
fs::path bundled() { return fs::path(XFMR_SOURCE_DIR) / "models" / "xfmr-sst2-small"; }
}  // namespace

TEST(BundledModel, IsTheSentimentDefaultAndGivesTheCourseAnswers) {
  ASSERT_TRUE(fs::exists(bundled() / "config.json")) << bundled();
  auto found = pipelines::bundled_default_model("sentiment-analysis");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->filename(), "xfmr-sst2-small");
  auto pipe = pipelines::pipeline("sentiment-analysis", {.on_warning = [](const std::string&) {}});
  std::string pos = pipe(pipelines::Input("It is great to learn deep learning.")).to_json();
  std::string neg = pipe(pipelines::Input("He dislikes any party.")).to_json();
  EXPECT_NE(pos.find("\"POSITIVE\""), std::string::npos) << pos;
  EXPECT_NE(neg.find("\"NEGATIVE\""), std::string::npos) << neg;
}

TEST(BundledModel, FitsTheSizeBudget) {
  uintmax_t bytes = 0;
  for (const auto& e : fs::recursive_directory_iterator(bundled()))
    if (e.is_regular_file()) bytes += e.file_size();
  EXPECT_LE(bytes, uintmax_t{8} << 20) << "the bundled model must stay within 8 MiB";
  EXPECT_TRUE(fs::exists(bundled() / "README.md")) << "model card";
}

TEST(BundledModel, Sst2DevAccuracy) {
  fs::path dev = test::shared_dir() / "assets" / "sst2" / "dev.tsv";
  XFMR_REQUIRE_DIR(dev, "SST-2 dev set");
  auto m = models::AutoModel::from_pretrained(bundled().string());
  auto tok = tokenizers::Tokenizer::from_pretrained(bundled());
  auto d = data::read_classification_file(dev);
  train::EncodedSet s = train::encode_examples(tok, d.examples, 64);  // as in training
  s.labels = data::LabelMap::from_id2label(m->config().id2label()).encode(d.examples, dev);
  train::EvalMetrics r = train::evaluate_classifier(*m, s, tok.special_tokens().pad->id, 128);
  EXPECT_GE(r.accuracy, 0.80) << "the model card records 80.4 %";
}
