// WordPiece (BERT) and byte-level BPE tokenizer.json documents for trained vocabularies, in the
// layout HF tokenizers' Tokenizer::save writes (BertWordPieceTokenizer / ByteLevelBPETokenizer).
#include <algorithm>
#include <nlohmann/json.hpp>

#include "tokenizers/trainer_json.h"
#include "xfmr/core/error.h"

namespace xfmr::tokenizers::detail {

using nlohmann::ordered_json;

namespace {

ordered_json added_tokens_json(const TrainedVocab& v, const std::vector<std::string>& specials) {
  ordered_json a = ordered_json::array();
  for (const auto& s : specials) {
    int32_t id = -1;
    for (size_t i = 0; i < v.vocab.size(); ++i)
      if (v.vocab[i] == s) {
        id = static_cast<int32_t>(i);
        break;
      }
    a.push_back({{"id", id}, {"content", s}, {"single_word", false}, {"lstrip", false}, {"rstrip", false},
                 {"normalized", false}, {"special", true}});
  }
  return a;
}

ordered_json vocab_json(const TrainedVocab& v) {
  ordered_json m = ordered_json::object();  // id order, as HF writes it
  for (size_t i = 0; i < v.vocab.size(); ++i) m[v.vocab[i]] = i;
  return m;
}

int32_t id_of(const TrainedVocab& v, const std::string& tok) {
  for (size_t i = 0; i < v.vocab.size(); ++i)
    if (v.vocab[i] == tok) return static_cast<int32_t>(i);
  return -1;
}

bool has(const std::vector<std::string>& xs, const std::string& x) {
  return std::find(xs.begin(), xs.end(), x) != xs.end();
}

}  // namespace

std::string wordpiece_json(const TrainedVocab& v, const TokenizerTrainOptions& o) {
  const auto& sp = o.trainer.special_tokens;
  for (const char* need : {"[UNK]", "[CLS]", "[SEP]"})
    XFMR_CHECK(has(sp, need), "train-tokenizer: a BERT WordPiece tokenizer needs the special token ", need,
               " (given: ", sp.size(), " special tokens)");
  ordered_json j;
  j["version"] = "1.0";
  j["truncation"] = nullptr;
  j["padding"] = nullptr;
  j["added_tokens"] = added_tokens_json(v, sp);
  // strip_accents null = follow lowercase (BertNormalizer's rule, what BertTokenizerFast writes).
  j["normalizer"] = {{"type", "BertNormalizer"}, {"clean_text", true}, {"handle_chinese_chars", true},
                     {"strip_accents", nullptr}, {"lowercase", o.lowercase}};
  j["pre_tokenizer"] = {{"type", "BertPreTokenizer"}};
  auto special = [&](const char* t, int type) { return ordered_json{{"SpecialToken", {{"id", t}, {"type_id", type}}}}; };
  auto seq = [](const char* s, int type) { return ordered_json{{"Sequence", {{"id", s}, {"type_id", type}}}}; };
  ordered_json st = ordered_json::object();
  for (const char* t : {"[CLS]", "[SEP]"}) st[t] = {{"id", t}, {"ids", {id_of(v, t)}}, {"tokens", {t}}};
  j["post_processor"] = {
      {"type", "TemplateProcessing"},
      {"single", {special("[CLS]", 0), seq("A", 0), special("[SEP]", 0)}},
      {"pair", {special("[CLS]", 0), seq("A", 0), special("[SEP]", 0), seq("B", 1), special("[SEP]", 1)}},
      {"special_tokens", st}};
  j["decoder"] = {{"type", "WordPiece"}, {"prefix", o.trainer.continuing_subword_prefix}, {"cleanup", true}};
  j["model"] = {{"type", "WordPiece"},
                {"unk_token", "[UNK]"},
                {"continuing_subword_prefix", o.trainer.continuing_subword_prefix},
                {"max_input_chars_per_word", 100},
                {"vocab", vocab_json(v)}};
  return j.dump(2);
}

std::string byte_level_bpe_json(const TrainedVocab& v, const TokenizerTrainOptions& o) {
  const auto& sp = o.trainer.special_tokens;
  ordered_json j;
  j["version"] = "1.0";
  j["truncation"] = nullptr;
  j["padding"] = nullptr;
  j["added_tokens"] = added_tokens_json(v, sp);
  j["normalizer"] = nullptr;
  j["pre_tokenizer"] = {{"type", "ByteLevel"}, {"add_prefix_space", o.add_prefix_space}, {"trim_offsets", true},
                        {"use_regex", true}};
  if (has(sp, "<s>") && has(sp, "</s>"))  // RoBERTa layout: <s> $A </s> (</s> </s> $B </s>)
    j["post_processor"] = {{"type", "RobertaProcessing"},
                           {"sep", {"</s>", id_of(v, "</s>")}},
                           {"cls", {"<s>", id_of(v, "<s>")}},
                           {"trim_offsets", true},
                           {"add_prefix_space", o.add_prefix_space}};
  else
    j["post_processor"] = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", false},
                           {"use_regex", true}};
  j["decoder"] = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}};
  ordered_json merges = ordered_json::array();
  for (const auto& [a, b] : v.merges) merges.push_back({a, b});
  j["model"] = {{"type", "BPE"},          {"dropout", nullptr},          {"unk_token", nullptr},
                {"continuing_subword_prefix", nullptr}, {"end_of_word_suffix", nullptr}, {"fuse_unk", false},
                {"byte_fallback", false}, {"ignore_merges", false},      {"vocab", vocab_json(v)},
                {"merges", merges}};
  return j.dump(2);
}

}  // namespace xfmr::tokenizers::detail
