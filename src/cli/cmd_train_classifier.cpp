// `xfmr train-classifier`: fine-tune a pretrained model, or train a small BERT/DistilBERT from
// scratch, on labelled text (TSV/CSV/JSONL); writes an HF model folder (see docs/training.md).
#include <iostream>

#include "cli/command.h"
#include "xfmr/core/error.h"
#include "xfmr/train/classifier_trainer.h"

namespace xfmr::cli {
namespace {

struct Args {
  train::ClassifierTrainOptions o;
  train::ScratchModelOptions s;
  std::string train, dev, output, format, text_col, pair_col, label_col, save_dtype = "f32";
  bool from_scratch = false;
  int threads = 0;
};

int run(Args& a) {
  apply_threads(a.threads);
  auto& o = a.o;
  o.train_file = a.train;
  o.dev_file = a.dev;
  o.output_dir = a.output;
  o.read.format = a.format;
  o.read.text_column = a.text_col;
  o.read.text_pair_column = a.pair_col;
  o.read.label_column = a.label_col;
  if (a.from_scratch) {
    XFMR_CHECK(o.model.empty(), "train-classifier: give --model or --from-scratch, not both");
    o.scratch = a.s;
  } else {
    XFMR_CHECK(!o.model.empty() || o.resume, "train-classifier: give --model ID_OR_DIR (fine-tune) or --from-scratch");
  }
  XFMR_CHECK(a.save_dtype == "f32" || a.save_dtype == "f16" || a.save_dtype == "bf16",
             "train-classifier: --save-dtype must be f32, f16 or bf16");
  o.save_dtype = a.save_dtype == "f16" ? DType::F16 : a.save_dtype == "bf16" ? DType::BF16 : DType::F32;
  train::train_classifier(o);
  return 0;
}

XFMR_REGISTER_COMMAND(
    "train-classifier", "Fine-tune or train from scratch a text classifier; writes an HF model folder",
    [](CLI::App& sub) {
      static Args a;
      auto& o = a.o;
      auto& s = a.s;
      sub.footer(
          "Data: TSV/CSV with a header, or JSONL; text column sentence/text/sentence1/premise/question, optional\n"
          "pair column sentence2/hypothesis/text_pair, label column label (or name them). Integer labels 0..n-1\n"
          "keep their ids; --labels names them. The best epoch (dev accuracy) is saved in --output; the last one\n"
          "in --output/checkpoint, which --resume continues.\n"
          "Examples:\n"
          "  xfmr train-classifier --train train.tsv --dev dev.tsv --model bert-base-uncased --epochs 3 --lr 2e-5 -o out\n"
          "  xfmr train-classifier --train sst2/train.tsv --dev sst2/dev.tsv --labels NEGATIVE,POSITIVE --from-scratch \\\n"
          "      --layers 2 --hidden 128 --heads 2 --vocab-size 8000 --epochs 3 --lr 1e-3 --warmup 0.06 -o models/xfmr-sst2-small");
      sub.add_option("--train", a.train, "Training file (.tsv, .csv, .jsonl)")->required();
      sub.add_option("--dev", a.dev, "Dev file, evaluated after every epoch")->required();
      sub.add_option("-o,--output", a.output, "Output model folder")->required();
      sub.add_option("-m,--model", o.model, "Pretrained model folder or hub id to fine-tune");
      sub.add_flag("--from-scratch", a.from_scratch, "Train a new model (and WordPiece tokenizer) from scratch");
      sub.add_option("--arch", s.architecture, "From scratch: bert (default) or distilbert");
      sub.add_option("--layers", s.layers, "From scratch: layers (default 2)");
      sub.add_option("--hidden", s.hidden, "From scratch: hidden size (default 128)");
      sub.add_option("--heads", s.heads, "From scratch: attention heads (default 2)");
      sub.add_option("--intermediate", s.intermediate, "From scratch: feed-forward size (default 4 x hidden)");
      sub.add_option("--max-positions", s.max_positions, "From scratch: position embeddings (default 128)");
      sub.add_option("--dropout", s.dropout, "From scratch: hidden/attention dropout (default 0.1)");
      sub.add_option("--tokenizer", s.tokenizer, "From scratch: use this tokenizer instead of training one");
      sub.add_option("--vocab-size", s.vocab_size, "From scratch: WordPiece vocabulary size (default 8000)");
      sub.add_option("--min-frequency", s.min_frequency, "From scratch: WordPiece min pair frequency (default 2)");
      sub.add_option("--labels", o.label_names, "Names of labels 0..n-1 (id2label), e.g. NEGATIVE,POSITIVE")
          ->delimiter(',');
      sub.add_option("--format", a.format, "tsv, csv or jsonl (default: from the extension)");
      sub.add_option("--text-column", a.text_col, "Text column / key");
      sub.add_option("--pair-column", a.pair_col, "Second-text column / key (sentence pairs)");
      sub.add_option("--label-column", a.label_col, "Label column / key (default label)");
      sub.add_option("--epochs", o.epochs, "Epochs (default 3)")->check(CLI::Range(int64_t{1}, int64_t{1000}));
      sub.add_option("--lr", o.lr, "Peak learning rate (default 5e-5)");
      sub.add_option("--batch-size", o.batch_size, "Training batch size (default 32)")->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
      sub.add_option("--eval-batch-size", o.eval_batch_size, "Evaluation batch size (default 128)");
      sub.add_option("--max-length", o.max_length, "Tokens per example, truncated (default 128)");
      sub.add_option("--warmup", o.warmup_ratio, "Warmup as a fraction of all steps (default 0)");
      sub.add_option("--warmup-steps", o.warmup_steps, "Warmup steps (overrides --warmup)");
      sub.add_option("--weight-decay", o.weight_decay, "AdamW weight decay, not on biases/LayerNorm (default 0.01)");
      sub.add_option("--max-grad-norm", o.max_grad_norm, "Gradient clipping norm (default 1.0; 0 = off)");
      sub.add_option("--label-smoothing", o.label_smoothing, "Cross-entropy label smoothing (default 0)");
      sub.add_option("--seed", o.seed, "Seed for shuffling, dropout and new weights (default 42)");
      sub.add_flag("!--no-group-by-length", o.group_by_length, "Plain shuffling (default: similar lengths batched)");
      sub.add_option("--max-train-examples", o.max_train_examples, "Use the first N training rows");
      sub.add_option("--max-dev-examples", o.max_dev_examples, "Use the first N dev rows");
      sub.add_option("--checkpoint-every", o.checkpoint_every, "Also checkpoint every N steps (default: epoch ends)");
      sub.add_option("--stop-after-steps", o.stop_after_steps, "Stop with a checkpoint after N steps (resume later)");
      sub.add_option("--save-dtype", a.save_dtype, "Stored dtype of the output weights: f32 (default), f16, bf16");
      sub.add_flag("--resume", o.resume, "Continue from --output/checkpoint");
      add_threads_option(sub, &a.threads);
      return std::function<int()>([] { return run(a); });
    });

}  // namespace
}  // namespace xfmr::cli
