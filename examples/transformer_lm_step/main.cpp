// Times training steps of the PyTorch tutorial's TransformerModel (models::TransformerLM) exactly
// as the tutorial trains it: batch of bptt x bsz tokens, causal mask, CrossEntropyLoss, backward,
// clip_grad_norm_(0.5), SGD(lr=5). Reports ms per step and a forward / backward / update split.
// torch_step.py next to this file runs the same step in PyTorch for comparison.
//
// Usage: transformer_lm_step [--ntoken 33278] [--bsz 20] [--bptt 35] [--steps 20] [--threads 2]
//                            [--dropout 0.2]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "xfmr/autograd/ops.h"
#include "xfmr/core/parallel.h"
#include "xfmr/models/transformer_lm.h"
#include "xfmr/nn/functional.h"
#include "xfmr/optim/clip_grad.h"
#include "xfmr/optim/sgd.h"

using namespace xfmr;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  int64_t ntoken = 33278, bsz = 20, bptt = 35;
  int steps = 20, threads = 2;
  float dropout = 0.2f;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--ntoken") ntoken = std::atoll(argv[i + 1]);
    else if (a == "--bsz") bsz = std::atoll(argv[i + 1]);
    else if (a == "--bptt") bptt = std::atoll(argv[i + 1]);
    else if (a == "--steps") steps = std::atoi(argv[i + 1]);
    else if (a == "--threads") threads = std::atoi(argv[i + 1]);
    else if (a == "--dropout") dropout = static_cast<float>(std::atof(argv[i + 1]));
    else {
      std::fprintf(stderr, "unknown option %s\n", a.c_str());
      return 2;
    }
  }
  set_num_threads(threads);
  Generator gen(0);
  models::TransformerLMConfig cfg;
  cfg.ntoken = ntoken;
  cfg.dropout = dropout;
  models::TransformerLM model(cfg, gen);
  model.train();
  // A random token stream, batchified like the tutorial.
  std::vector<int64_t> stream(static_cast<size_t>(bsz * (bptt * (steps + 4) + 1)));
  Generator data(1);
  for (auto& t : stream) t = static_cast<int64_t>(data.next_u64() % static_cast<uint64_t>(ntoken));
  Tensor train = models::batchify(Tensor::from_vector<int64_t>(stream), bsz);
  Tensor mask = nn::functional::generate_square_subsequent_mask(bptt);
  optim::SGD opt(model.parameters(), {.lr = 5.0});
  double t_fwd = 0, t_bwd = 0, t_upd = 0;
  int timed = 0;
  for (int s = 0; s < steps + 3; ++s) {
    auto b = models::get_batch(train, s * bptt, bptt);
    auto t0 = Clock::now();
    Tensor out = model.forward(b.data, mask);
    Tensor loss = nn::functional::cross_entropy(reshape(out, {-1, ntoken}), b.targets);
    auto t1 = Clock::now();
    opt.zero_grad();
    backward(loss);
    auto t2 = Clock::now();
    optim::clip_grad_norm_(model.parameters(), 0.5);
    opt.step();
    auto t3 = Clock::now();
    if (s >= 3) {  // warm-up: GEMM primitive creation, allocator
      t_fwd += std::chrono::duration<double, std::milli>(t1 - t0).count();
      t_bwd += std::chrono::duration<double, std::milli>(t2 - t1).count();
      t_upd += std::chrono::duration<double, std::milli>(t3 - t2).count();
      ++timed;
    }
    if (s == steps + 2) std::printf("last loss %.4f\n", loss.item());
  }
  std::printf("TransformerLM(ntoken=%lld, 200, 2, 200, 2, dropout=%.2f), bsz %lld, bptt %lld, %d threads\n",
              static_cast<long long>(ntoken), dropout, static_cast<long long>(bsz), static_cast<long long>(bptt),
              num_threads());
  std::printf("%.1f ms/step (forward+loss %.1f, backward %.1f, clip+SGD %.1f) over %d steps\n",
              (t_fwd + t_bwd + t_upd) / timed, t_fwd / timed, t_bwd / timed, t_upd / timed, timed);
  return 0;
}
