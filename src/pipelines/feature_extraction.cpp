// feature-extraction: the base model's last hidden state per token (HF), plus pooled, optionally
// normalised sentence embeddings (what sentence-embedding users need).
#include <algorithm>
#include <cctype>
#include <cmath>

#include "common.h"
#include "xfmr/pipelines/tasks.h"

namespace xfmr::pipelines {

using tokenizers::Encoding;
using tokenizers::EncodeOptions;
using tokenizers::TruncationStrategy;

Pooling pooling_from_name(const std::string& name) {
  const std::string n = detail::ascii_lower(name);
  if (n == "none") return Pooling::None;
  if (n == "mean") return Pooling::Mean;
  if (n == "cls") return Pooling::Cls;
  if (n == "max") return Pooling::Max;
  XFMR_FAIL("feature-extraction: pooling must be none, mean, cls or max, got ", quote(name));
}

FeatureExtractionPipeline::FeatureExtractionPipeline(const PipelineOptions& options)
    : TaskPipeline("feature-extraction", options) {}

std::vector<std::string> FeatureExtractionPipeline::parameter_names() const {
  return {"truncation", "pooling", "normalize", "return_tensors", "tokenize_kwargs"};
}

std::vector<Features> FeatureExtractionPipeline::operator()(const std::vector<std::string>& texts,
                                                            const FeatureExtractionOptions& o) const {
  EncodeOptions eo;
  if (o.truncation) eo.truncation = {TruncationStrategy::LongestFirst, static_cast<size_t>(max_tokens_), 0};
  std::vector<Encoding> encs(texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    encs[i] = tokenizer_->encode(texts[i], eo);
    check_length(encs[i], "input " + std::to_string(i) + " " + quote(texts[i]));
  }
  std::vector<Features> out(texts.size());
  std::vector<const Encoding*> ptrs;
  for (const auto& e : encs) ptrs.push_back(&e);
  forward_batched(ptrs, [&](size_t idx, const models::ModelOutput& mo, int64_t row) {
    XFMR_CHECK(mo.last_hidden_state.defined(), task_, ": the model gave no hidden states");
    Tensor h = mo.last_hidden_state.contiguous();
    const int64_t L = h.size(1), H = h.size(2);
    Features& f = out[idx];
    f.tokens = static_cast<int64_t>(encs[idx].size());
    f.hidden = H;
    const float* p = h.data<float>() + row * L * H;
    f.hidden_states.assign(p, p + f.tokens * H);
    if (o.pooling == Pooling::None) return;
    std::vector<double> acc(static_cast<size_t>(H), 0.0);
    if (o.pooling == Pooling::Cls) {
      for (int64_t c = 0; c < H; ++c) acc[static_cast<size_t>(c)] = p[c];
    } else if (o.pooling == Pooling::Max) {
      for (int64_t c = 0; c < H; ++c) acc[static_cast<size_t>(c)] = -INFINITY;
      for (int64_t t = 0; t < f.tokens; ++t)
        for (int64_t c = 0; c < H; ++c) acc[static_cast<size_t>(c)] = std::max<double>(acc[static_cast<size_t>(c)], p[t * H + c]);
    } else {
      for (int64_t t = 0; t < f.tokens; ++t)
        for (int64_t c = 0; c < H; ++c) acc[static_cast<size_t>(c)] += p[t * H + c];
      for (auto& v : acc) v /= static_cast<double>(f.tokens);
    }
    if (o.normalize) {
      double n = 0;
      for (double v : acc) n += v * v;
      n = std::max(std::sqrt(n), 1e-12);  // torch.nn.functional.normalize's eps
      for (auto& v : acc) v /= n;
    }
    f.embedding.assign(acc.begin(), acc.end());
  });
  return out;
}

Features FeatureExtractionPipeline::operator()(const std::string& text, const FeatureExtractionOptions& o) const {
  return (*this)(std::vector<std::string>{text}, o).at(0);
}

std::vector<Output> FeatureExtractionPipeline::run(const std::vector<Input>& inputs, detail::Kwargs& kw,
                                                   bool as_single) const {
  (void)as_single;
  FeatureExtractionOptions o;
  if (auto v = kw.get_bool("truncation")) o.truncation = *v;
  if (kw.has("tokenize_kwargs")) {
    const json& t = kw.raw("tokenize_kwargs");
    XFMR_CHECK(t.is_null() || t.is_object(), task_, ": tokenize_kwargs must be an object");
    if (t.is_object()) {
      for (auto it = t.begin(); it != t.end(); ++it) {
        XFMR_CHECK(it.key() == "truncation" && it.value().is_boolean(), task_,
                   ": tokenize_kwargs supports only {\"truncation\": true|false}, got ", python_json(t));
        XFMR_CHECK(!kw.has("truncation"), task_, ": truncation parameter defined twice (given as keyword argument as well as in tokenize_kwargs)");
        o.truncation = it.value().get<bool>();
      }
    }
  }
  kw.ignore("return_tensors");  // the JSON is the same
  if (auto v = kw.get_string("pooling")) o.pooling = pooling_from_name(*v);
  if (auto v = kw.get_bool("normalize")) o.normalize = *v;
  kw.finish(parameter_names());
  XFMR_CHECK(!o.normalize || o.pooling != Pooling::None, task_,
             ": normalize needs a pooled embedding (pooling = mean, cls or max)");
  std::vector<std::string> texts = detail::text_inputs(inputs, task_);
  auto res = (*this)(texts, o);
  std::vector<Output> outs;
  for (auto& f : res) {
    std::string s;
    if (o.pooling != Pooling::None) {
      // The embedding as a flat list [hidden].
      s = "[";
      for (size_t c = 0; c < f.embedding.size(); ++c) {
        if (c) s += ", ";
        python_json_append(json(static_cast<double>(f.embedding[c])), s);
      }
      s += "]";
    } else {
      // HF: last_hidden_state.tolist() with the batch axis, [1][tokens][hidden].
      s.reserve(static_cast<size_t>(f.tokens * f.hidden) * 12);
      s = "[[";
      for (int64_t t = 0; t < f.tokens; ++t) {
        s += t ? ", [" : "[";
        for (int64_t c = 0; c < f.hidden; ++c) {
          if (c) s += ", ";
          python_json_append(json(static_cast<double>(f.hidden_states[static_cast<size_t>(t * f.hidden + c)])), s);
        }
        s += "]";
      }
      s += "]]";
    }
    outs.emplace_back(Result(std::move(f)), std::move(s));
  }
  return outs;
}

}  // namespace xfmr::pipelines
