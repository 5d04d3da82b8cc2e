// Language-model corpora: torchtext's basic_english, Python's str.split(), the two vocabulary
// conventions (sizes on WikiText-2 as PyTorch computes them) and bad-input errors.
#include <gtest/gtest.h>

#include <fstream>
#include <functional>

#include "common/test_util.h"
#include "xfmr/core/error.h"
#include "xfmr/data/lm_corpus.h"

using namespace xfmr;
using namespace xfmr::data;

namespace {

using Words = std::vector<std::string>;

std::filesystem::path wikitext_dir() { return test::shared_dir() / "assets" / "wikitext-2"; }

// A scratch folder under the build tree, emptied first.
std::filesystem::path scratch(const std::string& name) {
  auto d = std::filesystem::temp_directory_path() / ("xfmr_test_data_" + name);
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d;
}

void write(const std::filesystem::path& p, const std::string& text) {
  std::ofstream f(p, std::ios::binary);
  f << text;
}

// FNV-1a 64 of the vocabulary as vocab.txt stores it (token + '\n' each), to compare a whole
// vocabulary, order included, with the one Python builds.
uint64_t vocab_hash(const Vocab& v) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (const auto& t : v.itos())
    for (unsigned char b : t + "\n") h = (h ^ b) * 0x100000001b3ull;
  return h;
}

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

// Expected outputs: torchtext's rules (lowercase; ' -> " '  ", " removed, . , ( ) ! ? spaced,
// <br /> ; : -> space, whitespace runs -> space, split), as run by bench/lm/torch_lm.py's
// basic_english in Python.
TEST(BasicEnglish, TutorialRules) {
  EXPECT_EQ(basic_english("Hello, World!"), (Words{"hello", ",", "world", "!"}));
  EXPECT_EQ(basic_english("It's a dog's life."), (Words{"it", "'", "s", "a", "dog", "'", "s", "life", "."}));
  EXPECT_EQ(basic_english("He said \"no\" (twice)?"), (Words{"he", "said", "no", "(", "twice", ")", "?"}));
  EXPECT_EQ(basic_english("x;y:z"), (Words{"x", "y", "z"}));
  EXPECT_EQ(basic_english("  multiple   spaces\tand\ttabs "), (Words{"multiple", "spaces", "and", "tabs"}));
  EXPECT_EQ(basic_english("3.14 , 1,000"), (Words{"3", ".", "14", ",", "1", ",", "000"}));
  EXPECT_EQ(basic_english("e.g."), (Words{"e", ".", "g", "."}));
  EXPECT_EQ(basic_english("''quoted''"), (Words{"'", "'", "quoted", "'", "'"}));
  EXPECT_EQ(basic_english("don't!?"), (Words{"don", "'", "t", "!", "?"}));
  EXPECT_EQ(basic_english(""), Words{});
}

TEST(BasicEnglish, BreakTagsAndOrderOfRules) {
  // <br /> matches after lowercasing, and removing '"' first can complete one.
  EXPECT_EQ(basic_english("a<br />b<BR />c"), (Words{"a", "b", "c"}));
  EXPECT_EQ(basic_english("<br \"/>x"), (Words{"x"}));
}

TEST(BasicEnglish, WikiTextMarkup) {
  EXPECT_EQ(basic_english("@-@ @,@ <unk> = = Title = ="),
            (Words{"@-@", "@", ",", "@", "<unk>", "=", "=", "title", "=", "="}));
}

TEST(BasicEnglish, UnicodeLowercaseAndSpaces) {
  EXPECT_EQ(basic_english("\xC3\x9Cn\xC3\xAF" "c\xC3\xB6" "d\xC3\xA9 \xC3\x80\xC3\x89\xC3\x8E stra\xC3\x9F" "e"),
            (Words{"\xC3\xBCn\xC3\xAF" "c\xC3\xB6" "d\xC3\xA9", "\xC3\xA0\xC3\xA9\xC3\xAE", "stra\xC3\x9F" "e"}));
  // Final sigma: "ΟΔΥΣΣΕΥΣ Σ" -> "οδυσσευς σ" (Python's str.lower()).
  EXPECT_EQ(basic_english("\xCE\x9F\xCE\x94\xCE\xA5\xCE\xA3\xCE\xA3\xCE\x95\xCE\xA5\xCE\xA3 \xCE\xA3"),
            (Words{"\xCE\xBF\xCE\xB4\xCF\x85\xCF\x83\xCF\x83\xCE\xB5\xCF\x85\xCF\x82", "\xCF\x83"}));
  // No-break space and em space separate words, as \s and str.split() do.
  EXPECT_EQ(basic_english("a\xC2\xA0" "b\xE2\x80\x83" "c"), (Words{"a", "b", "c"}));
}

TEST(SplitWhitespace, PythonStrSplit) {
  EXPECT_EQ(split_whitespace(" = Valkyria  Chronicles III = \n"), (Words{"=", "Valkyria", "Chronicles", "III", "="}));
  EXPECT_EQ(split_whitespace("a\x1c" "b\x1f" "c\x0b" "d\x0c" "e"), (Words{"a", "b", "c", "d", "e"}));
  EXPECT_EQ(split_whitespace("x\xE3\x80\x80y\xE2\x80\xA8z"), (Words{"x", "y", "z"}));  // U+3000, U+2028
  EXPECT_EQ(split_whitespace("x\xE2\x80\x8By"), (Words{"x\xE2\x80\x8By"}));             // U+200B is not a space
  EXPECT_EQ(split_whitespace(" \t "), Words{});
}

TEST(Vocab, WhitespaceConventionIsFirstAppearanceWithEos) {
  Vocab v = build_lm_vocab({" a b a ", "", " c b "}, LMTokenization::Whitespace);
  EXPECT_EQ(v.itos(), (Words{"a", "b", "<eos>", "c"}));
  Tensor ids = encode_lm_lines({" a b a ", "", " c b "}, v, LMTokenization::Whitespace);
  EXPECT_EQ(ids.to_vector<int64_t>(), (std::vector<int64_t>{0, 1, 0, 2, 2, 3, 1, 2}));
}

TEST(Vocab, BasicEnglishConventionIsFrequencyThenToken) {
  Vocab v = build_lm_vocab({"b a b c", "", "A c d"}, LMTokenization::BasicEnglish);
  EXPECT_EQ(v.itos(), (Words{"<unk>", "a", "b", "c", "d"}));
  EXPECT_EQ(v.unk_id(), 0);
  // Empty lines add nothing; unknown words map to <unk>.
  Tensor ids = encode_lm_lines({"B zzz", "", "d"}, v, LMTokenization::BasicEnglish);
  EXPECT_EQ(ids.to_vector<int64_t>(), (std::vector<int64_t>{2, 0, 4}));
}

TEST(Vocab, SaveLoadRoundTrip) {
  auto d = scratch("vocab");
  Vocab v(Words{"<unk>", "the", "\xC3\xA9t\xC3\xA9", "@-@"}, "<unk>");
  v.save(d / "vocab.txt");
  Vocab w = Vocab::load(d / "vocab.txt", "<unk>");
  EXPECT_EQ(w.itos(), v.itos());
  EXPECT_EQ(w.unk_id(), 0);
  EXPECT_EQ(w.find("@-@"), 3);
  EXPECT_EQ(w.find("nope"), -1);
}

TEST(LMCorpusErrors, UnknownWordWithoutUnkNamesLineAndWord) {
  Vocab v = build_lm_vocab({"a b"}, LMTokenization::Whitespace);  // no <unk> in it
  std::string msg = error_of([&] { encode_lm_lines({"a", "b zebra"}, v, LMTokenization::Whitespace, "valid.txt"); });
  EXPECT_NE(msg.find("valid.txt:2"), std::string::npos) << msg;
  EXPECT_NE(msg.find("zebra"), std::string::npos) << msg;
}

TEST(LMCorpusErrors, UnknownWordMapsToUnkWhenTheVocabularyHasIt) {
  Vocab v = build_lm_vocab({"a <unk> b"}, LMTokenization::Whitespace);
  Tensor ids = encode_lm_lines({"zebra a"}, v, LMTokenization::Whitespace);
  EXPECT_EQ(ids.to_vector<int64_t>(), (std::vector<int64_t>{1, 0, 3}));
}

TEST(LMCorpusErrors, MissingFolderAndFiles) {
  EXPECT_NE(error_of([] { load_lm_corpus("/nonexistent/xfmr", LMTokenization::Whitespace); }).find("not a directory"),
            std::string::npos);
  auto d = scratch("missing");
  write(d / "train.txt", "a b\n");
  write(d / "valid.txt", "a\n");
  std::string msg = error_of([&] { load_lm_corpus(d, LMTokenization::Whitespace); });
  EXPECT_NE(msg.find("no test.txt or wiki.test.tokens"), std::string::npos) << msg;
}

TEST(LMCorpusErrors, EmptyFiles) {
  auto d = scratch("empty");
  write(d / "train.txt", "");
  write(d / "valid.txt", "a\n");
  write(d / "test.txt", "a\n");
  std::string msg = error_of([&] { load_lm_corpus(d, LMTokenization::BasicEnglish); });
  EXPECT_NE(msg.find("train.txt: the file is empty"), std::string::npos) << msg;
  write(d / "train.txt", "a\n");
  write(d / "valid.txt", " \n\n  \n");
  msg = error_of([&] { load_lm_corpus(d, LMTokenization::BasicEnglish); });
  EXPECT_NE(msg.find("valid.txt: no tokens"), std::string::npos) << msg;
}

TEST(LMCorpusErrors, InvalidUtf8NamesFileLineAndColumn) {
  auto d = scratch("utf8");
  write(d / "train.txt", " ok line \n caf\xE9 latin-1 \n");
  write(d / "valid.txt", "a\n");
  write(d / "test.txt", "a\n");
  std::string msg = error_of([&] { load_lm_corpus(d, LMTokenization::Whitespace); });
  EXPECT_NE(msg.find("train.txt:2:5: invalid UTF-8 byte 0xE9"), std::string::npos) << msg;
}

TEST(LMCorpus, AcceptsWikiTokensNamesAndCrlf) {
  auto d = scratch("names");
  write(d / "wiki.train.tokens", " a b \r\n c \r\n");
  write(d / "wiki.valid.tokens", " b \n");
  write(d / "wiki.test.tokens", " c a \n");
  LMCorpus c = load_lm_corpus(d, LMTokenization::Whitespace);
  EXPECT_EQ(c.vocab.itos(), (Words{"a", "b", "<eos>", "c"}));
  EXPECT_EQ(c.train.numel(), 5);
  EXPECT_EQ(c.test.to_vector<int64_t>(), (std::vector<int64_t>{3, 0, 2}));
}

TEST(LMCorpus, WikiText2VocabulariesMatchPyTorch) {
  const auto dir = wikitext_dir();
  XFMR_REQUIRE_DIR(dir, "../shared/assets/wikitext-2");
  // basic_english + <unk> (the tutorial): 28,782 words; streams as torch_lm.py counts them.
  LMCorpus be = load_lm_corpus(dir, LMTokenization::BasicEnglish);
  EXPECT_EQ(be.vocab.size(), 28782);
  EXPECT_EQ(be.train.numel(), 2049990);
  EXPECT_EQ(be.valid.numel(), 214417);
  EXPECT_EQ(be.test.numel(), 241859);
  EXPECT_EQ(Words(be.vocab.itos().begin(), be.vocab.itos().begin() + 12),
            (Words{"<unk>", "the", ",", ".", "of", "and", "in", "to", "a", "=", "was", "'"}));
  EXPECT_EQ(vocab_hash(be.vocab), 0x9beacb0d62baab27ull);  // the full list, as torch_lm.py builds it
  // whitespace + <eos> (word_language_model/data.py): 33,278 words.
  LMCorpus ws = load_lm_corpus(dir, LMTokenization::Whitespace);
  EXPECT_EQ(ws.vocab.size(), 33278);
  EXPECT_EQ(ws.train.numel(), 2088628);
  EXPECT_EQ(ws.valid.numel(), 217646);
  EXPECT_EQ(ws.test.numel(), 245569);
  EXPECT_EQ(Words(ws.vocab.itos().begin(), ws.vocab.itos().begin() + 6),
            (Words{"<eos>", "=", "Valkyria", "Chronicles", "III", "Senj\xC5\x8D"}));
  EXPECT_EQ(ws.vocab.itos().back(), "gallinae");
  EXPECT_EQ(vocab_hash(ws.vocab), 0xb342444211ef13f3ull);
}
