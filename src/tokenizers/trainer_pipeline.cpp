// train_tokenizer: feeds text through the target pipeline's normalizer and pre-tokenizer (HF's
// Tokenizer::train does the same: do_normalize + do_pre_tokenize per line), runs the BPE trainer and
// writes tokenizer.json.
#include <fstream>
#include <nlohmann/json.hpp>

#include "tokenizers/impl.h"
#include "tokenizers/trainer_json.h"
#include "xfmr/core/error.h"
#include "xfmr/tokenizers/trainer.h"

namespace xfmr::tokenizers {
namespace {

using nlohmann::ordered_json;

// GPT-2's bytes_to_unicode: printable bytes map to themselves, the others to U+0100 onwards.
std::vector<std::string> byte_level_alphabet() {
  std::vector<std::string> out;
  int n = 0;
  for (int b = 0; b < 256; ++b) {
    bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    char32_t cp = printable ? char32_t(b) : char32_t(256 + n++);
    std::string s;
    if (cp < 0x80) s += char(cp);
    else {
      s += char(0xC0 | (cp >> 6));
      s += char(0x80 | (cp & 0x3f));
    }
    out.push_back(s);
  }
  return out;
}

// Byte offset of the first invalid UTF-8 sequence, or npos.
size_t invalid_utf8_at(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >= 0xC2 && c <= 0xDF) ? 2 : (c >> 4) == 0xE ? 3 : (c >= 0xF0 && c <= 0xF4) ? 4 : 0;
    if (!n || i + n > s.size()) return i;
    for (size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return i;
    i += n;
  }
  return std::string_view::npos;
}

void fill_defaults(TokenizerTrainOptions& o) {
  auto& t = o.trainer;
  if (o.pipeline == TrainerPipeline::BertWordPiece) {
    if (t.special_tokens.empty()) t.special_tokens = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
    if (t.continuing_subword_prefix.empty()) t.continuing_subword_prefix = "##";
  } else {
    if (t.special_tokens.empty()) t.special_tokens = {"<s>", "<pad>", "</s>", "<unk>", "<mask>"};
    if (t.initial_alphabet.empty()) t.initial_alphabet = byte_level_alphabet();  // every byte stays encodable
  }
  XFMR_CHECK(t.vocab_size > 0, "train-tokenizer: vocab_size must be positive");
}

// The pipeline with a placeholder model: only its normalizer and pre-tokenizer are used.
std::unique_ptr<Tokenizer::Impl> splitter(const TokenizerTrainOptions& o) {
  ordered_json j;
  if (o.pipeline == TrainerPipeline::BertWordPiece) {
    j["normalizer"] = {{"type", "BertNormalizer"}, {"clean_text", true}, {"handle_chinese_chars", true},
                       {"strip_accents", nullptr}, {"lowercase", o.lowercase}};
    j["pre_tokenizer"] = {{"type", "BertPreTokenizer"}};
  } else {
    j["normalizer"] = nullptr;
    j["pre_tokenizer"] = {{"type", "ByteLevel"}, {"add_prefix_space", o.add_prefix_space}, {"trim_offsets", true},
                          {"use_regex", true}};
  }
  j["model"] = {{"type", "WordLevel"}, {"vocab", {{"[UNK]", 0}}}, {"unk_token", "[UNK]"}};
  return load_tokenizer_json(j.dump(), "<trainer pipeline>");
}

class Feeder {
 public:
  explicit Feeder(const TokenizerTrainOptions& o) : impl_(splitter(o)), trainer_(o.trainer) {}
  void feed(std::string_view line, const std::string& where) {
    size_t bad = invalid_utf8_at(line);
    XFMR_CHECK(bad == std::string_view::npos, where, ": text is not valid UTF-8 (byte ", bad, ")");
    NormalizedString n(line);
    if (impl_->normalizer) impl_->normalizer->normalize(n);
    PreTokenizedString p(line, std::move(n));
    if (impl_->pre_tokenizer) impl_->pre_tokenizer->pre_tokenize(p);
    for (auto& s : p.splits()) trainer_.add_word(s.normalized.get());
  }
  BpeTrainer& trainer() { return trainer_; }

 private:
  std::unique_ptr<Tokenizer::Impl> impl_;
  BpeTrainer trainer_;
};

std::string finish(Feeder& f, const TokenizerTrainOptions& o) {
  XFMR_CHECK(!f.trainer().word_counts().empty(), "train-tokenizer: the training text has no words (empty input?)");
  TrainedVocab v = f.trainer().train();
  return o.pipeline == TrainerPipeline::BertWordPiece ? detail::wordpiece_json(v, o) : detail::byte_level_bpe_json(v, o);
}

}  // namespace

std::string train_tokenizer(const std::vector<std::filesystem::path>& files, TokenizerTrainOptions options) {
  fill_defaults(options);
  XFMR_CHECK(!files.empty(), "train-tokenizer: no training files given");
  Feeder f(options);
  for (const auto& path : files) {
    std::ifstream in(path, std::ios::binary);
    XFMR_CHECK(in, "train-tokenizer: cannot open '", path.string(), "'");
    std::string line;
    size_t n = 0;
    // HF reads lines with their endings (lines_with_ending); a byte-level pipeline sees the '\n'.
    while (std::getline(in, line)) {
      ++n;
      if (!in.eof()) line += '\n';
      f.feed(line, path.string() + ":" + std::to_string(n));
    }
  }
  return finish(f, options);
}

std::string train_tokenizer_from_lines(const std::vector<std::string>& lines, TokenizerTrainOptions options) {
  fill_defaults(options);
  Feeder f(options);
  for (size_t i = 0; i < lines.size(); ++i) f.feed(lines[i], "line " + std::to_string(i + 1));
  return finish(f, options);
}

std::string tokenizer_config_for(const TokenizerTrainOptions& options, size_t model_max_length) {
  TokenizerTrainOptions o = options;
  fill_defaults(o);  // the special tokens train_tokenizer used when none were given
  ordered_json j;
  const auto& sp = o.trainer.special_tokens;
  auto set_if = [&](const char* key, const char* tok) {
    if (std::find(sp.begin(), sp.end(), tok) != sp.end()) j[key] = tok;
  };
  if (o.pipeline == TrainerPipeline::BertWordPiece) {
    j["tokenizer_class"] = "BertTokenizer";  // AutoTokenizer picks BertTokenizerFast with tokenizer.json
    j["do_lower_case"] = o.lowercase;
    j["strip_accents"] = nullptr;
    j["tokenize_chinese_chars"] = true;
    set_if("cls_token", "[CLS]");
    set_if("sep_token", "[SEP]");
    set_if("pad_token", "[PAD]");
    set_if("mask_token", "[MASK]");
    set_if("unk_token", "[UNK]");
  } else {
    j["tokenizer_class"] = "PreTrainedTokenizerFast";
    j["add_prefix_space"] = o.add_prefix_space;
    set_if("bos_token", "<s>");
    set_if("cls_token", "<s>");
    set_if("eos_token", "</s>");
    set_if("sep_token", "</s>");
    set_if("pad_token", "<pad>");
    set_if("mask_token", "<mask>");
    set_if("unk_token", "<unk>");
  }
  j["clean_up_tokenization_spaces"] = true;
  j["model_max_length"] = model_max_length;
  return j.dump(2);
}

}  // namespace xfmr::tokenizers
