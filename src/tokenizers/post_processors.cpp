// Post-processors: TemplateProcessing, BertProcessing, RobertaProcessing, Sequence (ByteLevel is in
// byte_level.cpp). They add the special tokens around each sequence and its overflowing windows.
#include "tokenizers/byte_level.h"
#include "tokenizers/components.h"
#include "xfmr/core/error.h"

namespace xfmr::tokenizers {

Encoding PostProcessor::process(Encoding a, std::optional<Encoding> b, bool add_special_tokens) const {
  std::vector<Encoding> encs;
  encs.push_back(std::move(a));
  if (b) encs.push_back(std::move(*b));
  for (size_t i = 0; i < encs.size(); ++i) {
    enc::set_sequence_id(encs[i], static_cast<int32_t>(i));
    enc::set_type_ids(encs[i], static_cast<int32_t>(i));
  }
  return enc::merge(process_encodings(std::move(encs), add_special_tokens));
}

namespace {

// `left` + e + `right` special tokens, all with type id `type_id` (also on the overflowing windows).
Encoding wrap(const Encoding& e, const std::vector<std::pair<std::string, int32_t>>& left,
              const std::vector<std::pair<std::string, int32_t>>& right, int32_t type_id) {
  auto special = [&](const std::vector<std::pair<std::string, int32_t>>& toks) {
    std::vector<int32_t> ids;
    std::vector<std::string> names;
    for (const auto& [t, id] : toks) {
      ids.push_back(id);
      names.push_back(t);
    }
    return enc::from_special(ids, names, type_id);
  };
  auto one = [&](const Encoding& x) {
    Encoding body = x;
    body.overflowing.clear();
    enc::set_type_ids(body, type_id);
    Encoding r = special(left);
    enc::merge_with(r, std::move(body));
    enc::merge_with(r, special(right));
    return r;
  };
  Encoding r = one(e);
  for (const auto& o : e.overflowing) r.overflowing.push_back(one(o));
  return r;
}

class RobertaProcessing : public PostProcessor {
 public:
  RobertaProcessing(std::pair<std::string, int32_t> sep, std::pair<std::string, int32_t> cls, bool trim, bool prefix)
      : sep_(std::move(sep)), cls_(std::move(cls)), trim_(trim), prefix_(prefix) {}
  size_t added_tokens(bool is_pair) const override { return is_pair ? 4 : 2; }
  std::vector<Encoding> process_encodings(std::vector<Encoding> encs, bool add) const override {
    if (trim_)
      for (auto& e : encs) {
        byte_level_trim_offsets(e, prefix_);
        for (auto& o : e.overflowing) byte_level_trim_offsets(o, prefix_);
      }
    if (!add) {
      // RoBERTa has a single segment: type ids stay 0 even for the pair (what HF returns).
      for (auto& e : encs) enc::set_type_ids(e, 0);
      return encs;
    }
    for (size_t i = 0; i < encs.size(); ++i) encs[i] = wrap(encs[i], {i == 0 ? cls_ : sep_}, {sep_}, 0);
    return encs;
  }

 private:
  std::pair<std::string, int32_t> sep_, cls_;
  bool trim_, prefix_;
};

class BertProcessing : public PostProcessor {
 public:
  BertProcessing(std::pair<std::string, int32_t> sep, std::pair<std::string, int32_t> cls)
      : sep_(std::move(sep)), cls_(std::move(cls)) {}
  size_t added_tokens(bool is_pair) const override { return is_pair ? 3 : 2; }
  std::vector<Encoding> process_encodings(std::vector<Encoding> encs, bool add) const override {
    if (!add) return encs;
    for (size_t i = 0; i < encs.size(); ++i)
      encs[i] = i == 0 ? wrap(encs[i], {cls_}, {sep_}, 0) : wrap(encs[i], {}, {sep_}, 1);
    return encs;
  }

 private:
  std::pair<std::string, int32_t> sep_, cls_;
};

struct Piece {
  bool is_sequence;
  std::string id;  // "A"/"B" or the special token id
  int32_t type_id;
};

class TemplateProcessing : public PostProcessor {
 public:
  using Specials = std::unordered_map<std::string, std::pair<std::vector<int32_t>, std::vector<std::string>>>;
  TemplateProcessing(std::vector<Piece> single, std::vector<Piece> pair, Specials specials)
      : single_(std::move(single)), pair_(std::move(pair)), specials_(std::move(specials)) {
    for (const auto& p : single_)
      if (!p.is_sequence) added_single_ += specials_.at(p.id).first.size();
    for (const auto& p : pair_)
      if (!p.is_sequence) added_pair_ += specials_.at(p.id).first.size();
  }
  size_t added_tokens(bool is_pair) const override { return is_pair ? added_pair_ : added_single_; }
  std::vector<Encoding> process_encodings(std::vector<Encoding> encs, bool add) const override {
    XFMR_CHECK(encs.size() == 1 || encs.size() == 2, "TemplateProcessing: expected 1 or 2 sequences, got ", encs.size());
    const auto& tpl = encs.size() == 2 ? pair_ : single_;
    std::vector<Encoding> out;
    for (size_t k = 0; k < tpl.size(); ++k) {
      const Piece& p = tpl[k];
      if (p.is_sequence) {
        size_t i = p.id == "A" ? 0 : 1;
        XFMR_CHECK(i < encs.size(), "TemplateProcessing: the single template uses sequence B");
        // HF sets the template's type id on the sequence itself, not on its overflowing windows.
        enc::set_type_ids(encs[i], p.type_id);
        enc::set_sequence_id(encs[i], static_cast<int32_t>(i));
        bool used_again = false;
        for (size_t r = k + 1; r < tpl.size(); ++r) used_again |= tpl[r].is_sequence && tpl[r].id == p.id;
        out.push_back(used_again ? encs[i] : std::move(encs[i]));
      } else if (add) {
        const auto& sp = specials_.at(p.id);
        out.push_back(enc::from_special(sp.first, sp.second, p.type_id));
      }
    }
    return out;
  }

 private:
  std::vector<Piece> single_, pair_;
  Specials specials_;
  size_t added_single_ = 0, added_pair_ = 0;
};

class SequenceProcessor : public PostProcessor {
 public:
  explicit SequenceProcessor(std::vector<std::unique_ptr<PostProcessor>> p) : parts_(std::move(p)) {}
  size_t added_tokens(bool is_pair) const override {
    size_t n = 0;
    for (const auto& p : parts_) n += p->added_tokens(is_pair);
    return n;
  }
  std::vector<Encoding> process_encodings(std::vector<Encoding> encs, bool add) const override {
    for (const auto& p : parts_) encs = p->process_encodings(std::move(encs), add);
    return encs;
  }

 private:
  std::vector<std::unique_ptr<PostProcessor>> parts_;
};

std::pair<std::string, int32_t> token_pair(const json& j, const char* key, const std::string& where) {
  const json& v = need(j, key, where);
  XFMR_CHECK(v.is_array() && v.size() == 2 && v[0].is_string() && v[1].is_number_integer(), where, ": '", key,
             "' must be [token, id]");
  return {v[0].get<std::string>(), v[1].get<int32_t>()};
}

// A template is either a list of pieces ({"Sequence": {id, type_id}} / {"SpecialToken": {...}}) or
// HF's string form ("[CLS]:0 $A:0 [SEP]:0").
std::vector<Piece> parse_template(const json& j, const std::string& where) {
  std::vector<Piece> out;
  auto from_string = [&](const std::string& s) {
    Piece p;
    std::string name = s;
    p.type_id = 0;
    if (auto c = s.rfind(':'); c != std::string::npos && c + 1 < s.size()) {
      name = s.substr(0, c);
      p.type_id = std::stoi(s.substr(c + 1));
    }
    if (!name.empty() && name[0] == '$') {
      p.is_sequence = true;
      std::string r = name.substr(1);
      if (r.empty() || r == "A" || r == "a") p.id = "A";
      else if (r == "B" || r == "b") p.id = "B";
      else if (r.find_first_not_of("0123456789") == std::string::npos) {
        p.id = "A";
        p.type_id = std::stoi(r);
      } else detail::fail(where, ": invalid template sequence '", s, "'");
    } else {
      p.is_sequence = false;
      p.id = name;
    }
    out.push_back(p);
  };
  if (j.is_string()) {
    std::string s = j.get<std::string>(), cur;
    for (char c : s + " ") {
      if (c == ' ') {
        if (!cur.empty()) from_string(cur);
        cur.clear();
      } else {
        cur.push_back(c);
      }
    }
    return out;
  }
  XFMR_CHECK(j.is_array(), where, ": a template must be a list of pieces or a string");
  for (size_t i = 0; i < j.size(); ++i) {
    const json& e = j[i];
    std::string w = detail::cat(where, "[", i, "]");
    if (e.is_string()) {
      from_string(e.get<std::string>());
      continue;
    }
    XFMR_CHECK(e.is_object() && e.size() == 1, w, ": expected {\"Sequence\": ...} or {\"SpecialToken\": ...}");
    Piece p;
    const json* body;
    if (e.contains("Sequence")) {
      p.is_sequence = true;
      body = &e["Sequence"];
    } else if (e.contains("SpecialToken")) {
      p.is_sequence = false;
      body = &e["SpecialToken"];
    } else {
      detail::fail(w, ": unknown template piece '", e.begin().key(), "'");
    }
    const json& id = need(*body, "id", w);
    XFMR_CHECK(id.is_string(), w, ": 'id' must be a string");
    p.id = id.get<std::string>();
    if (p.is_sequence) XFMR_CHECK(p.id == "A" || p.id == "B", w, ": sequence id must be A or B, got '", p.id, "'");
    const json& t = need(*body, "type_id", w);
    XFMR_CHECK(t.is_number_integer(), w, ": 'type_id' must be an integer");
    p.type_id = t.get<int32_t>();
    out.push_back(p);
  }
  return out;
}

}  // namespace

std::unique_ptr<PostProcessor> make_template_processing(
    const std::vector<std::pair<std::string, int32_t>>& single, const std::vector<std::pair<std::string, int32_t>>& pair,
    const std::unordered_map<std::string, std::pair<std::vector<int32_t>, std::vector<std::string>>>& special) {
  auto conv = [](const std::vector<std::pair<std::string, int32_t>>& v) {
    std::vector<Piece> out;
    for (const auto& [name, type] : v) {
      bool seq = name == "$A" || name == "$B";
      out.push_back(Piece{seq, seq ? name.substr(1) : name, type});
    }
    return out;
  };
  return std::make_unique<TemplateProcessing>(conv(single), conv(pair), special);
}

std::unique_ptr<PostProcessor> make_roberta_processing(std::pair<std::string, int32_t> sep,
                                                       std::pair<std::string, int32_t> cls, bool trim_offsets,
                                                       bool add_prefix_space) {
  return std::make_unique<RobertaProcessing>(std::move(sep), std::move(cls), trim_offsets, add_prefix_space);
}

std::unique_ptr<PostProcessor> make_post_processor(const json& j, const std::string& where) {
  std::string t = type_of(j, where);
  if (t == "BertProcessing") return std::make_unique<BertProcessing>(token_pair(j, "sep", where), token_pair(j, "cls", where));
  if (t == "RobertaProcessing")
    return make_roberta_processing(token_pair(j, "sep", where), token_pair(j, "cls", where),
                                   get_bool(j, "trim_offsets", true, where), get_bool(j, "add_prefix_space", true, where));
  if (t == "ByteLevel")
    return make_byte_level_processing(get_bool(j, "trim_offsets", true, where), get_bool(j, "add_prefix_space", true, where));
  if (t == "TemplateProcessing") {
    auto single = parse_template(need(j, "single", where), where + ".single");
    auto pair = parse_template(need(j, "pair", where), where + ".pair");
    TemplateProcessing::Specials specials;
    const json& sp = need(j, "special_tokens", where);
    XFMR_CHECK(sp.is_object(), where, ": 'special_tokens' must be an object");
    for (auto it = sp.begin(); it != sp.end(); ++it) {
      std::string w = where + ".special_tokens." + it.key();
      const json& ids = need(it.value(), "ids", w);
      const json& toks = need(it.value(), "tokens", w);
      XFMR_CHECK(ids.is_array() && toks.is_array() && ids.size() == toks.size(), w,
                 ": 'ids' and 'tokens' must be arrays of the same length");
      std::vector<int32_t> iv;
      std::vector<std::string> tv;
      for (size_t k = 0; k < ids.size(); ++k) {
        XFMR_CHECK(ids[k].is_number_integer() && toks[k].is_string(), w, ": bad entry ", k);
        iv.push_back(ids[k].get<int32_t>());
        tv.push_back(toks[k].get<std::string>());
      }
      specials.emplace(it.key(), std::make_pair(std::move(iv), std::move(tv)));
    }
    for (const auto* tpl : {&single, &pair})
      for (const auto& p : *tpl)
        XFMR_CHECK(p.is_sequence || specials.count(p.id), where, ": template uses special token '", p.id,
                   "' which is missing from special_tokens");
    return std::make_unique<TemplateProcessing>(std::move(single), std::move(pair), std::move(specials));
  }
  if (t == "Sequence") {
    const json& arr = need(j, "processors", where);
    XFMR_CHECK(arr.is_array(), where, ": 'processors' must be an array");
    std::vector<std::unique_ptr<PostProcessor>> parts;
    for (size_t i = 0; i < arr.size(); ++i)
      parts.push_back(make_post_processor(arr[i], detail::cat(where, ".processors[", i, "]")));
    return std::make_unique<SequenceProcessor>(std::move(parts));
  }
  detail::fail(where, ": unknown post-processor type '", t, "'");
}

}  // namespace xfmr::tokenizers
