// token-classification / ner: HF's TokenClassificationPipeline (pre-entities, word aggregation
// strategies, B-/I- grouping, ignore_labels, stride windows).
#include <algorithm>
#include <cctype>
#include <cmath>

#include "common.h"
#include "xfmr/pipelines/tasks.h"

namespace xfmr::pipelines {

using tokenizers::Encoding;
using tokenizers::EncodeOptions;
using tokenizers::TruncationStrategy;

AggregationStrategy aggregation_from_name(const std::string& name) {
  const std::string n = detail::ascii_lower(name);
  if (n == "none") return AggregationStrategy::None;
  if (n == "simple") return AggregationStrategy::Simple;
  if (n == "first") return AggregationStrategy::First;
  if (n == "average") return AggregationStrategy::Average;
  if (n == "max") return AggregationStrategy::Max;
  XFMR_FAIL("token-classification: aggregation_strategy must be none, simple, first, average or max, got ", quote(name));
}

namespace {

struct PreEntity {
  std::string word;
  std::vector<float> scores;
  int64_t start, end, index;
  bool is_subword;
};

struct Ent {
  std::string entity;
  float score;
  int64_t index;  // -1 for words
  std::string word;
  int64_t start, end;
};

size_t argmax(const std::vector<float>& v) { return static_cast<size_t>(std::max_element(v.begin(), v.end()) - v.begin()); }

// B-/I- prefix and tag (labels without a prefix count as I-).
std::pair<char, std::string> get_tag(const std::string& e) {
  if (e.rfind("B-", 0) == 0) return {'B', e.substr(2)};
  if (e.rfind("I-", 0) == 0) return {'I', e.substr(2)};
  return {'I', e};
}

}  // namespace

TokenClassificationPipeline::TokenClassificationPipeline(const PipelineOptions& options)
    : TaskPipeline("token-classification", options) {}

std::vector<std::string> TokenClassificationPipeline::parameter_names() const {
  return {"aggregation_strategy", "ignore_labels", "stride", "grouped_entities", "ignore_subwords"};
}

std::vector<std::vector<Entity>> TokenClassificationPipeline::operator()(const std::vector<std::string>& texts,
                                                                         const TokenClassificationOptions& o) const {
  const AggregationStrategy agg = o.aggregation_strategy;
  if (o.stride) {
    XFMR_CHECK(*o.stride >= 0 && *o.stride < max_tokens_, task_, ": `stride` must be less than the model's maximum length (",
               max_tokens_, "), got ", *o.stride);
    XFMR_CHECK(agg != AggregationStrategy::None, task_,
               ": `stride` was provided to process all the text but `aggregation_strategy=\"none\"` was selected, which "
               "is incompatible; select another aggregation strategy (simple, first, average or max)");
  }
  const auto id2label = config().id2label();
  auto label = [&](size_t i) {
    auto it = id2label.find(static_cast<int64_t>(i));
    return it != id2label.end() ? it->second : "LABEL_" + std::to_string(i);
  };
  const bool word_aware = !tokenizer_->continuing_subword_prefix().empty();
  const auto& sp = tokenizer_->special_tokens();
  const int32_t unk_id = sp.unk ? sp.unk->id : -1;

  struct Window {
    size_t input;
    Encoding enc;
    std::vector<std::vector<float>> scores;
  };
  std::vector<Window> windows;
  std::vector<size_t> num_windows(texts.size(), 0);
  EncodeOptions eo;
  eo.truncation = {TruncationStrategy::LongestFirst, static_cast<size_t>(max_tokens_),
                   static_cast<size_t>(o.stride.value_or(0))};
  for (size_t i = 0; i < texts.size(); ++i) {
    Encoding enc = tokenizer_->encode(texts[i], eo);
    if (enc.empty()) continue;  // an empty text for a tokenizer without special tokens: no entities
    std::vector<Encoding> over = std::move(enc.overflowing);
    enc.overflowing.clear();
    if (!over.empty() && !o.stride) {
      size_t labelled = 0;
      for (size_t t = 0; t < enc.size(); ++t)
        if (!enc.special_tokens_mask[t]) labelled = std::max(labelled, enc.offsets[t].second);
      warn(task_ + ": input " + std::to_string(i) + " " + quote(texts[i]) + " is longer than the model accepts (" +
           std::to_string(max_tokens_) + " tokens): only its first " + std::to_string(labelled) + " of " +
           std::to_string(cp_length(texts[i])) +
           " characters were labelled (HF truncates too); pass stride (--stride N) to label the whole text in "
           "overlapping windows");
      over.clear();
    }
    windows.push_back({i, std::move(enc), {}});
    for (auto& w : over) {
      w.overflowing.clear();
      windows.push_back({i, std::move(w), {}});
    }
  }
  std::vector<const Encoding*> ptrs;
  for (const auto& w : windows) ptrs.push_back(&w.enc);
  forward_batched(ptrs, [&](size_t idx, const models::ModelOutput& out, int64_t row) {
    XFMR_CHECK(out.logits.defined() && out.logits.dim() == 3, task_, ": the model gave no token logits");
    Tensor lg = out.logits.contiguous();
    const int64_t L = lg.size(1), C = lg.size(2);
    Window& w = windows[idx];
    for (size_t t = 0; t < w.enc.size(); ++t) {
      const float* p = lg.data<float>() + (row * L + static_cast<int64_t>(t)) * C;
      w.scores.push_back(softmax_f32(std::span<const float>(p, static_cast<size_t>(C))));
    }
  });

  auto to_string = [&](const std::vector<std::string>& tokens) { return tokenizer_->convert_tokens_to_string(tokens); };
  auto aggregate_word = [&](const std::vector<PreEntity>& ents) {
    std::vector<std::string> toks;
    for (const auto& e : ents) toks.push_back(e.word);
    Ent out{"", 0, -1, to_string(toks), ents.front().start, ents.back().end};
    if (agg == AggregationStrategy::First) {
      size_t k = argmax(ents.front().scores);
      out.entity = label(k);
      out.score = ents.front().scores[k];
    } else if (agg == AggregationStrategy::Max) {
      const PreEntity* best = &ents.front();
      float best_max = *std::max_element(best->scores.begin(), best->scores.end());
      for (const auto& e : ents) {
        float m = *std::max_element(e.scores.begin(), e.scores.end());
        if (m > best_max) {
          best = &e;
          best_max = m;
        }
      }
      size_t k = argmax(best->scores);
      out.entity = label(k);
      out.score = best->scores[k];
    } else {  // Average
      std::vector<float> avg(ents.front().scores.size());
      for (size_t c = 0; c < avg.size(); ++c) {
        double s = 0;
        for (const auto& e : ents) s += e.scores[c];
        avg[c] = static_cast<float>(s / static_cast<double>(ents.size()));
      }
      size_t k = argmax(avg);
      out.entity = label(k);
      out.score = avg[k];
    }
    return out;
  };
  auto group_sub_entities = [&](const std::vector<Ent>& ents) {
    const std::string& first = ents.front().entity;
    size_t dash = first.find('-');
    std::string tag = dash == std::string::npos ? first : first.substr(dash + 1);
    double s = 0;
    std::vector<std::string> toks;
    for (const auto& e : ents) {
      s += e.score;
      toks.push_back(e.word);
    }
    return Ent{tag, static_cast<float>(s / static_cast<double>(ents.size())), -1, to_string(toks), ents.front().start,
               ents.back().end};
  };
  auto group_entities = [&](const std::vector<Ent>& ents) {
    std::vector<Ent> groups, cur;
    for (const auto& e : ents) {
      if (cur.empty()) {
        cur.push_back(e);
        continue;
      }
      auto [bi, tag] = get_tag(e.entity);
      auto [last_bi, last_tag] = get_tag(cur.back().entity);
      (void)last_bi;
      if (tag == last_tag && bi != 'B') {
        cur.push_back(e);
      } else {
        groups.push_back(group_sub_entities(cur));
        cur = {e};
      }
    }
    if (!cur.empty()) groups.push_back(group_sub_entities(cur));
    return groups;
  };
  auto ignored = [&](const std::string& l) {
    return std::find(o.ignore_labels.begin(), o.ignore_labels.end(), l) != o.ignore_labels.end();
  };

  std::vector<std::vector<Ent>> per_input(texts.size());
  for (auto& w : windows) {
    const std::string& text = texts[w.input];
    std::vector<PreEntity> pre;
    for (size_t t = 0; t < w.enc.size(); ++t) {
      if (w.enc.special_tokens_mask[t]) continue;
      PreEntity p;
      p.word = tokenizer_->id_to_token(w.enc.ids[t]).value_or(w.enc.tokens[t]);
      p.scores = std::move(w.scores[t]);
      p.start = static_cast<int64_t>(w.enc.offsets[t].first);
      p.end = static_cast<int64_t>(w.enc.offsets[t].second);
      p.index = static_cast<int64_t>(t);
      std::string word_ref = cp_slice(text, w.enc.offsets[t].first, w.enc.offsets[t].second);
      if (word_aware) {
        p.is_subword = cp_length(p.word) != cp_length(word_ref);
      } else {
        // HF's fallback heuristic: a token that does not follow a space continues a word.
        p.is_subword = p.start > 0 && cp_slice(text, static_cast<size_t>(p.start) - 1, static_cast<size_t>(p.start) + 1)
                                              .find(' ') == std::string::npos;
      }
      if (w.enc.ids[t] == unk_id) {
        p.word = word_ref;
        p.is_subword = false;
      }
      pre.push_back(std::move(p));
    }
    std::vector<Ent> ents;
    if (agg == AggregationStrategy::None || agg == AggregationStrategy::Simple) {
      for (const auto& p : pre) {
        size_t k = argmax(p.scores);
        ents.push_back({label(k), p.scores[k], p.index, p.word, p.start, p.end});
      }
    } else {
      std::vector<PreEntity> group;
      for (auto& p : pre) {
        if (!group.empty() && !p.is_subword) {
          ents.push_back(aggregate_word(group));
          group.clear();
        }
        group.push_back(std::move(p));
      }
      if (!group.empty()) ents.push_back(aggregate_word(group));
    }
    if (agg != AggregationStrategy::None) ents = group_entities(ents);
    for (auto& e : ents)
      if (!ignored(e.entity)) per_input[w.input].push_back(std::move(e));
    ++num_windows[w.input];
  }

  std::vector<std::vector<Entity>> results(texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    std::vector<Ent> ents = std::move(per_input[i]);
    if (num_windows[i] > 1 && !ents.empty()) {
      // HF's aggregate_overlapping_entities: of overlapping entities keep the longer (then the
      // higher-scoring) one.
      std::stable_sort(ents.begin(), ents.end(), [](const Ent& a, const Ent& b) { return a.start < b.start; });
      std::vector<Ent> merged;
      Ent prev = ents.front();
      for (const auto& e : ents) {
        if (prev.start <= e.start && e.start < prev.end) {
          int64_t cur_len = e.end - e.start, prev_len = prev.end - prev.start;
          if (cur_len > prev_len || (cur_len == prev_len && e.score > prev.score)) prev = e;
        } else {
          merged.push_back(prev);
          prev = e;
        }
      }
      merged.push_back(prev);
      ents = std::move(merged);
    }
    for (auto& e : ents) {
      Entity out;
      out.entity = std::move(e.entity);
      out.score = static_cast<double>(e.score);
      if (agg == AggregationStrategy::None) out.index = e.index;
      out.word = std::move(e.word);
      out.start = e.start;
      out.end = e.end;
      results[i].push_back(std::move(out));
    }
  }
  return results;
}

std::vector<Entity> TokenClassificationPipeline::operator()(const std::string& text,
                                                            const TokenClassificationOptions& o) const {
  return (*this)(std::vector<std::string>{text}, o).at(0);
}

std::vector<Output> TokenClassificationPipeline::run(const std::vector<Input>& inputs, detail::Kwargs& kw,
                                                     bool as_single) const {
  (void)as_single;  // a list of entities per text in both shapes
  TokenClassificationOptions o;
  // Deprecated HF flags, mapped as HF maps them.
  auto grouped = kw.get_bool("grouped_entities");
  auto ignore_sub = kw.get_bool("ignore_subwords");
  if (grouped || ignore_sub) {
    bool g = grouped.value_or(false), s = ignore_sub.value_or(false);
    o.aggregation_strategy = g && s ? AggregationStrategy::First : g ? AggregationStrategy::Simple : AggregationStrategy::None;
  }
  if (auto v = kw.get_string("aggregation_strategy")) o.aggregation_strategy = aggregation_from_name(*v);
  if (auto v = kw.get_string_list("ignore_labels")) o.ignore_labels = *v;
  if (auto v = kw.get_int("stride")) o.stride = *v;
  kw.finish(parameter_names());
  std::vector<std::string> texts = detail::text_inputs(inputs, task_);
  auto res = (*this)(texts, o);
  std::vector<Output> outs;
  for (auto& ents : res) {
    json list = json::array();
    for (const auto& e : ents) {
      if (e.index) {
        list.push_back({{"entity", e.entity}, {"score", e.score}, {"index", *e.index}, {"word", e.word},
                        {"start", e.start}, {"end", e.end}});
      } else {
        list.push_back({{"entity_group", e.entity}, {"score", e.score}, {"word", e.word}, {"start", e.start}, {"end", e.end}});
      }
    }
    outs.emplace_back(Result(std::move(ents)), python_json(list));
  }
  return outs;
}

}  // namespace xfmr::pipelines
