// text-classification / sentiment-analysis and zero-shot-classification (both read the logits of a
// sequence-classification head).
#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>

#include "common.h"
#include "xfmr/pipelines/tasks.h"

namespace xfmr::pipelines {

using tokenizers::Encoding;
using tokenizers::EncodeOptions;
using tokenizers::TruncationStrategy;

namespace {

ClassificationFunction default_function(const models::ModelConfig& c) {
  const std::string pt = c.problem_type();
  if (pt == "regression") return ClassificationFunction::None;
  if (pt == "multi_label_classification" || c.num_labels() == 1) return ClassificationFunction::Sigmoid;
  return ClassificationFunction::Softmax;
}

ClassificationFunction function_from_name(const std::string& name) {
  const std::string n = detail::ascii_lower(name);
  if (n == "softmax") return ClassificationFunction::Softmax;
  if (n == "sigmoid") return ClassificationFunction::Sigmoid;
  if (n == "none") return ClassificationFunction::None;
  XFMR_FAIL("text-classification: function_to_apply must be \"softmax\", \"sigmoid\" or \"none\", got ", quote(name));
}

std::string label_of(const std::map<int64_t, std::string>& id2label, int64_t i) {
  auto it = id2label.find(i);
  return it != id2label.end() ? it->second : "LABEL_" + std::to_string(i);
}

// Indices sorted by score, best first; equal scores keep id order (Python's stable sort).
std::vector<size_t> ranking(const std::vector<float>& s) {
  std::vector<size_t> idx(s.size());
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
  std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return s[a] > s[b]; });
  return idx;
}

std::string describe_input(size_t i, const std::string& text) { return "input " + std::to_string(i) + " " + quote(text); }

}  // namespace

// ---- text-classification ----------------------------------------------------------------------------

TextClassificationPipeline::TextClassificationPipeline(const PipelineOptions& options)
    : TaskPipeline("text-classification", options) {}

std::vector<std::string> TextClassificationPipeline::parameter_names() const {
  return {"top_k", "function_to_apply", "return_all_scores", "truncation"};
}

std::vector<std::vector<float>> TextClassificationPipeline::scores(const std::vector<Input>& inputs,
                                                                   const TextClassificationOptions& o) const {
  EncodeOptions eo;
  if (o.truncation) eo.truncation = {TruncationStrategy::LongestFirst, static_cast<size_t>(max_tokens_), 0};
  std::vector<Encoding> encs(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Input& in = inputs[i];
    XFMR_CHECK(in.kind != Input::Kind::Question, task_, ": input ", i,
               " is a question-answering input; text-classification takes a text or {\"text\", \"text_pair\"}");
    encs[i] = in.kind == Input::Kind::Pair ? tokenizer_->encode_pair(in.text, in.text_pair, eo)
                                           : tokenizer_->encode(in.text, eo);
    check_length(encs[i], describe_input(i, in.text));
  }
  const ClassificationFunction fn =
      o.function_to_apply == ClassificationFunction::Default ? default_function(config()) : o.function_to_apply;
  std::vector<std::vector<float>> rows(inputs.size());
  std::vector<const Encoding*> ptrs;
  for (const auto& e : encs) ptrs.push_back(&e);
  forward_batched(ptrs, [&](size_t idx, const models::ModelOutput& out, int64_t row) {
    XFMR_CHECK(out.logits.defined() && out.logits.dim() == 2, task_, ": the model gave no classification logits");
    Tensor lg = out.logits.contiguous();
    const int64_t C = lg.size(1);
    const float* p = lg.data<float>() + row * C;
    std::vector<float> s(p, p + C);
    if (fn == ClassificationFunction::Softmax) {
      s = softmax_f32(s);
    } else if (fn == ClassificationFunction::Sigmoid) {
      for (float& v : s) v = 1.0f / (1.0f + std::exp(-v));
    }
    rows[idx] = std::move(s);
  });
  return rows;
}

std::vector<std::vector<LabelScore>> TextClassificationPipeline::operator()(const std::vector<Input>& inputs,
                                                                            const TextClassificationOptions& o) const {
  XFMR_CHECK(!o.top_k || *o.top_k >= 0, task_, ": top_k must be >= 0 (or unset for every label), got ", *o.top_k);
  auto rows = scores(inputs, o);
  const auto id2label = config().id2label();
  std::vector<std::vector<LabelScore>> out(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    auto order = ranking(rows[i]);
    size_t n = o.top_k ? std::min<size_t>(order.size(), static_cast<size_t>(*o.top_k)) : order.size();
    for (size_t k = 0; k < n; ++k)
      out[i].push_back({label_of(id2label, static_cast<int64_t>(order[k])), static_cast<double>(rows[i][order[k]])});
  }
  return out;
}

std::vector<LabelScore> TextClassificationPipeline::operator()(const Input& input,
                                                               const TextClassificationOptions& o) const {
  return (*this)(std::vector<Input>{input}, o).at(0);
}

std::vector<Output> TextClassificationPipeline::run(const std::vector<Input>& inputs, detail::Kwargs& kw,
                                                    bool as_single) const {
  TextClassificationOptions o;
  // HF's legacy output shapes apply when top_k is not passed at all.
  const bool legacy = !kw.has("top_k");
  bool all_unsorted = false;
  if (!legacy) {
    o.top_k = kw.get_int("top_k");
  } else if (auto r = kw.get_bool("return_all_scores")) {
    all_unsorted = *r;  // deprecated: every label in id order, legacy shapes
  }
  kw.ignore("return_all_scores");
  if (auto f = kw.get_string("function_to_apply")) o.function_to_apply = function_from_name(*f);
  if (kw.has("truncation")) {
    const json& t = kw.raw("truncation");
    XFMR_CHECK(t.is_boolean() || (t.is_string() && (t == "longest_first" || t == "do_not_truncate")), task_,
               ": truncation must be true/false (or \"longest_first\" / \"do_not_truncate\"), got ", python_json(t));
    o.truncation = t.is_boolean() ? t.get<bool>() : t == "longest_first";
  }
  kw.finish(parameter_names());
  if (o.top_k) XFMR_CHECK(*o.top_k >= 0, task_, ": top_k must be >= 0 or null, got ", *o.top_k);

  auto rows = scores(inputs, o);
  const auto id2label = config().id2label();
  std::vector<Output> outs;
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& s = rows[i];
    std::vector<LabelScore> typed;
    json j;
    auto entry = [&](size_t k) {
      typed.push_back({label_of(id2label, static_cast<int64_t>(k)), static_cast<double>(s[k])});
      return json{{"label", typed.back().label}, {"score", score_json(s[k])}};
    };
    const bool wrap = as_single && inputs[i].kind == Input::Kind::Text;  // HF wraps a single str call
    if (legacy && !all_unsorted) {
      size_t best = ranking(s).at(0);
      j = entry(best);
      if (wrap) j = json::array({j});
    } else if (legacy) {
      j = json::array();
      for (size_t k = 0; k < s.size(); ++k) j.push_back(entry(k));
      if (wrap) j = json::array({j});
    } else {
      j = json::array();
      auto order = ranking(s);
      size_t n = o.top_k ? std::min<size_t>(order.size(), static_cast<size_t>(*o.top_k)) : order.size();
      for (size_t k = 0; k < n; ++k) j.push_back(entry(order[k]));
    }
    outs.emplace_back(Result(std::move(typed)), python_json(j));
  }
  return outs;
}

// ---- zero-shot-classification --------------------------------------------------------------------------

namespace {

// Python's str.format with one positional argument: "{}" / "{0}" -> label, "{{" / "}}" -> braces.
std::string format_template(const std::string& t, const std::string& label) {
  std::string out;
  for (size_t i = 0; i < t.size(); ++i) {
    char c = t[i];
    if (c == '{' && i + 1 < t.size() && t[i + 1] == '{') {
      out.push_back('{');
      ++i;
    } else if (c == '}' && i + 1 < t.size() && t[i + 1] == '}') {
      out.push_back('}');
      ++i;
    } else if (c == '{') {
      size_t close = t.find('}', i);
      XFMR_CHECK(close != std::string::npos, "zero-shot-classification: hypothesis_template ", quote(t),
                 " has an unmatched '{'");
      std::string field = t.substr(i + 1, close - i - 1);
      XFMR_CHECK(field.empty() || field == "0", "zero-shot-classification: hypothesis_template ", quote(t),
                 " has the placeholder {", field, "}; use {} where the label goes");
      out += label;
      i = close;
    } else {
      XFMR_CHECK(c != '}', "zero-shot-classification: hypothesis_template ", quote(t), " has a single '}'");
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace

ZeroShotClassificationPipeline::ZeroShotClassificationPipeline(const PipelineOptions& options)
    : TaskPipeline("zero-shot-classification", options) {
  // HF: the first label2id entry (config order) whose name starts with "entail".
  std::string l2i = config().get_json("label2id");
  std::vector<std::pair<std::string, int64_t>> labels;
  if (!l2i.empty()) {
    json j = parse_json(l2i, "config.json label2id");
    for (auto it = j.begin(); it != j.end(); ++it)
      if (it.value().is_number_integer()) labels.emplace_back(it.key(), it.value().get<int64_t>());
  } else {
    for (const auto& [id, name] : config().id2label()) labels.emplace_back(name, id);
  }
  std::string names;
  for (const auto& [name, id] : labels) {
    const std::string low = detail::ascii_lower(name);
    if (entailment_id_ < 0 && low.rfind("entail", 0) == 0) entailment_id_ = id;
    names += (names.empty() ? "" : ", ") + name;
  }
  XFMR_CHECK(entailment_id_ >= 0, task_, " needs an NLI model whose labels include entailment (and contradiction), but ",
             model_id_, " has the labels [", names,
             "]: none starts with 'entail'. Use a model fine-tuned on MNLI/XNLI, e.g. cross-encoder/nli-distilroberta-base");
}

std::vector<std::string> ZeroShotClassificationPipeline::parameter_names() const {
  return {"candidate_labels", "hypothesis_template", "multi_label", "multi_class"};
}

std::vector<std::string> ZeroShotClassificationPipeline::parse_labels(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t comma = s.find(',', start);
    if (comma == std::string::npos) comma = s.size();
    std::string part = s.substr(start, comma - start);
    size_t b = part.find_first_not_of(" \t\n\r\f\v"), e = part.find_last_not_of(" \t\n\r\f\v");
    if (b != std::string::npos) out.push_back(part.substr(b, e - b + 1));
    start = comma + 1;
  }
  return out;
}

std::vector<ZeroShotResult> ZeroShotClassificationPipeline::operator()(const std::vector<std::string>& sequences,
                                                                       const ZeroShotOptions& o) const {
  const auto& labels = o.candidate_labels;
  XFMR_CHECK(!labels.empty() && !sequences.empty(), task_,
             ": You must include at least one label and at least one sequence (candidate_labels is ",
             labels.empty() ? "empty" : "given", ")");
  for (size_t i = 0; i < sequences.size(); ++i)
    XFMR_CHECK(!sequences[i].empty(), task_, ": sequence ", i,
               " is empty; You must include at least one label and at least one sequence");
  XFMR_CHECK(format_template(o.hypothesis_template, labels[0]) != o.hypothesis_template, task_,
             ": The provided hypothesis_template ", quote(o.hypothesis_template),
             " was not able to be formatted with the target labels. Make sure the passed template includes formatting "
             "syntax such as {} where the label should go.");
  const size_t n = labels.size();
  std::vector<std::string> hyps;
  for (const auto& l : labels) hyps.push_back(format_template(o.hypothesis_template, l));
  EncodeOptions trunc;
  trunc.truncation = {TruncationStrategy::OnlyFirst, static_cast<size_t>(max_tokens_), 0};
  std::vector<Encoding> encs(sequences.size() * n);
  for (size_t s = 0; s < sequences.size(); ++s) {
    for (size_t l = 0; l < n; ++l) {
      Encoding& e = encs[s * n + l];
      try {
        e = tokenizer_->encode_pair(sequences[s], hyps[l], trunc);
      } catch (const Error&) {
        // HF retries without truncation when the hypothesis alone is too long ("too short" error).
        e = tokenizer_->encode_pair(sequences[s], hyps[l]);
      }
      if (l == 0 && !e.overflowing.empty())
        warn(task_ + ": sequence " + std::to_string(s) + " " + quote(sequences[s]) +
             " is longer than the model accepts; it was truncated to " + std::to_string(max_tokens_) +
             " tokens (with the hypothesis), as HF does");
      check_length(e, "sequence " + std::to_string(s) + " with label " + quote(labels[l]));
    }
  }
  std::vector<std::vector<float>> logits(encs.size());
  std::vector<const Encoding*> ptrs;
  for (const auto& e : encs) ptrs.push_back(&e);
  forward_batched(ptrs, [&](size_t idx, const models::ModelOutput& out, int64_t row) {
    Tensor lg = out.logits.contiguous();
    const int64_t C = lg.size(1);
    const float* p = lg.data<float>() + row * C;
    logits[idx].assign(p, p + C);
  });
  const int64_t C = static_cast<int64_t>(logits.at(0).size());
  XFMR_CHECK(entailment_id_ < C, task_, ": entailment id ", entailment_id_, " is outside the model's ", C, " labels");
  const int64_t contradiction_id = entailment_id_ == 0 ? C - 1 : 0;  // HF: index -1 when entailment is 0
  std::vector<ZeroShotResult> results;
  for (size_t s = 0; s < sequences.size(); ++s) {
    std::vector<float> sc(n);
    if (o.multi_label || n == 1) {
      for (size_t l = 0; l < n; ++l) {
        const auto& lg = logits[s * n + l];
        float two[2] = {lg[static_cast<size_t>(contradiction_id)], lg[static_cast<size_t>(entailment_id_)]};
        float p[2];
        softmax_f32(two, p);
        sc[l] = p[1];
      }
    } else {
      std::vector<float> ent(n);
      for (size_t l = 0; l < n; ++l) ent[l] = logits[s * n + l][static_cast<size_t>(entailment_id_)];
      sc = softmax_f32(ent);
    }
    // HF: reversed(scores.argsort()) - ascending (stable for small n), then reversed.
    std::vector<size_t> idx(n);
    for (size_t i = 0; i < n; ++i) idx[i] = i;
    std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return sc[a] < sc[b]; });
    std::reverse(idx.begin(), idx.end());
    ZeroShotResult r;
    r.sequence = sequences[s];
    for (size_t i : idx) {
      r.labels.push_back(labels[i]);
      r.scores.push_back(static_cast<double>(sc[i]));
    }
    results.push_back(std::move(r));
  }
  return results;
}

ZeroShotResult ZeroShotClassificationPipeline::operator()(const std::string& sequence, const ZeroShotOptions& o) const {
  return (*this)(std::vector<std::string>{sequence}, o).at(0);
}

std::vector<Output> ZeroShotClassificationPipeline::run(const std::vector<Input>& inputs, detail::Kwargs& kw,
                                                        bool as_single) const {
  (void)as_single;  // a dict per sequence in both shapes
  ZeroShotOptions o;
  if (kw.has("candidate_labels")) {
    const json& v = kw.raw("candidate_labels");
    if (v.is_string()) {
      o.candidate_labels = parse_labels(v.get<std::string>());
    } else {
      o.candidate_labels = *kw.get_string_list("candidate_labels");
    }
  }
  if (auto t = kw.get_string("hypothesis_template")) o.hypothesis_template = *t;
  if (auto m = kw.get_bool("multi_class")) o.multi_label = *m;  // deprecated name
  if (auto m = kw.get_bool("multi_label")) o.multi_label = *m;
  kw.finish(parameter_names());
  XFMR_CHECK(!o.candidate_labels.empty(), task_, ": candidate_labels is required (a list, or a comma-separated string)");
  std::vector<std::string> seqs = detail::text_inputs(inputs, task_);
  auto res = (*this)(seqs, o);
  std::vector<Output> outs;
  for (auto& r : res) {
    json scores = json::array();
    for (double s : r.scores) scores.push_back(s);
    json j = {{"sequence", r.sequence}, {"labels", r.labels}, {"scores", scores}};
    outs.emplace_back(Result(std::move(r)), python_json(j));
  }
  return outs;
}

}  // namespace xfmr::pipelines
