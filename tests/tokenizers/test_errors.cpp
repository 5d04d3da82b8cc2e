// Bad input: invalid UTF-8, unknown component types, malformed/truncated JSON, empty vocabularies,
// missing files. Every case must be a clear xfmr::Error naming the file/entry, never a crash.
#include <gtest/gtest.h>

#include <fstream>

#include "common/test_util.h"
#include "xfmr/core/error.h"
#include "xfmr/tokenizers/tokenizer.h"

namespace xfmr::test {
namespace {

using tokenizers::Tokenizer;
namespace fs = std::filesystem;

// A tiny valid WordPiece tokenizer.json with pluggable components.
std::string tiny_json(const std::string& normalizer = "null", const std::string& pre = R"({"type":"BertPreTokenizer"})",
                      const std::string& model = "", const std::string& decoder = "null",
                      const std::string& post = "null") {
  std::string m = model.empty()
                      ? R"({"type":"WordPiece","unk_token":"[UNK]","continuing_subword_prefix":"##",
                          "max_input_chars_per_word":100,"vocab":{"[UNK]":0,"hello":1,"world":2,"##s":3}})"
                      : model;
  return R"({"version":"1.0","added_tokens":[],"normalizer":)" + normalizer + R"(,"pre_tokenizer":)" + pre +
         R"(,"post_processor":)" + post + R"(,"decoder":)" + decoder + R"(,"model":)" + m + "}";
}

// Runs f and returns the xfmr::Error message ("" when nothing was thrown).
template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

fs::path temp_dir(const std::string& name) {
  fs::path d = fs::temp_directory_path() / ("xfmr_tok_test_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

void write(const fs::path& p, const std::string& s) {
  std::ofstream f(p, std::ios::binary);
  f << s;
}

TEST(TokenizerErrors, TinyTokenizerWorks) {
  Tokenizer t = Tokenizer::from_json(tiny_json(), "tiny.json");
  auto e = t.encode("hello worlds");
  EXPECT_EQ(e.ids, (std::vector<int32_t>{1, 2, 3}));
}

TEST(TokenizerErrors, InvalidUtf8IsAClearError) {
  Tokenizer t = Tokenizer::from_json(tiny_json(), "tiny.json");
  for (std::string bad : {std::string("hello \xff world"), std::string("truncated \xe4\xb8"),
                          std::string("overlong \xc0\xaf"), std::string("surrogate \xed\xa0\x80"),
                          std::string("too big \xf5\x80\x80\x80")}) {
    std::string msg = error_of([&] { t.encode(bad); });
    EXPECT_NE(msg.find("not valid UTF-8"), std::string::npos) << msg;
    EXPECT_NE(msg.find("at byte"), std::string::npos) << msg;
  }
  EXPECT_NE(error_of([&] { t.encode_pair("ok", "bad \x80"); }).find("text pair is not valid UTF-8"), std::string::npos);
}

TEST(TokenizerErrors, UnknownComponentTypesNameTheTypeAndFile) {
  struct Case {
    std::string json, type, entry;
  };
  std::vector<Case> cases = {
      {tiny_json(R"({"type":"FancyNorm"})"), "FancyNorm", "normalizer"},
      {tiny_json(R"({"type":"Sequence","normalizers":[{"type":"NFC"},{"type":"Mystery"}]})"), "Mystery",
       "normalizer.normalizers[1]"},
      {tiny_json("null", R"({"type":"SplitEverything"})"), "SplitEverything", "pre_tokenizer"},
      {tiny_json("null", "null", R"({"type":"NeuralBPE","vocab":{}})"), "NeuralBPE", "model"},
      {tiny_json("null", "null", "", R"({"type":"Telepathy"})"), "Telepathy", "decoder"},
      {tiny_json("null", "null", "", "null", R"({"type":"Glue"})"), "Glue", "post_processor"},
  };
  for (const auto& c : cases) {
    std::string msg = error_of([&] { Tokenizer::from_json(c.json, "/models/x/tokenizer.json"); });
    EXPECT_NE(msg.find("'" + c.type + "'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("/models/x/tokenizer.json"), std::string::npos) << msg;
    EXPECT_NE(msg.find(c.entry), std::string::npos) << msg;
  }
}

TEST(TokenizerErrors, MalformedAndTruncatedJson) {
  for (std::string text : {std::string(""), std::string("{"), std::string("[1,2,3]"), std::string("{\"model\": 5}"),
                           tiny_json().substr(0, 120), std::string("{\"version\":\"1.0\"}")}) {
    std::string msg = error_of([&] { Tokenizer::from_json(text, "broken.json"); });
    EXPECT_NE(msg.find("broken.json"), std::string::npos) << "input: " << text << "\nmessage: " << msg;
  }
  // A real file cut in the middle.
  auto bert = shared_dir() / "assets/hf/google-bert--bert-base-uncased/tokenizer.json";
  if (fs::exists(bert)) {
    std::ifstream f(bert, std::ios::binary);
    std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    auto dir = temp_dir("truncated");
    write(dir / "tokenizer.json", s.substr(0, s.size() / 2));
    std::string msg = error_of([&] { Tokenizer::from_pretrained(dir); });
    EXPECT_NE(msg.find("malformed JSON"), std::string::npos) << msg;
    EXPECT_NE(msg.find((dir / "tokenizer.json").string()), std::string::npos) << msg;
    fs::remove_all(dir);
  }
}

TEST(TokenizerErrors, WrongFieldTypes) {
  EXPECT_NE(error_of([] {
              Tokenizer::from_json(tiny_json("null", "null", R"({"type":"WordPiece","vocab":{"a":"x"}})"), "f.json");
            }).find("entry 'a'"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              Tokenizer::from_json(tiny_json(R"({"type":"BertNormalizer","lowercase":"yes"})"), "f.json");
            }).find("'lowercase' must be true or false"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              Tokenizer::from_json(tiny_json("null", R"({"type":"Split","pattern":{"Regex":"(unclosed"},"behavior":"Isolated"})"),
                                   "f.json");
            }).find("invalid regex"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              Tokenizer::from_json(
                  tiny_json("null", "null", R"({"type":"BPE","vocab":{"a":0,"b":1},"merges":["a b"]})"), "f.json");
            }).find("'ab' which is not in the vocab"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              Tokenizer::from_json(tiny_json(R"({"type":"Precompiled","precompiled_charsmap":"AAAA"})"), "f.json");
            }).find("precompiled_charsmap"),
            std::string::npos);
}

TEST(TokenizerErrors, EmptyVocabularies) {
  for (std::string model : {std::string(R"({"type":"WordPiece","vocab":{}})"), std::string(R"({"type":"BPE","vocab":{},"merges":[]})"),
                            std::string(R"({"type":"Unigram","vocab":[],"unk_id":null})"),
                            std::string(R"({"type":"WordLevel","vocab":{},"unk_token":"<unk>"})")}) {
    std::string msg = error_of([&] { Tokenizer::from_json(tiny_json("null", "null", model), "empty.json"); });
    EXPECT_NE(msg.find("vocabulary is empty"), std::string::npos) << model << ": " << msg;
    EXPECT_NE(msg.find("empty.json"), std::string::npos) << msg;
  }
  auto dir = temp_dir("emptyvocab");
  write(dir / "vocab.txt", "");
  std::string msg = error_of([&] { Tokenizer::from_pretrained(dir); });
  EXPECT_NE(msg.find("vocabulary is empty"), std::string::npos) << msg;
  EXPECT_NE(msg.find("vocab.txt"), std::string::npos) << msg;
  fs::remove_all(dir);
}

TEST(TokenizerErrors, MissingFiles) {
  EXPECT_NE(error_of([] { Tokenizer::from_pretrained("/nonexistent/model"); }).find("does not exist"), std::string::npos);
  EXPECT_NE(error_of([] { Tokenizer::from_file("/nonexistent/tokenizer.json"); }).find("cannot open"), std::string::npos);
  auto dir = temp_dir("nofiles");
  std::string msg = error_of([&] { Tokenizer::from_pretrained(dir); });
  EXPECT_NE(msg.find("no tokenizer files"), std::string::npos) << msg;
  write(dir / "vocab.json", R"({"a":0})");
  msg = error_of([&] { Tokenizer::from_pretrained(dir); });
  EXPECT_NE(msg.find("needs both vocab.json and merges.txt"), std::string::npos) << msg;
  write(dir / "merges.txt", "#version: 0.2\nonlyone\n");
  msg = error_of([&] { Tokenizer::from_pretrained(dir); });
  EXPECT_NE(msg.find("line 2"), std::string::npos) << msg;
  fs::remove_all(dir);
  auto spm = temp_dir("badspm");
  write(spm / "spiece.model", "this is not a protobuf");
  msg = error_of([&] { Tokenizer::from_pretrained(spm); });
  EXPECT_NE(msg.find("spiece.model"), std::string::npos) << msg;
  fs::remove_all(spm);
}

TEST(TokenizerErrors, UnknownTokenMissingFromVocab) {
  Tokenizer t = Tokenizer::from_json(
      tiny_json("null", R"({"type":"BertPreTokenizer"})", R"({"type":"WordPiece","unk_token":"[UNK]","vocab":{"a":0}})"),
      "f.json");
  EXPECT_EQ(t.encode("a").ids, (std::vector<int32_t>{0}));
  EXPECT_NE(error_of([&] { t.encode("b"); }).find("'[UNK]' is not in the vocabulary"), std::string::npos);
}

TEST(TokenizerErrors, TruncationArguments) {
  auto dir = shared_dir() / "assets/hf/google-bert--bert-base-uncased";
  XFMR_REQUIRE_DIR(dir, "bert-base-uncased");
  Tokenizer t = Tokenizer::from_pretrained(dir);
  tokenizers::EncodeOptions o;
  o.truncation.strategy = tokenizers::TruncationStrategy::OnlySecond;
  o.truncation.max_length = 8;
  EXPECT_NE(error_of([&] { t.encode("one two three four five six seven eight nine", o); }).find("needs a text pair"),
            std::string::npos);
  o.truncation.stride = 10;
  EXPECT_NE(error_of([&] { t.encode_pair("question", "a b c d e f g h i j k l", o); }).find("stride"), std::string::npos);
  o.truncation.max_length = 2;
  o.truncation.stride = 0;
  EXPECT_NE(error_of([&] { t.encode_pair("q", "c", o); }).find("smaller than the 3 special tokens"), std::string::npos);
  o.truncation.max_length = 6;
  EXPECT_NE(error_of([&] { t.encode_pair("a b c d e f g h", "c d e f", o); }).find("too short to truncate"),
            std::string::npos);
}

}  // namespace
}  // namespace xfmr::test
