// `xfmr eval-lm`: validation and test loss / perplexity of a train-lm checkpoint on a corpus, with
// the checkpoint's vocabulary, tokenization and bptt (the tutorial's evaluate()).
#include <cmath>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "xfmr/train/lm_trainer.h"

namespace xfmr::cli {
namespace {

int run_eval_lm(const std::string& checkpoint, const std::string& dir, int64_t batch_size, bool json, int threads) {
  apply_threads(threads);
  train::LMCheckpoint c = train::load_lm_checkpoint(checkpoint);
  data::LMCorpus corpus = data::load_lm_corpus(dir, c.tokenization, &c.vocab, /*load_train=*/false);
  const int64_t bsz = batch_size > 0 ? batch_size : c.eval_batch_size;
  nlohmann::ordered_json j;
  for (const char* split : {"valid", "test"}) {
    const Tensor& ids = std::string(split) == "valid" ? corpus.valid : corpus.test;
    const double loss = train::evaluate_lm(*c.model, models::batchify(ids, bsz), c.bptt);
    if (json) {
      j[split] = {{"loss", loss}, {"ppl", std::exp(loss)}, {"tokens", ids.numel()}};
    } else {
      std::printf("| %-5s | loss %5.2f | ppl %8.2f | %lld tokens\n", split, loss, std::exp(loss),
                  static_cast<long long>(ids.numel()));
    }
  }
  if (json) std::cout << j.dump(2) << "\n";
  return 0;
}

XFMR_REGISTER_COMMAND("eval-lm", "Validation and test loss/perplexity of a train-lm checkpoint", [](CLI::App& sub) {
  static std::string checkpoint, dir;
  static int64_t batch_size = 0;
  static bool json = false;
  static int threads = 0;
  sub.add_option("--checkpoint", checkpoint, "Checkpoint folder written by train-lm --save")->required();
  sub.add_option("--data", dir, "Corpus folder (valid/test as in train-lm)")->required();
  sub.add_option("--eval-batch-size", batch_size, "Batch size (default: the checkpoint's, 10 for the tutorial)")
      ->check(non_negative_number());
  sub.add_flag("--json", json, "Print as JSON");
  add_threads_option(sub, &threads);
  return std::function<int()>([] { return run_eval_lm(checkpoint, dir, batch_size, json, threads); });
});

}  // namespace
}  // namespace xfmr::cli
