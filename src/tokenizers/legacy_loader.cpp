// Loaders for models without tokenizer.json, building the same pipelines transformers' converters
// (convert_slow_tokenizer) produce: vocab.txt -> BERT WordPiece, vocab.json + merges.txt -> GPT-2 /
// RoBERTa byte-level BPE, spiece.model / source.spm -> SentencePiece Unigram (T5, ALBERT, Marian)
// read through libsentencepiece.
#include <sentencepiece_processor.h>

#include <fstream>
#include <sstream>

#include "tokenizers/components.h"
#include "tokenizers/impl.h"
#include "tokenizers/unicode.h"
#include "xfmr/core/error.h"

namespace xfmr::tokenizers {

namespace fs = std::filesystem;

namespace {

std::string read_file(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  XFMR_CHECK(f, "tokenizer: cannot open '", p.string(), "'");
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void check_text_file(const std::string& s, const fs::path& p) {
  size_t bad = unicode::find_invalid_utf8(s);
  XFMR_CHECK(bad == std::string::npos, "tokenizer: '", p.string(), "' is not valid UTF-8 (byte ", bad, ")");
}

AddedToken special(const std::string& content, int32_t id, bool normalized = false) {
  AddedToken a;
  a.id = id;
  a.content = content;
  a.special = true;
  a.normalized = normalized;
  return a;
}

std::unique_ptr<Tokenizer::Impl> load_bert(const fs::path& vocab_path, const TokenizerConfig& cfg) {
  std::string text = read_file(vocab_path);
  check_text_file(text, vocab_path);
  Vocab vocab;
  int32_t id = 0;
  size_t pos = 0;
  // One token per line (the line number is the id); a trailing newline does not add a token.
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    std::string line = text.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    vocab.set(line, id++);
    if (nl == std::string::npos) break;
    pos = nl + 1;
  }
  std::string where = "vocab.txt '" + vocab_path.string() + "'";
  XFMR_CHECK(!vocab.empty(), where, ": the vocabulary is empty");
  auto impl = std::make_unique<Tokenizer::Impl>();
  bool lower = cfg.do_lower_case.value_or(true);
  impl->normalizer = make_bert_normalizer(true, true, std::nullopt, lower);
  impl->pre_tokenizer = make_bert_pre_tokenizer();
  impl->model = make_wordpiece(std::move(vocab), "[UNK]", "##", 100, where);
  auto need_id = [&](const char* t) {
    auto i = impl->model->token_to_id(t);
    XFMR_CHECK(i, where, ": the special token '", t, "' is not in the vocabulary");
    return *i;
  };
  int32_t cls = need_id("[CLS]"), sep = need_id("[SEP]");
  impl->post_processor = make_template_processing({{"[CLS]", 0}, {"$A", 0}, {"[SEP]", 0}},
                                                  {{"[CLS]", 0}, {"$A", 0}, {"[SEP]", 0}, {"$B", 1}, {"[SEP]", 1}},
                                                  {{"[CLS]", {{cls}, {"[CLS]"}}}, {"[SEP]", {{sep}, {"[SEP]"}}}});
  impl->decoder = make_wordpiece_decoder("##", true);
  std::vector<AddedToken> added;
  for (const char* t : {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"})
    if (auto i = impl->model->token_to_id(t)) added.push_back(special(t, *i));
  impl->added.add(std::move(added), *impl->model, impl->normalizer.get());
  return impl;
}

std::unique_ptr<Tokenizer::Impl> load_byte_bpe(const fs::path& vocab_path, const fs::path& merges_path,
                                               const TokenizerConfig& cfg, bool roberta) {
  std::string vw = "vocab.json '" + vocab_path.string() + "'";
  json j;
  try {
    j = json::parse(read_file(vocab_path));
  } catch (const json::parse_error& e) {
    detail::fail(vw, ": malformed JSON (", e.what(), ")");
  }
  XFMR_CHECK(j.is_object(), vw, ": expected an object of token -> id");
  Vocab vocab;
  for (auto it = j.begin(); it != j.end(); ++it) {
    XFMR_CHECK(it.value().is_number_integer(), vw, ": entry '", it.key(), "' must have an integer id");
    vocab.set(it.key(), it.value().get<int32_t>());
  }
  std::string mw = "merges.txt '" + merges_path.string() + "'";
  std::string text = read_file(merges_path);
  check_text_file(text, merges_path);
  std::vector<std::pair<std::string, std::string>> merges;
  std::istringstream in(text);
  std::string line;
  size_t lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || (lineno == 1 && line.rfind("#version", 0) == 0)) continue;
    size_t sp = line.find(' ');
    XFMR_CHECK(sp != std::string::npos, mw, ": line ", lineno, " ('", line, "') is not \"a b\"");
    merges.emplace_back(line.substr(0, sp), line.substr(sp + 1));
  }
  auto impl = std::make_unique<Tokenizer::Impl>();
  bool prefix = cfg.add_prefix_space.value_or(false);
  impl->pre_tokenizer = make_byte_level_pre_tokenizer(prefix, true);
  impl->model = make_bpe(std::move(vocab), merges, std::nullopt, "", "", false, false, false, vw);
  impl->decoder = make_byte_level_decoder();
  std::vector<AddedToken> added;
  if (roberta) {
    auto id = [&](const char* t) {
      auto i = impl->model->token_to_id(t);
      XFMR_CHECK(i, vw, ": RoBERTa-style vocabulary lacks '", t, "'");
      return *i;
    };
    impl->post_processor = make_roberta_processing({"</s>", id("</s>")}, {"<s>", id("<s>")}, true, prefix);
    for (const char* t : {"<s>", "<pad>", "</s>", "<unk>"})
      if (auto i = impl->model->token_to_id(t)) added.push_back(special(t, *i, true));
    if (auto i = impl->model->token_to_id("<mask>")) {
      AddedToken m = special("<mask>", *i, true);
      m.lstrip = true;
      added.push_back(m);
    }
  } else {
    impl->post_processor = make_byte_level_processing(false, true);
    if (auto i = impl->model->token_to_id("<|endoftext|>")) added.push_back(special("<|endoftext|>", *i, true));
  }
  impl->added.add(std::move(added), *impl->model, impl->normalizer.get());
  return impl;
}

// Minimal protobuf wire-format reader for the fields of sentencepiece's ModelProto we need.
struct SpmSpec {
  std::string charsmap;
  bool add_dummy_prefix = true;
  int model_type = 1;  // 1 = UNIGRAM
};

bool read_varint(std::string_view s, size_t& i, uint64_t& v) {
  v = 0;
  for (int shift = 0; shift < 64 && i < s.size(); shift += 7) {
    auto b = static_cast<unsigned char>(s[i++]);
    v |= static_cast<uint64_t>(b & 0x7F) << shift;
    if (!(b & 0x80)) return true;
  }
  return false;
}

// Calls f(field, wire_type, varint_value, bytes) for each field of a message.
template <typename F>
void for_fields(std::string_view s, const std::string& where, F&& f) {
  size_t i = 0;
  while (i < s.size()) {
    uint64_t key, v = 0;
    XFMR_CHECK(read_varint(s, i, key), where, ": corrupt model (bad field key)");
    int wt = static_cast<int>(key & 7);
    std::string_view bytes;
    if (wt == 0) {
      XFMR_CHECK(read_varint(s, i, v), where, ": corrupt model (bad varint)");
    } else if (wt == 2) {
      XFMR_CHECK(read_varint(s, i, v) && v <= s.size() - i, where, ": corrupt model (bad length)");
      bytes = s.substr(i, v);
      i += v;
    } else if (wt == 5) {
      XFMR_CHECK(i + 4 <= s.size(), where, ": corrupt model");
      i += 4;
    } else if (wt == 1) {
      XFMR_CHECK(i + 8 <= s.size(), where, ": corrupt model");
      i += 8;
    } else {
      detail::fail(where, ": corrupt model (wire type ", wt, ")");
    }
    f(key >> 3, wt, v, bytes);
  }
}

SpmSpec read_spm_spec(const std::string& proto, const std::string& where) {
  SpmSpec spec;
  for_fields(proto, where, [&](uint64_t field, int wt, uint64_t, std::string_view bytes) {
    if (field == 2 && wt == 2)  // trainer_spec
      for_fields(bytes, where, [&](uint64_t f, int w, uint64_t v, std::string_view) {
        if (f == 3 && w == 0) spec.model_type = static_cast<int>(v);
      });
    if (field == 3 && wt == 2)  // normalizer_spec
      for_fields(bytes, where, [&](uint64_t f, int w, uint64_t v, std::string_view b) {
        if (f == 2 && w == 2) spec.charsmap = std::string(b);
        if (f == 3 && w == 0) spec.add_dummy_prefix = v != 0;
      });
  });
  return spec;
}

std::unique_ptr<Tokenizer::Impl> load_sentencepiece(const fs::path& path, const TokenizerConfig& cfg) {
  std::string where = "SentencePiece model '" + path.string() + "'";
  sentencepiece::SentencePieceProcessor sp;
  auto status = sp.Load(path.string());
  XFMR_CHECK(status.ok(), where, ": ", status.ToString());
  std::string proto = sp.serialized_model_proto();
  SpmSpec spec = read_spm_spec(proto, where);
  XFMR_CHECK(spec.model_type == 1, where, ": only Unigram SentencePiece models are supported (model type ",
             spec.model_type, ")");
  int n = sp.GetPieceSize();
  XFMR_CHECK(n > 0, where, ": the vocabulary is empty");
  std::vector<std::pair<std::string, double>> vocab;
  vocab.reserve(static_cast<size_t>(n));
  bool byte_fallback = false;
  for (int i = 0; i < n; ++i) {
    vocab.emplace_back(sp.IdToPiece(i), sp.GetScore(i));
    byte_fallback |= sp.IsByte(i);
  }
  // T5's <extra_id_N> sentinels follow the pieces, highest N first (as T5Tokenizer numbers them).
  std::vector<std::string> extra;
  for (const auto& t : cfg.additional_special_tokens)
    if (t.rfind("<extra_id_", 0) == 0) extra.push_back(t);
  std::vector<AddedToken> added;
  for (size_t k = 0; k < extra.size(); ++k) {
    std::string name = "<extra_id_" + std::to_string(extra.size() - 1 - k) + ">";
    added.push_back(special(name, static_cast<int32_t>(vocab.size())));
    vocab.emplace_back(name, 0.0);
  }
  auto impl = std::make_unique<Tokenizer::Impl>();
  if (!spec.charsmap.empty()) impl->normalizer = make_precompiled_normalizer(spec.charsmap, where);
  std::vector<std::unique_ptr<PreTokenizer>> pre;
  pre.push_back(make_whitespace_split_pre_tokenizer());
  pre.push_back(make_metaspace_pre_tokenizer(0x2581, spec.add_dummy_prefix, true));
  impl->pre_tokenizer = make_sequence_pre_tokenizer(std::move(pre));
  int unk = sp.unk_id();
  impl->model = make_unigram(std::move(vocab), unk >= 0 ? std::optional<int32_t>(unk) : std::nullopt, byte_fallback, where);
  impl->decoder = make_metaspace_decoder(0x2581, spec.add_dummy_prefix);
  // Control pieces (<pad>, </s>, <s>) and <unk> are special tokens matched on the raw text.
  std::vector<AddedToken> specials;
  for (int i = 0; i < n; ++i)
    if (sp.IsControl(i) || sp.IsUnknown(i)) specials.push_back(special(sp.IdToPiece(i), i));
  specials.insert(specials.end(), added.begin(), added.end());
  auto cls = impl->model->token_to_id("[CLS]"), sep = impl->model->token_to_id("[SEP]");
  auto eos = impl->model->token_to_id("</s>");
  if (cls && sep) {  // ALBERT-style
    impl->post_processor = make_template_processing({{"[CLS]", 0}, {"$A", 0}, {"[SEP]", 0}},
                                                    {{"[CLS]", 0}, {"$A", 0}, {"[SEP]", 0}, {"$B", 1}, {"[SEP]", 1}},
                                                    {{"[CLS]", {{*cls}, {"[CLS]"}}}, {"[SEP]", {{*sep}, {"[SEP]"}}}});
  } else if (eos) {  // T5 / Marian: "$A </s>"
    impl->post_processor = make_template_processing({{"$A", 0}, {"</s>", 0}}, {{"$A", 0}, {"</s>", 0}, {"$B", 0}, {"</s>", 0}},
                                                    {{"</s>", {{*eos}, {"</s>"}}}});
  }
  impl->added.add(std::move(specials), *impl->model, impl->normalizer.get());
  return impl;
}

}  // namespace

std::unique_ptr<Tokenizer::Impl> load_legacy(const fs::path& p) {
  fs::path dir = fs::is_directory(p) ? p : p.parent_path();
  TokenizerConfig cfg = read_tokenizer_config(dir);
  auto has = [&](const char* name) { return fs::is_directory(p) ? fs::exists(dir / name) : p.filename() == name; };
  std::unique_ptr<Tokenizer::Impl> impl;
  if (has("vocab.txt")) {
    impl = load_bert(dir / "vocab.txt", cfg);
  } else if (has("vocab.json") || has("merges.txt")) {
    XFMR_CHECK(fs::exists(dir / "vocab.json") && fs::exists(dir / "merges.txt"), "tokenizer: '", dir.string(),
               "' needs both vocab.json and merges.txt");
    std::string cls = cfg.tokenizer_class.value_or("");
    bool roberta = cls.find("Roberta") != std::string::npos || cls.find("Bart") != std::string::npos;
    if (cls.empty()) {
      // No class given: RoBERTa/BART vocabularies carry <s>, </s> and <mask>; GPT-2's does not.
      std::string v = read_file(dir / "vocab.json");
      roberta = v.find("\"<mask>\"") != std::string::npos && v.find("\"<s>\"") != std::string::npos;
    }
    impl = load_byte_bpe(dir / "vocab.json", dir / "merges.txt", cfg, roberta);
  } else {
    fs::path spm;
    for (const char* name : {"spiece.model", "source.spm", "sentencepiece.bpe.model", "tokenizer.model"})
      if (has(name)) {
        spm = fs::is_directory(p) ? dir / name : p;
        break;
      }
    if (spm.empty() && !fs::is_directory(p) && p.extension() == ".model") spm = p;
    XFMR_CHECK(!spm.empty(), "tokenizer: no tokenizer files in '", p.string(),
               "' (looked for tokenizer.json, vocab.txt, vocab.json + merges.txt, spiece.model, source.spm)");
    impl = load_sentencepiece(spm, cfg);
  }
  apply_config(*impl, cfg);
  return impl;
}

}  // namespace xfmr::tokenizers
