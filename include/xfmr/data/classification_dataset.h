// Labelled text for sequence classification: TSV / CSV / JSONL readers and the label mapping.
//
//   auto train = data::read_classification_file("sst2/train.tsv");          // columns found by name
//   data::LabelMap labels = data::LabelMap::from_examples(train.examples, {"NEGATIVE", "POSITIVE"});
//   auto ids = labels.encode(dev.examples, dev.path);   // unknown dev labels: error with the line
//
// Columns: TSV and CSV files have a header row; JSONL has one object per line. The text column is
// `text_column` if given, else the first of sentence / text / sentence1 / premise / question found;
// the pair column (optional) `text_pair_column`, else sentence2 / hypothesis / text_pair / text_b;
// the label column `label_column` (default "label"; also "labels", "gold_label"). JSON labels may be
// strings or integers. Malformed rows (wrong column count, bad CSV quoting, bad JSON, empty text,
// missing label) are errors naming the file and the line.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace xfmr::data {

struct ClassificationExample {
  std::string text;
  std::optional<std::string> text_pair;
  std::string label;  // as written in the file
  int64_t line = 0;   // 1-based line in the file (for error messages)
};

struct ReadOptions {
  std::string format;            // "tsv", "csv", "jsonl"; empty: from the extension (.tsv .csv .jsonl .json)
  std::string text_column;       // empty: auto
  std::string text_pair_column;  // empty: auto (absent = single texts)
  std::string label_column;      // empty: auto
  bool require_labels = true;    // false: rows without a label column are accepted (prediction input)
  int64_t max_examples = 0;      // 0 = all; else the first N rows
};

struct ClassificationData {
  std::filesystem::path path;
  std::vector<ClassificationExample> examples;
  bool has_pairs = false;
};

ClassificationData read_classification_file(const std::filesystem::path& path, const ReadOptions& options = {});

// Label strings <-> ids. Integer labels 0..n-1 keep their value as id (SST-2's 0/1); other label
// sets are sorted. Names (id2label) default to the label strings and can be overridden.
class LabelMap {
 public:
  LabelMap() = default;
  // `names` (optional) renames ids 0..n-1 for id2label (e.g. {"NEGATIVE", "POSITIVE"} for 0/1).
  static LabelMap from_examples(const std::vector<ClassificationExample>& examples,
                                const std::vector<std::string>& names = {});
  // From a model's id2label: file labels may be the names or the ids as integers.
  static LabelMap from_id2label(const std::map<int64_t, std::string>& id2label);

  int64_t size() const { return static_cast<int64_t>(names_.size()); }
  const std::vector<std::string>& names() const { return names_; }
  // Id of a file label (a raw label or a name); throws naming `where` when unknown.
  int64_t id_of(const std::string& label, const std::string& where) const;
  std::vector<int64_t> encode(const std::vector<ClassificationExample>& examples,
                              const std::filesystem::path& file) const;

 private:
  std::vector<std::string> names_;        // id -> name
  std::map<std::string, int64_t> index_;  // raw label and name -> id
};

}  // namespace xfmr::data
