// text-generation: HF's TextGenerationPipeline for decoder-only models (prompt -> generate() ->
// decoded text, return_full_text, handle_long_generation="hole", streaming).
#include <algorithm>
#include <random>

#include "common.h"
#include "xfmr/pipelines/tasks.h"

namespace xfmr::pipelines {

using tokenizers::Encoding;

TextGenerationPipeline::TextGenerationPipeline(const PipelineOptions& options)
    : TaskPipeline("text-generation", options) {
  lm_ = model_->as_causal_lm();
  XFMR_CHECK(lm_ != nullptr, task_, ": ", model_->architecture(), " is not a causal language model");
  base_config_ = GenerationConfig::from_pretrained(model_dir_, config());
  // HF applies task_specific_params["text-generation"] to the pipeline's generation config
  // (GPT-2: do_sample true, max_length 50).
  std::string tsp = config().get_json("task_specific_params");
  if (!tsp.empty()) {
    json j = parse_json(tsp, "config.json task_specific_params");
    if (j.is_object() && j.contains("text-generation") && j["text-generation"].is_object())
      base_config_.update_from_json(j["text-generation"].dump(), "config.json task_specific_params[\"text-generation\"]");
  }
  if (base_config_.eos_token_id.empty())
    if (auto e = config().eos_token_id()) base_config_.eos_token_id = {*e};
  if (!base_config_.bos_token_id) base_config_.bos_token_id = config().bos_token_id();
  if (!base_config_.pad_token_id && !base_config_.eos_token_id.empty())
    base_config_.pad_token_id = base_config_.eos_token_id[0];  // HF: "Setting pad_token_id to eos_token_id"
}

std::vector<std::string> TextGenerationPipeline::parameter_names() const {
  return {"max_new_tokens", "max_length",         "min_new_tokens",     "min_length",
          "do_sample",      "temperature",        "top_k",              "top_p",
          "repetition_penalty", "no_repeat_ngram_size", "num_return_sequences", "seed",
          "return_full_text", "return_tensors",   "clean_up_tokenization_spaces", "prefix",
          "handle_long_generation"};
}

GenerationConfig TextGenerationPipeline::generation_config(const TextGenerationOptions& o) const {
  GenerationConfig c = base_config_;
  if (o.max_new_tokens) c.max_new_tokens = o.max_new_tokens;
  if (o.max_length) {
    c.max_length = *o.max_length;
    if (!o.max_new_tokens) c.max_new_tokens.reset();  // an explicit max_length wins over a configured max_new_tokens
  }
  if (o.min_new_tokens) c.min_new_tokens = o.min_new_tokens;
  if (o.min_length) c.min_length = *o.min_length;
  if (o.do_sample) c.do_sample = *o.do_sample;
  if (o.temperature) c.temperature = *o.temperature;
  if (o.top_k) c.top_k = *o.top_k;
  if (o.top_p) c.top_p = *o.top_p;
  if (o.repetition_penalty) c.repetition_penalty = *o.repetition_penalty;
  if (o.no_repeat_ngram_size) c.no_repeat_ngram_size = *o.no_repeat_ngram_size;
  if (o.num_return_sequences) c.num_return_sequences = *o.num_return_sequences;
  if (o.seed) c.seed = o.seed;
  return c;
}

std::vector<std::vector<GeneratedText>> TextGenerationPipeline::operator()(const std::vector<std::string>& prompts,
                                                                           const TextGenerationOptions& o) const {
  GenerationConfig cfg = generation_config(o);
  cfg.validate();
  XFMR_CHECK(o.handle_long_generation.empty() || o.handle_long_generation == "hole", task_, ": ",
             quote(o.handle_long_generation), " is not a valid value for `handle_long_generation` (expected none or \"hole\")");
  const std::string prefix = o.prefix.empty() ? config().get_string("prefix", "") : o.prefix;
  const int64_t positions = std::min<int64_t>(max_tokens_, lm_->max_positions());
  const tokenizers::DecodeOptions dec{.skip_special_tokens = true, .clean_up_tokenization_spaces = o.clean_up_tokenization_spaces};

  struct Item {
    std::vector<int32_t> ids;
    size_t prompt_chars = 0;  // code points of decode(prompt ids): cut from the decoded sequence
  };
  std::vector<Item> items(prompts.size());
  for (size_t i = 0; i < prompts.size(); ++i) {
    Encoding e = tokenizer_->encode(prefix + prompts[i]);
    Item& it = items[i];
    it.ids = e.ids;
    if (it.ids.empty()) {
      // HF generates from bos for an empty prompt (and cuts nothing from the text).
      XFMR_CHECK(cfg.bos_token_id.has_value(), task_, ": input ", i,
                 " is an empty prompt and the model has no bos_token_id to start from");
      it.ids = {static_cast<int32_t>(*cfg.bos_token_id)};
    } else {
      it.prompt_chars = cp_length(tokenizer_->decode(it.ids, dec));
    }
    int64_t len = static_cast<int64_t>(it.ids.size());
    int64_t new_tokens = cfg.new_tokens_for(len);
    if (!cfg.max_new_tokens && cfg.max_length <= len)
      warn(task_ + ": input " + std::to_string(i) + " has " + std::to_string(len) +
           " tokens but max_length is " + std::to_string(cfg.max_length) +
           ": generating one token (as HF does); set max_new_tokens to choose how many");
    if (o.handle_long_generation == "hole" && len + new_tokens > positions) {
      const int64_t keep = positions - new_tokens;
      XFMR_CHECK(keep > 0, task_, ": We cannot use `hole` to handle this generation: the number of desired tokens (",
                 new_tokens, ") exceeds the model's max length (", positions, ")");
      it.ids.erase(it.ids.begin(), it.ids.end() - keep);
      warn(task_ + ": input " + std::to_string(i) + ": handle_long_generation=\"hole\" dropped the first " +
           std::to_string(len - keep) + " prompt tokens to make room for " + std::to_string(new_tokens) + " new tokens");
      len = keep;
    }
    XFMR_CHECK(len + new_tokens <= positions, task_, ": input ", i, ": the prompt has ", len, " tokens and ", new_tokens,
               " new tokens were asked for, ", len + new_tokens, " in all, more than the model's ", positions,
               " positions; ask for fewer new tokens (max_new_tokens) or pass handle_long_generation=\"hole\" "
               "(--handle-long-generation hole) to drop the start of the prompt");
  }
  // Each prompt draws from its own random stream, so batching does not change samples.
  const uint64_t base = cfg.seed ? *cfg.seed : std::random_device{}();
  std::vector<uint64_t> seeds(prompts.size());
  for (size_t i = 0; i < prompts.size(); ++i) seeds[i] = base * 0x100000001B3ull + i;
  const size_t nrs = static_cast<size_t>(cfg.num_return_sequences);
  std::vector<std::vector<GenerationResult>> gen(prompts.size());
  const size_t bs = o.on_text ? 1 : static_cast<size_t>(batch_size_);
  std::vector<size_t> order(prompts.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  if (bs > 1)
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return items[a].ids.size() < items[b].ids.size(); });
  for (size_t s = 0; s < order.size(); s += bs) {
    std::vector<size_t> chunk(order.begin() + static_cast<std::ptrdiff_t>(s),
                              order.begin() + static_cast<std::ptrdiff_t>(std::min(order.size(), s + bs)));
    std::vector<std::vector<int32_t>> p;
    std::vector<uint64_t> sd;
    for (size_t i : chunk) {
      p.push_back(items[i].ids);
      sd.push_back(seeds[i]);
    }
    std::vector<GenerationResult> r;
    if (o.on_text) {
      TextStreamer streamer(*tokenizer_, o.on_text, true);
      r = generate(*lm_, p, cfg, sd, [&](size_t row, int32_t tok) {
        if (row == 0) streamer.put(tok);
      });
      streamer.end();
    } else {
      r = generate(*lm_, p, cfg, sd);
    }
    for (size_t c = 0; c < chunk.size(); ++c)
      gen[chunk[c]].assign(std::make_move_iterator(r.begin() + static_cast<std::ptrdiff_t>(c * nrs)),
                           std::make_move_iterator(r.begin() + static_cast<std::ptrdiff_t>((c + 1) * nrs)));
  }
  std::vector<std::vector<GeneratedText>> out(prompts.size());
  for (size_t i = 0; i < prompts.size(); ++i) {
    for (auto& g : gen[i]) {
      GeneratedText t;
      std::string text = tokenizer_->decode(g.ids, dec);
      std::string tail = cp_slice(text, items[i].prompt_chars, cp_length(text));
      t.generated_text = o.return_full_text ? prompts[i] + tail : tail;
      t.prompt_tokens = g.prompt_length;
      t.finished_by_eos = g.finished_by_eos;
      t.token_ids = std::move(g.ids);
      out[i].push_back(std::move(t));
    }
  }
  return out;
}

std::vector<GeneratedText> TextGenerationPipeline::operator()(const std::string& prompt,
                                                              const TextGenerationOptions& o) const {
  return (*this)(std::vector<std::string>{prompt}, o).at(0);
}

std::vector<Output> TextGenerationPipeline::run(const std::vector<Input>& inputs, detail::Kwargs& kw,
                                                bool as_single) const {
  (void)as_single;  // a list of records per prompt in both shapes
  TextGenerationOptions o;
  o.max_new_tokens = kw.get_int("max_new_tokens");
  o.max_length = kw.get_int("max_length");
  o.min_new_tokens = kw.get_int("min_new_tokens");
  o.min_length = kw.get_int("min_length");
  o.do_sample = kw.get_bool("do_sample");
  o.temperature = kw.get_number("temperature");
  o.top_k = kw.get_int("top_k");
  if (kw.is_null("top_k")) o.top_k = 0;  // top_k=None disables the warper
  o.top_p = kw.get_number("top_p");
  o.repetition_penalty = kw.get_number("repetition_penalty");
  o.no_repeat_ngram_size = kw.get_int("no_repeat_ngram_size");
  o.num_return_sequences = kw.get_int("num_return_sequences");
  if (auto s = kw.get_int("seed")) {
    XFMR_CHECK(*s >= 0, task_, ": seed must be >= 0, got ", *s);
    o.seed = static_cast<uint64_t>(*s);
  }
  auto full = kw.get_bool("return_full_text");
  auto tensors = kw.get_bool("return_tensors");
  XFMR_CHECK(!(full && tensors && *tensors), task_, ": `return_full_text` is mutually exclusive with `return_tensors`");
  if (full) o.return_full_text = *full;
  if (tensors) o.return_tensors = *tensors;
  if (auto c = kw.get_bool("clean_up_tokenization_spaces")) o.clean_up_tokenization_spaces = *c;
  if (auto p = kw.get_string("prefix")) o.prefix = *p;
  if (auto h = kw.get_string("handle_long_generation")) o.handle_long_generation = *h;
  kw.finish(parameter_names());
  o.on_text = stream_;
  std::vector<std::string> prompts = detail::text_inputs(inputs, task_);
  auto res = (*this)(prompts, o);
  std::vector<Output> outs;
  for (auto& records : res) {
    json list = json::array();
    for (const auto& r : records) {
      if (o.return_tensors) {
        list.push_back({{"generated_token_ids", r.token_ids}});
      } else {
        list.push_back({{"generated_text", r.generated_text}});
      }
    }
    outs.emplace_back(Result(std::in_place_type<std::vector<GeneratedText>>, std::move(records)), python_json(list));
  }
  return outs;
}

}  // namespace xfmr::pipelines
