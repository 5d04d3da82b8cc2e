// Training, evaluation, checkpoints and sampling for the PyTorch tutorial's word-level Transformer
// language model (models::TransformerLM) on a WikiText-style corpus - what `xfmr train-lm`,
// `eval-lm` and `generate-lm` run.
//
// The loop is the tutorial's: batchify(train, batch_size); for each epoch, for i in
// range(0, n - 1, bptt): forward with the causal mask, CrossEntropyLoss, backward,
// clip_grad_norm_(clip), SGD(lr) step; StepLR(1, gamma) after each epoch; validation after each
// epoch; the model with the best validation loss is kept and evaluated on test at the end.
//
// Checkpoint folder (self-contained; PyTorch can load the weights):
//   config.json                 model sizes, tokenization, training hyper-parameters, progress
//   vocab.txt                   one token per line, in id order
//   model.safetensors           the state_dict under the tutorial's names (pos_encoder.pe, ...)
//   training_state.safetensors  resumable checkpoints only: optimizer + scheduler state, the
//                               dropout generator's state, epoch/batch position, best loss
// `--save DIR` keeps the best model in DIR and the latest resumable state in DIR/last.
#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "xfmr/core/random.h"
#include "xfmr/data/lm_corpus.h"
#include "xfmr/models/transformer_lm.h"

namespace xfmr::train {

struct LMTrainOptions {
  std::filesystem::path data_dir;
  data::LMTokenization tokenization = data::LMTokenization::BasicEnglish;
  int epochs = 3;
  int64_t batch_size = 20;
  int64_t eval_batch_size = 10;
  int64_t bptt = 35;
  double lr = 5.0;
  double gamma = 0.95;
  double clip = 0.5;
  models::TransformerLMConfig model;  // ntoken is set from the vocabulary
  uint64_t seed = 0;
  std::filesystem::path save_dir;    // empty: keep the best model in memory only
  std::filesystem::path resume_dir;  // a folder written with save_dir (or its last/ subfolder)
  int64_t max_batches = 0;           // cap on training batches per epoch (0 = all)
  int64_t log_interval = 200;
  bool evaluate = true;              // false: no validation/test (throughput runs)
  bool progress = true;              // draw a progress bar when stderr is a terminal
  bool handle_sigint = true;         // Ctrl-C: finish the step, save a resumable checkpoint, return
  // Where a resumable checkpoint goes on Ctrl-C when save_dir is empty.
  std::filesystem::path interrupt_dir = "xfmr-lm-interrupted";
  std::FILE* log = stdout;
  // Called after every training step (epoch from 1, batch index within the epoch, its loss).
  std::function<void(int epoch, int64_t batch, float loss)> on_batch;
};

struct LMEpochRecord {
  int epoch = 0;
  int64_t batches = 0;
  int64_t tokens = 0;            // target tokens trained on in this process
  double train_seconds = 0;      // training steps only (no evaluation), this process
  double val_loss = std::numeric_limits<double>::quiet_NaN();
};

struct LMTrainResult {
  int64_t vocab_size = 0;
  std::vector<LMEpochRecord> epochs;
  std::vector<float> losses;  // every training step's loss, in order
  double test_loss = std::numeric_limits<double>::quiet_NaN();
  double best_val_loss = std::numeric_limits<double>::quiet_NaN();
  int64_t tokens = 0;
  double train_seconds = 0;
  bool interrupted = false;
  std::filesystem::path resume_checkpoint;  // where the resumable state was written (if any)
  double tokens_per_second() const { return train_seconds > 0 ? tokens / train_seconds : 0; }
};

LMTrainResult train_lm(const LMTrainOptions& options);

// The tutorial's evaluate(): mean cross-entropy over data_source [n, bsz] in bptt windows with the
// causal mask, weighted by window length (total / (n - 1)). Puts the model in eval mode.
double evaluate_lm(models::TransformerLM& model, const Tensor& data_source, int64_t bptt);

// A loaded checkpoint folder.
struct LMCheckpoint {
  std::filesystem::path dir;
  models::TransformerLMConfig config;
  data::Vocab vocab;
  data::LMTokenization tokenization = data::LMTokenization::BasicEnglish;
  int64_t bptt = 35;
  int64_t eval_batch_size = 10;
  std::unique_ptr<Generator> generator;  // the model's dropout generator (owned here)
  std::unique_ptr<models::TransformerLM> model;
};

// Loads config.json, vocab.txt and model.safetensors, checking that they agree (vocabulary size vs
// ntoken vs the weight shapes) and naming the file at fault when they do not.
LMCheckpoint load_lm_checkpoint(const std::filesystem::path& dir);

struct LMGenerateOptions {
  int64_t words = 100;
  double temperature = 1.0;
  uint64_t seed = 0;
  std::string prompt;   // tokenized like the corpus; empty: start from a uniformly drawn word
  int64_t window = 0;   // context fed to the model: the last `window` words (0 = the checkpoint's bptt)
};

// pytorch/examples word_language_model/generate.py for the Transformer: repeatedly run the model on
// the sequence so far (its last `window` words, with the causal mask), draw the next word from
// softmax(logits[-1] / temperature) and append it. Returns the generated words (not the prompt).
std::vector<std::string> generate_lm(LMCheckpoint& ckpt, const LMGenerateOptions& options);

// Ctrl-C handling used by train_lm (exposed for tests): the first SIGINT only sets a flag that the
// loop checks between steps; a second one restores the default action and re-raises.
bool lm_stop_requested();
void reset_lm_stop_request();

}  // namespace xfmr::train
