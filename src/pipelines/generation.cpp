// Decoder-only generation: HF's GenerationConfig, logits processors and warpers, greedy search and
// sampling with the KV cache, TextStreamer.
#include "xfmr/pipelines/generation.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include "common.h"
#include "xfmr/autograd/autograd.h"
#include "xfmr/core/error.h"

namespace fs = std::filesystem;

namespace xfmr::pipelines {

// ---- GenerationConfig ---------------------------------------------------------------------------------

void GenerationConfig::update_from_json(const std::string& json_object, const std::string& origin) {
  json j = parse_json(json_object, origin);
  XFMR_CHECK(j.is_object(), origin, ": expected a JSON object");
  auto bad = [&](const std::string& k, const char* what) {
    XFMR_FAIL(origin, ": '", k, "' must be ", what, ", got ", python_json(j.at(k)));
  };
  auto as_int = [&](const std::string& k) -> int64_t {
    const json& v = j.at(k);
    if (v.is_number_integer()) return v.get<int64_t>();
    if (v.is_number_float() && std::floor(v.get<double>()) == v.get<double>()) return static_cast<int64_t>(v.get<double>());
    XFMR_FAIL(origin, ": '", k, "' must be an integer, got ", python_json(v));
  };
  auto as_num = [&](const std::string& k) -> double {
    if (!j.at(k).is_number()) bad(k, "a number");
    return j.at(k).get<double>();
  };
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& k = it.key();
    const json& v = it.value();
    const bool null = v.is_null();
    if (k == "max_length") {
      if (!null) max_length = as_int(k);
    } else if (k == "max_new_tokens") {
      max_new_tokens = null ? std::nullopt : std::optional<int64_t>(as_int(k));
    } else if (k == "min_length") {
      min_length = null ? 0 : as_int(k);
    } else if (k == "min_new_tokens") {
      min_new_tokens = null ? std::nullopt : std::optional<int64_t>(as_int(k));
    } else if (k == "do_sample") {
      if (!null && !v.is_boolean()) bad(k, "true or false");
      do_sample = !null && v.get<bool>();
    } else if (k == "temperature") {
      temperature = null ? 1.0 : as_num(k);
    } else if (k == "top_k") {
      top_k = null ? 0 : as_int(k);
    } else if (k == "top_p") {
      top_p = null ? 1.0 : as_num(k);
    } else if (k == "repetition_penalty") {
      repetition_penalty = null ? 1.0 : as_num(k);
    } else if (k == "no_repeat_ngram_size") {
      no_repeat_ngram_size = null ? 0 : as_int(k);
    } else if (k == "num_return_sequences") {
      num_return_sequences = null ? 1 : as_int(k);
    } else if (k == "eos_token_id") {
      eos_token_id.clear();
      if (v.is_array()) {
        for (const auto& e : v) {
          if (!e.is_number_integer()) bad(k, "an integer or a list of integers");
          eos_token_id.push_back(e.get<int64_t>());
        }
      } else if (!null) {
        eos_token_id.push_back(as_int(k));
      }
    } else if (k == "pad_token_id") {
      pad_token_id = null ? std::nullopt : std::optional<int64_t>(as_int(k));
    } else if (k == "bos_token_id") {
      bos_token_id = null ? std::nullopt : std::optional<int64_t>(as_int(k));
    }
    // Other fields (beam search, forced tokens, ...) are not used by decoder-only greedy/sampling.
  }
}

GenerationConfig GenerationConfig::from_pretrained(const fs::path& dir, const models::ModelConfig& config) {
  GenerationConfig g;
  fs::path file = dir / "generation_config.json";
  std::error_code ec;
  if (fs::is_regular_file(file, ec)) {
    std::ifstream in(file);
    XFMR_CHECK(in.good(), "cannot read ", file.string());
    std::stringstream ss;
    ss << in.rdbuf();
    g.update_from_json(ss.str(), file.string());
    return g;
  }
  // HF's GenerationConfig.from_model_config: the generation fields of config.json.
  json c = json::object();
  for (const char* k : {"max_length", "min_length", "do_sample", "temperature", "top_k", "top_p", "repetition_penalty",
                        "no_repeat_ngram_size", "num_return_sequences", "eos_token_id", "pad_token_id", "bos_token_id"}) {
    std::string raw = config.get_json(k);
    if (!raw.empty()) c[k] = parse_json(raw, "config.json " + std::string(k));
  }
  g.update_from_json(c.dump(), (dir / "config.json").string());
  return g;
}

int64_t GenerationConfig::new_tokens_for(int64_t prompt_len) const {
  if (max_new_tokens) return *max_new_tokens;
  // HF generates at least one token even when the prompt already reaches max_length.
  return std::max<int64_t>(1, max_length - prompt_len);
}

void GenerationConfig::validate() const {
  XFMR_CHECK(!max_new_tokens || *max_new_tokens > 0, "generation: `max_new_tokens` must be greater than 0, but is ",
             max_new_tokens.value_or(0));
  XFMR_CHECK(max_length >= 0, "generation: max_length must be >= 0, got ", max_length);
  XFMR_CHECK(num_return_sequences >= 1, "generation: num_return_sequences must be >= 1, got ", num_return_sequences);
  XFMR_CHECK(do_sample || num_return_sequences == 1,
             "generation: Greedy methods without beam search do not support `num_return_sequences` different than 1 "
             "(got ", num_return_sequences, "); pass do_sample=true");
  XFMR_CHECK(repetition_penalty > 0, "generation: `repetition_penalty` has to be a strictly positive float, but is ",
             repetition_penalty);
  XFMR_CHECK(no_repeat_ngram_size >= 0, "generation: no_repeat_ngram_size must be >= 0, got ", no_repeat_ngram_size);
  if (do_sample) {
    XFMR_CHECK(temperature > 0, "generation: `temperature` (=", temperature, ") has to be a strictly positive float");
    XFMR_CHECK(top_k >= 0, "generation: `top_k` has to be a non-negative integer, but is ", top_k);
    XFMR_CHECK(top_p > 0 && top_p <= 1, "generation: `top_p` has to be a float > 0 and <= 1, but is ", top_p);
  }
}

// ---- logits processors ---------------------------------------------------------------------------------

RepetitionPenaltyLogitsProcessor::RepetitionPenaltyLogitsProcessor(double penalty)
    : penalty_(static_cast<float>(penalty)) {
  XFMR_CHECK(penalty > 0, "RepetitionPenaltyLogitsProcessor: penalty must be > 0, got ", penalty);
}

void RepetitionPenaltyLogitsProcessor::operator()(std::span<const int32_t> ids, size_t, std::span<float> scores) const {
  std::set<int32_t> seen(ids.begin(), ids.end());
  for (int32_t t : seen) {
    if (t < 0 || static_cast<size_t>(t) >= scores.size()) continue;
    float& s = scores[static_cast<size_t>(t)];
    s = s < 0 ? s * penalty_ : s / penalty_;
  }
}

NoRepeatNGramLogitsProcessor::NoRepeatNGramLogitsProcessor(int64_t n) : n_(n) {
  XFMR_CHECK(n > 0, "NoRepeatNGramLogitsProcessor: ngram_size must be > 0, got ", n);
}

void NoRepeatNGramLogitsProcessor::operator()(std::span<const int32_t> ids, size_t, std::span<float> scores) const {
  const size_t n = static_cast<size_t>(n_);
  if (ids.size() + 1 < n) return;
  // Tokens that followed the last n-1 tokens anywhere before.
  const size_t start = ids.size() - (n - 1);
  for (size_t i = 0; i + n <= ids.size(); ++i) {
    if (std::equal(ids.begin() + static_cast<std::ptrdiff_t>(i), ids.begin() + static_cast<std::ptrdiff_t>(i + n - 1),
                   ids.begin() + static_cast<std::ptrdiff_t>(start))) {
      int32_t banned = ids[i + n - 1];
      if (banned >= 0 && static_cast<size_t>(banned) < scores.size()) scores[static_cast<size_t>(banned)] = -INFINITY;
    }
  }
}

MinLengthLogitsProcessor::MinLengthLogitsProcessor(int64_t min_length, std::vector<int64_t> eos)
    : min_length_(min_length), eos_(std::move(eos)) {}

void MinLengthLogitsProcessor::operator()(std::span<const int32_t> ids, size_t, std::span<float> scores) const {
  if (static_cast<int64_t>(ids.size()) >= min_length_) return;
  for (int64_t e : eos_)
    if (e >= 0 && static_cast<size_t>(e) < scores.size()) scores[static_cast<size_t>(e)] = -INFINITY;
}

MinNewTokensLengthLogitsProcessor::MinNewTokensLengthLogitsProcessor(int64_t min_new_tokens, std::vector<int64_t> eos)
    : min_new_(min_new_tokens), eos_(std::move(eos)) {}

void MinNewTokensLengthLogitsProcessor::operator()(std::span<const int32_t> ids, size_t prompt_len,
                                                   std::span<float> scores) const {
  if (static_cast<int64_t>(ids.size() - prompt_len) >= min_new_) return;
  for (int64_t e : eos_)
    if (e >= 0 && static_cast<size_t>(e) < scores.size()) scores[static_cast<size_t>(e)] = -INFINITY;
}

TemperatureLogitsWarper::TemperatureLogitsWarper(double temperature) : temperature_(static_cast<float>(temperature)) {
  XFMR_CHECK(temperature > 0, "TemperatureLogitsWarper: `temperature` (=", temperature,
             ") has to be a strictly positive float");
}

void TemperatureLogitsWarper::operator()(std::span<const int32_t>, size_t, std::span<float> scores) const {
  for (float& s : scores) s /= temperature_;
}

TopKLogitsWarper::TopKLogitsWarper(int64_t top_k, int64_t min_tokens_to_keep)
    : top_k_(std::max(top_k, min_tokens_to_keep)) {
  XFMR_CHECK(top_k > 0, "TopKLogitsWarper: `top_k` has to be a strictly positive integer, but is ", top_k);
}

void TopKLogitsWarper::operator()(std::span<const int32_t>, size_t, std::span<float> scores) const {
  const size_t k = std::min(static_cast<size_t>(top_k_), scores.size());
  if (k == 0 || k >= scores.size()) return;
  std::vector<float> v(scores.begin(), scores.end());
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k - 1), v.end(), std::greater<float>());
  const float kth = v[k - 1];
  for (float& s : scores)
    if (s < kth) s = -INFINITY;  // ties with the k-th are kept (HF: scores < topk[..., -1])
}

TopPLogitsWarper::TopPLogitsWarper(double top_p, int64_t min_tokens_to_keep) : top_p_(top_p), min_keep_(min_tokens_to_keep) {
  XFMR_CHECK(top_p > 0 && top_p <= 1, "TopPLogitsWarper: `top_p` has to be a float > 0 and <= 1, but is ", top_p);
}

void TopPLogitsWarper::operator()(std::span<const int32_t>, size_t, std::span<float> scores) const {
  const size_t V = scores.size();
  std::vector<size_t> order(V);
  for (size_t i = 0; i < V; ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] < scores[b]; });
  std::vector<float> sorted(V);
  for (size_t i = 0; i < V; ++i) sorted[i] = scores[order[i]];
  std::vector<float> probs = softmax_f32(sorted);
  const float limit = static_cast<float>(1.0 - top_p_);
  const size_t keep_from = V > static_cast<size_t>(min_keep_) ? V - static_cast<size_t>(min_keep_) : 0;
  float cum = 0;
  for (size_t i = 0; i < V; ++i) {
    cum += probs[i];
    if (i < keep_from && cum <= limit) scores[order[i]] = -INFINITY;
  }
}

std::vector<std::string> LogitsProcessorList::names() const {
  std::vector<std::string> out;
  for (const auto& p : list_) out.push_back(p->name());
  return out;
}

LogitsProcessorList make_logits_processors(const GenerationConfig& c) {
  LogitsProcessorList l;
  if (c.repetition_penalty != 1.0) l.add(std::make_unique<RepetitionPenaltyLogitsProcessor>(c.repetition_penalty));
  if (c.no_repeat_ngram_size > 0) l.add(std::make_unique<NoRepeatNGramLogitsProcessor>(c.no_repeat_ngram_size));
  if (c.min_length > 0 && !c.eos_token_id.empty())
    l.add(std::make_unique<MinLengthLogitsProcessor>(c.min_length, c.eos_token_id));
  if (c.min_new_tokens && *c.min_new_tokens > 0 && !c.eos_token_id.empty())
    l.add(std::make_unique<MinNewTokensLengthLogitsProcessor>(*c.min_new_tokens, c.eos_token_id));
  if (c.do_sample) {
    if (c.temperature != 1.0) l.add(std::make_unique<TemperatureLogitsWarper>(c.temperature));
    if (c.top_k != 0) l.add(std::make_unique<TopKLogitsWarper>(c.top_k));
    if (c.top_p < 1.0) l.add(std::make_unique<TopPLogitsWarper>(c.top_p));
  }
  return l;
}

int32_t select_token(std::span<const float> scores, bool sample, Generator* gen) {
  XFMR_CHECK(!scores.empty(), "select_token: empty scores");
  if (!sample) return static_cast<int32_t>(std::max_element(scores.begin(), scores.end()) - scores.begin());
  XFMR_CHECK(gen != nullptr, "select_token: sampling needs a generator");
  std::vector<float> p = softmax_f32(scores);
  double total = 0;
  for (float v : p) total += v;
  XFMR_CHECK(total > 0 && std::isfinite(total), "select_token: no token has a positive probability (all scores -inf?)");
  const double u = gen->uniform_double() * total;
  double cum = 0;
  int32_t last = -1;
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i] <= 0) continue;
    last = static_cast<int32_t>(i);
    cum += p[i];
    if (u < cum) return last;
  }
  return last;
}

// ---- TextStreamer ------------------------------------------------------------------------------------------

TextStreamer::TextStreamer(const tokenizers::Tokenizer& tokenizer, std::function<void(const std::string&)> on_text,
                           bool skip_special_tokens)
    : tok_(tokenizer), on_text_(std::move(on_text)), skip_special_(skip_special_tokens) {}

namespace {
bool is_cjk(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
         (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}
}  // namespace

void TextStreamer::put(int32_t token) {
  cache_.push_back(token);
  std::string text = tok_.decode(cache_, {.skip_special_tokens = skip_special_,
                                          .clean_up_tokenization_spaces = tok_.clean_up_tokenization_spaces()});
  std::string piece;
  if (!text.empty() && text.back() == '\n') {
    if (text.size() > printed_) piece = text.substr(printed_);
    cache_.clear();
    printed_ = 0;
  } else {
    size_t last_start = text.size();
    while (last_start > 0 && (static_cast<unsigned char>(text[last_start - 1]) & 0xC0) == 0x80) --last_start;
    if (last_start > 0) --last_start;
    if (!text.empty() && is_cjk(cp_at_byte(text, last_start))) {
      if (text.size() > printed_) piece = text.substr(printed_);
      printed_ = text.size();
    } else {
      size_t sp = text.rfind(' ');
      size_t upto = sp == std::string::npos ? 0 : sp + 1;
      if (upto > printed_) {
        piece = text.substr(printed_, upto - printed_);
        printed_ = upto;
      }
    }
  }
  if (!piece.empty() && on_text_) on_text_(piece);
}

void TextStreamer::end() {
  if (!cache_.empty()) {
    std::string text = tok_.decode(cache_, {.skip_special_tokens = skip_special_,
                                            .clean_up_tokenization_spaces = tok_.clean_up_tokenization_spaces()});
    if (text.size() > printed_ && on_text_) on_text_(text.substr(printed_));
  }
  cache_.clear();
  printed_ = 0;
}

// ---- generate ---------------------------------------------------------------------------------------------

namespace {

uint64_t mix(uint64_t a, uint64_t b) {
  uint64_t z = a + 0x9E3779B97F4A7C15ull * (b + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

}  // namespace

std::vector<GenerationResult> generate(const models::CausalLM& lm, const std::vector<std::vector<int32_t>>& prompts,
                                       const GenerationConfig& cfg, const std::vector<uint64_t>& seeds,
                                       const std::function<void(size_t, int32_t)>& on_token) {
  cfg.validate();
  XFMR_CHECK(seeds.empty() || seeds.size() == prompts.size(), "generate: ", seeds.size(), " seeds for ", prompts.size(),
             " prompts");
  if (prompts.empty()) return {};
  NoGradGuard no_grad;
  const size_t nrs = static_cast<size_t>(cfg.num_return_sequences);
  const int64_t positions = lm.max_positions();
  const int64_t V = lm.vocab_size();
  const int32_t pad = static_cast<int32_t>(cfg.pad_token_id.value_or(cfg.eos_token_id.empty() ? 0 : cfg.eos_token_id[0]));
  uint64_t base_seed = cfg.seed ? *cfg.seed : std::random_device{}();

  struct Row {
    GenerationResult r;
    int64_t budget = 0, generated = 0;
    Generator gen;
    int64_t next_pos = 0;
    std::vector<int64_t> mask;
  };
  std::vector<Row> rows(prompts.size() * nrs);
  int64_t Lmax = 0;
  for (size_t i = 0; i < prompts.size(); ++i) {
    XFMR_CHECK(!prompts[i].empty(), "generate: prompt ", i, " is empty (start it with the bos token)");
    const int64_t len = static_cast<int64_t>(prompts[i].size());
    Lmax = std::max(Lmax, len);
    const int64_t budget = cfg.new_tokens_for(len);
    XFMR_CHECK(len + budget <= positions, "generate: prompt ", i, " has ", len, " tokens and ", budget,
               " new tokens were asked for: ", len + budget, " positions, more than the model's ", positions);
    for (size_t j = 0; j < nrs; ++j) {
      Row& row = rows[i * nrs + j];
      row.r.ids = prompts[i];
      row.r.prompt_length = prompts[i].size();
      row.budget = budget;
      row.gen.manual_seed(mix(seeds.empty() ? mix(base_seed, i) : seeds[i], j));
    }
  }
  const size_t B = rows.size();
  bool padded = false;
  for (const auto& p : prompts) padded = padded || static_cast<int64_t>(p.size()) != Lmax;
  // Left padding with HF's positions (cumsum(mask) - 1, 1 at padding).
  std::vector<int64_t> ids(B * static_cast<size_t>(Lmax), pad), pos(B * static_cast<size_t>(Lmax), 1),
      mask(B * static_cast<size_t>(Lmax), 0);
  for (size_t r = 0; r < B; ++r) {
    const auto& p = rows[r].r.ids;
    const size_t off = static_cast<size_t>(Lmax) - p.size();
    for (size_t t = 0; t < p.size(); ++t) {
      const size_t k = r * static_cast<size_t>(Lmax) + off + t;
      ids[k] = p[t];
      mask[k] = 1;
      pos[k] = static_cast<int64_t>(t);
    }
    rows[r].next_pos = static_cast<int64_t>(p.size());
    if (padded) rows[r].mask.assign(mask.begin() + static_cast<std::ptrdiff_t>(r * static_cast<size_t>(Lmax)),
                                    mask.begin() + static_cast<std::ptrdiff_t>((r + 1) * static_cast<size_t>(Lmax)));
  }
  const LogitsProcessorList processors = make_logits_processors(cfg);
  models::KVCache cache = lm.make_cache();
  const int64_t Bi = static_cast<int64_t>(B);
  models::ModelOutput out =
      padded ? lm.forward_step(Tensor::from_vector(ids, {Bi, Lmax}), cache, Tensor::from_vector(mask, {Bi, Lmax}),
                               Tensor::from_vector(pos, {Bi, Lmax}))
             : lm.forward_step(Tensor::from_vector(ids, {Bi, Lmax}), cache);
  std::vector<size_t> active(B);  // cache row k holds rows[active[k]]
  for (size_t r = 0; r < B; ++r) active[r] = r;
  std::vector<float> scores(static_cast<size_t>(V));
  while (true) {
    Tensor lg = out.logits.contiguous();
    XFMR_CHECK(lg.dim() == 2 && lg.size(0) == static_cast<int64_t>(active.size()) && lg.size(1) == V,
               "generate: unexpected logits ", lg.describe());
    const float* data = lg.data<float>();
    std::vector<size_t> keep;  // cache rows that continue
    for (size_t k = 0; k < active.size(); ++k) {
      Row& row = rows[active[k]];
      std::copy(data + static_cast<int64_t>(k) * V, data + static_cast<int64_t>(k + 1) * V, scores.begin());
      processors(row.r.ids, row.r.prompt_length, scores);
      const int32_t tok = select_token(scores, cfg.do_sample, &row.gen);
      row.r.ids.push_back(tok);
      ++row.generated;
      if (on_token) on_token(active[k], tok);
      const bool eos = std::find(cfg.eos_token_id.begin(), cfg.eos_token_id.end(), tok) != cfg.eos_token_id.end();
      row.r.finished_by_eos = eos;
      if (!eos && row.generated < row.budget) keep.push_back(k);
    }
    if (keep.empty()) break;
    if (keep.size() != active.size()) {
      std::vector<int64_t> kr(keep.begin(), keep.end());
      cache.reorder(kr);
      std::vector<size_t> na;
      for (size_t k : keep) na.push_back(active[k]);
      active = std::move(na);
    }
    const int64_t n = static_cast<int64_t>(active.size());
    std::vector<int64_t> next(active.size()), npos(active.size());
    for (size_t k = 0; k < active.size(); ++k) {
      Row& row = rows[active[k]];
      next[k] = row.r.ids.back();
      npos[k] = row.next_pos++;
      if (padded) row.mask.push_back(1);
    }
    if (padded) {
      const int64_t past = static_cast<int64_t>(rows[active[0]].mask.size());
      std::vector<int64_t> m;
      m.reserve(active.size() * static_cast<size_t>(past));
      for (size_t r : active) m.insert(m.end(), rows[r].mask.begin(), rows[r].mask.end());
      out = lm.forward_step(Tensor::from_vector(next, {n, 1}), cache, Tensor::from_vector(m, {n, past}),
                            Tensor::from_vector(npos, {n, 1}));
    } else {
      out = lm.forward_step(Tensor::from_vector(next, {n, 1}), cache);
    }
  }
  std::vector<GenerationResult> results;
  results.reserve(B);
  for (auto& row : rows) results.push_back(std::move(row.r));
  return results;
}

}  // namespace xfmr::pipelines
