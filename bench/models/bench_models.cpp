// Model-level benchmarks (docs/performance-models.md). One measurement per process, so peak RSS
// (VmHWM) belongs to that measurement alone; bench/models/run.sh runs the sequence.
//
//   xfmr_bench_models write  --arch bert-base|gpt2-small|distilbert-base --out DIR [--seed N]
//        random checkpoint of the real sizes (HF init), written by save_pretrained
//   xfmr_bench_models load   DIR [--repeat N]        time from_pretrained (warm page cache), RSS
// Loading flags (all commands): --no-prefault (map pages on first use), --keep-dtype (f16/bf16 kept)
//   xfmr_bench_models encode DIR [--batch B] [--seq L] [--iters N] [--threads T]
//        forward latency (p50/p90/min), peak RSS relative to the weights
//   xfmr_bench_models decode DIR [--prompt L] [--new N] [--threads T]
//        greedy decoding with the KV cache: tokens/s (prompt and per-token), peak RSS
//
// Output: one line "RESULT key=value ..." per measurement (run.sh turns them into tables).
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "xfmr/autograd/autograd.h"
#include "xfmr/core/parallel.h"
#include "xfmr/kernels/reduce.h"
#include "xfmr/models/models.h"

using namespace xfmr;
using namespace xfmr::models;
using Clock = std::chrono::steady_clock;

namespace {

double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

// CPU time of the whole process (all threads), ms. With one thread it approximates the latency on an
// idle core when the machine is shared (time spent preempted is not counted).
double process_cpu_ms() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

// VmHWM / VmRSS in bytes.
uint64_t proc_status_kb(const char* key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key, 0) == 0) return std::stoull(line.substr(std::strlen(key) + 1)) * 1024;
  return 0;
}
uint64_t peak_rss() { return proc_status_kb("VmHWM:"); }
uint64_t current_rss() { return proc_status_kb("VmRSS:"); }

struct Args {
  std::string cmd, dir, arch = "bert-base", out;
  int64_t batch = 1, seq = 128, iters = 20, prompt = 16, new_tokens = 128, repeat = 5, threads = 0;
  uint64_t seed = 0;
  bool prefault = true, keep_dtype = false;
  LoadOptions load_options() const {
    LoadOptions o;
    o.prefault = prefault;
    o.keep_stored_dtype = keep_dtype;
    return o;
  }
};

Args parse(int argc, char** argv) {
  Args a;
  if (argc < 2) throw std::runtime_error("usage: xfmr_bench_models write|load|encode|decode ...");
  a.cmd = argv[1];
  for (int i = 2; i < argc; ++i) {
    std::string s = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw std::runtime_error("missing value after " + s);
      return argv[++i];
    };
    if (s == "--arch") a.arch = next();
    else if (s == "--out") a.out = next();
    else if (s == "--batch") a.batch = std::stoll(next());
    else if (s == "--seq") a.seq = std::stoll(next());
    else if (s == "--iters") a.iters = std::stoll(next());
    else if (s == "--prompt") a.prompt = std::stoll(next());
    else if (s == "--new") a.new_tokens = std::stoll(next());
    else if (s == "--repeat") a.repeat = std::stoll(next());
    else if (s == "--threads") a.threads = std::stoll(next());
    else if (s == "--seed") a.seed = std::stoull(next());
    else if (s == "--no-prefault") a.prefault = false;
    else if (s == "--keep-dtype") a.keep_dtype = true;
    else if (!s.empty() && s[0] != '-' && a.dir.empty()) a.dir = s;
    else throw std::runtime_error("unknown argument " + s);
  }
  return a;
}

ModelConfig real_config(const std::string& arch) {
  if (arch == "bert-base")  // google-bert/bert-base-uncased
    return ModelConfig::from_json(R"({"architectures": ["BertModel"], "model_type": "bert", "vocab_size": 30522,
      "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072,
      "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
      "max_position_embeddings": 512, "type_vocab_size": 2, "initializer_range": 0.02, "layer_norm_eps": 1e-12,
      "pad_token_id": 0, "position_embedding_type": "absolute"})");
  if (arch == "distilbert-base")  // distilbert/distilbert-base-uncased
    return ModelConfig::from_json(R"({"architectures": ["DistilBertModel"], "model_type": "distilbert",
      "vocab_size": 30522, "dim": 768, "n_layers": 6, "n_heads": 12, "hidden_dim": 3072, "activation": "gelu",
      "max_position_embeddings": 512, "sinusoidal_pos_embds": false, "pad_token_id": 0})");
  if (arch == "gpt2-small")  // openai-community/gpt2
    return ModelConfig::from_json(R"({"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "vocab_size": 50257,
      "n_embd": 768, "n_layer": 12, "n_head": 12, "n_positions": 1024, "n_ctx": 1024,
      "activation_function": "gelu_new", "layer_norm_epsilon": 1e-05, "initializer_range": 0.02,
      "bos_token_id": 50256, "eos_token_id": 50256})");
  throw std::runtime_error("unknown --arch " + arch + " (bert-base, distilbert-base, gpt2-small)");
}

Tensor random_ids(int64_t batch, int64_t len, int64_t vocab, uint64_t seed) {
  Generator g(seed);
  std::vector<int64_t> v(static_cast<size_t>(batch * len));
  for (auto& x : v) x = 1000 + static_cast<int64_t>(g.next_u64() % static_cast<uint64_t>(vocab - 1000));
  return Tensor::from_vector(v, {batch, len});
}

int cmd_write(const Args& a) {
  if (a.out.empty()) throw std::runtime_error("write needs --out DIR");
  auto t0 = Clock::now();
  auto m = AutoModel::from_config(real_config(a.arch), {.seed = a.seed});
  double init_ms = ms_since(t0);
  t0 = Clock::now();
  m->save_pretrained(a.out);
  std::cout << "RESULT cmd=write arch=" << a.arch << " params=" << m->num_parameters() << " init_ms=" << init_ms
            << " save_ms=" << ms_since(t0) << " dir=" << a.out << "\n";
  return 0;
}

int cmd_load(const Args& a) {
  std::vector<double> times;
  uint64_t bytes = 0;
  int64_t params = 0;
  for (int64_t r = 0; r < a.repeat; ++r) {
    auto t0 = Clock::now();
    auto m = AutoModel::from_pretrained(a.dir, a.load_options());
    times.push_back(ms_since(t0));
    bytes = m->load_report().checkpoint_bytes;
    params = m->num_parameters();
  }
  std::vector<double> s = times;
  std::sort(s.begin(), s.end());
  std::cout << "RESULT cmd=load dir=" << a.dir << " params=" << params << " weight_bytes=" << bytes
            << " first_ms=" << times[0] << " median_ms=" << s[s.size() / 2] << " min_ms=" << s[0]
            << " rss_after_bytes=" << current_rss() << " peak_rss_bytes=" << peak_rss() << "\n";
  return 0;
}

int cmd_encode(const Args& a) {
  if (a.threads > 0) set_num_threads(static_cast<int>(a.threads));
  NoGradGuard no_grad;
  uint64_t rss0 = peak_rss();
  auto t0 = Clock::now();
  auto m = AutoModel::from_pretrained(a.dir, a.load_options());
  double load_ms = ms_since(t0);
  Tensor ids = random_ids(a.batch, a.seq, m->config().vocab_size(), 1);
  ModelInputs in;
  in.input_ids = ids;
  in.attention_mask = Tensor::ones({a.batch, a.seq}, DType::I64);
  t0 = Clock::now();
  m->forward(in);
  double first_ms = ms_since(t0);
  std::vector<double> times, cpu;
  for (int64_t i = 0; i < a.iters; ++i) {
    t0 = Clock::now();
    double c0 = process_cpu_ms();
    ModelOutput out = m->forward(in);
    cpu.push_back(process_cpu_ms() - c0);
    times.push_back(ms_since(t0));
  }
  std::sort(times.begin(), times.end());
  std::sort(cpu.begin(), cpu.end());
  const uint64_t wb = m->load_report().checkpoint_bytes, peak = peak_rss();
  std::cout << "RESULT cmd=encode arch=" << m->architecture() << " threads=" << num_threads() << " batch=" << a.batch
            << " seq=" << a.seq << " load_ms=" << load_ms << " first_ms=" << first_ms << " p50_ms="
            << times[times.size() / 2] << " p90_ms=" << times[times.size() * 9 / 10] << " min_ms=" << times[0]
            << " cpu_p50_ms=" << cpu[cpu.size() / 2] << " weight_bytes=" << wb << " peak_rss_bytes=" << peak << " peak_rss_over_weights=" << double(peak) / wb
            << " rss_before_load_bytes=" << rss0 << "\n";
  return 0;
}

int cmd_decode(const Args& a) {
  if (a.threads > 0) set_num_threads(static_cast<int>(a.threads));
  NoGradGuard no_grad;
  uint64_t rss0 = peak_rss();
  auto t_load = Clock::now();
  auto lm = AutoModelForCausalLM::from_pretrained(a.dir, a.load_options());
  const double load_ms = ms_since(t_load);
  Tensor prompt = random_ids(1, a.prompt, lm->vocab_size(), 2);
  // Warm-up run (primitive creation), then the measured one.
  double prompt_ms = 0, decode_ms = 0, decode_cpu_ms = 0;
  for (int run = 0; run < 2; ++run) {
    KVCache cache = lm->make_cache();
    auto t0 = Clock::now();
    ModelOutput out = lm->forward_step(prompt, cache);
    prompt_ms = ms_since(t0);
    t0 = Clock::now();
    double c0 = process_cpu_ms();
    for (int64_t i = 0; i < a.new_tokens; ++i) {
      Tensor next = kernels::argmax(out.logits, -1).view({1, 1});
      out = lm->forward_step(next, cache);
    }
    decode_ms = ms_since(t0);
    decode_cpu_ms = process_cpu_ms() - c0;
  }
  const uint64_t wb = lm->load_report().checkpoint_bytes, peak = peak_rss();
  std::cout << "RESULT cmd=decode arch=" << lm->architecture() << " threads=" << num_threads() << " prompt=" << a.prompt
            << " new=" << a.new_tokens << " load_ms=" << load_ms << " prompt_ms=" << prompt_ms << " prompt_tok_s=" << a.prompt / (prompt_ms / 1e3)
            << " decode_ms=" << decode_ms << " tok_s=" << a.new_tokens / (decode_ms / 1e3) << " ms_per_token="
            << decode_ms / a.new_tokens << " cpu_ms_per_token=" << decode_cpu_ms / a.new_tokens << " weight_bytes=" << wb << " peak_rss_bytes=" << peak
            << " peak_rss_over_weights=" << double(peak) / wb << " rss_before_load_bytes=" << rss0 << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    Args a = parse(argc, argv);
    if (a.cmd == "write") return cmd_write(a);
    if (a.cmd == "load") return cmd_load(a);
    if (a.cmd == "encode") return cmd_encode(a);
    if (a.cmd == "decode") return cmd_decode(a);
    throw std::runtime_error("unknown command " + a.cmd);
  } catch (const std::exception& e) {
    std::cerr << "xfmr_bench_models: " << e.what() << "\n";
    return 1;
  }
}
