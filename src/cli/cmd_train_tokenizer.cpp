// `xfmr train-tokenizer`: learn a BERT WordPiece or a byte-level BPE vocabulary from text files
// (HF tokenizers' WordPieceTrainer / BpeTrainer) and write tokenizer.json (+ tokenizer_config.json,
// and vocab.txt for WordPiece) into a folder that xfmr and HF transformers load.
#include <filesystem>
#include <fstream>
#include <iostream>

#include "cli/command.h"
#include "xfmr/core/error.h"
#include "xfmr/tokenizers/tokenizer.h"
#include "xfmr/tokenizers/trainer.h"

namespace xfmr::cli {
namespace {

namespace fs = std::filesystem;
using namespace xfmr::tokenizers;

struct Args {
  std::vector<std::string> files;
  std::string output;
  std::string type = "wordpiece";
  size_t vocab_size = 30000;
  uint64_t min_frequency = 2;
  std::vector<std::string> special;
  size_t limit_alphabet = 1000;
  bool cased = false;
  bool add_prefix_space = false;
  size_t model_max_length = 512;
  int threads = 0;
};

void write(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary);
  XFMR_CHECK(out, "train-tokenizer: cannot write '", p.string(), "'");
  out << text << "\n";
  XFMR_CHECK(out.good(), "train-tokenizer: writing '", p.string(), "' failed");
}

int run(const Args& a) {
  apply_threads(a.threads);
  TokenizerTrainOptions o;
  XFMR_CHECK(a.type == "wordpiece" || a.type == "bpe", "train-tokenizer: --type must be wordpiece or bpe, got '",
             a.type, "'");
  o.pipeline = a.type == "wordpiece" ? TrainerPipeline::BertWordPiece : TrainerPipeline::ByteLevelBpe;
  o.lowercase = !a.cased;
  o.add_prefix_space = a.add_prefix_space;
  o.trainer.vocab_size = a.vocab_size;
  o.trainer.min_frequency = a.min_frequency;
  o.trainer.special_tokens = a.special;
  o.trainer.limit_alphabet = o.pipeline == TrainerPipeline::BertWordPiece ? a.limit_alphabet : 0;
  o.trainer.show_progress = true;
  std::vector<fs::path> files(a.files.begin(), a.files.end());
  std::string json = train_tokenizer(files, o);
  Tokenizer tok = Tokenizer::from_json(json, "trained tokenizer.json");  // what we write must load
  fs::create_directories(a.output);
  write(fs::path(a.output) / "tokenizer.json", json);
  write(fs::path(a.output) / "tokenizer_config.json", tokenizer_config_for(o, a.model_max_length));
  if (o.pipeline == TrainerPipeline::BertWordPiece) {
    std::ofstream v(fs::path(a.output) / "vocab.txt", std::ios::binary);
    for (size_t i = 0; i < tok.vocab_size(false); ++i) v << tok.id_to_token(static_cast<int32_t>(i)).value_or("") << "\n";
  }
  std::cout << "trained a " << (o.pipeline == TrainerPipeline::BertWordPiece ? "WordPiece" : "byte-level BPE")
            << " tokenizer: " << tok.vocab_size() << " tokens -> " << a.output << "\n";
  return 0;
}

XFMR_REGISTER_COMMAND(
    "train-tokenizer", "Train a WordPiece (BERT) or byte-level BPE tokenizer on text files (HF trainers)",
    [](CLI::App& sub) {
      static Args a;
      sub.footer(
          "Each line of the files is one text. WordPiece: BertNormalizer (lowercase unless --cased) + BertPreTokenizer,\n"
          "'##' continuation, [CLS] $A [SEP]; default specials [PAD] [UNK] [CLS] [SEP] [MASK]. BPE: GPT-2 byte-level\n"
          "pre-tokenizer, all 256 bytes in the alphabet; default specials <s> <pad> </s> <unk> <mask> (RoBERTa layout).\n"
          "Example: xfmr train-tokenizer --files corpus.txt --vocab-size 8000 --output my-tokenizer");
      sub.add_option("--files,files", a.files, "Text files, one text per line")->required()->check(CLI::ExistingFile);
      sub.add_option("-o,--output", a.output, "Output folder (tokenizer.json, tokenizer_config.json, vocab.txt)")
          ->required();
      sub.add_option("--type", a.type, "wordpiece (default) or bpe (byte-level)");
      sub.add_option("--vocab-size", a.vocab_size, "Target vocabulary size incl. specials (default 30000)")
          ->check(CLI::Range(size_t{1}, size_t{1} << 24));
      sub.add_option("--min-frequency", a.min_frequency, "Minimum pair count for a merge (default 2)");
      sub.add_option("--special-tokens", a.special, "Special tokens, first ids in this order")->delimiter(',');
      sub.add_option("--limit-alphabet", a.limit_alphabet, "WordPiece: keep this many most frequent characters (default 1000, 0 = all)");
      sub.add_flag("--cased", a.cased, "WordPiece: do not lowercase or strip accents");
      sub.add_flag("--add-prefix-space", a.add_prefix_space, "BPE: add a space before the first word");
      sub.add_option("--model-max-length", a.model_max_length, "tokenizer_config.json model_max_length (default 512)");
      add_threads_option(sub, &a.threads);
      return std::function<int()>([] { return run(a); });
    });

}  // namespace
}  // namespace xfmr::cli
