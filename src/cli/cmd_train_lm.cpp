// `xfmr train-lm`: the PyTorch tutorial's Transformer language model ("Language Modeling with
// nn.Transformer and torchtext") trained on a WikiText-style corpus, with the tutorial's
// hyper-parameters as defaults and its log lines. See docs/lm.md.
#include <cmath>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "xfmr/core/parallel.h"
#include "xfmr/train/lm_trainer.h"

namespace xfmr::cli {
namespace {

struct TrainLMArgs {
  std::string data, tokenization = "basic_english", save, resume;
  int epochs = 3, threads = 0;
  int64_t batch_size = 20, eval_batch_size = 10, bptt = 35, emsize = 200, d_hid = 200, nlayers = 2, nhead = 2;
  int64_t max_batches = 0, log_interval = 200;
  double lr = 5.0, gamma = 0.95, clip = 0.5, dropout = 0.2;
  uint64_t seed = 0;
  bool no_eval = false, no_progress = false, result_json = false;
};

int run_train_lm(const TrainLMArgs& a) {
  apply_threads(a.threads);
  train::LMTrainOptions o;
  o.data_dir = a.data;
  o.tokenization = data::parse_lm_tokenization(a.tokenization);
  o.epochs = a.epochs;
  o.batch_size = a.batch_size;
  o.eval_batch_size = a.eval_batch_size;
  o.bptt = a.bptt;
  o.lr = a.lr;
  o.gamma = a.gamma;
  o.clip = a.clip;
  o.model.d_model = a.emsize;
  o.model.d_hid = a.d_hid;
  o.model.nlayers = a.nlayers;
  o.model.nhead = a.nhead;
  o.model.dropout = static_cast<float>(a.dropout);
  o.seed = a.seed;
  o.save_dir = a.save;
  o.resume_dir = a.resume;
  o.max_batches = a.max_batches;
  o.log_interval = a.log_interval;
  o.evaluate = !a.no_eval;
  o.progress = !a.no_progress;
  train::LMTrainResult r = train::train_lm(o);
  if (a.result_json) {
    // Same shape as bench/lm/torch_lm.py's RESULT line.
    nlohmann::ordered_json j;
    j["impl"] = "xfmr";
    j["threads"] = num_threads();
    j["vocab"] = r.vocab_size;
    j["epochs"] = nlohmann::json::array();
    for (const auto& e : r.epochs) {
      nlohmann::ordered_json x{{"epoch", e.epoch}, {"train_seconds", e.train_seconds},
                               {"tokens_per_s", e.train_seconds > 0 ? e.tokens / e.train_seconds : 0.0}};
      if (std::isfinite(e.val_loss)) {
        x["val_loss"] = e.val_loss;
        x["val_ppl"] = std::exp(e.val_loss);
      }
      j["epochs"].push_back(x);
    }
    j["tokens_per_s"] = r.tokens_per_second();
    if (std::isfinite(r.test_loss)) {
      j["test_loss"] = r.test_loss;
      j["test_ppl"] = std::exp(r.test_loss);
    }
    j["interrupted"] = r.interrupted;
    std::cout << "RESULT " << j.dump() << std::endl;
  }
  // 130 = 128 + SIGINT, what a shell reports for a Ctrl-C'd program; the checkpoint is saved.
  return r.interrupted ? 130 : 0;
}

XFMR_REGISTER_COMMAND(
    "train-lm", "Train the PyTorch tutorial's Transformer language model on WikiText-2 (or any such corpus)",
    [](CLI::App& sub) {
      static TrainLMArgs a;
      sub.footer(
          "\nThe corpus folder holds train/valid/test as {train,valid,test}.txt or wiki.{train,valid,test}.tokens.\n"
          "Defaults are the tutorial's. Logs as the tutorial every --log-interval batches; validation after each\n"
          "epoch; the best model (by validation loss) is tested at the end. --save DIR keeps the best model in DIR\n"
          "and a resumable state in DIR/last; --resume DIR continues it (hyper-parameters come from the checkpoint,\n"
          "--epochs may extend the run). Ctrl-C finishes the current step, saves a resumable checkpoint (to --save,\n"
          "else ./xfmr-lm-interrupted) and exits with status 130.\n"
          "Example: xfmr train-lm --data ../shared/assets/wikitext-2 --threads 2 --save lm-ckpt");
      sub.add_option("--data", a.data, "Corpus folder (train/valid/test)")->required();
      sub.add_option("--tokenization", a.tokenization,
                     "basic_english (torchtext normaliser + <unk>, the tutorial) or whitespace (word_language_model "
                     "data.py: split + <eos> per line)")
          ->check(CLI::IsMember({"basic_english", "whitespace"}))
          ->capture_default_str();
      sub.add_option("--epochs", a.epochs, "Epochs")->capture_default_str()->check(CLI::Range(1, 1000000));
      sub.add_option("--batch-size", a.batch_size, "Training batch size (columns of batchify)")
          ->capture_default_str()
          ->check(positive_number());
      sub.add_option("--eval-batch-size", a.eval_batch_size, "Validation/test batch size")
          ->capture_default_str()
          ->check(positive_number());
      sub.add_option("--bptt", a.bptt, "Sequence length")->capture_default_str()->check(positive_number());
      sub.add_option("--lr", a.lr, "SGD learning rate")->capture_default_str()->check(positive_number());
      sub.add_option("--gamma", a.gamma, "StepLR decay per epoch")->capture_default_str()->check(CLI::Range(0.0, 1.0));
      sub.add_option("--clip", a.clip, "Gradient-norm clipping")->capture_default_str()->check(positive_number());
      sub.add_option("--emsize,--d-model", a.emsize, "Embedding / model width")
          ->capture_default_str()
          ->check(positive_number());
      sub.add_option("--d-hid", a.d_hid, "Feed-forward width")->capture_default_str()->check(positive_number());
      sub.add_option("--nlayers", a.nlayers, "Encoder layers")->capture_default_str()->check(positive_number());
      sub.add_option("--nhead", a.nhead, "Attention heads")->capture_default_str()->check(positive_number());
      sub.add_option("--dropout", a.dropout, "Dropout")->capture_default_str()->check(CLI::Range(0.0, 0.999));
      sub.add_option("--seed", a.seed, "Random seed (initialisation and dropout)")->capture_default_str();
      sub.add_option("--save", a.save, "Checkpoint folder (best model + last/ resumable state)");
      sub.add_option("--resume", a.resume, "Continue from a --save folder (or its last/ subfolder)");
      sub.add_option("--max-batches", a.max_batches, "Cap on training batches per epoch (0 = all)")
          ->capture_default_str()
          ->check(non_negative_number());
      sub.add_option("--log-interval", a.log_interval, "Batches between log lines")
          ->capture_default_str()
          ->check(positive_number());
      sub.add_flag("--no-eval", a.no_eval, "Skip validation and test (throughput runs)");
      sub.add_flag("--no-progress", a.no_progress, "Never draw the progress bar");
      sub.add_flag("--result-json", a.result_json, "Print a final 'RESULT {json}' line (for bench scripts)");
      add_threads_option(sub, &a.threads);
      return std::function<int()>([] { return run_train_lm(a); });
    });

}  // namespace
}  // namespace xfmr::cli
