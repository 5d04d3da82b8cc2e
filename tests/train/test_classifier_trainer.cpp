// The classifier trainer on tiny synthetic data and tiny models: learning beats chance, the saved
// folder reloads with identical predictions (also through the pipeline), resuming reproduces an
// uninterrupted run bit for bit, fine-tuning a fixture BERT checkpoint end to end, bad input.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "common/test_util.h"
#include "xfmr/core/error.h"
#include "xfmr/io/safetensors.h"
#include "xfmr/models/models.h"
#include "xfmr/pipelines/pipeline.h"
#include "xfmr/tokenizers/tokenizer.h"
#include "xfmr/train/classifier_trainer.h"

using namespace xfmr;
using namespace xfmr::train;
namespace fs = std::filesystem;

namespace {

// Sentences whose label is the polarity of the one sentiment word among neutral fillers.
void write_synthetic(const fs::path& p, int n, uint64_t seed) {
  const char* pos[] = {"good", "great", "lovely", "fine", "superb", "charming"};
  const char* neg[] = {"bad", "awful", "dull", "boring", "poor", "bleak"};
  const char* fill[] = {"the", "movie", "was", "a", "film", "plot", "really", "quite", "story", "acting", "it", "is"};
  std::mt19937_64 g(seed);
  std::ofstream out(p);
  out << "sentence\tlabel\n";
  for (int i = 0; i < n; ++i) {
    int label = int(g() % 2);
    int len = 3 + int(g() % 6), at = int(g() % uint64_t(len));
    std::string s;
    for (int k = 0; k < len; ++k) {
      if (k) s += ' ';
      s += k == at ? (label ? pos[g() % 6] : neg[g() % 6]) : fill[g() % 12];
    }
    out << s << "\t" << label << "\n";
  }
}

class Trainer : public ::testing::Test {
 protected:
  fs::path dir;
  void SetUp() override {
    dir = fs::temp_directory_path() /
          ("xfmr_test_train_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    write_synthetic(dir / "train.tsv", 240, 1);
    write_synthetic(dir / "dev.tsv", 80, 2);
  }
  void TearDown() override { fs::remove_all(dir); }

  ClassifierTrainOptions tiny(const std::string& out) {
    ClassifierTrainOptions o;
    o.train_file = dir / "train.tsv";
    o.dev_file = dir / "dev.tsv";
    o.output_dir = dir / out;
    o.label_names = {"NEGATIVE", "POSITIVE"};
    ScratchModelOptions s;
    s.layers = 1;
    s.hidden = 32;
    s.heads = 2;
    s.intermediate = 64;
    s.max_positions = 32;
    s.vocab_size = 80;
    s.min_frequency = 1;
    o.scratch = s;
    o.epochs = 4;
    o.lr = 3e-3;
    o.batch_size = 16;
    o.warmup_ratio = 0.1;
    o.show_progress = false;
    o.log = [](const std::string&) {};
    return o;
  }
};

std::vector<int64_t> predictions_of(const fs::path& model_dir, const fs::path& data) {
  auto m = models::AutoModel::from_pretrained(model_dir.string());
  auto tok = tokenizers::Tokenizer::from_pretrained(model_dir);
  auto d = data::read_classification_file(data);
  EncodedSet s = encode_examples(tok, d.examples, 32);
  std::vector<int64_t> pred;
  evaluate_classifier(*m, s, tok.special_tokens().pad->id, 7, &pred);
  return pred;
}

}  // namespace

TEST_F(Trainer, FromScratchLearnsAboveChanceAndSavesAnHfFolder) {
  TrainReport r = train_classifier(tiny("out"));
  ASSERT_EQ(r.history.size(), 4u);
  EXPECT_GT(r.best.accuracy, 0.8) << "a one-word sentiment task should be learned";
  EXPECT_GT(r.best.macro_f1, 0.75);
  EXPECT_LT(r.history.back().train_loss, r.history.front().train_loss);
  for (const char* f : {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "vocab.txt",
                        "training_log.jsonl", "checkpoint/training_state.safetensors"})
    EXPECT_TRUE(fs::exists(dir / "out" / f)) << f;
  auto cfg = models::ModelConfig::from_file(dir / "out" / "config.json");
  EXPECT_EQ(cfg.architectures().at(0), "BertForSequenceClassification");
  EXPECT_EQ(cfg.id2label().at(1), "POSITIVE");
  EXPECT_EQ(cfg.label2id().at("NEGATIVE"), 0);

  // save -> load -> identical predictions: the reloaded folder gives the best epoch's metrics.
  auto m = models::AutoModel::from_pretrained((dir / "out").string());
  auto tok = tokenizers::Tokenizer::from_pretrained(dir / "out");
  auto dev = data::read_classification_file(dir / "dev.tsv");
  EncodedSet s = encode_examples(tok, dev.examples, 32);
  s.labels = data::LabelMap::from_id2label(cfg.id2label()).encode(dev.examples, dev.path);
  std::vector<int64_t> p1, p2;
  EvalMetrics again = evaluate_classifier(*m, s, tok.special_tokens().pad->id, 128, &p1);
  EXPECT_DOUBLE_EQ(again.accuracy, r.best.accuracy);
  EXPECT_NEAR(again.loss, r.best.loss, 1e-6);
  evaluate_classifier(*m, s, tok.special_tokens().pad->id, 5, &p2);  // batching does not matter
  EXPECT_EQ(p1, p2);

  // The pipeline loads it and agrees.
  auto pipe = pipelines::pipeline("sentiment-analysis", {.model = (dir / "out").string()});
  auto out = pipe(pipelines::Input(dev.examples[0].text));
  EXPECT_NE(out.to_json().find(p1[0] ? "POSITIVE" : "NEGATIVE"), std::string::npos) << out.to_json();
}

TEST_F(Trainer, ResumeReproducesAnUninterruptedRun) {
  ClassifierTrainOptions full = tiny("full");
  full.epochs = 2;
  TrainReport a = train_classifier(full);

  ClassifierTrainOptions part = tiny("part");
  part.epochs = 2;
  part.stop_after_steps = 20;  // mid epoch 2 (15 batches per epoch)
  TrainReport stopped = train_classifier(part);
  EXPECT_EQ(stopped.steps, 20);
  EXPECT_EQ(stopped.history.size(), 1u);
  part.stop_after_steps = 0;
  part.resume = true;
  part.scratch.reset();
  TrainReport b = train_classifier(part);
  ASSERT_EQ(b.history.size(), 2u);
  EXPECT_EQ(b.steps, a.steps);
  EXPECT_EQ(b.history[0].dev.accuracy, a.history[0].dev.accuracy);
  EXPECT_EQ(b.history[1].dev.loss, a.history[1].dev.loss);

  // Same final weights, bit for bit.
  io::WeightFiles wa = io::WeightFiles::open(dir / "full" / "checkpoint");
  io::WeightFiles wb = io::WeightFiles::open(dir / "part" / "checkpoint");
  ASSERT_EQ(wa.names(), wb.names());
  for (const auto& n : wa.names()) EXPECT_TENSOR_CLOSE(wb.get(n), wa.get(n), 0, 0);
  EXPECT_EQ(predictions_of(dir / "full", dir / "dev.tsv"), predictions_of(dir / "part", dir / "dev.tsv"));

  // A resume with other settings is refused.
  part.epochs = 3;
  EXPECT_THROW(train_classifier(part), Error);
}

TEST_F(Trainer, BadInput) {
  auto err = [&](ClassifierTrainOptions o) -> std::string {
    try {
      train_classifier(o);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  ClassifierTrainOptions o = tiny("bad");
  { std::ofstream(dir / "dev_bad.tsv") << "sentence\tlabel\nfine film\t1\nodd film\t7\n"; }
  o.dev_file = dir / "dev_bad.tsv";
  std::string e = err(o);
  EXPECT_NE(e.find("dev_bad.tsv:3: unknown label '7'"), std::string::npos) << e;

  o = tiny("bad");
  { std::ofstream(dir / "empty.tsv") << ""; }
  o.train_file = dir / "empty.tsv";
  e = err(o);
  EXPECT_NE(e.find("empty"), std::string::npos) << e;

  o = tiny("bad");
  { std::ofstream(dir / "malformed.tsv") << "sentence\tlabel\ngood\t1\nno label here\n"; }
  o.train_file = dir / "malformed.tsv";
  e = err(o);
  EXPECT_NE(e.find("malformed.tsv:3: malformed row"), std::string::npos) << e;

  o = tiny("bad");
  o.model = "some/model";  // and --from-scratch
  EXPECT_NE(err(o).find("exactly one of"), std::string::npos);
  o = tiny("bad");
  o.scratch->heads = 3;
  EXPECT_NE(err(o).find("not a multiple"), std::string::npos);
  o = tiny("bad");
  o.resume = true;
  EXPECT_NE(err(o).find("no checkpoint"), std::string::npos);
}

TEST(TrainerMetrics, MacroF1) {
  // class 0: tp 1 fp 1 fn 1 -> 0.5; class 1: tp 1 fp 1 fn 1 -> 0.5; class 2 absent everywhere.
  EXPECT_DOUBLE_EQ(macro_f1({0, 0, 1, 1}, {0, 1, 1, 0}, 3), 0.5);
  EXPECT_DOUBLE_EQ(macro_f1({0, 1}, {0, 1}, 2), 1.0);
}

// Fine-tuning a pretrained checkpoint end to end: a BERT masked-LM fixture (no classification head,
// real 30522-token vocabulary) gets a fresh head, trains one epoch, and the folder reloads.
TEST_F(Trainer, FineTunesAFixtureBertCheckpoint) {
  fs::path models = test::fixture_dir("XFMR_MODEL_FIXTURES", "fixtures/models");
  XFMR_REQUIRE_DIR(models, "model fixtures");
  ClassifierTrainOptions o = tiny("ft");
  o.scratch.reset();
  o.model = (models / "bert-masked-lm").string();
  o.epochs = 1;
  o.lr = 1e-3;
  o.max_length = 24;
  std::vector<std::string> lines;
  o.log = [&](const std::string& s) { lines.push_back(s); };
  TrainReport r = train_classifier(o);
  bool said = false;
  for (auto& l : lines) said = said || l.find("without a classification head") != std::string::npos;
  EXPECT_TRUE(said) << "the new head must be announced";
  EXPECT_EQ(r.history.size(), 1u);
  auto cfg = models::ModelConfig::from_file(dir / "ft" / "config.json");
  EXPECT_EQ(cfg.architectures().at(0), "BertForSequenceClassification");
  EXPECT_TRUE(fs::exists(dir / "ft" / "vocab.txt") || fs::exists(dir / "ft" / "tokenizer.json"));
  auto m = models::AutoModel::from_pretrained((dir / "ft").string());
  EXPECT_TRUE(m->load_report().missing_keys.empty());
  EXPECT_EQ(predictions_of(dir / "ft", dir / "dev.tsv"), predictions_of(dir / "ft", dir / "dev.tsv"));
  auto pipe = pipelines::pipeline("text-classification", {.model = (dir / "ft").string()});
  EXPECT_NE(pipe(pipelines::Input("a good film")).to_json().find("label"), std::string::npos);

  // A classifier checkpoint with the same labels keeps its head (fine-tuning continues it).
  ClassifierTrainOptions again = tiny("ft2");
  again.scratch.reset();
  again.model = (dir / "ft").string();
  again.epochs = 1;
  lines.clear();
  again.log = [&](const std::string& s) { lines.push_back(s); };
  train_classifier(again);
  for (auto& l : lines) EXPECT_EQ(l.find("initialised"), std::string::npos) << l;
}
