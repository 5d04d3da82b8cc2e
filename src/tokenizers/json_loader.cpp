// tokenizer.json -> Tokenizer::Impl, and tokenizer_config.json settings.
#include <fstream>
#include <sstream>

#include "tokenizers/components.h"
#include "tokenizers/impl.h"
#include "tokenizers/json_sax.h"
#include "xfmr/core/error.h"

namespace xfmr::tokenizers {

Vocab read_vocab_object(const json& j, const std::string& where);
std::unique_ptr<Model> make_wordlevel(Vocab vocab, std::string unk, const std::string& where);

namespace {

std::optional<std::string> opt_string(const json& j, const char* key, const std::string& where) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::nullopt;
  XFMR_CHECK(it->is_string(), where, ": '", key, "' must be a string");
  return it->get<std::string>();
}

std::vector<std::pair<std::string, std::string>> read_merges(const json& j, const std::string& where) {
  XFMR_CHECK(j.is_array(), where, ": 'merges' must be an array");
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(j.size());
  for (size_t i = 0; i < j.size(); ++i) {
    const json& m = j[i];
    if (m.is_string()) {
      const std::string& s = m.get_ref<const std::string&>();
      size_t sp = s.find(' ');
      XFMR_CHECK(sp != std::string::npos, where, ": merge ", i, " ('", s, "') is not \"a b\"");
      out.emplace_back(s.substr(0, sp), s.substr(sp + 1));
    } else {
      XFMR_CHECK(m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string(), where, ": merge ", i,
                 " must be \"a b\" or [\"a\", \"b\"]");
      out.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
    }
  }
  return out;
}

}  // namespace

std::unique_ptr<Model> make_model(const json& j, const std::string& where, ModelTables* tables) {
  XFMR_CHECK(j.is_object(), where, ": the model must be a JSON object");
  ModelTables none;
  ModelTables& t = tables ? *tables : none;
  bool have_vocab = t.vocab_object || t.vocab_list;
  auto vocab_object = [&]() -> Vocab {
    if (t.vocab_object) return std::move(*t.vocab_object);
    XFMR_CHECK(!t.vocab_list, where, ": 'vocab' must be an object of token -> id");
    return read_vocab_object(need(j, "vocab", where), where + ".vocab");
  };
  std::string type;
  if (j.contains("type")) {
    type = type_of(j, where);
  } else {
    // Old files have no "type": recognise the model by its fields, as HF's untagged fallback does.
    bool list = t.vocab_list || (!have_vocab && need(j, "vocab", where).is_array());
    type = j.contains("merges") ? "BPE" : list ? "Unigram" : j.contains("max_input_chars_per_word") ? "WordPiece"
                                                                                                    : "WordLevel";
  }
  if (type == "WordPiece") {
    size_t max_chars = 100;
    if (j.contains("max_input_chars_per_word")) {
      XFMR_CHECK(j["max_input_chars_per_word"].is_number_unsigned(), where, ": 'max_input_chars_per_word' must be a positive integer");
      max_chars = j["max_input_chars_per_word"].get<size_t>();
    }
    return make_wordpiece(vocab_object(), opt_string(j, "unk_token", where).value_or("[UNK]"),
                          opt_string(j, "continuing_subword_prefix", where).value_or("##"), max_chars, where);
  }
  if (type == "BPE") {
    auto merges = t.merges ? std::move(*t.merges) : read_merges(need(j, "merges", where), where + ".merges");
    return make_bpe(vocab_object(), std::move(merges), opt_string(j, "unk_token", where),
                    opt_string(j, "continuing_subword_prefix", where).value_or(""),
                    opt_string(j, "end_of_word_suffix", where).value_or(""), get_bool(j, "fuse_unk", false, where),
                    get_bool(j, "byte_fallback", false, where), get_bool(j, "ignore_merges", false, where), where);
  }
  if (type == "Unigram") {
    std::vector<std::pair<std::string, double>> vocab;
    if (t.vocab_list) {
      vocab = std::move(*t.vocab_list);
    } else {
      XFMR_CHECK(!t.vocab_object, where, ": Unigram 'vocab' must be an array of [piece, score]");
      const json& v = need(j, "vocab", where);
      XFMR_CHECK(v.is_array(), where, ": Unigram 'vocab' must be an array of [piece, score]");
      vocab.reserve(v.size());
      for (size_t i = 0; i < v.size(); ++i) {
        XFMR_CHECK(v[i].is_array() && v[i].size() == 2 && v[i][0].is_string() && v[i][1].is_number(), where, ".vocab[", i,
                   "]: expected [piece, score]");
        vocab.emplace_back(v[i][0].get<std::string>(), v[i][1].get<double>());
      }
    }
    std::optional<int32_t> unk;
    if (j.contains("unk_id") && !j["unk_id"].is_null()) {
      XFMR_CHECK(j["unk_id"].is_number_integer(), where, ": 'unk_id' must be an integer");
      unk = j["unk_id"].get<int32_t>();
    }
    return make_unigram(std::move(vocab), unk, get_bool(j, "byte_fallback", false, where), where);
  }
  if (type == "WordLevel")
    return make_wordlevel(vocab_object(), opt_string(j, "unk_token", where).value_or("<unk>"), where);
  detail::fail(where, ": unknown model type '", type, "'");
}

std::unique_ptr<Tokenizer::Impl> load_tokenizer_json(std::string_view text, const std::string& origin) {
  std::string w = "tokenizer.json '" + origin + "'";
  ModelTables tables;
  json j = parse_tokenizer_json(text, w, tables);
  XFMR_CHECK(j.is_object(), w, ": expected a JSON object at the top level");
  auto impl = std::make_unique<Tokenizer::Impl>();
  auto present = [&](const char* key) { return j.contains(key) && !j[key].is_null(); };
  impl->model = make_model(need(j, "model", w), w + ": model", &tables);
  if (present("normalizer")) impl->normalizer = make_normalizer(j["normalizer"], w + ": normalizer");
  if (present("pre_tokenizer")) impl->pre_tokenizer = make_pre_tokenizer(j["pre_tokenizer"], w + ": pre_tokenizer");
  if (present("post_processor")) impl->post_processor = make_post_processor(j["post_processor"], w + ": post_processor");
  if (present("decoder")) impl->decoder = make_decoder(j["decoder"], w + ": decoder");
  if (present("added_tokens")) {
    const json& arr = j["added_tokens"];
    XFMR_CHECK(arr.is_array(), w, ": 'added_tokens' must be an array");
    std::vector<AddedToken> toks;
    for (size_t i = 0; i < arr.size(); ++i) {
      std::string wi = detail::cat(w, ": added_tokens[", i, "]");
      const json& t = arr[i];
      AddedToken a;
      const json& id = need(t, "id", wi);
      XFMR_CHECK(id.is_number_integer() && id.get<int64_t>() >= 0, wi, ": 'id' must be a non-negative integer");
      a.id = id.get<int32_t>();
      const json& c = need(t, "content", wi);
      XFMR_CHECK(c.is_string(), wi, ": 'content' must be a string");
      a.content = c.get<std::string>();
      a.single_word = get_bool(t, "single_word", false, wi);
      a.lstrip = get_bool(t, "lstrip", false, wi);
      a.rstrip = get_bool(t, "rstrip", false, wi);
      a.special = get_bool(t, "special", false, wi);
      a.normalized = get_bool(t, "normalized", !a.special, wi);
      toks.push_back(std::move(a));
    }
    impl->added.add(std::move(toks), *impl->model, impl->normalizer.get());
  }
  impl->resolve_special_tokens({});
  return impl;
}

namespace {
// A special token entry in tokenizer_config.json: "[CLS]" or {"content": "[CLS]", ...}.
std::optional<std::string> token_text(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string()) return v["content"].get<std::string>();
  return std::nullopt;
}
}  // namespace

TokenizerConfig read_tokenizer_config(const std::filesystem::path& dir) {
  TokenizerConfig cfg;
  auto path = dir / "tokenizer_config.json";
  if (!std::filesystem::exists(path)) return cfg;
  std::ifstream f(path, std::ios::binary);
  XFMR_CHECK(f, "tokenizer: cannot open '", path.string(), "'");
  std::stringstream ss;
  ss << f.rdbuf();
  json j;
  try {
    j = json::parse(ss.str());
  } catch (const json::parse_error& e) {
    detail::fail("tokenizer_config.json '", path.string(), "': malformed JSON (", e.what(), ")");
  }
  std::string w = "tokenizer_config.json '" + path.string() + "'";
  XFMR_CHECK(j.is_object(), w, ": expected a JSON object");
  if (j.contains("do_lower_case") && j["do_lower_case"].is_boolean()) cfg.do_lower_case = j["do_lower_case"].get<bool>();
  if (j.contains("add_prefix_space") && j["add_prefix_space"].is_boolean())
    cfg.add_prefix_space = j["add_prefix_space"].get<bool>();
  if (j.contains("clean_up_tokenization_spaces") && j["clean_up_tokenization_spaces"].is_boolean())
    cfg.clean_up_tokenization_spaces = j["clean_up_tokenization_spaces"].get<bool>();
  if (j.contains("model_max_length") && j["model_max_length"].is_number()) {
    double v = j["model_max_length"].get<double>();
    XFMR_CHECK(v >= 0, w, ": model_max_length must not be negative");
    cfg.model_max_length = v >= static_cast<double>(kVeryLargeLength) ? kVeryLargeLength : static_cast<size_t>(v);
  }
  if (j.contains("tokenizer_class") && j["tokenizer_class"].is_string())
    cfg.tokenizer_class = j["tokenizer_class"].get<std::string>();
  for (const char* role : {"cls_token", "sep_token", "pad_token", "mask_token", "unk_token", "bos_token", "eos_token"})
    if (j.contains(role))
      if (auto t = token_text(j[role])) cfg.special.emplace_back(role, *t);
  if (j.contains("additional_special_tokens") && j["additional_special_tokens"].is_array())
    for (const auto& v : j["additional_special_tokens"])
      if (auto t = token_text(v)) cfg.additional_special_tokens.push_back(*t);
  if (j.contains("added_tokens_decoder") && j["added_tokens_decoder"].is_object()) {
    for (auto it = j["added_tokens_decoder"].begin(); it != j["added_tokens_decoder"].end(); ++it) {
      const json& t = it.value();
      AddedToken a;
      try {
        a.id = std::stoi(it.key());
      } catch (const std::exception&) {
        detail::fail(w, ": added_tokens_decoder key '", it.key(), "' is not an id");
      }
      auto content = token_text(t);
      XFMR_CHECK(content, w, ": added_tokens_decoder[", it.key(), "] has no content");
      a.content = *content;
      std::string wi = w + ": added_tokens_decoder[" + it.key() + "]";
      a.single_word = get_bool(t, "single_word", false, wi);
      a.lstrip = get_bool(t, "lstrip", false, wi);
      a.rstrip = get_bool(t, "rstrip", false, wi);
      a.special = get_bool(t, "special", false, wi);
      a.normalized = get_bool(t, "normalized", !a.special, wi);
      cfg.added_tokens_decoder.push_back(std::move(a));
    }
  }
  return cfg;
}

void apply_config(Tokenizer::Impl& impl, const TokenizerConfig& cfg) {
  if (cfg.model_max_length) impl.model_max_length = *cfg.model_max_length;
  // Tokens the config adds (added_tokens_decoder with its ids; additional_special_tokens and named
  // special tokens get the model's id, or the next free id), as transformers does on load. Tokens
  // already in the added vocabulary (e.g. from tokenizer.json) are left as they are.
  std::vector<AddedToken> extra = cfg.added_tokens_decoder;
  int32_t next = static_cast<int32_t>(impl.model->vocab_size());
  for (const auto& t : impl.added.tokens()) next = std::max(next, t.id + 1);
  for (const auto& t : extra) next = std::max(next, t.id + 1);
  std::vector<std::string> names = cfg.additional_special_tokens;
  for (const auto& [role, content] : cfg.special) names.push_back(content);
  for (const auto& name : names) {
    if (name.empty() || impl.added.token_to_id(name)) continue;
    bool listed = false;
    for (const auto& t : extra) listed |= t.content == name;
    if (listed) continue;
    AddedToken a;
    a.content = name;
    a.special = true;
    a.normalized = false;
    a.id = impl.model->token_to_id(name).value_or(next);
    if (a.id == next) ++next;
    extra.push_back(std::move(a));
  }
  if (!extra.empty()) impl.added.add(std::move(extra), *impl.model, impl.normalizer.get());
  // transformers cleans up decoded text unless the config says otherwise.
  impl.clean_up_spaces = cfg.clean_up_tokenization_spaces.value_or(true);
  impl.resolve_special_tokens(cfg.special);
}

void Tokenizer::Impl::resolve_special_tokens(const std::vector<std::pair<std::string, std::string>>& named) {
  auto id_of = [&](const std::string& t) -> std::optional<int32_t> {
    if (auto id = added.token_to_id(t)) return id;
    return model->token_to_id(t);
  };
  struct Role {
    const char* name;
    std::optional<SpecialToken>* slot;
    std::vector<const char*> defaults;
  };
  // Defaults follow the transformers classes of the common families (BERT brackets, RoBERTa/T5
  // angle brackets, GPT-2's <|endoftext|>); tokenizer_config.json entries override them.
  bool wordpiece = model->type_name() == "WordPiece";
  bool has_cls = id_of(wordpiece ? "[CLS]" : "<s>").has_value();
  std::vector<Role> roles = {
      {"cls_token", &specials.cls, {wordpiece ? "[CLS]" : "<s>"}},
      {"sep_token", &specials.sep, {has_cls ? (wordpiece ? "[SEP]" : "</s>") : ""}},
      {"pad_token", &specials.pad, {wordpiece ? "[PAD]" : "<pad>"}},
      {"mask_token", &specials.mask, {wordpiece ? "[MASK]" : "<mask>"}},
      {"unk_token", &specials.unk, {wordpiece ? "[UNK]" : "<unk>", "<|endoftext|>"}},
      {"bos_token", &specials.bos, {wordpiece ? "" : "<s>", "<|endoftext|>"}},
      {"eos_token", &specials.eos, {wordpiece ? "" : "</s>", "<|endoftext|>"}},
  };
  for (Role& r : roles) {
    std::optional<std::string> chosen;
    for (const auto& [k, v] : named)
      if (k == r.name) chosen = v;
    if (!chosen)
      for (const char* d : r.defaults)
        if (*d && id_of(d)) {
          chosen = d;
          break;
        }
    if (chosen) {
      auto id = id_of(*chosen);
      *r.slot = id ? std::optional<SpecialToken>(SpecialToken{*chosen, *id}) : std::nullopt;
    } else {
      r.slot->reset();
    }
  }
}

}  // namespace xfmr::tokenizers
