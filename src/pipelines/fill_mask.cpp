// fill-mask: HF's FillMaskPipeline (softmax over the vocabulary at every mask, top_k, targets).
#include <algorithm>
#include <set>

#include "common.h"
#include "xfmr/pipelines/tasks.h"

namespace xfmr::pipelines {

using tokenizers::Encoding;
using tokenizers::EncodeOptions;
using tokenizers::TruncationStrategy;

FillMaskPipeline::FillMaskPipeline(const PipelineOptions& options) : TaskPipeline("fill-mask", options) {
  XFMR_CHECK(tokenizer_->special_tokens().mask.has_value(), task_, ": the tokenizer of ", model_id_,
             " has no mask token");
}

std::vector<std::string> FillMaskPipeline::parameter_names() const { return {"top_k", "targets", "truncation"}; }

std::vector<std::vector<std::vector<MaskPrediction>>> FillMaskPipeline::operator()(const std::vector<std::string>& texts,
                                                                                   const FillMaskOptions& o) const {
  XFMR_CHECK(o.top_k >= 1, task_, ": top_k must be >= 1, got ", o.top_k);
  const auto& mask = *tokenizer_->special_tokens().mask;
  // Targets (HF's get_target_ids): a vocabulary entry as is, else the first token of the word.
  std::vector<int32_t> target_ids;
  if (!o.targets.empty()) {
    std::set<int32_t> seen;
    for (const auto& t : o.targets) {
      std::optional<int32_t> id = tokenizer_->token_to_id(t);
      if (!id) {
        EncodeOptions plain;
        plain.add_special_tokens = false;
        Encoding e = tokenizer_->encode(t, plain);
        if (e.empty()) {
          warn(task_ + ": the specified target token " + quote(t) +
               " does not exist in the model vocabulary. We cannot replace it with anything meaningful, ignoring it");
          continue;
        }
        id = e.ids[0];
        warn(task_ + ": the specified target token " + quote(t) +
             " does not exist in the model vocabulary. Replacing with " + quote(e.tokens[0]) + ".");
      }
      if (seen.insert(*id).second) target_ids.push_back(*id);
    }
    XFMR_CHECK(!target_ids.empty(), task_, ": At least one target must be provided when passed (none of [",
               python_json(json(o.targets)), "] gives a token)");
  }
  EncodeOptions eo;
  if (o.truncation) eo.truncation = {TruncationStrategy::LongestFirst, static_cast<size_t>(max_tokens_), 0};
  std::vector<Encoding> encs(texts.size());
  std::vector<std::vector<size_t>> masks(texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    encs[i] = tokenizer_->encode(texts[i], eo);
    check_length(encs[i], "input " + std::to_string(i) + " " + quote(texts[i]));
    for (size_t t = 0; t < encs[i].size(); ++t)
      if (encs[i].ids[t] == mask.id) masks[i].push_back(t);
    XFMR_CHECK(!masks[i].empty(), task_, ": No mask_token (", mask.content, ") found on the input ", quote(texts[i]),
               o.truncation && !encs[i].overflowing.empty() ? " (it may have been cut off by truncation)" : "");
  }
  // Probabilities at the mask positions only (the logits of one batch are [B, L, vocab]).
  std::vector<std::vector<std::vector<float>>> probs(texts.size());
  std::vector<const Encoding*> ptrs;
  for (const auto& e : encs) ptrs.push_back(&e);
  const int64_t vocab = std::max<int64_t>(1, config().vocab_size());
  forward_batched(
      ptrs,
      [&](size_t idx, const models::ModelOutput& out, int64_t row) {
        XFMR_CHECK(out.logits.defined() && out.logits.dim() == 3, task_, ": the model gave no vocabulary logits");
        Tensor lg = out.logits.contiguous();
        const int64_t L = lg.size(1), V = lg.size(2);
        for (size_t m : masks[idx]) {
          const float* p = lg.data<float>() + (row * L + static_cast<int64_t>(m)) * V;
          probs[idx].push_back(softmax_f32(std::span<const float>(p, static_cast<size_t>(V))));
        }
      },
      /*max_batch_tokens=*/std::max<int64_t>(512, (int64_t{64} << 20) / vocab));  // ~256 MB of logits per batch

  const bool clean = tokenizer_->clean_up_tokenization_spaces();
  const int32_t tokenizer_pad = tokenizer_->special_tokens().pad ? tokenizer_->special_tokens().pad->id : -1;
  std::vector<std::vector<std::vector<MaskPrediction>>> results(texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    const bool single_mask = masks[i].size() == 1;
    for (size_t m = 0; m < masks[i].size(); ++m) {
      const auto& p = probs[i][m];
      // Candidates (vocabulary or targets) ranked by probability; ties keep candidate order.
      std::vector<int32_t> cand;
      if (target_ids.empty()) {
        cand.resize(p.size());
        for (size_t v = 0; v < p.size(); ++v) cand[v] = static_cast<int32_t>(v);
      } else {
        for (int32_t t : target_ids) {
          XFMR_CHECK(t >= 0 && static_cast<size_t>(t) < p.size(), task_, ": target id ", t,
                     " is outside the model's vocabulary (", p.size(), ")");
          cand.push_back(t);
        }
      }
      const size_t k = std::min(cand.size(), static_cast<size_t>(o.top_k));
      std::partial_sort(cand.begin(), cand.begin() + static_cast<std::ptrdiff_t>(k), cand.end(),
                        [&](int32_t a, int32_t b) { return p[a] > p[b] || (p[a] == p[b] && a < b); });
      std::vector<MaskPrediction> row;
      for (size_t r = 0; r < k; ++r) {
        const int32_t tok = cand[r];
        std::vector<int32_t> ids;
        for (size_t t = 0; t < encs[i].size(); ++t) {
          int32_t id = t == masks[i][m] ? tok : encs[i].ids[t];
          if (id != tokenizer_pad) ids.push_back(id);  // HF drops padding ids (also a predicted one)
        }
        MaskPrediction mp;
        mp.score = static_cast<double>(p[static_cast<size_t>(tok)]);
        mp.token = tok;
        const int32_t one[1] = {tok};
        mp.token_str = tokenizer_->decode(one, {.skip_special_tokens = false, .clean_up_tokenization_spaces = clean});
        mp.sequence = tokenizer_->decode(ids, {.skip_special_tokens = single_mask, .clean_up_tokenization_spaces = clean});
        row.push_back(std::move(mp));
      }
      results[i].push_back(std::move(row));
    }
  }
  return results;
}

std::vector<std::vector<MaskPrediction>> FillMaskPipeline::operator()(const std::string& text,
                                                                      const FillMaskOptions& o) const {
  return (*this)(std::vector<std::string>{text}, o).at(0);
}

std::vector<Output> FillMaskPipeline::run(const std::vector<Input>& inputs, detail::Kwargs& kw, bool as_single) const {
  (void)as_single;  // same shape for a single text and the elements of a list
  FillMaskOptions o;
  if (auto v = kw.get_int("top_k")) o.top_k = *v;
  if (auto v = kw.get_string_list("targets")) o.targets = *v;
  if (auto v = kw.get_bool("truncation")) o.truncation = *v;
  kw.finish(parameter_names());
  std::vector<std::string> texts = detail::text_inputs(inputs, task_);
  auto res = (*this)(texts, o);
  std::vector<Output> outs;
  for (auto& per_mask : res) {
    json lists = json::array();
    for (const auto& row : per_mask) {
      json l = json::array();
      for (const auto& p : row)
        l.push_back({{"score", p.score}, {"token", p.token}, {"token_str", p.token_str}, {"sequence", p.sequence}});
      lists.push_back(std::move(l));
    }
    json j = lists.size() == 1 ? lists[0] : lists;
    outs.emplace_back(Result(std::move(per_mask)), python_json(j));
  }
  return outs;
}

}  // namespace xfmr::pipelines
