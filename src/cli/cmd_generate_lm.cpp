// `xfmr generate-lm`: sample words from a train-lm checkpoint, like pytorch/examples
// word_language_model/generate.py (multinomial over exp(logits / temperature), a newline every 20
// words). The model sees the last --window words (default: its bptt) with the causal mask.
#include <iostream>

#include "cli/command.h"
#include "xfmr/train/lm_trainer.h"

namespace xfmr::cli {
namespace {

int run_generate_lm(const std::string& checkpoint, const train::LMGenerateOptions& o, int threads) {
  apply_threads(threads);
  train::LMCheckpoint c = train::load_lm_checkpoint(checkpoint);
  auto words = train::generate_lm(c, o);
  for (size_t i = 0; i < words.size(); ++i) std::cout << words[i] << (i % 20 == 19 ? '\n' : ' ');
  if (words.size() % 20 != 0) std::cout << '\n';
  return 0;
}

XFMR_REGISTER_COMMAND("generate-lm", "Sample text from a train-lm checkpoint (like word_language_model/generate.py)",
                      [](CLI::App& sub) {
                        static std::string checkpoint;
                        static train::LMGenerateOptions o;
                        static int threads = 0;
                        sub.add_option("--checkpoint", checkpoint, "Checkpoint folder written by train-lm --save")
                            ->required();
                        sub.add_option("--words", o.words, "Number of words to generate")
                            ->capture_default_str()
                            ->check(non_negative_number());
                        sub.add_option("--temperature", o.temperature, "Temperature (>= 1e-3; higher = more diverse)")
                            ->capture_default_str();
                        sub.add_option("--seed", o.seed, "Random seed")->capture_default_str();
                        sub.add_option("--prompt", o.prompt,
                                       "Text to continue (tokenized like the corpus; default: a random first word)");
                        sub.add_option("--window", o.window,
                                       "Context words fed to the model (default: the checkpoint's bptt)")
                            ->check(non_negative_number());
                        add_threads_option(sub, &threads);
                        return std::function<int()>([] { return run_generate_lm(checkpoint, o, threads); });
                      });

}  // namespace
}  // namespace xfmr::cli
