// xfmr example: the course's Transformer encoder layer (d_model 512 = 8 heads x 64) in C++.
//
//  1. Builds nn::TransformerEncoderLayer(512, 8), runs a batch through it and prints the shapes
//     (input, output, per-head attention weights).
//  2. Trains a small model around that layer on a toy copy task - output the input sequence
//     reversed, which needs attention and positional information - until the loss drops below a
//     threshold:  Embedding * sqrt(d) -> PositionalEncoding -> TransformerEncoderLayer -> Linear,
//     AdamW with linear warmup, gradient clipping.
//
// Usage: encoder_copy_task [--threshold 0.05] [--max-steps 400] [--threads N] [--seed S] [--smoke]
// --smoke: a quick check for CI (a few steps; exits non-zero unless the loss decreases).
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "xfmr/autograd/ops.h"
#include "xfmr/core/parallel.h"
#include "xfmr/core/random.h"
#include "xfmr/kernels/reduce.h"
#include "xfmr/nn/functional.h"
#include "xfmr/nn/init.h"
#include "xfmr/nn/layers.h"
#include "xfmr/nn/positional_encoding.h"
#include "xfmr/nn/transformer.h"
#include "xfmr/optim/adam.h"
#include "xfmr/optim/clip_grad.h"
#include "xfmr/optim/lr_scheduler.h"

using namespace xfmr;

namespace {

// Token embedding + positional encoding + one encoder layer + output projection (seq-first).
struct CopyModel : nn::Module {
  CopyModel(int64_t vocab, int64_t d_model, int64_t nhead, float dropout, Generator& gen)
      : d_model(d_model) {
    embed = register_module("embed", std::make_shared<nn::Embedding>(vocab, d_model));
    pos = register_module("pos", std::make_shared<nn::PositionalEncoding>(d_model, dropout, 64));
    layer = register_module("layer", std::make_shared<nn::TransformerEncoderLayer>(d_model, nhead, 4 * d_model, dropout));
    out = register_module("out", std::make_shared<nn::Linear>(d_model, vocab));
    NoGradGuard ng;
    nn::init::normal_(embed->weight, 0.0f, 0.02f, gen);
    pos->dropout->generator = &gen;
    layer->set_generator(&gen);
  }
  Tensor forward(const Tensor& tokens) const {  // [L, N] -> logits [L, N, vocab]
    Tensor x = mul(embed->forward(tokens), std::sqrt(static_cast<float>(d_model)));
    return out->forward(layer->forward(pos->forward(x)));
  }
  int64_t d_model;
  std::shared_ptr<nn::Embedding> embed;
  std::shared_ptr<nn::PositionalEncoding> pos;
  std::shared_ptr<nn::TransformerEncoderLayer> layer;
  std::shared_ptr<nn::Linear> out;
};

std::string shape_str(const Tensor& t) {
  std::string s = "[";
  for (int i = 0; i < t.dim(); ++i) s += (i ? ", " : "") + std::to_string(t.size(i));
  return s + "]";
}

// A batch of random sequences (tokens 1..vocab-1) and their reversals, seq-first [L, N].
void make_batch(Generator& g, int64_t len, int64_t batch, int64_t vocab, Tensor* src, Tensor* tgt) {
  *src = Tensor::empty({len, batch}, DType::I64);
  *tgt = Tensor::empty({len, batch}, DType::I64);
  int64_t* s = src->data<int64_t>();
  int64_t* t = tgt->data<int64_t>();
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t i = 0; i < len; ++i) s[i * batch + n] = 1 + static_cast<int64_t>(g.next_u64() % (vocab - 1));
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t i = 0; i < len; ++i) t[i * batch + n] = s[(len - 1 - i) * batch + n];
}

}  // namespace

int main(int argc, char** argv) {
  double threshold = 0.05;
  int max_steps = 400, threads = 0;
  uint64_t seed = 0;
  bool smoke = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--threshold") threshold = std::atof(next());
    else if (a == "--max-steps") max_steps = std::atoi(next());
    else if (a == "--threads") threads = std::atoi(next());
    else if (a == "--seed") seed = std::strtoull(next(), nullptr, 10);
    else if (a == "--smoke") smoke = true;
    else {
      std::fprintf(stderr, "usage: %s [--threshold X] [--max-steps N] [--threads N] [--seed S] [--smoke]\n", argv[0]);
      return a == "--help" || a == "-h" ? 0 : 2;
    }
  }
  if (threads > 0) set_num_threads(threads);
  try {
    // ---- 1. The course's encoder layer: d_model 512, 8 heads x 64, feed-forward 2048.
    manual_seed(seed);
    nn::TransformerEncoderLayer layer(512, 8);  // dim_feedforward 2048, dropout 0.1, relu, post-norm
    layer.eval();
    Tensor x = randn({10, 4, 512});  // [seq_len, batch, d_model]
    NoGradGuard ng;
    Tensor y = layer.forward(x);
    auto att = layer.self_attn->forward(x, x, x, Tensor(), true, Tensor(), /*average_attn_weights=*/false);
    std::printf("TransformerEncoderLayer(d_model=512, nhead=8): head_dim %lld, %lld parameters\n",
                static_cast<long long>(layer.self_attn->head_dim), static_cast<long long>(layer.num_parameters()));
    std::printf("  input               %s\n", shape_str(x).c_str());
    std::printf("  output              %s\n", shape_str(y).c_str());
    std::printf("  attention per head  %s  (batch, heads, query, key)\n", shape_str(att.weights).c_str());
  } catch (const Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }

  // ---- 2. Train on the reversal copy task.
  const int64_t vocab = 12, len = 8, batch = 32, d_model = 512, nhead = 8;
  if (smoke) max_steps = 12;
  Generator gen(seed + 1), data(seed + 2);
  CopyModel model(vocab, d_model, nhead, 0.1f, gen);
  model.train();
  optim::AdamOptions ao = optim::AdamW::default_options();
  ao.lr = 5e-4;
  optim::AdamW opt(model.parameters(), ao);
  auto sched = optim::get_linear_schedule_with_warmup(opt, 20, std::max(max_steps, 200));
  std::printf("copy task: reverse %lld tokens (vocab %lld), batch %lld, %lld parameters, %d threads\n",
              static_cast<long long>(len), static_cast<long long>(vocab), static_cast<long long>(batch),
              static_cast<long long>(model.num_parameters()), num_threads());
  auto t0 = std::chrono::steady_clock::now();
  double first = 0, loss_v = 0, avg = -1;
  int step = 0;
  for (; step < max_steps; ++step) {
    Tensor src, tgt;
    make_batch(data, len, batch, vocab, &src, &tgt);
    Tensor logits = model.forward(src);
    Tensor loss = nn::functional::cross_entropy(reshape(logits, {-1, vocab}), tgt.reshape({-1}));
    opt.zero_grad();
    backward(loss);
    float norm = optim::clip_grad_norm_(model.parameters(), 1.0);
    opt.step();
    sched->step();
    loss_v = loss.item();
    if (step == 0) first = loss_v;
    avg = avg < 0 ? loss_v : 0.9 * avg + 0.1 * loss_v;
    if (step % 20 == 0 || smoke)
      std::printf("  step %4d  loss %.4f  (running %.4f)  grad-norm %.3f  lr %.2e\n", step, loss_v, avg, norm,
                  opt.param_groups()[0].lr());
    if (!smoke && avg < threshold) break;
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("%d steps in %.1f s (%.0f ms/step): loss %.4f -> %.4f (running %.4f)\n", step + (step < max_steps),
              secs, 1000.0 * secs / std::max(1, step + 1), first, loss_v, avg);

  // Greedy check on fresh sequences (eval mode, no dropout).
  model.eval();
  Tensor src, tgt;
  make_batch(data, len, batch, vocab, &src, &tgt);
  Tensor pred;
  {
    NoGradGuard ng;
    pred = kernels::argmax(model.forward(src), -1);
  }
  int64_t correct = 0;
  auto p = pred.to_vector<int64_t>(), t = tgt.to_vector<int64_t>();
  for (size_t i = 0; i < p.size(); ++i) correct += p[i] == t[i];
  std::printf("eval: %lld / %lld tokens reversed correctly\n", static_cast<long long>(correct),
              static_cast<long long>(p.size()));

  if (smoke) {
    bool ok = loss_v < first;
    std::printf("smoke: %s (loss %.4f -> %.4f)\n", ok ? "ok" : "FAILED: the loss did not decrease", first, loss_v);
    return ok ? 0 : 1;
  }
  if (avg >= threshold) {
    std::printf("did not reach loss %.3f within %d steps\n", threshold, max_steps);
    return 1;
  }
  return 0;
}
