// Tokenizer trainers: the BPE / WordPiece merge loop on hand-checkable corpora (the HF course's
// hug/pug/pun/bun/hugs example), options, the written tokenizer.json (loads, encodes, round trips).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "xfmr/core/error.h"
#include "xfmr/tokenizers/tokenizer.h"
#include "xfmr/tokenizers/trainer.h"

using namespace xfmr;
using namespace xfmr::tokenizers;

namespace {

// word counts: hug 10, pug 5, pun 12, bun 4, hugs 5
void feed_hug(BpeTrainer& t) {
  t.add_word("hug", 10);
  t.add_word("pug", 5);
  t.add_word("pun", 12);
  t.add_word("bun", 4);
  t.add_word("hugs", 5);
}

std::vector<std::string> hug_lines() {
  std::vector<std::string> lines;
  auto rep = [&](const char* w, int n) {
    for (int i = 0; i < n; ++i) lines.push_back(i % 2 ? w : std::string(" ") + w + " ");
  };
  rep("hug", 10);
  rep("Pug", 5);  // BertNormalizer lowercases
  rep("pun", 12);
  rep("bun", 4);
  rep("hugs", 5);
  return lines;
}

}  // namespace

TEST(TokenizerTrainer, BpeMergesInHandComputedOrder) {
  TrainerOptions o;
  o.vocab_size = 14;
  BpeTrainer t(o);
  feed_hug(t);
  TrainedVocab v = t.train();
  // Alphabet by code point, then: u+g (20), u+n (16), h+ug (15), p+un (12), p+ug (5, ties with
  // hug+s: the pair of smaller ids wins), hug+s (5).
  std::vector<std::string> expect = {"b", "g", "h", "n", "p", "s", "u", "ug", "un", "hug", "pun", "pug", "hugs", "bun"};
  EXPECT_EQ(v.vocab, expect);
  std::vector<std::pair<std::string, std::string>> merges = {{"u", "g"},  {"u", "n"},   {"h", "ug"},
                                                             {"p", "un"}, {"p", "ug"},  {"hug", "s"},
                                                             {"b", "un"}};
  EXPECT_EQ(v.merges, merges);
}

TEST(TokenizerTrainer, WordPiecePrefixAndSpecials) {
  TrainerOptions o;
  o.vocab_size = 15;
  o.special_tokens = {"[UNK]"};
  o.continuing_subword_prefix = "##";
  BpeTrainer t(o);
  feed_hug(t);
  TrainedVocab v = t.train();
  // Prefixed characters get ids as words are visited in byte order (bun, hug, hugs, ...); the
  // prefix of the right part is dropped when merging (h + ##ug = hug).
  std::vector<std::string> expect = {"[UNK]", "b",   "g",   "h",   "n",    "p",    "s",  "u",
                                     "##u",   "##n", "##g", "##s", "##ug", "##un", "hug"};
  EXPECT_EQ(v.vocab, expect);
}

TEST(TokenizerTrainer, MinFrequencyAndLimitAlphabet) {
  TrainerOptions o;
  o.vocab_size = 100;
  o.min_frequency = 13;  // pun (12) is below
  BpeTrainer t(o);
  feed_hug(t);
  TrainedVocab v = t.train();
  EXPECT_EQ(v.vocab.size(), 7u + 3u);
  EXPECT_EQ(v.vocab.back(), "hug");

  TrainerOptions l;
  l.vocab_size = 3;
  l.limit_alphabet = 3;  // u 36, g 20, p 17 are the most frequent
  BpeTrainer t2(l);
  feed_hug(t2);
  EXPECT_EQ(t2.train().vocab, (std::vector<std::string>{"g", "p", "u"}));

  TrainerOptions i;
  i.vocab_size = 1;
  i.initial_alphabet = {"z"};
  i.limit_alphabet = 1;  // the initial alphabet always survives
  BpeTrainer t3(i);
  feed_hug(t3);
  EXPECT_EQ(t3.train().vocab, (std::vector<std::string>{"z"}));
}

TEST(TokenizerTrainer, WordPieceTokenizerJsonLoadsAndEncodes) {
  TokenizerTrainOptions o;
  o.trainer.vocab_size = 19;
  o.trainer.min_frequency = 0;
  std::string text = train_tokenizer_from_lines(hug_lines(), o);
  Tokenizer tok = Tokenizer::from_json(text);
  EXPECT_EQ(tok.model_type(), "WordPiece");
  EXPECT_EQ(tok.vocab_size(), 19u);
  EXPECT_EQ(tok.token_to_id("[PAD]"), 0);
  EXPECT_EQ(tok.token_to_id("[MASK]"), 4);
  EXPECT_EQ(tok.token_to_id("hug"), 18);
  Encoding e = tok.encode("Hugs pun!");
  EXPECT_EQ(e.tokens, (std::vector<std::string>{"[CLS]", "hug", "##s", "p", "##un", "[UNK]", "[SEP]"}));
  EXPECT_EQ(tok.decode(e.ids, {.skip_special_tokens = true}), "hugs pun");
  Encoding p = tok.encode_pair("hug", "bun");
  EXPECT_EQ(p.type_ids, (std::vector<int32_t>{0, 0, 0, 1, 1, 1}));
  // HF's schema: version, added_tokens with flags, model.vocab in id order.
  auto j = nlohmann::json::parse(text);
  EXPECT_EQ(j["version"], "1.0");
  EXPECT_EQ(j["model"]["type"], "WordPiece");
  EXPECT_EQ(j["added_tokens"][2]["content"], "[CLS]");
  EXPECT_EQ(j["added_tokens"][2]["special"], true);
  EXPECT_EQ(j["post_processor"]["special_tokens"]["[SEP]"]["ids"][0], 3);
}

TEST(TokenizerTrainer, ByteLevelBpeRoundTrips) {
  TokenizerTrainOptions o;
  o.pipeline = TrainerPipeline::ByteLevelBpe;
  o.trainer.vocab_size = 300;
  std::vector<std::string> lines = {"the cat sat on the mat", "the dog sat on the log", "caf\xc3\xa9 na\xc3\xafve"};
  std::string text = train_tokenizer_from_lines(lines, o);
  Tokenizer tok = Tokenizer::from_json(text);
  EXPECT_EQ(tok.model_type(), "BPE");
  EXPECT_EQ(tok.token_to_id("<s>"), 0);
  EXPECT_GE(tok.vocab_size(), 5u + 256u);
  EXPECT_TRUE(tok.token_to_id("\xc4\xa0the").has_value());  // "Ġthe": a frequent merge
  // Every byte is in the alphabet, so unseen text round trips.
  const std::string unseen = "Zebra \xf0\x9f\x98\x80 quux";
  Encoding e = tok.encode(unseen);
  EXPECT_EQ(e.tokens.front(), "<s>");
  EXPECT_EQ(e.tokens.back(), "</s>");
  EXPECT_EQ(tok.decode(e.ids, {.skip_special_tokens = true}), unseen);
}

TEST(TokenizerTrainer, FilesBadInputAndConfig) {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / "xfmr_test_trainer";
  fs::create_directories(dir);
  {
    std::ofstream(dir / "a.txt") << "hello world\nhello there\n";
    std::ofstream(dir / "bad.txt") << "fine\nbad \xff byte\n";
    std::ofstream(dir / "empty.txt") << "";
  }
  TokenizerTrainOptions o;
  o.trainer.vocab_size = 40;
  Tokenizer tok = Tokenizer::from_json(train_tokenizer({dir / "a.txt"}, o));
  EXPECT_EQ(tok.encode("hello").tokens[1], "hello");
  try {
    train_tokenizer({dir / "bad.txt"}, o);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("bad.txt:2"), std::string::npos) << e.what();
  }
  EXPECT_THROW(train_tokenizer({dir / "empty.txt"}, o), Error);
  EXPECT_THROW(train_tokenizer({dir / "missing.txt"}, o), Error);
  TokenizerTrainOptions no_cls;
  no_cls.trainer.special_tokens = {"[UNK]"};
  EXPECT_THROW(train_tokenizer({dir / "a.txt"}, no_cls), Error);
  // tokenizer_config.json: what transformers' AutoTokenizer reads.
  o.trainer.special_tokens.clear();  // the defaults are written out
  auto c = nlohmann::json::parse(tokenizer_config_for(o, 64));
  EXPECT_EQ(c["tokenizer_class"], "BertTokenizer");
  EXPECT_EQ(c["model_max_length"], 64);
  EXPECT_EQ(c["cls_token"], "[CLS]");
  fs::remove_all(dir);
}
