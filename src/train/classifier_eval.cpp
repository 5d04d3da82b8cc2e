// Encoding, batching and evaluation for the classifier trainer.
#include <algorithm>
#include <cmath>

#include "classifier_internal.h"
#include "xfmr/autograd/autograd.h"
#include "xfmr/autograd/loss.h"
#include "xfmr/core/error.h"
#include "xfmr/kernels/reduce.h"

namespace xfmr::train {

EncodedSet encode_examples(const tokenizers::Tokenizer& tok, const std::vector<data::ClassificationExample>& ex,
                           int64_t max_length) {
  tokenizers::EncodeOptions eo;
  eo.truncation = {tokenizers::TruncationStrategy::LongestFirst, static_cast<size_t>(max_length), 0};
  std::vector<tokenizers::Encoding> encs;
  bool pairs = !ex.empty() && ex[0].text_pair.has_value();
  if (pairs) {
    std::vector<std::pair<std::string, std::string>> p;
    p.reserve(ex.size());
    for (const auto& e : ex) p.emplace_back(e.text, e.text_pair.value_or(""));
    encs = tok.encode_batch_pairs(p, eo);
  } else {
    std::vector<std::string> t;
    t.reserve(ex.size());
    for (const auto& e : ex) t.push_back(e.text);
    encs = tok.encode_batch(t, eo);
  }
  EncodedSet s;
  s.ids.reserve(encs.size());
  for (auto& e : encs) {
    s.ids.push_back(std::move(e.ids));
    s.type_ids.push_back(std::vector<int32_t>(e.type_ids.begin(), e.type_ids.end()));
  }
  s.labels.assign(ex.size(), -1);
  return s;
}

namespace detail {

Batch collate(const EncodedSet& s, const std::vector<size_t>& rows, int32_t pad_id, bool with_types) {
  size_t L = 1;
  for (size_t r : rows) L = std::max(L, s.ids[r].size());
  const size_t B = rows.size();
  std::vector<int64_t> ids(B * L, pad_id), mask(B * L, 0), types(B * L, 0), labels(B, 0);
  for (size_t b = 0; b < B; ++b) {
    const auto& x = s.ids[rows[b]];
    const auto& t = s.type_ids[rows[b]];
    for (size_t i = 0; i < x.size(); ++i) {
      ids[b * L + i] = x[i];
      mask[b * L + i] = 1;
      types[b * L + i] = i < t.size() ? t[i] : 0;
    }
    labels[b] = s.labels[rows[b]];
  }
  Batch out;
  const Shape shape{static_cast<int64_t>(B), static_cast<int64_t>(L)};
  out.inputs.input_ids = Tensor::from_vector<int64_t>(ids, shape);
  out.inputs.attention_mask = Tensor::from_vector<int64_t>(mask, shape);
  if (with_types) out.inputs.token_type_ids = Tensor::from_vector<int64_t>(types, shape);
  out.labels = Tensor::from_vector<int64_t>(labels, {static_cast<int64_t>(B)});
  return out;
}

}  // namespace detail

double macro_f1(const std::vector<int64_t>& gold, const std::vector<int64_t>& pred, int64_t num_labels) {
  XFMR_CHECK(gold.size() == pred.size(), "macro_f1: ", gold.size(), " gold labels vs ", pred.size(), " predictions");
  std::vector<int64_t> tp(size_t(num_labels), 0), fp(size_t(num_labels), 0), fn(size_t(num_labels), 0);
  for (size_t i = 0; i < gold.size(); ++i) {
    if (gold[i] == pred[i]) ++tp[size_t(gold[i])];
    else {
      ++fp[size_t(pred[i])];
      ++fn[size_t(gold[i])];
    }
  }
  double sum = 0;
  int64_t classes = 0;
  for (int64_t c = 0; c < num_labels; ++c) {
    if (tp[size_t(c)] + fp[size_t(c)] + fn[size_t(c)] == 0) continue;  // neither gold nor predicted
    ++classes;
    double denom = 2.0 * double(tp[size_t(c)]) + double(fp[size_t(c)]) + double(fn[size_t(c)]);
    sum += denom > 0 ? 2.0 * double(tp[size_t(c)]) / denom : 0.0;
  }
  return classes ? sum / double(classes) : 0.0;
}

EvalMetrics evaluate_classifier(const models::PreTrainedModel& model, const EncodedSet& set, int32_t pad_id,
                                int64_t batch_size, std::vector<int64_t>* predictions) {
  XFMR_CHECK(!model.is_training(), "evaluate_classifier: put the model in eval mode first (dropout is active)");
  XFMR_CHECK(batch_size > 0, "evaluate_classifier: batch_size must be positive");
  NoGradGuard no_grad;
  EvalMetrics m;
  m.n = static_cast<int64_t>(set.ids.size());
  std::vector<int64_t> pred(set.ids.size(), 0);
  // Sorted by length: batches of similar lengths pad little (the results do not depend on it).
  std::vector<size_t> order(set.ids.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return set.ids[a].size() < set.ids[b].size(); });
  double loss_sum = 0;
  int64_t labelled = 0, correct = 0;
  for (size_t start = 0; start < order.size(); start += size_t(batch_size)) {
    std::vector<size_t> rows(order.begin() + std::ptrdiff_t(start),
                             order.begin() + std::ptrdiff_t(std::min(order.size(), start + size_t(batch_size))));
    detail::Batch b = detail::collate(set, rows, pad_id, model.accepts_token_type_ids());
    Tensor logits = model.forward(b.inputs).logits;
    XFMR_CHECK(logits.defined() && logits.dim() == 2, "evaluate_classifier: the model gave no [batch, labels] logits");
    Tensor lg = logits.contiguous();
    const float* p = lg.data<float>();
    const int64_t C = lg.size(1);
    bool all_labelled = true;
    for (size_t i = 0; i < rows.size(); ++i) {
      const float* row = p + int64_t(i) * C;
      pred[rows[i]] = std::max_element(row, row + C) - row;
      if (set.labels[rows[i]] < 0) all_labelled = false;
    }
    if (all_labelled) {
      loss_sum += cross_entropy(logits, b.labels).item() * double(rows.size());
      for (size_t i = 0; i < rows.size(); ++i) {
        ++labelled;
        correct += pred[rows[i]] == set.labels[rows[i]];
      }
    }
  }
  if (labelled) {
    m.loss = loss_sum / double(labelled);
    m.accuracy = double(correct) / double(labelled);
    if (labelled == m.n) {
      int64_t C = 0;
      for (auto l : set.labels) C = std::max(C, l + 1);
      for (auto l : pred) C = std::max(C, l + 1);
      m.macro_f1 = macro_f1(set.labels, pred, C);
    }
  }
  if (predictions) *predictions = std::move(pred);
  return m;
}

}  // namespace xfmr::train
