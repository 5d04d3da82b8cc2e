// Components the goldens do not exercise (other normalizers, pre-tokenizers, decoders, added-token
// flags), checked through small tokenizer.json pipelines against HF's documented behaviour, and the
// hand-written GPT-2 splitter checked against Oniguruma running HF's regex.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>

#include "xfmr/tokenizers/tokenizer.h"

namespace xfmr::test {
namespace {

using tokenizers::Encoding;
using tokenizers::Offsets;
using tokenizers::Tokenizer;

std::string nlohmann_quote(const std::string& s) { return nlohmann::json(s).dump(); }

// A BPE model whose vocabulary is the given single characters (no merges): tokens = characters,
// so the normalized text and the word splits become visible.
std::string char_model(const std::vector<std::string>& chars, const std::string& extra_vocab = "") {
  std::string v;
  for (size_t i = 0; i < chars.size(); ++i) v += (i ? "," : "") + nlohmann_quote(chars[i]) + ":" + std::to_string(i);
  if (!extra_vocab.empty()) v += "," + extra_vocab;
  return R"({"type":"BPE","unk_token":null,"vocab":{)" + v + R"(},"merges":[]})";
}

std::string pipeline(const std::string& model, const std::string& normalizer = "null", const std::string& pre = "null",
                     const std::string& decoder = "null", const std::string& added = "[]") {
  return R"({"version":"1.0","added_tokens":)" + added + R"(,"normalizer":)" + normalizer + R"(,"pre_tokenizer":)" +
         pre + R"(,"post_processor":null,"decoder":)" + decoder + R"(,"model":)" + model + "}";
}

std::vector<std::string> ascii_chars() {
  std::vector<std::string> c;
  for (int ch = 32; ch < 127; ++ch) c.push_back(std::string(1, static_cast<char>(ch)));
  return c;
}

// Groups the tokens by word id: the pre-tokenizer's splits as text.
std::vector<std::string> words(const Encoding& e) {
  std::vector<std::string> w;
  for (size_t i = 0; i < e.size(); ++i) {
    if (i == 0 || e.word_ids[i] != e.word_ids[i - 1]) w.emplace_back();
    w.back() += e.tokens[i];
  }
  return w;
}

std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += x;
  return s;
}

TEST(TokenizerComponents, Normalizers) {
  auto chars = ascii_chars();
  chars.push_back("\u2581");
  chars.push_back("\u00e9");
  {
    Tokenizer t = Tokenizer::from_json(pipeline(char_model(chars), R"({"type":"Lowercase"})"));
    auto e = t.encode("HeLLo");
    EXPECT_EQ(joined(e.tokens), "hello");
    EXPECT_EQ(e.offsets[1], (Offsets{1, 2}));
  }
  {
    // Replacing one char by two: both new chars map to the replaced char.
    Tokenizer t = Tokenizer::from_json(
        pipeline(char_model(chars), R"({"type":"Replace","pattern":{"String":"a"},"content":"bb"})"));
    auto e = t.encode("cab");
    EXPECT_EQ(e.tokens, (std::vector<std::string>{"c", "b", "b", "b"}));
    EXPECT_EQ(e.offsets, (std::vector<Offsets>{{0, 1}, {1, 2}, {1, 2}, {2, 3}}));
  }
  {
    Tokenizer t = Tokenizer::from_json(
        pipeline(char_model(chars), R"({"type":"Replace","pattern":{"Regex":" {2,}"},"content":" "})"));
    EXPECT_EQ(joined(t.encode("a    b  c").tokens), "a b c");
  }
  {
    Tokenizer t = Tokenizer::from_json(pipeline(char_model(chars), R"({"type":"Prepend","prepend":"\u2581"})"));
    auto e = t.encode("ab");
    EXPECT_EQ(e.tokens, (std::vector<std::string>{"\u2581", "a", "b"}));
    EXPECT_EQ(e.offsets, (std::vector<Offsets>{{0, 1}, {0, 1}, {1, 2}}));
    EXPECT_TRUE(t.encode("").ids.empty());
  }
  {
    Tokenizer t = Tokenizer::from_json(
        pipeline(char_model(chars), R"({"type":"Strip","strip_left":true,"strip_right":true})"));
    auto e = t.encode("  ab ");
    EXPECT_EQ(e.tokens, (std::vector<std::string>{"a", "b"}));
    EXPECT_EQ(e.offsets, (std::vector<Offsets>{{2, 3}, {3, 4}}));
  }
  {
    // NFKC folds the ligature into two letters that both point at it.
    Tokenizer t = Tokenizer::from_json(pipeline(char_model(chars), R"({"type":"NFKC"})"));
    auto e = t.encode("x\uFB01");
    EXPECT_EQ(e.tokens, (std::vector<std::string>{"x", "f", "i"}));
    EXPECT_EQ(e.offsets, (std::vector<Offsets>{{0, 1}, {1, 2}, {1, 2}}));
    EXPECT_EQ(e.byte_offsets, (std::vector<Offsets>{{0, 1}, {1, 4}, {1, 4}}));
  }
  {
    Tokenizer t = Tokenizer::from_json(pipeline(char_model(chars), R"({"type":"NFC"})"));
    EXPECT_EQ(joined(t.encode("e\u0301").tokens), "\u00e9");
  }
  {
    Tokenizer t = Tokenizer::from_json(
        pipeline(char_model(chars), R"({"type":"Sequence","normalizers":[{"type":"NFD"},{"type":"StripAccents"},{"type":"Lowercase"}]})"));
    auto e = t.encode("\u00c9t\u00e9");
    EXPECT_EQ(joined(e.tokens), "ete");
    EXPECT_EQ(e.offsets, (std::vector<Offsets>{{0, 1}, {1, 2}, {2, 3}}));
  }
  {
    Tokenizer t = Tokenizer::from_json(pipeline(char_model(chars), R"({"type":"Nmt"})"));
    EXPECT_EQ(joined(t.encode("a\x01" "b\tc").tokens), "ab c");
  }
}

TEST(TokenizerComponents, PreTokenizers) {
  std::string m = char_model(ascii_chars());
  auto split = [&](const std::string& pre, const std::string& text) {
    return words(Tokenizer::from_json(pipeline(m, "null", pre)).encode(text));
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(split(R"({"type":"Whitespace"})", "Hey man!! How's it going?"),
            (V{"Hey", "man", "!!", "How", "'", "s", "it", "going", "?"}));
  EXPECT_EQ(split(R"({"type":"WhitespaceSplit"})", "Hey man!!  How's"), (V{"Hey", "man!!", "How's"}));
  EXPECT_EQ(split(R"({"type":"Punctuation"})", "Hey friend!     How are you?!?"),
            (V{"Hey friend", "!", "     How are you", "?", "!", "?"}));
  EXPECT_EQ(split(R"({"type":"Digits","individual_digits":true})", "Hey 123 friend!"),
            (V{"Hey ", "1", "2", "3", " friend!"}));
  EXPECT_EQ(split(R"({"type":"Digits","individual_digits":false})", "Hey 123 friend!"), (V{"Hey ", "123", " friend!"}));
  EXPECT_EQ(split(R"({"type":"CharDelimiterSplit","delimiter":"-"})", "the-final--countdown"),
            (V{"the", "final", "countdown"}));
  auto behavior = [&](const char* b) {
    return split(std::string(R"({"type":"Split","pattern":{"String":"-"},"invert":false,"behavior":")") + b + "\"}",
                 "the-final--countdown");
  };
  EXPECT_EQ(behavior("Removed"), (V{"the", "final", "countdown"}));
  EXPECT_EQ(behavior("Isolated"), (V{"the", "-", "final", "-", "-", "countdown"}));
  EXPECT_EQ(behavior("MergedWithPrevious"), (V{"the-", "final-", "-", "countdown"}));
  EXPECT_EQ(behavior("MergedWithNext"), (V{"the", "-final", "-", "-countdown"}));
  EXPECT_EQ(behavior("Contiguous"), (V{"the", "-", "final", "--", "countdown"}));
  EXPECT_EQ(split(R"({"type":"Split","pattern":{"Regex":"\\d+"},"invert":true,"behavior":"Removed"})", "ab12cd345"),
            (V{"12", "345"}));
  EXPECT_EQ(split(R"({"type":"Sequence","pretokenizers":[{"type":"WhitespaceSplit"},{"type":"Punctuation"}]})",
                  "a,b c"),
            (V{"a", ",", "b", "c"}));
}

TEST(TokenizerComponents, Decoders) {
  auto decode = [](const std::string& decoder, const std::vector<std::string>& tokens) {
    Tokenizer t = Tokenizer::from_json(pipeline(char_model({"a"}), "null", "null", decoder));
    return t.convert_tokens_to_string(tokens);
  };
  EXPECT_EQ(decode(R"({"type":"Sequence","decoders":[{"type":"ByteFallback"},{"type":"Fuse"}]})",
                   {"<0x61>", "b", "<0xE4>", "<0xB8>", "<0xAD>", "x", "<0xFF>", "y", "<0xE4>", "<0xFF>"}),
            "ab\u4e2dx\ufffdy\ufffd\ufffd");  // an invalid byte run gives one U+FFFD per byte
  EXPECT_EQ(decode(R"({"type":"Sequence","decoders":[{"type":"Replace","pattern":{"String":"\u2581"},"content":" "},
                      {"type":"ByteFallback"},{"type":"Fuse"},{"type":"Strip","content":" ","start":1,"stop":0}]})",
                   {"\u2581Hello", "\u2581world"}),
            "Hello world");
  EXPECT_EQ(decode(R"({"type":"BPEDecoder","suffix":"</w>"})", {"hel", "lo</w>", "world</w>"}), "hello world");
  EXPECT_EQ(decode(R"({"type":"CTC","pad_token":"<pad>","word_delimiter_token":"|","cleanup":true})",
                   {"<pad>", "h", "h", "e", "l", "l", "<pad>", "l", "o", "|", "w"}),
            "hello w");
  EXPECT_EQ(decode(R"({"type":"WordPiece","prefix":"##","cleanup":true})", {"un", "##aff", "##able", ",", "do", "n't"}),
            "unaffable, don't");
  EXPECT_EQ(decode(R"({"type":"Metaspace","replacement":"\u2581","prepend_scheme":"always","split":true})",
                   {"\u2581Hey", "\u2581friend", "!"}),
            "Hey friend!");
  EXPECT_EQ(decode(R"({"type":"ByteLevel"})", {"Hello", "\u0120w\u00c3\u00b6rld", "\u00e2"}), "Hello w\u00f6rld\ufffd");
}

TEST(TokenizerComponents, AddedTokenFlags) {
  auto chars = ascii_chars();
  // HF's options_use_cases: lstrip/rstrip swallow spaces, normalized tokens match the lowercased
  // text, single_word tokens do not match inside words.
  std::string added = R"([
    {"id":100,"content":"my","single_word":false,"lstrip":true,"rstrip":true,"normalized":true,"special":false},
    {"id":101,"content":"name","single_word":false,"lstrip":false,"rstrip":false,"normalized":true,"special":false},
    {"id":102,"content":"ony","single_word":true,"lstrip":false,"rstrip":false,"normalized":true,"special":false},
    {"id":103,"content":"[CLS]","single_word":false,"lstrip":false,"rstrip":false,"normalized":false,"special":true},
    {"id":104,"content":"[SEP]","single_word":false,"lstrip":false,"rstrip":false,"normalized":false,"special":true}])";
  Tokenizer t = Tokenizer::from_json(pipeline(char_model(chars), R"({"type":"Lowercase"})", "null", "null", added));
  auto e = t.encode("[CLS] My name is Anthony [SEP]");
  auto w = words(e);
  EXPECT_EQ(w, (std::vector<std::string>{"[CLS]", " my ", "name", " is anthony ", "[SEP]"}));
  EXPECT_EQ(e.ids[0], 103);
  EXPECT_EQ(e.ids[1], 100);
  EXPECT_EQ(e.offsets[1], (Offsets{5, 9}));
  EXPECT_TRUE(t.is_special_id(103));
  EXPECT_FALSE(t.is_special_id(100));
  EXPECT_EQ(t.decode(e.ids, {.skip_special_tokens = true}).find("[CLS]"), std::string::npos);

  std::string mask = R"([{"id":100,"content":"<mask>","single_word":true,"lstrip":false,"rstrip":false,"normalized":true,"special":false}])";
  Tokenizer m = Tokenizer::from_json(pipeline(char_model(chars), R"({"type":"Lowercase"})", "null", "null", mask));
  EXPECT_EQ(words(m.encode("<mask> My name <mask> A<mask> <mask>ony <mask>")),
            (std::vector<std::string>{"<mask>", " my name ", "<mask>", " a<mask> <mask>ony ", "<mask>"}));
}

// The ByteLevel pre-tokenizer's hand-written GPT-2 splitter against HF's regex run by Oniguruma
// (a Split pre-tokenizer), on random strings mixing the character classes the pattern cares about.
TEST(TokenizerComponents, Gpt2SplitterMatchesOniguruma) {
  std::string vocab;
  // Vocabulary = the 256 byte characters, computed like the ByteLevel table.
  int next = 256, id = 0;
  for (int b = 0; b < 256; ++b) {
    bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    char32_t cp = printable ? char32_t(b) : char32_t(next++);
    std::string u;
    if (cp < 0x80) u = std::string(1, char(cp));
    else {
      u.push_back(char(0xC0 | (cp >> 6)));
      u.push_back(char(0x80 | (cp & 0x3F)));
    }
    vocab += (id ? "," : "") + nlohmann_quote(u) + ":" + std::to_string(id);
    ++id;
  }
  std::string model = R"({"type":"BPE","unk_token":null,"vocab":{)" + vocab + R"(},"merges":[]})";
  Tokenizer fast = Tokenizer::from_json(pipeline(model, "null", R"({"type":"ByteLevel","add_prefix_space":false,"use_regex":true})"));
  Tokenizer onig = Tokenizer::from_json(pipeline(
      model, "null",
      R"({"type":"Sequence","pretokenizers":[{"type":"Split","pattern":{"Regex":"'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"},"behavior":"Isolated","invert":false},{"type":"ByteLevel","add_prefix_space":false,"use_regex":false}]})"));
  const std::vector<std::string> pool = {
      "a", "Z", "q", "1", "9", " ", " ", "  ", "\t", "\n", "\r", "\x0b", "'", "'s", "'t", "'re", "'ve", "'m", "'ll", "'d",
      "'S", ".", ",", "!", "-", "_", "$", "\u00a0", "\u3000", "\u2028", "\u0085", "\u1680", "\u200b", "\u00e9", "\u0301",
      "\u4e2d", "\u0663", "\u00bd", "\u2167", "\U0001F600", "\u00df", "\u05d0", "\ufeff", "\u2003"};
  std::mt19937 rng(1234);
  for (int iter = 0; iter < 3000; ++iter) {
    std::string s;
    int n = 1 + static_cast<int>(rng() % 12);
    for (int k = 0; k < n; ++k) s += pool[rng() % pool.size()];
    auto a = fast.encode(s), b = onig.encode(s);
    ASSERT_EQ(a.word_ids, b.word_ids) << "text: " << nlohmann_quote(s);
    ASSERT_EQ(a.offsets, b.offsets) << "text: " << nlohmann_quote(s);
    ASSERT_EQ(a.ids, b.ids) << "text: " << nlohmann_quote(s);
  }
}

}  // namespace
}  // namespace xfmr::test
