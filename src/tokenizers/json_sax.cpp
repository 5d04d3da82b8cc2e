#include "tokenizers/json_sax.h"

#include "xfmr/core/error.h"

namespace xfmr::tokenizers {

namespace {

using Dom = nlohmann::detail::json_sax_dom_parser<json>;

class Sax : public nlohmann::json_sax<json> {
 public:
  Sax(json& root, ModelTables& t, std::string where) : dom_(root, true), t_(t), where_(std::move(where)) {}

  bool null() override { return value([&] { return dom_.null(); }, Val::Other); }
  bool boolean(bool v) override { return value([&] { return dom_.boolean(v); }, Val::Other); }
  bool number_integer(number_integer_t v) override {
    num_ = static_cast<double>(v);
    int_ = v;
    return value([&] { return dom_.number_integer(v); }, Val::Int);
  }
  bool number_unsigned(number_unsigned_t v) override {
    num_ = static_cast<double>(v);
    int_ = v > static_cast<number_unsigned_t>(INT64_MAX) ? -1 : static_cast<int64_t>(v);
    return value([&] { return dom_.number_unsigned(v); }, Val::Int);
  }
  bool number_float(number_float_t v, const string_t& s) override {
    num_ = v;
    return value([&] { return dom_.number_float(v, s); }, Val::Float);
  }
  bool string(string_t& v) override {
    str_ = &v;
    return value([&] { return dom_.string(v); }, Val::String);
  }
  bool binary(binary_t& v) override { return value([&] { return dom_.binary(v); }, Val::Other); }

  bool start_object(std::size_t n) override {
    if (mode_ != Mode::Dom) return capture_open(true);
    if (starts_capture(true)) return true;
    stack_.push_back({true, {}});
    return dom_.start_object(n);
  }
  bool end_object() override {
    if (mode_ != Mode::Dom) return capture_close(true);
    stack_.pop_back();
    return dom_.end_object();
  }
  bool start_array(std::size_t n) override {
    if (mode_ != Mode::Dom) return capture_open(false);
    if (starts_capture(false)) return true;
    stack_.push_back({false, {}});
    return dom_.start_array(n);
  }
  bool end_array() override {
    if (mode_ != Mode::Dom) return capture_close(false);
    stack_.pop_back();
    return dom_.end_array();
  }
  bool key(string_t& k) override {
    if (mode_ == Mode::VocabObject) {
      key_ = k;
      return true;
    }
    if (mode_ != Mode::Dom) return fail("unexpected key '" + k + "'");
    stack_.back().key = k;
    return dom_.key(k);
  }
  bool parse_error(std::size_t pos, const std::string&, const nlohmann::detail::exception& ex) override {
    detail::fail(where_, ": malformed JSON at byte ", pos, " (", ex.what(), ")");
  }

 private:
  enum class Mode { Dom, VocabObject, VocabList, Merges };
  enum class Val { Int, Float, String, Other };
  struct Level {
    bool object;
    std::string key;
  };

  bool fail(const std::string& what) {
    std::string field = mode_ == Mode::Merges ? "model.merges" : "model.vocab";
    detail::fail(where_, ": ", field, ": ", what);
  }

  // At root.model.{vocab,merges}: read the container into the tables, and put null in the DOM.
  bool starts_capture(bool object) {
    if (stack_.size() != 2 || !stack_[0].object || stack_[0].key != "model" || !stack_[1].object) return false;
    const std::string& k = stack_[1].key;
    if (k == "vocab") mode_ = object ? Mode::VocabObject : Mode::VocabList;
    else if (k == "merges" && !object) mode_ = Mode::Merges;
    else return false;
    if (mode_ == Mode::VocabObject) t_.vocab_object.emplace();
    if (mode_ == Mode::VocabList) t_.vocab_list.emplace();
    if (mode_ == Mode::Merges) t_.merges.emplace();
    depth_ = 1;
    item_.clear();
    return dom_.null();
  }

  bool capture_open(bool object) {
    if (object || depth_ != 1 || mode_ == Mode::VocabObject) return fail("unexpected nested value");
    ++depth_;
    item_.clear();
    return true;
  }

  bool capture_close(bool object) {
    --depth_;
    if (depth_ == 0) {
      if (object != (mode_ == Mode::VocabObject)) return fail("mismatched brackets");
      mode_ = Mode::Dom;
      return true;
    }
    // End of one [a, b] / [piece, score] entry.
    if (mode_ == Mode::Merges) {
      if (item_.size() != 2) return fail("entry " + std::to_string(t_.merges->size()) + " must be [\"a\", \"b\"]");
      t_.merges->emplace_back(std::move(item_[0]), std::move(item_[1]));
    } else {
      if (item_.size() != 1 || !have_score_)
        return fail("entry " + std::to_string(t_.vocab_list->size()) + " must be [piece, score]");
      t_.vocab_list->emplace_back(std::move(item_[0]), score_);
    }
    item_.clear();
    have_score_ = false;
    return true;
  }

  template <typename F>
  bool value(F&& to_dom, Val kind) {
    switch (mode_) {
      case Mode::Dom:
        return to_dom();
      case Mode::VocabObject:
        if (kind != Val::Int || int_ < 0 || int_ > INT32_MAX)
          return fail("entry '" + key_ + "' must have a non-negative integer id");
        t_.vocab_object->set(key_, static_cast<int32_t>(int_));
        return true;
      case Mode::VocabList:
        if (depth_ != 2) return fail("entries must be [piece, score]");
        if (kind == Val::String && item_.empty()) item_.push_back(*str_);
        else if ((kind == Val::Int || kind == Val::Float) && item_.size() == 1 && !have_score_) {
          score_ = num_;
          have_score_ = true;
        } else {
          return fail("entry " + std::to_string(t_.vocab_list->size()) + " must be [piece, score]");
        }
        return true;
      case Mode::Merges:
        if (kind != Val::String) return fail("entry " + std::to_string(t_.merges->size()) + " must be a string");
        if (depth_ == 1) {
          const std::string& s = *str_;
          size_t sp = s.find(' ');
          if (sp == std::string::npos)
            return fail("entry " + std::to_string(t_.merges->size()) + " ('" + s + "') is not \"a b\"");
          t_.merges->emplace_back(s.substr(0, sp), s.substr(sp + 1));
        } else {
          item_.push_back(*str_);
        }
        return true;
    }
    return true;
  }

  Dom dom_;
  ModelTables& t_;
  std::string where_;
  std::vector<Level> stack_;
  Mode mode_ = Mode::Dom;
  int depth_ = 0;
  std::string key_;
  std::vector<std::string> item_;
  bool have_score_ = false;
  double score_ = 0, num_ = 0;
  int64_t int_ = 0;
  string_t* str_ = nullptr;
};

}  // namespace

json parse_tokenizer_json(std::string_view text, const std::string& where, ModelTables& tables) {
  json root;
  Sax sax(root, tables, where);
  json::sax_parse(text.begin(), text.end(), &sax);
  return root;
}

}  // namespace xfmr::tokenizers
