// TSV / CSV / JSONL readers for labelled text, and the label <-> id mapping.
#include "xfmr/data/classification_dataset.h"

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "xfmr/core/error.h"

namespace xfmr::data {
namespace {

const std::vector<std::string> kTextNames = {"sentence", "text", "sentence1", "premise", "question", "review", "content"};
const std::vector<std::string> kPairNames = {"sentence2", "hypothesis", "text_pair", "text_b"};
const std::vector<std::string> kLabelNames = {"label", "labels", "gold_label", "sentiment"};

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string detect_format(const std::filesystem::path& p, const std::string& given) {
  if (!given.empty()) {
    std::string f = lower(given);
    XFMR_CHECK(f == "tsv" || f == "csv" || f == "jsonl" || f == "json", "data: unknown format '", given,
               "' (tsv, csv or jsonl)");
    return f == "json" ? "jsonl" : f;
  }
  std::string ext = lower(p.extension().string());
  if (ext == ".tsv" || ext == ".txt") return "tsv";
  if (ext == ".csv") return "csv";
  if (ext == ".jsonl" || ext == ".json" || ext == ".ndjson") return "jsonl";
  ::xfmr::detail::fail("data: cannot tell the format of '", p.string(), "' from its extension; pass the format (tsv, csv, jsonl)");
}

// Column index: the requested name, or the first candidate present; -1 when absent.
int find_column(const std::vector<std::string>& header, const std::string& requested,
                const std::vector<std::string>& candidates, const std::string& file, bool required, const char* what) {
  auto find = [&](const std::string& name) -> int {
    for (size_t i = 0; i < header.size(); ++i)
      if (lower(header[i]) == lower(name)) return static_cast<int>(i);
    return -1;
  };
  if (!requested.empty()) {
    int i = find(requested);
    XFMR_CHECK(i >= 0 || !required, file, ":1: no column '", requested, "' in the header");
    return i;
  }
  for (const auto& c : candidates)
    if (int i = find(c); i >= 0) return i;
  if (required) {
    std::string h;
    for (const auto& x : header) h += (h.empty() ? "" : ", ") + x;
    std::string c;
    for (const auto& x : candidates) c += (c.empty() ? "" : ", ") + x;
    ::xfmr::detail::fail(file, ":1: no ", what, " column in the header [", h, "] (looked for ", c, "; name it explicitly)");
  }
  return -1;
}

std::string strip_cr(std::string s) {
  if (!s.empty() && s.back() == '\r') s.pop_back();
  return s;
}

bool blank(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c == ' ' || c == '\t' || c == '\r'; });
}

std::vector<std::string> split_tab(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t t = s.find('\t', start);
    out.push_back(s.substr(start, t == std::string::npos ? std::string::npos : t - start));
    if (t == std::string::npos) break;
    start = t + 1;
  }
  return out;
}

// One CSV record (RFC 4180: quoted fields may hold commas, "" and newlines). Returns false at EOF.
bool read_csv_record(std::istream& in, std::vector<std::string>& fields, int64_t& line, int64_t& first_line,
                     const std::string& file) {
  fields.clear();
  std::string raw;
  if (!std::getline(in, raw)) return false;
  ++line;
  first_line = line;
  std::string field;
  bool quoted = false, was_quoted = false;
  size_t i = 0;
  for (;;) {
    if (i >= raw.size()) {
      if (quoted) {  // the quoted field continues on the next line
        std::string next;
        XFMR_CHECK(static_cast<bool>(std::getline(in, next)), file, ":", first_line,
                   ": unterminated quoted CSV field (end of file reached)");
        ++line;
        field += '\n';
        raw = next;
        i = 0;
        continue;
      }
      break;
    }
    char c = raw[i++];
    if (quoted) {
      if (c == '"') {
        if (i < raw.size() && raw[i] == '"') {
          field += '"';
          ++i;
        } else {
          quoted = false;
        }
      } else {
        field += c;
      }
    } else if (c == '"') {
      XFMR_CHECK(field.empty() && !was_quoted, file, ":", line, ": stray quote inside an unquoted CSV field");
      quoted = was_quoted = true;
    } else if (c == ',') {
      fields.push_back(std::move(field));
      field.clear();
      was_quoted = false;
    } else if (c == '\r' && i == raw.size()) {
    } else {
      XFMR_CHECK(!was_quoted, file, ":", line, ": text after the closing quote of a CSV field");
      field += c;
    }
  }
  fields.push_back(std::move(field));
  return true;
}

struct Columns {
  int text = -1, pair = -1, label = -1;
};

Columns resolve(const std::vector<std::string>& header, const ReadOptions& o, const std::string& file) {
  Columns c;
  c.text = find_column(header, o.text_column, kTextNames, file, true, "text");
  c.pair = find_column(header, o.text_pair_column, kPairNames, file, !o.text_pair_column.empty(), "text pair");
  c.label = find_column(header, o.label_column, kLabelNames, file, o.require_labels, "label");
  return c;
}

void add_row(ClassificationData& d, const std::vector<std::string>& f, const Columns& c, size_t ncols, int64_t line,
             const std::string& file) {
  XFMR_CHECK(f.size() == ncols, file, ":", line, ": malformed row: ", f.size(), " field(s), the header has ", ncols);
  ClassificationExample e;
  e.line = line;
  e.text = f[static_cast<size_t>(c.text)];
  XFMR_CHECK(!blank(e.text), file, ":", line, ": empty text");
  if (c.pair >= 0) e.text_pair = f[static_cast<size_t>(c.pair)];
  if (c.label >= 0) {
    e.label = f[static_cast<size_t>(c.label)];
    while (!e.label.empty() && (e.label.back() == ' ' || e.label.back() == '\r')) e.label.pop_back();
    XFMR_CHECK(!e.label.empty(), file, ":", line, ": empty label");
  }
  d.examples.push_back(std::move(e));
}

void read_delimited(std::istream& in, ClassificationData& d, const ReadOptions& o, bool csv, const std::string& file) {
  std::vector<std::string> header;
  int64_t line = 0, first = 0;
  std::string raw;
  if (csv) {
    if (!read_csv_record(in, header, line, first, file)) ::xfmr::detail::fail(file, ": the file is empty (expected a header row)");
  } else {
    XFMR_CHECK(static_cast<bool>(std::getline(in, raw)), file, ": the file is empty (expected a header row)");
    line = 1;
    header = split_tab(strip_cr(raw));
  }
  for (auto& h : header) {
    while (!h.empty() && h.back() == ' ') h.pop_back();
  }
  Columns c = resolve(header, o, file);
  std::vector<std::string> f;
  for (;;) {
    if (o.max_examples > 0 && static_cast<int64_t>(d.examples.size()) >= o.max_examples) break;
    if (csv) {
      if (!read_csv_record(in, f, line, first, file)) break;
      if (f.size() == 1 && blank(f[0])) continue;
    } else {
      if (!std::getline(in, raw)) break;
      first = ++line;
      raw = strip_cr(raw);
      if (blank(raw)) continue;
      f = split_tab(raw);
    }
    add_row(d, f, c, header.size(), first, file);
  }
  d.has_pairs = c.pair >= 0;
}

std::string json_label(const nlohmann::json& v, const std::string& where) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  if (v.is_boolean()) return v.get<bool>() ? "1" : "0";
  ::xfmr::detail::fail(where, ": the label must be a string or an integer, got ", v.dump());
}

void read_jsonl(std::istream& in, ClassificationData& d, const ReadOptions& o, const std::string& file) {
  std::string raw;
  int64_t line = 0;
  bool any_line = false;
  Columns names_found;
  std::string text_key, pair_key, label_key;
  while (std::getline(in, raw)) {
    ++line;
    any_line = true;
    if (o.max_examples > 0 && static_cast<int64_t>(d.examples.size()) >= o.max_examples) break;
    if (blank(raw)) continue;
    const std::string where = file + ":" + std::to_string(line);
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(raw);
    } catch (const nlohmann::json::parse_error& e) {
      ::xfmr::detail::fail(where, ": malformed JSON (", e.what(), ")");
    }
    XFMR_CHECK(j.is_object(), where, ": each line must be a JSON object, got ", j.type_name());
    if (text_key.empty()) {  // columns from the first object's keys
      std::vector<std::string> keys;
      for (auto it = j.begin(); it != j.end(); ++it) keys.push_back(it.key());
      Columns c = resolve(keys, o, where);
      text_key = keys[static_cast<size_t>(c.text)];
      if (c.pair >= 0) pair_key = keys[static_cast<size_t>(c.pair)];
      if (c.label >= 0) label_key = keys[static_cast<size_t>(c.label)];
    }
    ClassificationExample e;
    e.line = line;
    XFMR_CHECK(j.contains(text_key) && j[text_key].is_string(), where, ": missing or non-string \"", text_key, "\"");
    e.text = j[text_key].get<std::string>();
    XFMR_CHECK(!blank(e.text), where, ": empty text");
    if (!pair_key.empty()) {
      XFMR_CHECK(j.contains(pair_key) && j[pair_key].is_string(), where, ": missing or non-string \"", pair_key, "\"");
      e.text_pair = j[pair_key].get<std::string>();
    }
    if (!label_key.empty()) {
      XFMR_CHECK(j.contains(label_key), where, ": missing \"", label_key, "\"");
      e.label = json_label(j[label_key], where);
      XFMR_CHECK(!e.label.empty(), where, ": empty label");
    }
    d.examples.push_back(std::move(e));
  }
  XFMR_CHECK(any_line, file, ": the file is empty");
  d.has_pairs = !pair_key.empty();
}

}  // namespace

ClassificationData read_classification_file(const std::filesystem::path& path, const ReadOptions& options) {
  ClassificationData d;
  d.path = path;
  const std::string file = path.string();
  XFMR_CHECK(std::filesystem::is_regular_file(path), "data: '", file, "' is not a file");
  std::ifstream in(path, std::ios::binary);
  XFMR_CHECK(in, "data: cannot open '", file, "'");
  std::string fmt = detect_format(path, options.format);
  if (fmt == "jsonl") read_jsonl(in, d, options, file);
  else read_delimited(in, d, options, fmt == "csv", file);
  XFMR_CHECK(!d.examples.empty(), file, ": no examples (only a header or blank lines)");
  return d;
}

// ---- labels ----

namespace {
bool is_small_int(const std::string& s) {
  if (s.empty() || s.size() > 6) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}
}  // namespace

LabelMap LabelMap::from_examples(const std::vector<ClassificationExample>& examples,
                                 const std::vector<std::string>& names) {
  std::set<std::string> raw;
  for (const auto& e : examples) raw.insert(e.label);
  XFMR_CHECK(!raw.empty(), "labels: no examples");
  LabelMap m;
  bool ints = std::all_of(raw.begin(), raw.end(), is_small_int);
  std::vector<std::string> by_id;
  if (ints) {  // 0..max: the integer is the id (gaps get their number as name)
    int64_t max = 0;
    for (const auto& r : raw) max = std::max<int64_t>(max, std::stoll(r));
    for (int64_t i = 0; i <= max; ++i) by_id.push_back(std::to_string(i));
  } else {
    by_id.assign(raw.begin(), raw.end());
  }
  XFMR_CHECK(by_id.size() >= 2 || names.size() >= 2, "labels: the training data has a single label ('", by_id[0],
             "'); a classifier needs at least two");
  if (!names.empty()) {
    XFMR_CHECK(names.size() >= by_id.size(), "labels: ", names.size(), " label name(s) given for ", by_id.size(),
               " label(s) in the data");
    while (by_id.size() < names.size()) by_id.push_back(std::to_string(by_id.size()));
  }
  for (size_t i = 0; i < by_id.size(); ++i) {
    std::string name = names.empty() ? by_id[i] : names[i];
    m.names_.push_back(name);
    m.index_[by_id[i]] = static_cast<int64_t>(i);
    m.index_[name] = static_cast<int64_t>(i);
  }
  return m;
}

LabelMap LabelMap::from_id2label(const std::map<int64_t, std::string>& id2label) {
  LabelMap m;
  int64_t expect = 0;
  for (const auto& [id, name] : id2label) {
    XFMR_CHECK(id == expect++, "labels: id2label ids must be 0..n-1, got ", id);
    m.names_.push_back(name);
    m.index_[name] = id;
    m.index_.emplace(std::to_string(id), id);
  }
  return m;
}

int64_t LabelMap::id_of(const std::string& label, const std::string& where) const {
  auto it = index_.find(label);
  if (it != index_.end()) return it->second;
  std::string known;
  for (const auto& n : names_) known += (known.empty() ? "" : ", ") + n;
  ::xfmr::detail::fail(where, ": unknown label '", label, "' (known labels: ", known, ")");
}

std::vector<int64_t> LabelMap::encode(const std::vector<ClassificationExample>& examples,
                                      const std::filesystem::path& file) const {
  std::vector<int64_t> out;
  out.reserve(examples.size());
  for (const auto& e : examples) out.push_back(id_of(e.label, file.string() + ":" + std::to_string(e.line)));
  return out;
}

}  // namespace xfmr::data
