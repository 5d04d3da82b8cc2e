// The `xfmr` executable as users run it: --help on every subcommand, the README's main job
// (HF-shaped JSON from the bundled sentiment model, stdin input, its errors), option checks with short
// messages, and a tiny train-lm -> eval-lm -> generate-lm round trip with its error messages. (The
// libraries behind each command have their own suites; this checks the wiring, the exit codes and
// what reaches the user.)
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/test_util.h"

namespace fs = std::filesystem;
using xfmr::test::CommandResult;
using xfmr::test::run_xfmr;
using xfmr::test::shell_quote;

namespace {

std::string both(const CommandResult& r) { return "stdout:\n" + r.out + "\nstderr:\n" + r.err; }

// A small corpus with structure to learn: train/valid/test.txt of repeated simple sentences.
void write_corpus(const fs::path& dir) {
  const std::vector<std::string> sentences = {"the cat sat on the mat .", "a dog ran in the park .",
                                              "the bird sang a song .", "my friend read the book ."};
  for (const auto& [split, lines] : {std::pair{"train", 240}, {"valid", 40}, {"test", 40}}) {
    std::ofstream f(dir / (std::string(split) + ".txt"));
    for (int i = 0; i < lines; ++i) f << sentences[(i * 7 + i / 3) % sentences.size()] << "\n";
  }
}

TEST(Cli, EverySubcommandHasHelp) {
  CommandResult top = run_xfmr("--help");
  ASSERT_EQ(top.exit_code, 0) << both(top);
  for (const char* cmd : {"cache-path", "download", "eval-lm", "generate-lm", "info", "inspect", "pipeline",
                          "tokenize", "train-classifier", "train-lm", "train-tokenizer"}) {
    EXPECT_NE(top.out.find(cmd), std::string::npos) << cmd << " missing from xfmr --help";
    CommandResult r = run_xfmr(std::string(cmd) + " --help");
    EXPECT_EQ(r.exit_code, 0) << cmd << "\n" << both(r);
    EXPECT_NE(r.out.find("Usage: xfmr " + std::string(cmd)), std::string::npos) << cmd << "\n" << both(r);
  }
  CommandResult bad = run_xfmr("no-such-command");
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("no-such-command"), std::string::npos) << both(bad);
}

// The README's second command: HF's [{"label": ..., "score": ...}] on stdout, the model note on stderr.
TEST(Cli, MainJobPrintsHuggingFaceJson) {
  for (const auto& [text, label] : {std::pair{"It is great to learn deep learning.", "POSITIVE"},
                                    {"He dislikes any party.", "NEGATIVE"}}) {
    CommandResult r = run_xfmr("pipeline sentiment-analysis " + shell_quote(text));
    ASSERT_EQ(r.exit_code, 0) << both(r);
    nlohmann::ordered_json j = nlohmann::ordered_json::parse(r.out);
    ASSERT_TRUE(j.is_array() && j.size() == 1) << r.out;
    ASSERT_EQ(j[0].size(), 2u) << r.out;
    EXPECT_EQ(j[0].begin().key(), "label") << r.out;
    EXPECT_EQ(j[0]["label"], label) << text;
    const double score = j[0]["score"].get<double>();
    EXPECT_GT(score, 0.5) << r.out;
    EXPECT_LE(score, 1.0) << r.out;
    EXPECT_NE(r.err.find("bundled default model"), std::string::npos) << both(r);
  }
}

// Without TEXT arguments the inputs come from stdin, one per line, one JSON result per line.
TEST(Cli, PipelineReadsLinesFromStdin) {
  CommandResult r =
      run_xfmr("pipeline sentiment-analysis", "It is great to learn deep learning.\nHe dislikes any party.\n");
  ASSERT_EQ(r.exit_code, 0) << both(r);
  const size_t nl = r.out.find('\n');
  ASSERT_NE(nl, std::string::npos) << r.out;
  EXPECT_EQ(nlohmann::json::parse(r.out.substr(0, nl))[0]["label"], "POSITIVE") << r.out;
  EXPECT_EQ(nlohmann::json::parse(r.out.substr(nl + 1))[0]["label"], "NEGATIVE") << r.out;
}

TEST(Cli, PipelineErrorsNameTheProblem) {
  struct Case {
    std::string args, stdin_text, message;
  };
  for (const Case& c : std::vector<Case>{
           {"pipeline no-such-task x", "", "unknown task 'no-such-task'"},
           {"pipeline sentiment-analysis --model /nonexistent/xfmr-model x", "",
            "'/nonexistent/xfmr-model' does not exist"},
           {"pipeline sentiment-analysis", "bad \xff text\n", "not valid UTF-8 (invalid byte 0xff at byte 4)"}}) {
    CommandResult r = run_xfmr(c.args, c.stdin_text);
    EXPECT_EQ(r.exit_code, 1) << c.args << "\n" << both(r);
    EXPECT_NE(r.err.find("xfmr: error: "), std::string::npos) << c.args << "\n" << both(r);
    EXPECT_NE(r.err.find(c.message), std::string::npos) << c.args << "\n" << both(r);
    EXPECT_TRUE(r.out.empty()) << c.args << "\n" << both(r);
  }
}

TEST(Cli, NumberOptionsSayWhatIsWrongInOneLine) {
  struct Case {
    std::string args, message;
  };
  for (const Case& c : std::vector<Case>{
           {"train-lm --data x --lr 0", "--lr: must be greater than 0, got 0"},
           {"train-lm --data x --clip -1", "--clip: must be greater than 0, got -1"},
           {"train-lm --data x --bptt abc", "--bptt: expected a number, got 'abc'"},
           {"train-lm --data x --max-batches -3", "--max-batches: must be 0 or more, got -3"},
           {"generate-lm --checkpoint x --words -1", "--words: must be 0 or more, got -1"}}) {
    CommandResult r = run_xfmr(c.args);
    EXPECT_NE(r.exit_code, 0) << c.args;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << c.args << "\n" << both(r);
    EXPECT_LT(r.err.size(), 200u) << c.args << "\n" << r.err;
  }
}

TEST(Cli, TrainEvalGenerateLanguageModel) {
  xfmr::test::TempDir tmp("xfmr_cli_lm");
  const fs::path data = tmp.path / "data", ckpt = tmp.path / "ckpt";
  fs::create_directories(data);
  write_corpus(data);
  const std::string model = " --d-model 16 --d-hid 24 --nhead 2 --nlayers 1 --batch-size 4 --bptt 8 --threads 1";
  CommandResult train = run_xfmr("train-lm --data " + shell_quote(data.string()) + model +
                                 " --epochs 2 --log-interval 10 --no-progress --save " + shell_quote(ckpt.string()));
  ASSERT_EQ(train.exit_code, 0) << both(train);
  // The tutorial's log format, validation after each epoch, test of the best model.
  EXPECT_NE(train.out.find("| epoch   1 |    10/"), std::string::npos) << train.out;
  EXPECT_NE(train.out.find("| end of epoch   2 |"), std::string::npos) << train.out;
  EXPECT_NE(train.out.find("valid ppl"), std::string::npos) << train.out;
  EXPECT_NE(train.out.find("| End of training | test loss"), std::string::npos) << train.out;
  EXPECT_TRUE(fs::exists(ckpt / "model.safetensors") && fs::exists(ckpt / "last" / "training_state.safetensors"));

  CommandResult eval = run_xfmr("eval-lm --checkpoint " + shell_quote(ckpt.string()) + " --data " +
                                shell_quote(data.string()) + " --threads 1");
  ASSERT_EQ(eval.exit_code, 0) << both(eval);
  EXPECT_NE(eval.out.find("test"), std::string::npos) << eval.out;
  EXPECT_NE(eval.out.find("ppl"), std::string::npos) << eval.out;

  const std::string gen = "generate-lm --checkpoint " + shell_quote(ckpt.string()) + " --words 12 --seed 3 --threads 1";
  CommandResult g1 = run_xfmr(gen), g2 = run_xfmr(gen);
  ASSERT_EQ(g1.exit_code, 0) << both(g1);
  EXPECT_EQ(g1.out, g2.out) << "same seed, same text";
  int words = 0;
  std::istringstream text(g1.out);
  for (std::string w; text >> w;) ++words;
  EXPECT_EQ(words, 12) << g1.out;

  // Errors name what is wrong.
  CommandResult missing = run_xfmr("eval-lm --checkpoint " + shell_quote((tmp.path / "nope").string()) + " --data " +
                                   shell_quote(data.string()));
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.err.find((tmp.path / "nope").string()), std::string::npos) << both(missing);
  CommandResult no_data = run_xfmr("train-lm --data " + shell_quote((tmp.path / "nodata").string()) + model);
  EXPECT_NE(no_data.exit_code, 0);
  EXPECT_NE(no_data.err.find((tmp.path / "nodata").string()), std::string::npos) << both(no_data);
}

}  // namespace
