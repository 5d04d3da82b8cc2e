// Classification data readers: TSV / CSV / JSONL, column detection, label mapping, and every
// bad-input case with the file and line in the message.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "xfmr/core/error.h"
#include "xfmr/data/classification_dataset.h"

using namespace xfmr;
using namespace xfmr::data;
namespace fs = std::filesystem;

namespace {

class DataFiles : public ::testing::Test {
 protected:
  fs::path dir;
  void SetUp() override {
    dir = fs::temp_directory_path() /
          ("xfmr_test_data_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::create_directories(dir);
  }
  void TearDown() override { fs::remove_all(dir); }
  fs::path file(const std::string& name, const std::string& text) {
    std::ofstream(dir / name, std::ios::binary) << text;
    return dir / name;
  }
  // The error message of f(), or "" when it does not throw.
  template <typename F>
  std::string error_of(F&& f) {
    try {
      f();
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  }
};

}  // namespace

TEST_F(DataFiles, TsvLikeGlue) {
  auto p = file("train.tsv", "sentence\tlabel\nit 's a charming journey . \t1\nbleak \t0\n\nfine\t1\r\n");
  ClassificationData d = read_classification_file(p);
  ASSERT_EQ(d.examples.size(), 3u);
  EXPECT_EQ(d.examples[0].text, "it 's a charming journey . ");
  EXPECT_EQ(d.examples[0].label, "1");
  EXPECT_EQ(d.examples[0].line, 2);
  EXPECT_EQ(d.examples[2].line, 5);  // blank lines are skipped but counted
  EXPECT_EQ(d.examples[2].label, "1");  // CRLF tolerated
  EXPECT_FALSE(d.has_pairs);
  EXPECT_EQ(read_classification_file(p, {.max_examples = 2}).examples.size(), 2u);
}

TEST_F(DataFiles, CsvQuotingAndPairs) {
  auto p = file("nli.csv",
                "premise,hypothesis,label\n"
                "\"A man, a plan\",\"He said \"\"hi\"\"\",entailment\n"
                "\"two\nlines\",b,neutral\n"
                "x,y,contradiction\n");
  ClassificationData d = read_classification_file(p);
  ASSERT_EQ(d.examples.size(), 3u);
  EXPECT_TRUE(d.has_pairs);
  EXPECT_EQ(d.examples[0].text, "A man, a plan");
  EXPECT_EQ(*d.examples[0].text_pair, "He said \"hi\"");
  EXPECT_EQ(d.examples[1].text, "two\nlines");
  EXPECT_EQ(d.examples[2].line, 5);  // the quoted newline took a line
  LabelMap m = LabelMap::from_examples(d.examples);
  EXPECT_EQ(m.names(), (std::vector<std::string>{"contradiction", "entailment", "neutral"}));  // sorted
}

TEST_F(DataFiles, JsonlWithIntegerLabelsAndNames) {
  auto p = file("d.jsonl", "{\"text\": \"good\", \"label\": 1}\n{\"text\": \"bad\", \"label\": 0}\n\n");
  ClassificationData d = read_classification_file(p);
  ASSERT_EQ(d.examples.size(), 2u);
  LabelMap m = LabelMap::from_examples(d.examples, {"NEGATIVE", "POSITIVE"});
  EXPECT_EQ(m.names(), (std::vector<std::string>{"NEGATIVE", "POSITIVE"}));
  EXPECT_EQ(m.encode(d.examples, p), (std::vector<int64_t>{1, 0}));
  EXPECT_EQ(m.id_of("POSITIVE", "x"), 1);  // names work as labels too
  LabelMap f = LabelMap::from_id2label({{0, "NEG"}, {1, "POS"}});
  EXPECT_EQ(f.id_of("1", "x"), 1);
  EXPECT_EQ(f.id_of("NEG", "x"), 0);
}

TEST_F(DataFiles, MalformedRowsNameFileAndLine) {
  auto tsv = file("bad.tsv", "sentence\tlabel\nok\t1\ntoo\tmany\tfields\n");
  std::string e = error_of([&] { read_classification_file(tsv); });
  EXPECT_NE(e.find("bad.tsv:3"), std::string::npos) << e;
  EXPECT_NE(e.find("3 field(s), the header has 2"), std::string::npos) << e;

  auto csv = file("bad.csv", "text,label\n\"unterminated,1\n");
  e = error_of([&] { read_classification_file(csv); });
  EXPECT_NE(e.find("bad.csv:2"), std::string::npos) << e;

  auto json = file("bad.jsonl", "{\"text\": \"a\", \"label\": 1}\n{\"text\": \"b\", \"label\": \n");
  e = error_of([&] { read_classification_file(json); });
  EXPECT_NE(e.find("bad.jsonl:2"), std::string::npos) << e;
  EXPECT_NE(e.find("malformed JSON"), std::string::npos) << e;

  auto nolabel = file("nolabel.jsonl", "{\"text\": \"a\", \"label\": 1}\n{\"text\": \"b\"}\n");
  e = error_of([&] { read_classification_file(nolabel); });
  EXPECT_NE(e.find("nolabel.jsonl:2"), std::string::npos) << e;

  auto empty_text = file("et.tsv", "sentence\tlabel\n \t1\n");
  e = error_of([&] { read_classification_file(empty_text); });
  EXPECT_NE(e.find("et.tsv:2: empty text"), std::string::npos) << e;

  auto cols = file("cols.tsv", "foo\tbar\nx\t1\n");
  e = error_of([&] { read_classification_file(cols); });
  EXPECT_NE(e.find("no text column"), std::string::npos) << e;
  EXPECT_EQ(read_classification_file(cols, {.text_column = "foo", .label_column = "bar"}).examples.size(), 1u);
}

TEST_F(DataFiles, EmptyFilesAndUnknownLabels) {
  std::string e = error_of([&] { read_classification_file(file("e.tsv", "")); });
  EXPECT_NE(e.find("empty"), std::string::npos) << e;
  e = error_of([&] { read_classification_file(file("h.tsv", "sentence\tlabel\n")); });
  EXPECT_NE(e.find("no examples"), std::string::npos) << e;
  e = error_of([&] { read_classification_file(file("e.jsonl", "")); });
  EXPECT_NE(e.find("empty"), std::string::npos) << e;
  e = error_of([&] { read_classification_file(dir / "missing.tsv"); });
  EXPECT_NE(e.find("missing.tsv"), std::string::npos) << e;
  e = error_of([&] { read_classification_file(file("x.parquet", "")); });
  EXPECT_NE(e.find("format"), std::string::npos) << e;

  auto train = read_classification_file(file("t.tsv", "sentence\tlabel\na\tpos\nb\tneg\n"));
  auto dev = file("d.tsv", "sentence\tlabel\nc\tpos\nd\tmaybe\n");
  LabelMap m = LabelMap::from_examples(train.examples);
  e = error_of([&] { m.encode(read_classification_file(dev).examples, dev); });
  EXPECT_NE(e.find("d.tsv:3: unknown label 'maybe' (known labels: neg, pos)"), std::string::npos) << e;

  auto one = read_classification_file(file("one.tsv", "sentence\tlabel\na\tpos\n"));
  e = error_of([&] { LabelMap::from_examples(one.examples); });
  EXPECT_NE(e.find("single label"), std::string::npos) << e;
}
