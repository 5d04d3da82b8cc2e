// PreTrainedModel: the common face of every HuggingFace architecture xfmr runs.
//
//   auto m = xfmr::models::AutoModel::from_pretrained("bert-base-uncased");     // folder or hub id
//   auto out = m->forward(input_ids, attention_mask, token_type_ids);          // i64 [batch, seq]
//   out.last_hidden_state / out.pooler_output / out.logits / out.start_logits / out.end_logits
//
// A model is an nn::Module whose state_dict names are HF's (`bert.encoder.layer.0.attention.self.query.weight`),
// built from the differentiable ops of xfmr/autograd (so it can be fine-tuned: see make_trainable()).
// Computation is f32. Loaded weights are memory-mapped and used in place (zero-copy for f32 files);
// f16/bf16 files are upcast at load, or kept in their stored dtype with LoadOptions::keep_stored_dtype.
//
// Causal language models (GPT-2) also implement CausalLM: incremental decoding with a KVCache.
// Head selection, loading and the registry are in xfmr/models/auto.h.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "xfmr/core/random.h"
#include "xfmr/core/tensor.h"
#include "xfmr/io/hub.h"
#include "xfmr/models/config.h"
#include "xfmr/nn/module.h"

namespace xfmr::models {

// What a model's head computes (HF's Auto* classes).
enum class Task {
  Base,                    // XxxModel: hidden states (+ pooler_output where the family has a pooler)
  SequenceClassification,  // XxxForSequenceClassification: logits [B, num_labels]
  TokenClassification,     // XxxForTokenClassification: logits [B, L, num_labels]
  QuestionAnswering,       // XxxForQuestionAnswering: start_logits, end_logits [B, L]
  MaskedLM,                // XxxForMaskedLM: logits [B, L, vocab]
  CausalLM,                // XxxLMHeadModel / XxxForCausalLM: logits [B, L, vocab], KV cache
  PreTraining,             // ElectraForPreTraining: logits [B, L] (replaced-token detection)
};
const char* task_name(Task t);  // "base", "sequence-classification", ...
// Parses task_name() spellings and HF's pipeline names ("text-classification", "ner",
// "fill-mask", "text-generation", "question-answering", "feature-extraction"); throws on others.
Task task_from_name(const std::string& name);

// Inputs of one forward pass. Every tensor is [batch, seq]; ids are i64 (i32 accepted).
struct ModelInputs {
  Tensor input_ids;
  // 1 = real token, 0 = padding (i64, i32, f32, bool or u8). Undefined: all ones. Causal LM with a
  // KV cache: [batch, past + seq] (the mask of every position so far, HF's convention).
  Tensor attention_mask;
  // Segment ids (BERT family); undefined: zeros.
  Tensor token_type_ids;
  // Undefined: the family's default (0..seq-1; RoBERTa: padding_idx + 1 + running count of
  // non-padding tokens; with a KV cache: past..past+seq-1).
  Tensor position_ids;
  // Also return the hidden states after the embeddings and after every layer (HF's hidden_states).
  bool output_hidden_states = false;
  // Masked / causal LM heads: compute the vocabulary logits only at these (batch, position) pairs
  // (i64 [N, 2]); `logits` is then [N, vocab]. The vocabulary projection is the largest matmul of a
  // BERT-base forward; fill-mask needs it at the mask positions only.
  Tensor logits_positions;
};

// Outputs; fields a head does not produce stay undefined. All f32.
struct ModelOutput {
  Tensor last_hidden_state;  // [B, L, hidden] (GPT-2: after ln_f)
  Tensor pooler_output;      // [B, hidden] (BERT/ALBERT base and sequence classification)
  Tensor logits;             // classification [B, C]; token classification [B, L, C]; LM [B, L, vocab];
                             // CausalLM::forward_step: [B, vocab] (last position) unless all positions asked
  Tensor start_logits, end_logits;  // question answering [B, L]
  std::vector<Tensor> hidden_states;  // when requested: embeddings output + one per layer
};

// Key/value cache for incremental decoding. One entry per attention layer, grown geometrically
// (amortised O(1) per token, no re-concatenation). Self-attention K/V are [B, heads, length, head_dim]
// views into [B, heads, capacity, head_dim] buffers. Cross-attention slots are for encoder-decoder
// models (computed once per input).
class KVCache {
 public:
  KVCache() = default;
  explicit KVCache(int num_layers) : layers_(static_cast<size_t>(num_layers)) {}

  int num_layers() const { return static_cast<int>(layers_.size()); }
  int64_t length() const { return length_; }   // cached positions (the "past" length)
  int64_t batch_size() const;                   // 0 when empty
  size_t nbytes() const;                        // bytes held (capacity)
  void reset();                                 // forget everything (keeps no memory)
  // Keeps the batch rows `rows` in that order (beam search reordering, dropping finished rows).
  void reorder(const std::vector<int64_t>& rows);

  // ---- used by model implementations ----
  // Writes k_new/v_new [B, H, L, D] at positions [length, length + L) of `layer` and returns the
  // K/V views of positions [0, length + L). Call for every layer, then advance(L).
  std::pair<Tensor, Tensor> append(int layer, const Tensor& k_new, const Tensor& v_new);
  void advance(int64_t n) { length_ += n; }
  // Encoder-decoder cross-attention K/V (set once, read every step).
  void set_cross(int layer, const Tensor& k, const Tensor& v);
  std::pair<Tensor, Tensor> cross(int layer) const;

 private:
  struct Layer {
    Tensor k, v;              // [B, H, capacity, D]
    Tensor cross_k, cross_v;  // [B, H, S_enc, D]
  };
  std::vector<Layer> layers_;
  int64_t length_ = 0;
};

// Where a loaded weight came from and what happened to the names (HF's loading info).
struct LoadReport {
  std::filesystem::path dir;                 // the model folder
  std::vector<std::string> weight_files;     // safetensors files read
  std::string stored_dtype;                  // "F32" / "F16" / "BF16" / "mixed"
  bool added_prefix = false;                 // checkpoint without the base prefix (e.g. GPT-2 "h.0...")
  bool removed_prefix = false;               // base model loaded from a head checkpoint
  std::vector<std::string> missing_keys;     // absent from the checkpoint and newly initialised
  std::vector<std::string> mismatched_keys;  // wrong shape in the checkpoint, newly initialised
  std::vector<std::string> unexpected_keys;  // in the checkpoint, not used (warned)
  std::vector<std::string> ignored_keys;     // legacy buffers / tied duplicates, dropped silently
  int64_t zero_copy_tensors = 0;             // weights used in place from the mapped files
  int64_t converted_tensors = 0;             // weights converted (f16/bf16 -> f32) into owned memory
  uint64_t checkpoint_bytes = 0;             // bytes of all tensors in the files
};

struct LoadOptions {
  // Head selection (default: config.json architectures[0], else the family's base model).
  std::string architecture;             // an explicit class name, e.g. "BertForSequenceClassification"
  std::optional<Task> task;             // or a task: the family's class for it (HF AutoModelForXxx)
  // A classification head with this many labels. When it differs from the checkpoint's head,
  // the head is newly initialised (HF: num_labels=..., ignore_mismatched_sizes=True).
  std::optional<int64_t> num_labels;
  std::vector<std::string> labels;      // names for the new head (id2label); sets num_labels
  // Allow weights of the task head to be absent (or of another shape) and initialise them (HF
  // prints "newly initialized ... You should probably TRAIN this model"). Implied by a head that
  // differs from the checkpoint's (architecture/task/num_labels/labels). Base-model weights must
  // always be present: a missing one is an error naming it.
  bool allow_new_head = false;
  // f16/bf16 checkpoints: keep matrices (linear weights, embeddings) in the stored dtype and
  // convert in the kernels (half the memory), instead of upcasting everything to f32 at load.
  // 1-D parameters (biases, norms) are always upcast. Inference only (see make_trainable()).
  bool keep_stored_dtype = false;
  // Owned, writable f32 copies that require gradients (for fine-tuning), instead of read-only
  // memory-mapped views. Same as calling make_trainable() after loading.
  bool trainable = false;
  // Map the weight pages into the process at load (madvise MADV_POPULATE_READ) instead of on first
  // use, so the first forward does not pay one page fault per 4 KiB. Same total cost, paid in
  // from_pretrained; a file not in the page cache is read from disk here.
  bool prefault = true;
  uint64_t seed = 0;                    // for newly initialised weights
  io::HubOptions hub;                   // for hub ids
  // Receives warnings (unexpected keys, newly initialised weights). Default: stderr, prefixed
  // "xfmr: warning: ". Set to a no-op to silence.
  std::function<void(const std::string&)> on_warning;
};

struct SaveOptions {
  // Stored dtype of floating weights: F32 (default), F16 or BF16.
  DType dtype = DType::F32;
  // Split into shards of at most this many bytes (0: one file). Written as HF does:
  // model-0000N-of-0000M.safetensors + model.safetensors.index.json.
  uint64_t max_shard_bytes = 0;
};

class CausalLM;

class PreTrainedModel : public nn::Module {
 public:
  ~PreTrainedModel() override = default;

  const ModelConfig& config() const { return config_; }
  const std::string& architecture() const { return architecture_; }  // "BertForMaskedLM"
  Task task() const { return task_; }
  const std::string& base_model_prefix() const { return base_prefix_; }  // "bert", "transformer", ...
  std::string type_name() const override { return architecture_; }

  // ---- inference / training ----
  virtual ModelOutput forward(const ModelInputs& inputs) const = 0;
  ModelOutput forward(const Tensor& input_ids, const Tensor& attention_mask = Tensor(),
                      const Tensor& token_type_ids = Tensor()) const;
  // Whether the family has segment embeddings (BERT, ALBERT, ELECTRA: yes; DistilBERT, GPT-2: no;
  // RoBERTa: yes, with a single type).
  virtual bool accepts_token_type_ids() const { return true; }
  // The causal-LM interface, or nullptr.
  CausalLM* as_causal_lm();
  const CausalLM* as_causal_lm() const;

  // Owned f32 copies of every weight, all requiring gradients (tied weights stay tied). Needed
  // before an optimizer updates weights that were loaded memory-mapped or kept in f16/bf16.
  void make_trainable();

  // ---- persistence ----
  // config.json (architectures = this class, torch_dtype) + model.safetensors with HF names;
  // tied weights are stored once, like HF's save_pretrained.
  void save_pretrained(const std::filesystem::path& dir, const SaveOptions& options = {}) const;
  const LoadReport& load_report() const { return report_; }

  // ---- used by the loader and the registry ----
  // Initialises the parameters whose names `select` accepts (all when empty) with the family's HF
  // init (normal(0, initializer_range) for linear/embedding weights, zeros for biases, LayerNorm
  // 1/0, padding rows zero, ...). Memory-less placeholders are allocated first.
  virtual void init_weights(Generator& gen, const std::function<bool(const std::string&)>& select = {});
  void set_load_report(LoadReport r) { report_ = std::move(r); }
  // Weights the model computes itself when a checkpoint lacks them (e.g. DistilBERT's sinusoidal
  // position table); the loader accepts their absence.
  virtual bool computed_weight(const std::string& name) const {
    (void)name;
    return false;
  }

 protected:
  PreTrainedModel(ModelConfig config, std::string architecture, Task task, std::string base_prefix);
  // HF init of one extra (non-Linear/Embedding/LayerNorm) parameter; default: zeros.
  virtual void init_extra(const std::string& name, Tensor& t, Generator& gen);
  // Registers the children of `body` as children of this model (a base model without prefix
  // shares the module tree of the body its head classes register under the prefix).
  void adopt_children(const nn::Module& body);
  // Standard deviation of the normal init (config initializer_range, HF default 0.02).
  virtual float init_std() const;

  ModelConfig config_;

 private:
  std::string architecture_;
  Task task_;
  std::string base_prefix_;
  LoadReport report_;
};

// Autoregressive language models (GPT-2): full-sequence forward (logits for every position) and
// incremental decoding. forward_step runs `input_ids` [B, L] after the cache's positions, appends
// their keys/values to `cache` and returns the logits of the last position [B, vocab] (or of every
// new position [B, L, vocab] with all_positions) and last_hidden_state [B, L, hidden].
// `attention_mask` covers past + new positions ([B, past + L]); undefined = all ones.
// `position_ids` default to past..past+L-1 (pass them for left-padded batches, as HF's generate()
// does: cumsum(attention_mask) - 1). Inference only: records no gradients.
class CausalLM : public PreTrainedModel {
 public:
  virtual KVCache make_cache() const = 0;
  virtual ModelOutput forward_step(const Tensor& input_ids, KVCache& cache, const Tensor& attention_mask = Tensor(),
                                   const Tensor& position_ids = Tensor(), bool all_positions = false) const = 0;
  virtual int64_t vocab_size() const = 0;
  virtual int64_t max_positions() const = 0;  // n_positions

 protected:
  using PreTrainedModel::PreTrainedModel;
};

}  // namespace xfmr::models
