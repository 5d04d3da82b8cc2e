// question-answering: HF's QuestionAnsweringPipeline with a fast tokenizer - overflowing windows
// over the context, p_mask, per-window softmax, span decoding, word alignment.
#include <algorithm>
#include <cmath>

#include "common.h"
#include "xfmr/pipelines/tasks.h"

namespace xfmr::pipelines {

using tokenizers::Encoding;
using tokenizers::EncodeOptions;
using tokenizers::TruncationStrategy;

namespace {

struct Span {
  size_t s, e;
  float score;
};

// HF's decode_spans on one window: the top_k entries of the (start, end) score matrix restricted to
// e >= s and e - s < max_answer_len (flattened, ties in index order; zero entries only fill up when
// fewer positive spans exist), then kept when start and end are candidates (or index 0, HF's
// np.isin quirk on a 2-D mask).
std::vector<Span> decode_spans(const std::vector<float>& start, const std::vector<float>& end, int64_t top_k,
                               int64_t max_answer_len, const std::vector<char>& desired) {
  const size_t L = start.size();
  std::vector<Span> pos;
  for (size_t s = 0; s < L; ++s) {
    if (!(start[s] > 0)) continue;
    size_t last = std::min(L - 1, s + static_cast<size_t>(max_answer_len) - 1);
    for (size_t e = s; e <= last; ++e) {
      float sc = start[s] * end[e];
      if (sc > 0) pos.push_back({s, e, sc});
    }
  }
  std::stable_sort(pos.begin(), pos.end(), [](const Span& a, const Span& b) { return a.score > b.score; });
  const size_t k = static_cast<size_t>(top_k);
  std::vector<Span> picked(pos.begin(), pos.begin() + static_cast<std::ptrdiff_t>(std::min(k, pos.size())));
  if (picked.size() < k) {
    // Zero-score entries (HF's argsort/argpartition order among equal zeros is unspecified; we
    // take them in index order). A positive entry is never repeated.
    auto is_positive = [&](size_t s, size_t e) {
      return e >= s && e - s < static_cast<size_t>(max_answer_len) && start[s] * end[e] > 0;
    };
    for (size_t f = 0; f < L * L && picked.size() < k; ++f) {
      size_t s = f / L, e = f % L;
      if (!is_positive(s, e)) picked.push_back({s, e, 0.0f});
    }
  }
  std::vector<Span> out;
  for (const Span& sp : picked) {
    bool ok_s = sp.s == 0 || desired[sp.s], ok_e = sp.e == 0 || desired[sp.e];
    if (ok_s && ok_e) out.push_back(sp);
  }
  return out;
}

// Character span of tokens s..e of a window (HF's get_indices).
std::pair<int64_t, int64_t> char_span(const Encoding& w, size_t s, size_t e, bool align_to_words) {
  if (align_to_words && w.word_ids[s] >= 0 && w.word_ids[e] >= 0) {
    auto ts = w.word_to_tokens(w.word_ids[s], 1);
    auto te = w.word_to_tokens(w.word_ids[e], 1);
    if (ts && te && ts->second > ts->first && te->second > te->first)
      return {static_cast<int64_t>(w.offsets[ts->first].first), static_cast<int64_t>(w.offsets[te->second - 1].second)};
  }
  // HF falls back to token offsets when a token has no word (special tokens).
  return {static_cast<int64_t>(w.offsets[s].first), static_cast<int64_t>(w.offsets[e].second)};
}

}  // namespace

QuestionAnsweringPipeline::QuestionAnsweringPipeline(const PipelineOptions& options)
    : TaskPipeline("question-answering", options) {}

std::vector<std::string> QuestionAnsweringPipeline::parameter_names() const {
  return {"top_k",          "handle_impossible_answer", "max_answer_len", "max_seq_len", "doc_stride",
          "max_question_len", "align_to_words",         "topk"};
}

std::vector<std::vector<Answer>> QuestionAnsweringPipeline::operator()(const std::vector<Input>& inputs,
                                                                       const QuestionAnsweringOptions& o) const {
  XFMR_CHECK(o.top_k >= 1, task_, ": top_k parameter should be >= 1 (got ", o.top_k, ")");
  XFMR_CHECK(o.max_answer_len >= 1, task_, ": max_answer_len parameter should be >= 1 (got ", o.max_answer_len, ")");
  const int64_t max_seq_len = o.max_seq_len.value_or(std::min<int64_t>(max_tokens_, 384));
  XFMR_CHECK(max_seq_len >= 1 && max_seq_len <= max_tokens_, task_, ": max_seq_len must be in [1, ", max_tokens_,
             "] (the model's maximum length), got ", max_seq_len);
  const int64_t doc_stride = o.doc_stride.value_or(std::min<int64_t>(max_seq_len / 2, 128));
  XFMR_CHECK(doc_stride >= 0, task_, ": doc_stride must be >= 0, got ", doc_stride);
  XFMR_CHECK(doc_stride <= max_seq_len, task_, ": `doc_stride` (", doc_stride, ") is larger than `max_seq_len` (",
             max_seq_len, ")");
  EncodeOptions eo;
  eo.truncation = {TruncationStrategy::OnlySecond, static_cast<size_t>(max_seq_len), static_cast<size_t>(doc_stride)};
  const auto& sp = tokenizer_->special_tokens();
  const int32_t cls_id = sp.cls ? sp.cls->id : -1;

  struct Window {
    size_t input;
    Encoding enc;
    std::vector<char> desired;  // p_mask == 0
    std::vector<float> start, end;
  };
  std::vector<Window> windows;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Input& in = inputs[i];
    XFMR_CHECK(in.kind == Input::Kind::Question, task_, ": input ", i,
               " must be {\"question\": ..., \"context\": ...} (Input::qa)");
    XFMR_CHECK(!in.question.empty(), task_, ": input ", i, ": `question` cannot be empty");
    XFMR_CHECK(!in.context.empty(), task_, ": input ", i, ": `context` cannot be empty");
    Encoding enc;
    try {
      enc = tokenizer_->encode_pair(in.question, in.context, eo);
    } catch (const Error& e) {
      EncodeOptions plain;
      plain.add_special_tokens = false;
      Encoding q = tokenizer_->encode(in.question, plain);
      XFMR_FAIL(task_, ": input ", i, ": cannot split the context into windows of max_seq_len = ", max_seq_len,
                " tokens with doc_stride = ", doc_stride, " (the question alone has ", q.size(),
                " tokens; shorten it or raise max_seq_len / lower doc_stride): ", e.what());
    }
    std::vector<Encoding> ws;
    std::vector<Encoding> over = std::move(enc.overflowing);
    enc.overflowing.clear();
    ws.push_back(std::move(enc));
    for (auto& w : over) {
      w.overflowing.clear();
      ws.push_back(std::move(w));
    }
    for (auto& w : ws) {
      Window win{i, std::move(w), {}, {}, {}};
      check_length(win.enc, "input " + std::to_string(i) + " window");
      win.desired.resize(win.enc.size());
      for (size_t t = 0; t < win.enc.size(); ++t) {
        bool masked = win.enc.sequence_ids[t] != 1;
        if (win.enc.ids[t] == cls_id) masked = false;  // keep CLS (HF: unanswerable marker)
        win.desired[t] = !masked && win.enc.attention_mask[t] == 1;
      }
      windows.push_back(std::move(win));
    }
  }
  std::vector<const Encoding*> ptrs;
  for (const auto& w : windows) ptrs.push_back(&w.enc);
  forward_batched(ptrs, [&](size_t idx, const models::ModelOutput& out, int64_t row) {
    XFMR_CHECK(out.start_logits.defined() && out.end_logits.defined(), task_, ": the model gave no start/end logits");
    Tensor sl = out.start_logits.contiguous(), el = out.end_logits.contiguous();
    const int64_t L = sl.size(1);
    Window& w = windows[idx];
    const float* ps = sl.data<float>() + row * L;
    const float* pe = el.data<float>() + row * L;
    w.start.assign(ps, ps + static_cast<std::ptrdiff_t>(w.enc.size()));
    w.end.assign(pe, pe + static_cast<std::ptrdiff_t>(w.enc.size()));
  });

  std::vector<std::vector<Answer>> results(inputs.size());
  std::vector<float> min_null(inputs.size(), 1000000.0f);
  for (auto& w : windows) {
    const size_t L = w.enc.size();
    std::vector<float> s(L), e(L);
    for (size_t t = 0; t < L; ++t) {
      s[t] = w.desired[t] ? w.start[t] : -10000.0f;
      e[t] = w.desired[t] ? w.end[t] : -10000.0f;
    }
    s = softmax_f32(s);
    e = softmax_f32(e);
    if (o.handle_impossible_answer) min_null[w.input] = std::min(min_null[w.input], s[0] * e[0]);
    s[0] = e[0] = 0.0f;
    const std::string& ctx = inputs[w.input].context;
    for (const Span& span : decode_spans(s, e, o.top_k, o.max_answer_len, w.desired)) {
      auto [cs, ce] = char_span(w.enc, span.s, span.e, o.align_to_words);
      results[w.input].push_back(
          {static_cast<double>(span.score), cs, ce, cp_slice(ctx, static_cast<size_t>(cs), static_cast<size_t>(ce))});
    }
  }
  for (size_t i = 0; i < results.size(); ++i) {
    auto& a = results[i];
    if (o.handle_impossible_answer) a.push_back({static_cast<double>(min_null[i]), 0, 0, ""});
    std::stable_sort(a.begin(), a.end(), [](const Answer& x, const Answer& y) { return x.score > y.score; });
    if (a.size() > static_cast<size_t>(o.top_k)) a.resize(static_cast<size_t>(o.top_k));
  }
  return results;
}

std::vector<Answer> QuestionAnsweringPipeline::operator()(const Input& input, const QuestionAnsweringOptions& o) const {
  return (*this)(std::vector<Input>{input}, o).at(0);
}

std::vector<Output> QuestionAnsweringPipeline::run(const std::vector<Input>& inputs, detail::Kwargs& kw,
                                                   bool as_single) const {
  (void)as_single;  // a dict for one answer, a list otherwise - in both shapes
  QuestionAnsweringOptions o;
  if (auto v = kw.get_int("topk")) o.top_k = *v;  // deprecated spelling
  if (auto v = kw.get_int("top_k")) o.top_k = *v;
  if (auto v = kw.get_bool("handle_impossible_answer")) o.handle_impossible_answer = *v;
  if (auto v = kw.get_int("max_answer_len")) o.max_answer_len = *v;
  if (auto v = kw.get_int("max_seq_len")) o.max_seq_len = *v;
  if (auto v = kw.get_int("doc_stride")) o.doc_stride = *v;
  if (auto v = kw.get_int("max_question_len")) o.max_question_len = *v;
  if (auto v = kw.get_bool("align_to_words")) o.align_to_words = *v;
  kw.finish(parameter_names());
  auto res = (*this)(inputs, o);
  std::vector<Output> outs;
  for (auto& answers : res) {
    json list = json::array();
    for (const auto& a : answers)
      list.push_back({{"score", a.score}, {"start", a.start}, {"end", a.end}, {"answer", a.answer}});
    json j = list.size() == 1 ? list[0] : list;
    outs.emplace_back(Result(std::move(answers)), python_json(j));
  }
  return outs;
}

}  // namespace xfmr::pipelines
