// GPT-2 (modeling_gpt2.py; DistilGPT2 checkpoints are the same model_type): pre-norm blocks with
// Conv1D projections (weights stored [in, out], used through transposed views), causal attention,
// tied LM head, and a KV cache for incremental decoding. Also GPT2ForSequenceClassification and
// GPT2ForTokenClassification.
#include <cmath>
#include <optional>
#include <tuple>

#include "blocks.h"
#include "families.h"

namespace xfmr::models::detail {
namespace {

struct Gpt2Config {
  int64_t vocab_size, n_positions, n_embd, n_layer, n_head, n_inner;
  float resid_pdrop, embd_pdrop, attn_pdrop, layer_norm_epsilon;
  bool scale_attn_weights, scale_attn_by_inverse_layer_idx;
  nn::Activation act;

  static Gpt2Config parse(const ModelConfig& c, const std::string& who) {
    Gpt2Config r;
    r.vocab_size = positive_int(c, "vocab_size", 50257, who);
    r.n_positions = positive_int(c, "n_positions", 1024, who);
    r.n_embd = positive_int(c, "n_embd", 768, who);
    r.n_layer = positive_int(c, "n_layer", 12, who);
    r.n_head = positive_int(c, "n_head", 12, who);
    r.n_inner = c.has("n_inner") ? positive_int(c, "n_inner", 0, who) : 4 * r.n_embd;
    r.resid_pdrop = dropout_prob(c, "resid_pdrop", 0.1);
    r.embd_pdrop = dropout_prob(c, "embd_pdrop", 0.1);
    r.attn_pdrop = dropout_prob(c, "attn_pdrop", 0.1);
    r.layer_norm_epsilon = static_cast<float>(c.get_float("layer_norm_epsilon", 1e-5));
    r.scale_attn_weights = c.get_bool("scale_attn_weights", true);
    r.scale_attn_by_inverse_layer_idx = c.get_bool("scale_attn_by_inverse_layer_idx", false);
    // reorder_and_upcast_attn only changes the precision of half-precision runs: f32 is unaffected.
    r.act = activation(c.get_string("activation_function", "gelu_new"), who, "activation_function");
    XFMR_CHECK(!c.get_bool("add_cross_attention", false), who, ": add_cross_attention = true is not supported");
    head_dim(r.n_embd, r.n_head, who);
    return r;
  }
};

class Gpt2Block : public nn::Module {
 public:
  Gpt2Block(const Gpt2Config& c, int64_t index) : c_(c), index_(index) {
    const int64_t E = c.n_embd;
    const float proj_scale = 1.0f / std::sqrt(2.0f * static_cast<float>(c.n_layer));
    ln_1 = register_module("ln_1", std::make_shared<nn::LayerNorm>(E, c.layer_norm_epsilon));
    c_attn = register_module("attn.c_attn", std::make_shared<Conv1D>(E, 3 * E));
    attn_proj = register_module("attn.c_proj", std::make_shared<Conv1D>(E, E));
    attn_proj->init_std_scale = proj_scale;
    ln_2 = register_module("ln_2", std::make_shared<nn::LayerNorm>(E, c.layer_norm_epsilon));
    c_fc = register_module("mlp.c_fc", std::make_shared<Conv1D>(E, c.n_inner));
    mlp_proj = register_module("mlp.c_proj", std::make_shared<Conv1D>(c.n_inner, E));
    mlp_proj->init_std_scale = proj_scale;
  }
  std::string type_name() const override { return "GPT2Block"; }

  // mask: additive [B, 1, 1, S] or undefined; cache: append this layer's K/V when given.
  Tensor forward(const Tensor& x, const Tensor& mask, KVCache* cache) const {
    const bool train = is_training();
    const int64_t E = c_.n_embd;
    Tensor qkv = c_attn->forward(ln_1->forward(x));
    Tensor q = split_heads(narrow(qkv, 2, 0, E), c_.n_head);
    Tensor k = split_heads(narrow(qkv, 2, E, E), c_.n_head);
    Tensor v = split_heads(narrow(qkv, 2, 2 * E, E), c_.n_head);
    if (cache) std::tie(k, v) = cache->append(static_cast<int>(index_), k, v);
    float scale = c_.scale_attn_weights ? 1.0f / std::sqrt(static_cast<float>(E / c_.n_head)) : 1.0f;
    if (c_.scale_attn_by_inverse_layer_idx) scale /= static_cast<float>(index_ + 1);
    Tensor ctx = scaled_dot_product_attention(q, k, v, mask, true, scale, c_.attn_pdrop, train && !cache);
    Tensor h = add(x, dropout(attn_proj->forward(merge_heads(ctx)), c_.resid_pdrop, train));
    Tensor m = mlp_proj->forward(nn::apply_activation(c_.act, c_fc->forward(ln_2->forward(h))));
    return add(h, dropout(m, c_.resid_pdrop, train));
  }

  std::shared_ptr<nn::LayerNorm> ln_1, ln_2;
  std::shared_ptr<Conv1D> c_attn, attn_proj, c_fc, mlp_proj;

 private:
  Gpt2Config c_;
  int64_t index_;
};

class Gpt2Body : public nn::Module {
 public:
  Gpt2Body(const Gpt2Config& c, const std::string& who) : c_(c), who_(who) {
    wte = register_module("wte", std::make_shared<Embed>(c.vocab_size, c.n_embd));
    wpe = register_module("wpe", std::make_shared<Embed>(c.n_positions, c.n_embd));
    h = register_module("h", std::make_shared<nn::ModuleList<Gpt2Block>>());
    for (int64_t i = 0; i < c.n_layer; ++i) h->push_back(std::make_shared<Gpt2Block>(c, i));
    ln_f = register_module("ln_f", std::make_shared<nn::LayerNorm>(c.n_embd, c.layer_norm_epsilon));
  }
  std::string type_name() const override { return "GPT2Model"; }

  ModelOutput forward(const ModelInputs& in, KVCache* cache) const {
    check_ids(in.input_ids, who_);
    const int64_t B = in.input_ids.size(0), L = in.input_ids.size(1);
    const int64_t past = cache ? cache->length() : 0;
    if (cache && past > 0)
      XFMR_CHECK(cache->batch_size() == B, who_, ": the cache holds ", cache->batch_size(),
                 " sequences, input_ids has ", B);
    Tensor pos = in.position_ids;
    if (!pos.defined()) {
      XFMR_CHECK(past + L <= c_.n_positions, who_, ": ", past + L, " positions exceed n_positions (", c_.n_positions,
                 ")");
      pos = arange_positions(L, past);
    } else {
      check_ids(pos, who_, "position_ids");
    }
    check_positions(pos, c_.n_positions, who_);
    Tensor mask = padding_mask(in.attention_mask, B, past + L, who_);
    const bool train = ln_f->is_training();
    Tensor x = add(wte->forward(in.input_ids), wpe->forward(pos));
    if (in.token_type_ids.defined()) {
      check_ids(in.token_type_ids, who_, "token_type_ids");
      x = add(x, wte->forward(in.token_type_ids));  // GPT-2 embeds segment ids with wte
    }
    x = dropout(x, c_.embd_pdrop, train && !cache);
    ModelOutput out;
    if (in.output_hidden_states) out.hidden_states.push_back(x);
    for (const auto& block : *h) {
      x = block->forward(x, mask, cache);
      if (in.output_hidden_states) out.hidden_states.push_back(x);
    }
    x = ln_f->forward(x);
    if (in.output_hidden_states) out.hidden_states.back() = x;  // HF: the last entry is after ln_f
    out.last_hidden_state = x;
    if (cache) cache->advance(L);
    return out;
  }

  std::shared_ptr<Embed> wte, wpe;
  std::shared_ptr<nn::ModuleList<Gpt2Block>> h;
  std::shared_ptr<nn::LayerNorm> ln_f;

 private:
  Gpt2Config c_;
  std::string who_;
};

class Gpt2Model : public PreTrainedModel {
 public:
  Gpt2Model(const ModelConfig& config, const ArchitectureSpec& spec)
      : PreTrainedModel(config, spec.name, spec.task, "transformer"), c_(Gpt2Config::parse(config, spec.name)) {
    body_ = std::make_shared<Gpt2Body>(c_, spec.name);
    adopt_children(*body_);
  }
  ModelOutput forward(const ModelInputs& in) const override { return body_->forward(in, nullptr); }
  bool accepts_token_type_ids() const override { return false; }

 private:
  Gpt2Config c_;
  std::shared_ptr<Gpt2Body> body_;
};

class Gpt2LMHeadModel : public CausalLM {
 public:
  Gpt2LMHeadModel(const ModelConfig& config, const ArchitectureSpec& spec)
      : CausalLM(config, spec.name, spec.task, "transformer"), c_(Gpt2Config::parse(config, spec.name)) {
    body_ = register_module("transformer", std::make_shared<Gpt2Body>(c_, spec.name));
    if (!config.tie_word_embeddings())
      lm_head_ = register_module("lm_head", std::make_shared<Dense>(c_.n_embd, c_.vocab_size, false));
  }

  ModelOutput forward(const ModelInputs& in) const override {
    ModelOutput out = body_->forward(in, nullptr);
    out.logits = linear_any(lm_head_input(in, out.last_hidden_state, architecture()), lm_weight());
    return out;
  }

  KVCache make_cache() const override { return KVCache(static_cast<int>(c_.n_layer)); }

  ModelOutput forward_step(const Tensor& input_ids, KVCache& cache, const Tensor& attention_mask,
                           const Tensor& position_ids, bool all_positions) const override {
    NoGradGuard no_grad;
    if (cache.num_layers() == 0) cache = make_cache();
    XFMR_CHECK(cache.num_layers() == c_.n_layer, architecture(), ": the cache has ", cache.num_layers(),
               " layers, the model ", c_.n_layer, " (use make_cache())");
    ModelInputs in;
    in.input_ids = input_ids;
    in.attention_mask = attention_mask;
    in.position_ids = position_ids;
    ModelOutput out = body_->forward(in, &cache);
    const Tensor& h = out.last_hidden_state;
    out.logits = linear_any(all_positions ? h : h.select(1, h.size(1) - 1), lm_weight());
    return out;
  }

  int64_t vocab_size() const override { return c_.vocab_size; }
  int64_t max_positions() const override { return c_.n_positions; }
  bool accepts_token_type_ids() const override { return false; }

 private:
  const Tensor& lm_weight() const { return lm_head_ ? lm_head_->weight : body_->wte->weight; }
  Gpt2Config c_;
  std::shared_ptr<Gpt2Body> body_;
  std::shared_ptr<Dense> lm_head_;
};

class Gpt2Classifier : public PreTrainedModel {
 public:
  Gpt2Classifier(const ModelConfig& config, const ArchitectureSpec& spec)
      : PreTrainedModel(config, spec.name, spec.task, "transformer"), c_(Gpt2Config::parse(config, spec.name)) {
    body_ = register_module("transformer", std::make_shared<Gpt2Body>(c_, spec.name));
    const int64_t n = config.num_labels();
    XFMR_CHECK(n >= 1, spec.name, ": num_labels must be >= 1, got ", n);
    if (spec.task == Task::SequenceClassification) {
      head_ = register_module("score", std::make_shared<Dense>(c_.n_embd, n, false));
      pad_ = config.pad_token_id();
    } else {
      head_ = register_module("classifier", std::make_shared<Dense>(c_.n_embd, n));
      if (auto p = config.get_optional_float("classifier_dropout"))
        dropout_ = static_cast<float>(*p);
      else if (auto q = config.get_optional_float("hidden_dropout"))
        dropout_ = static_cast<float>(*q);
    }
  }

  ModelOutput forward(const ModelInputs& in) const override {
    ModelOutput out = body_->forward(in, nullptr);
    const Tensor& h = out.last_hidden_state;
    if (task() == Task::TokenClassification) {
      out.logits = head_->forward(dropout(h, dropout_, is_training()));
      return out;
    }
    // Sequence classification: the score of the last non-padding token of every row.
    Tensor scores = head_->forward(h);  // [B, L, C]
    const int64_t B = h.size(0), L = h.size(1);
    XFMR_CHECK(pad_.has_value() || B == 1, architecture(),
               ": cannot handle batch sizes > 1 if no padding token is defined (pad_token_id)");
    std::vector<int64_t> ids = int_values(in.input_ids);
    std::vector<Tensor> rows;
    for (int64_t b = 0; b < B; ++b) {
      int64_t last = L - 1;
      if (pad_) {
        last = 0;  // HF: argmax of position * (id != pad), i.e. the last non-padding token (0 if none)
        for (int64_t i = 0; i < L; ++i)
          if (ids[b * L + i] != *pad_) last = i;
      }
      rows.push_back(select(select(scores, 0, b), 0, last));
    }
    out.logits = stack(rows, 0);
    return out;
  }
  bool accepts_token_type_ids() const override { return false; }

 private:
  Gpt2Config c_;
  std::shared_ptr<Gpt2Body> body_;
  std::shared_ptr<Dense> head_;
  std::optional<int64_t> pad_;
  float dropout_ = 0.1f;
};

std::shared_ptr<PreTrainedModel> create(const ModelConfig& c, const ArchitectureSpec& s) {
  switch (s.task) {
    case Task::Base: return std::make_shared<Gpt2Model>(c, s);
    case Task::CausalLM: return std::make_shared<Gpt2LMHeadModel>(c, s);
    default: return std::make_shared<Gpt2Classifier>(c, s);
  }
}

}  // namespace

FamilySpec gpt2_family() {
  FamilySpec f;
  f.model_types = {"gpt2"};
  f.base_model_prefix = "transformer";
  f.attribute_map = {{"hidden_size", "n_embd"},
                     {"max_position_embeddings", "n_positions"},
                     {"num_attention_heads", "n_head"},
                     {"num_hidden_layers", "n_layer"}};
  f.architectures = {
      {"GPT2Model", "gpt2", Task::Base, create, {}, {}, {}, {}},
      {"GPT2LMHeadModel", "gpt2", Task::CausalLM, create, {{"lm_head.weight", "transformer.wte.weight"}}, {}, {}, {}},
      {"GPT2ForSequenceClassification", "gpt2", Task::SequenceClassification, create, {}, {}, {}, {}},
      {"GPT2ForTokenClassification", "gpt2", Task::TokenClassification, create, {}, {}, {}, {}},
  };
  return f;
}

}  // namespace xfmr::models::detail
