// Training text classifiers: fine-tuning a pretrained sequence-classification model (any family of
// xfmr/models) or training a small BERT / DistilBERT from scratch with a freshly trained WordPiece
// tokenizer, on TSV / CSV / JSONL data. HF Trainer defaults where they exist: AdamW (no decay on
// biases and LayerNorm weights), linear warmup + decay, gradient clipping at 1.0, dropout in training,
// evaluation every epoch (loss, accuracy, macro-F1), the best epoch kept.
//
//   train::ClassifierTrainOptions o;
//   o.train_file = "sst2/train.tsv";  o.dev_file = "sst2/dev.tsv";  o.output_dir = "out/sst2";
//   o.label_names = {"NEGATIVE", "POSITIVE"};
//   o.scratch = train::ScratchModelOptions{};          // or: o.model = "bert-base-uncased"
//   train::TrainReport r = train::train_classifier(o);  // out/sst2 = the best model, HF layout
//
// Output folder: config.json (architectures, id2label/label2id), model.safetensors, tokenizer.json,
// tokenizer_config.json (+ vocab.txt for WordPiece), training_log.jsonl (one line per epoch), and
// checkpoint/ (the last epoch's model + training_state.safetensors: optimizer, scheduler, RNG,
// position) which --resume continues from.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "xfmr/core/dtype.h"
#include "xfmr/data/classification_dataset.h"
#include "xfmr/models/model.h"
#include "xfmr/tokenizers/tokenizer.h"

namespace xfmr::train {

struct ScratchModelOptions {
  std::string architecture = "bert";  // "bert" (BertForSequenceClassification) or "distilbert"
  int64_t layers = 2;
  int64_t hidden = 128;
  int64_t heads = 2;
  int64_t intermediate = 0;        // 0 = 4 * hidden
  int64_t max_positions = 128;     // max_position_embeddings (and the tokenizer's model_max_length)
  double dropout = 0.1;            // hidden and attention dropout
  // Tokenizer: an existing one (folder or tokenizer.json), or empty to train a BERT WordPiece
  // tokenizer on the training texts with these settings.
  std::string tokenizer;
  size_t vocab_size = 8000;
  uint64_t min_frequency = 2;
  bool lowercase = true;
};

struct ClassifierTrainOptions {
  std::filesystem::path train_file, dev_file, output_dir;
  data::ReadOptions read;                 // columns / format (max_examples ignored: see below)
  int64_t max_train_examples = 0;         // 0 = all (first N rows otherwise)
  int64_t max_dev_examples = 0;
  std::vector<std::string> label_names;   // id2label names for integer labels 0..n-1

  std::string model;                          // a pretrained folder / hub id to fine-tune, or
  std::optional<ScratchModelOptions> scratch; // a model from scratch (exactly one of the two)

  int64_t epochs = 3;
  double lr = 5e-5;
  int64_t batch_size = 32;
  int64_t eval_batch_size = 128;
  int64_t max_length = 128;        // tokens per example (truncation), capped by the model's positions
  double warmup_ratio = 0.0;       // fraction of the total steps (used when warmup_steps < 0)
  int64_t warmup_steps = -1;
  double weight_decay = 0.01;
  double max_grad_norm = 1.0;      // <= 0: no clipping
  double label_smoothing = 0.0;
  uint64_t seed = 42;              // shuffling, dropout, new weights
  bool group_by_length = true;     // batches of similar lengths (less padding; HF's group_by_length)
  int64_t checkpoint_every = 0;    // also checkpoint every N optimizer steps (0: at epoch ends only)
  // Stop (with a checkpoint) after this many optimizer steps in total, as if interrupted; the
  // schedule still spans every epoch, so --resume continues the same run. 0: no stop.
  int64_t stop_after_steps = 0;
  DType save_dtype = DType::F32;   // stored dtype of the output model's weights (F16 halves the size)
  bool resume = false;             // continue from output_dir/checkpoint
  bool show_progress = true;       // a progress bar on stderr (when it is a terminal)
  // Receives log lines (default: stdout).
  std::function<void(const std::string&)> log;
};

struct EvalMetrics {
  int64_t n = 0;
  double loss = 0, accuracy = 0, macro_f1 = 0;
};

struct EpochRecord {
  int64_t epoch = 0;       // 1-based
  int64_t steps = 0;       // global optimizer steps at the end of the epoch
  double train_loss = 0;   // mean over the epoch's batches (this run's part of it when resumed mid-epoch)
  EvalMetrics dev;
  double seconds = 0;
};

struct TrainReport {
  std::vector<EpochRecord> history;
  int64_t best_epoch = 0;
  EvalMetrics best;
  int64_t steps = 0;
  std::filesystem::path output_dir;
};

TrainReport train_classifier(const ClassifierTrainOptions& options);

// Encoded examples (token ids per example) ready for batching.
struct EncodedSet {
  std::vector<std::vector<int32_t>> ids, type_ids;
  std::vector<int64_t> labels;  // -1 when unknown
};
EncodedSet encode_examples(const tokenizers::Tokenizer& tok, const std::vector<data::ClassificationExample>& ex,
                           int64_t max_length);

// Loss / accuracy / macro-F1 of `model` (eval mode, no gradients) on an encoded set. `predictions`
// receives the argmax ids when given.
EvalMetrics evaluate_classifier(const models::PreTrainedModel& model, const EncodedSet& set, int32_t pad_id,
                                int64_t batch_size, std::vector<int64_t>* predictions = nullptr);

// Macro-F1 over `num_labels` classes (labels absent from both gold and predictions are skipped,
// as sklearn's f1_score(average="macro") does with labels=None).
double macro_f1(const std::vector<int64_t>& gold, const std::vector<int64_t>& pred, int64_t num_labels);

}  // namespace xfmr::train
