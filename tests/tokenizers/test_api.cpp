// The encoding API beyond the goldens: truncation strategies and direction, padding, batches,
// overflowing windows, vocabulary queries, special tokens and decoding options.
#include <gtest/gtest.h>

#include <fstream>

#include "common/test_util.h"
#include "xfmr/tokenizers/tokenizer.h"

namespace xfmr::test {
namespace {

using namespace xfmr::tokenizers;

Tokenizer load(const char* name) { return Tokenizer::from_pretrained(shared_dir() / "assets/hf" / name); }

#define REQUIRE_ASSET(name) XFMR_REQUIRE_DIR(shared_dir() / "assets/hf" / name, name)

TEST(TokenizerApi, VocabularyAndSpecialTokens) {
  REQUIRE_ASSET("google-bert--bert-base-uncased");
  Tokenizer bert = load("google-bert--bert-base-uncased");
  EXPECT_EQ(bert.token_to_id("[CLS]"), 101);
  EXPECT_EQ(bert.id_to_token(2088), "world");
  EXPECT_FALSE(bert.token_to_id("not-a-token"));
  EXPECT_FALSE(bert.id_to_token(1 << 20));
  EXPECT_EQ(bert.vocab_size(), 30522u);
  EXPECT_EQ(bert.special_tokens().cls->id, 101);
  EXPECT_EQ(bert.special_tokens().sep->id, 102);
  EXPECT_EQ(bert.special_tokens().pad->id, 0);
  EXPECT_EQ(bert.special_tokens().mask->id, 103);
  EXPECT_EQ(bert.special_tokens().unk->content, "[UNK]");
  EXPECT_FALSE(bert.special_tokens().bos);
  // This (older) tokenizer_config.json has no model_max_length: transformers' "very large" default.
  EXPECT_GT(bert.model_max_length(), size_t(1) << 40);
  EXPECT_EQ(bert.continuing_subword_prefix(), "##");
  EXPECT_EQ(bert.model_type(), "WordPiece");
  EXPECT_EQ(bert.num_special_tokens_to_add(false), 2u);
  EXPECT_EQ(bert.num_special_tokens_to_add(true), 3u);
  EXPECT_EQ(bert.convert_ids_to_tokens(std::vector<int32_t>{101, 7592, 102}, true), (std::vector<std::string>{"hello"}));
  EXPECT_EQ(bert.convert_tokens_to_string({"un", "##believ", "##able", "!"}), "unbelievable!");

  REQUIRE_ASSET("google-t5--t5-small");
  Tokenizer t5 = load("google-t5--t5-small");
  EXPECT_EQ(t5.special_tokens().eos->id, 1);
  EXPECT_EQ(t5.special_tokens().pad->id, 0);
  EXPECT_EQ(t5.special_tokens().unk->id, 2);
  EXPECT_EQ(t5.model_max_length(), 512u);
  EXPECT_EQ(t5.token_to_id("<extra_id_0>"), 32099);
  EXPECT_EQ(t5.vocab_size(), 32100u);
  EXPECT_EQ(t5.model_type(), "Unigram");
  EXPECT_EQ(t5.continuing_subword_prefix(), "");

  REQUIRE_ASSET("openai-community--gpt2");
  Tokenizer gpt2 = load("openai-community--gpt2");
  EXPECT_EQ(gpt2.special_tokens().eos->id, 50256);
  EXPECT_EQ(gpt2.special_tokens().bos->id, 50256);
  EXPECT_FALSE(gpt2.special_tokens().pad);
  EXPECT_EQ(gpt2.vocab_size(), 50257u);
  EXPECT_EQ(gpt2.convert_tokens_to_string({"Hello", "\u0120world"}), "Hello world");
}

TEST(TokenizerApi, LongestFirstAndLeftTruncation) {
  REQUIRE_ASSET("google-bert--bert-base-uncased");
  Tokenizer t = load("google-bert--bert-base-uncased");
  EncodeOptions o;
  o.truncation = {TruncationStrategy::LongestFirst, 10, 0, Direction::Right};
  // 9 + 4 word tokens, budget 10 - 3 = 7: the longer one is cut first (HF: 7 - 4 = 3 < 4 -> 4/3 split).
  auto e = t.encode_pair("a b c d e f g h i", "w x y z", o);
  EXPECT_EQ(e.size(), 10u);
  EXPECT_EQ(e.tokens, (std::vector<std::string>{"[CLS]", "a", "b", "c", "d", "[SEP]", "w", "x", "y", "[SEP]"}));
  o.truncation.direction = Direction::Left;
  e = t.encode("a b c d e f g h i j k l", o);
  EXPECT_EQ(e.tokens, (std::vector<std::string>{"[CLS]", "e", "f", "g", "h", "i", "j", "k", "l", "[SEP]"}));
  EXPECT_EQ(e.overflowing.size(), 1u);
  EXPECT_EQ(e.overflowing[0].tokens, (std::vector<std::string>{"[CLS]", "a", "b", "c", "d", "[SEP]"}));
  // Truncating to exactly the special tokens leaves no text and everything overflows.
  o.truncation = {TruncationStrategy::LongestFirst, 2, 0, Direction::Right};
  e = t.encode("a b", o);
  EXPECT_EQ(e.tokens, (std::vector<std::string>{"[CLS]", "[SEP]"}));
}

TEST(TokenizerApi, OverflowWindowsWithStride) {
  REQUIRE_ASSET("google-bert--bert-base-uncased");
  Tokenizer t = load("google-bert--bert-base-uncased");
  EncodeOptions o;
  o.truncation = {TruncationStrategy::OnlySecond, 12, 2, Direction::Right};
  // question: 2 tokens, context 20 tokens; budget for the context: 12 - 3 - 2 = 7, step 5.
  std::string ctx;
  for (int i = 0; i < 20; ++i) ctx += std::string(1, char('a' + i)) + " ";
  auto e = t.encode_pair("who is", ctx, o);
  ASSERT_EQ(e.size(), 12u);
  // Windows start at 0, 5, 10, 15 (the last one reaches the end).
  ASSERT_EQ(e.overflowing.size(), 3u);
  for (const auto& w : e.overflowing) {
    EXPECT_EQ(w.tokens.front(), "[CLS]");
    EXPECT_EQ(w.tokens.back(), "[SEP]");
    EXPECT_EQ(w.sequence_ids[1], 0);
  }
  EXPECT_EQ(e.overflowing[0].tokens[4], "f");  // window 2 starts at context token 5
  EXPECT_EQ(e.overflowing[0].word_ids[4], 5);
  EXPECT_EQ(e.overflowing[0].offsets[4], (Offsets{10, 11}));
  EXPECT_EQ(e.overflowing[2].tokens[4], "p");
  EXPECT_EQ(e.overflowing[2].size(), 4u + 5u + 1u);
}

TEST(TokenizerApi, Padding) {
  REQUIRE_ASSET("google-bert--bert-base-uncased");
  Tokenizer t = load("google-bert--bert-base-uncased");
  EncodeOptions o;
  o.padding = {PaddingStrategy::MaxLength, 8, 0, Direction::Right};
  auto e = t.encode("hello world", o);
  EXPECT_EQ(e.ids, (std::vector<int32_t>{101, 7592, 2088, 102, 0, 0, 0, 0}));
  // Not written as the literal {1, 1, 1, 1, 0, 0, 0, 0}: GCC 12.2 with AVX-512 (-march=native)
  // miscompiles that initializer into eight 1s (a broadcast without its mask).
  std::vector<int32_t> mask(8, 0);
  std::fill_n(mask.begin(), 4, 1);
  const std::vector<int32_t> special{1, 0, 0, 1, 1, 1, 1, 1};
  EXPECT_EQ(e.attention_mask, mask);
  EXPECT_EQ(e.special_tokens_mask, special);
  EXPECT_EQ(e.word_ids[5], -1);
  EXPECT_EQ(e.tokens[7], "[PAD]");
  o.padding.direction = Direction::Left;
  e = t.encode("hello world", o);
  EXPECT_EQ(e.ids, (std::vector<int32_t>{0, 0, 0, 0, 101, 7592, 2088, 102}));
  EXPECT_EQ(e.sequence_ids, (std::vector<int32_t>{-1, -1, -1, -1, -1, 0, 0, -1}));
  o.padding = {PaddingStrategy::Longest, 0, 8, Direction::Right};
  auto batch = t.encode_batch({"hello", "hello world, how are you doing today my friend?"}, o, 2);
  EXPECT_EQ(batch[0].size(), 16u);
  EXPECT_EQ(batch[1].size(), 16u);
  EXPECT_EQ(batch[1].attention_mask.back(), 0);

  REQUIRE_ASSET("openai-community--gpt2");
  Tokenizer gpt2 = load("openai-community--gpt2");
  EXPECT_THROW(gpt2.encode("x", o), Error);  // no pad token
}

TEST(TokenizerApi, BatchesEqualSingleCalls) {
  REQUIRE_ASSET("openai-community--gpt2");
  Tokenizer t = load("openai-community--gpt2");
  std::vector<std::string> texts;
  for (int i = 0; i < 200; ++i) texts.push_back("Batch line " + std::to_string(i) + " with caf\u00e9 and \U0001F600 emoji.");
  auto batch = t.encode_batch(texts, {}, 2);
  ASSERT_EQ(batch.size(), texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    auto single = t.encode(texts[i]);
    EXPECT_EQ(batch[i].ids, single.ids);
    EXPECT_EQ(batch[i].offsets, single.offsets);
  }
  std::vector<std::vector<int32_t>> ids;
  for (const auto& e : batch) ids.push_back(e.ids);
  auto decoded = t.decode_batch(ids, {}, 2);
  for (size_t i = 0; i < texts.size(); ++i) EXPECT_EQ(decoded[i], texts[i]);
  std::vector<std::pair<std::string, std::string>> pairs = {{"q1", "context one"}, {"q2", "context two"}};
  auto pb = t.encode_batch_pairs(pairs);
  EXPECT_EQ(pb[1].ids, t.encode_pair("q2", "context two").ids);
}

TEST(TokenizerApi, DecodeCleanUpAndHelpers) {
  REQUIRE_ASSET("google-bert--bert-base-uncased");
  Tokenizer t = load("google-bert--bert-base-uncased");
  auto e = t.encode("I don't know , do you ?");
  DecodeOptions d;
  d.skip_special_tokens = true;
  std::string raw = t.decode(e.ids, d);
  d.clean_up_tokenization_spaces = true;
  std::string clean = t.decode(e.ids, d);
  EXPECT_EQ(raw, "i don ' t know, do you?");
  EXPECT_EQ(clean, "i don't know, do you?");
  EXPECT_TRUE(t.clean_up_tokenization_spaces());
  // Helpers: word and char lookups on the encoding.
  EXPECT_EQ(e.token_to_word(1), 0);
  EXPECT_FALSE(e.token_to_word(0));
  EXPECT_EQ(e.char_to_token(3), 2u);  // "don" starts at code point 2
  auto span = e.word_to_tokens(1);
  ASSERT_TRUE(span);
  EXPECT_EQ(span->first, 2u);
}

TEST(TokenizerApi, OffsetsInCodePointsAndBytes) {
  REQUIRE_ASSET("google-bert--bert-base-chinese");
  Tokenizer t = load("google-bert--bert-base-chinese");
  auto e = t.encode("\u6211\u7231 Paris");
  ASSERT_GE(e.size(), 4u);
  EXPECT_EQ(e.offsets[1], (Offsets{0, 1}));
  EXPECT_EQ(e.byte_offsets[1], (Offsets{0, 3}));
  EXPECT_EQ(e.offsets[2], (Offsets{1, 2}));
  EXPECT_EQ(e.byte_offsets[2], (Offsets{3, 6}));
  EXPECT_EQ(e.byte_offsets[3].first, 7u);
  EXPECT_EQ(e.offsets[3].first, 3u);
}

// A legacy vocab.txt folder whose tokenizer_config.json adds tokens: they are matched in the text
// (transformers adds additional_special_tokens and added_tokens_decoder entries on load).
TEST(TokenizerApi, ConfigAddsTokens) {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / ("xfmr_tok_cfg_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  {
    std::ofstream v(dir / "vocab.txt");
    v << "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\nworld\n";
    std::ofstream c(dir / "tokenizer_config.json");
    c << R"({"do_lower_case": true, "model_max_length": 32, "additional_special_tokens": ["<ent>"],
             "added_tokens_decoder": {"9": {"content": "<sep2>", "special": true, "normalized": false,
                                            "lstrip": false, "rstrip": false, "single_word": false}}})";
  }
  Tokenizer t = Tokenizer::from_pretrained(dir);
  auto e = t.encode("Hello <ent> world <sep2>");
  EXPECT_EQ(e.tokens, (std::vector<std::string>{"[CLS]", "hello", "<ent>", "world", "<sep2>", "[SEP]"}));
  EXPECT_EQ(e.ids, (std::vector<int32_t>{2, 5, 10, 6, 9, 3}));
  EXPECT_EQ(t.model_max_length(), 32u);
  EXPECT_TRUE(t.is_special_id(10));
  EXPECT_EQ(t.decode(e.ids, {.skip_special_tokens = true}), "hello world");
  fs::remove_all(dir);
}

}  // namespace
}  // namespace xfmr::test
