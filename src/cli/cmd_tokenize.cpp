// `xfmr tokenize`: encode texts with a HuggingFace tokenizer and print one JSON object per input.
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/command.h"
#include "xfmr/core/error.h"
#include "xfmr/tokenizers/tokenizer.h"

namespace xfmr::cli {
namespace {

using json = nlohmann::ordered_json;  // keeps the documented field order
using namespace xfmr::tokenizers;

struct TokenizeArgs {
  std::string tokenizer;
  std::vector<std::string> texts;
  std::string pair;
  bool has_pair = false;
  size_t max_length = 0;
  size_t stride = 0;
  std::string truncation = "longest_first";
  std::string padding;
  bool no_special = false;
  bool details = false;
  int threads = 0;
};

json window_json(const Encoding& e, bool details) {
  json j;
  j["ids"] = e.ids;
  j["tokens"] = e.tokens;
  json offs = json::array(), bytes = json::array();
  for (size_t i = 0; i < e.size(); ++i) {
    offs.push_back({e.offsets[i].first, e.offsets[i].second});
    bytes.push_back({e.byte_offsets[i].first, e.byte_offsets[i].second});
  }
  j["offsets"] = offs;
  if (details) {
    auto nullable = [](const std::vector<int32_t>& v) {
      json a = json::array();
      for (int32_t x : v) a.push_back(x < 0 ? json(nullptr) : json(x));
      return a;
    };
    j["byte_offsets"] = bytes;
    j["type_ids"] = e.type_ids;
    j["attention_mask"] = e.attention_mask;
    j["special_tokens_mask"] = e.special_tokens_mask;
    j["word_ids"] = nullable(e.word_ids);
    j["sequence_ids"] = nullable(e.sequence_ids);
  }
  return j;
}

int run_tokenize(TokenizeArgs& a) {
  apply_threads(a.threads);
  Tokenizer tok = Tokenizer::from_pretrained(a.tokenizer);
  EncodeOptions o;
  o.add_special_tokens = !a.no_special;
  if (a.max_length > 0) {
    o.truncation.max_length = a.max_length;
    o.truncation.stride = a.stride;
    const std::string& s = a.truncation;
    o.truncation.strategy = s == "longest_first" ? TruncationStrategy::LongestFirst
                            : s == "only_first"  ? TruncationStrategy::OnlyFirst
                            : s == "only_second" ? TruncationStrategy::OnlySecond
                                                 : TruncationStrategy::None;
    XFMR_CHECK(o.truncation.strategy != TruncationStrategy::None, "tokenize: unknown --truncation '", s,
               "' (longest_first, only_first, only_second)");
  } else {
    XFMR_CHECK(a.stride == 0, "tokenize: --stride needs --max-length");
  }
  if (!a.padding.empty()) {
    XFMR_CHECK(a.padding == "max_length", "tokenize: unknown --padding '", a.padding, "' (max_length)");
    o.padding.strategy = PaddingStrategy::MaxLength;
    o.padding.length = a.max_length;
  }
  auto emit = [&](const std::string& text) {
    Encoding e = a.has_pair ? tok.encode_pair(text, a.pair, o) : tok.encode(text, o);
    json j = window_json(e, a.details);
    if (!e.overflowing.empty()) {
      j["overflowing"] = json::array();
      for (const auto& w : e.overflowing) j["overflowing"].push_back(window_json(w, a.details));
    }
    std::cout << j.dump() << "\n";
  };
  if (!a.texts.empty()) {
    for (const auto& t : a.texts) emit(t);
  } else {
    std::string line;
    while (std::getline(std::cin, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      emit(line);
    }
  }
  return 0;
}

XFMR_REGISTER_COMMAND(
    "tokenize", "Tokenize texts with a HuggingFace tokenizer (tokenizer.json or legacy vocab files)", [](CLI::App& sub) {
      static TokenizeArgs a;
      sub.footer(
          "Prints one JSON object per input: {\"ids\", \"tokens\", \"offsets\"} (offsets are [start, end) in Unicode\n"
          "code points of the input), plus \"overflowing\" windows when --max-length cuts the input.\n"
          "Reads one text per line from stdin when no TEXT is given.\n\n"
          "Examples:\n"
          "  xfmr tokenize --tokenizer models/bert-base-uncased \"Hello, world!\"\n"
          "  xfmr tokenize --tokenizer models/roberta-base --pair \"Paris is the capital.\" \\\n"
          "      --max-length 16 --stride 4 --truncation only_second \"Where is Paris?\"\n"
          "  cat lines.txt | xfmr tokenize --tokenizer models/gpt2/tokenizer.json --no-special-tokens");
      sub.add_option("--tokenizer", a.tokenizer,
                     "Model folder (tokenizer.json, vocab.txt, vocab.json+merges.txt or spiece.model) or a file")
          ->required();
      sub.add_option("--pair", a.pair, "Second sequence (e.g. the context of a question)")
          ->each([](const std::string&) { a.has_pair = true; });
      sub.add_option("--max-length", a.max_length, "Truncate to this many tokens (special tokens included)");
      sub.add_option("--stride", a.stride, "Tokens shared by consecutive overflowing windows (needs --max-length)");
      sub.add_option("--truncation", a.truncation, "longest_first (default), only_first or only_second");
      sub.add_option("--padding", a.padding, "max_length: pad to --max-length");
      sub.add_flag("--no-special-tokens", a.no_special, "Do not add [CLS]/[SEP], <s>/</s>, ...");
      sub.add_flag("--details", a.details,
                   "Also print byte_offsets, type_ids, attention_mask, special_tokens_mask, word_ids, sequence_ids");
      sub.add_option("texts", a.texts, "Texts to tokenize (default: lines from stdin)");
      add_threads_option(sub, &a.threads);
      return std::function<int()>([] { return run_tokenize(a); });
    });

}  // namespace
}  // namespace xfmr::cli
