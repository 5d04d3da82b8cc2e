#include "tokenizers/golden.h"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "common/test_util.h"

namespace xfmr::test::tok {

using namespace xfmr::tokenizers;

fs::path fixtures_dir() { return fixture_dir("XFMR_TOKENIZER_FIXTURES", "fixtures/tokenizers"); }

fs::path assets_dir() { return fixture_dir("XFMR_TOKENIZER_ASSETS", "assets/hf"); }

std::vector<fs::path> golden_files(const fs::path& dir) {
  std::vector<fs::path> out;
  if (dir.empty() || !fs::exists(dir)) return out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".jsonl") out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<json> read_jsonl(const fs::path& file) {
  std::ifstream f(file);
  std::vector<json> out;
  std::string line;
  while (std::getline(f, line))
    if (!line.empty()) out.push_back(json::parse(line));
  return out;
}

EncodeOptions options_of(const json& rec) {
  EncodeOptions o;
  o.add_special_tokens = rec.value("add_special_tokens", true);
  const json& t = rec["truncation"];
  if (!t.is_null()) {
    std::string s = t["strategy"];
    o.truncation.strategy = s == "only_second" ? TruncationStrategy::OnlySecond
                            : s == "only_first" ? TruncationStrategy::OnlyFirst
                                                : TruncationStrategy::LongestFirst;
    o.truncation.max_length = t["max_length"];
    o.truncation.stride = t.value("stride", 0);
    o.truncation.direction = t.value("direction", std::string("right")) == "left" ? Direction::Left : Direction::Right;
  }
  return o;
}

Encoding encode_record(const Tokenizer& t, const json& rec) {
  EncodeOptions o = options_of(rec);
  if (rec["text_pair"].is_null()) return t.encode(rec["text"].get<std::string>(), o);
  return t.encode_pair(rec["text"].get<std::string>(), rec["text_pair"].get<std::string>(), o);
}

namespace {

template <typename T>
std::string show(const std::vector<T>& v) {
  std::ostringstream os;
  os << "[";
  for (size_t i = 0; i < v.size() && i < 40; ++i) os << (i ? "," : "") << v[i];
  if (v.size() > 40) os << ",... (" << v.size() << ")";
  os << "]";
  return os.str();
}
std::string show(const std::vector<std::string>& v) {
  std::ostringstream os;
  os << "[";
  for (size_t i = 0; i < v.size() && i < 40; ++i) os << (i ? "," : "") << json(v[i]).dump();
  if (v.size() > 40) os << ",... (" << v.size() << ")";
  os << "]";
  return os.str();
}
std::string show(const std::vector<Offsets>& v) {
  std::ostringstream os;
  os << "[";
  for (size_t i = 0; i < v.size() && i < 40; ++i) os << (i ? "," : "") << "[" << v[i].first << "," << v[i].second << "]";
  if (v.size() > 40) os << ",... (" << v.size() << ")";
  os << "]";
  return os.str();
}

std::vector<int32_t> ints(const json& j) {
  std::vector<int32_t> v;
  for (const auto& x : j) v.push_back(x.is_null() ? -1 : x.get<int32_t>());
  return v;
}
std::vector<Offsets> spans(const json& j) {
  std::vector<Offsets> v;
  for (const auto& x : j) v.push_back({x[0].get<size_t>(), x[1].get<size_t>()});
  return v;
}

template <typename T>
void cmp(std::vector<std::string>& out, const std::string& label, const char* field, const std::vector<T>& got,
         const std::vector<T>& want) {
  if (got == want) return;
  size_t i = 0;
  while (i < got.size() && i < want.size() && got[i] == want[i]) ++i;
  out.push_back(label + " " + field + " differ at " + std::to_string(i) + ": got " + show(got) + " want " + show(want));
}

}  // namespace

std::vector<std::string> compare_encoding(const Encoding& got, const json& e, const std::string& label) {
  std::vector<std::string> out;
  cmp(out, label, "ids", got.ids, ints(e["ids"]));
  cmp(out, label, "tokens", got.tokens, e["tokens"].get<std::vector<std::string>>());
  cmp(out, label, "type_ids", got.type_ids, ints(e["type_ids"]));
  cmp(out, label, "attention_mask", got.attention_mask, ints(e["attention_mask"]));
  cmp(out, label, "special_tokens_mask", got.special_tokens_mask, ints(e["special_tokens_mask"]));
  cmp(out, label, "sequence_ids", got.sequence_ids, ints(e["sequence_ids"]));
  cmp(out, label, "word_ids", got.word_ids, ints(e["word_ids"]));
  cmp(out, label, "offsets_codepoints", got.offsets, spans(e["offsets_codepoints"]));
  cmp(out, label, "offsets_utf8", got.byte_offsets, spans(e["offsets_utf8"]));
  return out;
}

std::vector<std::string> check_record(const Tokenizer& t, const json& rec, bool check_decode) {
  std::string label = rec["tokenizer"].get<std::string>() + " " + rec["case_id"].get<std::string>() + " " +
                      rec["mode"].get<std::string>() + (rec.value("add_special_tokens", true) ? "" : " no-special");
  std::vector<std::string> out;
  Encoding e;
  try {
    e = encode_record(t, rec);
  } catch (const std::exception& ex) {
    return {label + " threw: " + ex.what()};
  }
  out = compare_encoding(e, rec, label);
  const json empty = json::array();
  const json& ov = rec.contains("overflowing") ? rec["overflowing"] : empty;
  if (e.overflowing.size() != ov.size())
    out.push_back(label + " overflowing windows: got " + std::to_string(e.overflowing.size()) + " want " +
                  std::to_string(ov.size()));
  for (size_t k = 0; k < std::min(e.overflowing.size(), ov.size()); ++k) {
    auto d = compare_encoding(e.overflowing[k], ov[k], label + " overflow[" + std::to_string(k) + "]");
    out.insert(out.end(), d.begin(), d.end());
  }
  if (check_decode && rec.contains("decode")) {
    for (bool skip : {true, false}) {
      std::string want = rec["decode"][skip ? "skip_special_tokens_true" : "skip_special_tokens_false"];
      DecodeOptions d;
      d.skip_special_tokens = skip;
      std::string got = t.decode(e.ids, d);
      if (got != want)
        out.push_back(label + " decode(skip_special_tokens=" + (skip ? "true" : "false") + "): got " + json(got).dump() +
                      " want " + json(want).dump());
    }
  }
  return out;
}

}  // namespace xfmr::test::tok
