// Vocabulary trainers, as HuggingFace tokenizers' BpeTrainer / WordPieceTrainer, writing a
// tokenizer.json that xfmr and HF both load.
//
//   TrainerOptions o;  o.vocab_size = 8000;  o.special_tokens = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
//   std::string json = train_wordpiece({"train.txt"}, o, /*lowercase=*/true);   // BERT-style pipeline
//   Tokenizer tok = Tokenizer::from_json(json);
//
// Algorithm (HF tokenizers/src/models/bpe/trainer.rs; the WordPiece trainer is the BPE trainer with
// continuing_subword_prefix "##" and a WordPiece model built from the BPE vocabulary):
//  1. every input line is normalized and pre-tokenized with the target pipeline; words are counted;
//  2. special tokens get the first ids, in the order given;
//  3. the alphabet = characters of the words weighted by word count, plus initial_alphabet; with
//     limit_alphabet only the most frequent characters are kept; they get the next ids in code-point order;
//  4. words become symbol sequences (characters not in the alphabet are dropped; non-initial characters
//     carry the continuing_subword_prefix, the last one the end_of_word_suffix);
//  5. repeatedly the most frequent adjacent pair (ties: the pair of smaller ids) is merged into a new
//     token (the prefix of the right part is dropped) until the vocabulary has vocab_size entries or
//     the best pair occurs fewer than max(1, min_frequency) times.
// Difference from HF: HF visits words in hash-map order when it assigns ids to prefixed characters
// ("##a") and when it trims the alphabet, so its ids there vary from run to run; we visit words in
// byte order and break count ties by code point, so training is deterministic.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace xfmr::tokenizers {

struct TrainerOptions {
  size_t vocab_size = 30000;        // target size including special tokens and the alphabet
  uint64_t min_frequency = 0;       // a merge needs a pair seen at least this often (HF default 0)
  std::vector<std::string> special_tokens;
  size_t limit_alphabet = 0;        // 0 = keep every character
  std::vector<std::string> initial_alphabet;  // characters always included (one code point each)
  std::string continuing_subword_prefix;      // "##" for WordPiece
  std::string end_of_word_suffix;
  bool show_progress = false;       // a progress bar on stderr while merging
};

// The learned model: vocabulary in id order and the merges in creation order.
struct TrainedVocab {
  std::vector<std::string> vocab;                          // id -> token
  std::vector<std::pair<std::string, std::string>> merges;  // (left, right) token strings
};

// Counts words (already normalized and pre-tokenized) and runs the BPE merge loop on them.
class BpeTrainer {
 public:
  explicit BpeTrainer(TrainerOptions options) : options_(std::move(options)) {}
  void add_word(const std::string& word, uint64_t count = 1) { counts_[word] += count; }
  const std::map<std::string, uint64_t>& word_counts() const { return counts_; }
  TrainedVocab train() const;

 private:
  TrainerOptions options_;
  std::map<std::string, uint64_t> counts_;  // ordered: deterministic ids
};

// Pipelines of the produced tokenizer.json.
enum class TrainerPipeline {
  BertWordPiece,  // BertNormalizer(lowercase) + BertPreTokenizer + WordPiece("##") + [CLS] $A [SEP]
  ByteLevelBpe,   // ByteLevel pre-tokenizer (GPT-2 regex, 256-byte initial alphabet) + BPE + ByteLevel decoder
};

struct TokenizerTrainOptions {
  TrainerPipeline pipeline = TrainerPipeline::BertWordPiece;
  TrainerOptions trainer;
  bool lowercase = true;          // BertWordPiece: BertNormalizer.lowercase (and strip_accents follows it)
  bool add_prefix_space = false;  // ByteLevelBpe
};

// Trains on the lines of `files` (UTF-8; invalid UTF-8 is an error naming file and line) and returns
// the tokenizer.json text (HF schema, version "1.0"). Default specials when none are given:
// [PAD] [UNK] [CLS] [SEP] [MASK] (WordPiece), <s> <pad> </s> <unk> <mask> (byte-level BPE).
std::string train_tokenizer(const std::vector<std::filesystem::path>& files, TokenizerTrainOptions options);
// Same, over in-memory lines.
std::string train_tokenizer_from_lines(const std::vector<std::string>& lines, TokenizerTrainOptions options);

// A tokenizer_config.json for the trained tokenizer (tokenizer_class, special tokens, do_lower_case,
// model_max_length), so transformers' AutoTokenizer and xfmr's loader pick the right settings.
std::string tokenizer_config_for(const TokenizerTrainOptions& options, size_t model_max_length);

}  // namespace xfmr::tokenizers
