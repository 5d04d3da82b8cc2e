#include "xfmr/train/lm_trainer.h"

#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdarg>
#include <fstream>
#include <unistd.h>

#include "lm_checkpoint.h"
#include "xfmr/autograd/ops.h"
#include "xfmr/core/error.h"
#include "xfmr/core/parallel.h"
#include "xfmr/core/progress.h"
#include "xfmr/io/safetensors.h"
#include "xfmr/nn/functional.h"
#include "xfmr/optim/checkpoint.h"
#include "xfmr/optim/clip_grad.h"
#include "xfmr/optim/lr_scheduler.h"
#include "xfmr/optim/sgd.h"

namespace xfmr::train {

namespace {

using Clock = std::chrono::steady_clock;

// ---- Ctrl-C ----
std::atomic<bool> g_stop{false};

extern "C" void on_sigint(int) {
  if (g_stop.load()) {  // second Ctrl-C: give up waiting
    std::signal(SIGINT, SIG_DFL);
    std::raise(SIGINT);
    return;
  }
  g_stop.store(true);
  static const char msg[] =
      "\nxfmr: interrupted - finishing the current step, then saving a resumable checkpoint (Ctrl-C again to "
      "abort)\n";
  ssize_t ignored = ::write(2, msg, sizeof msg - 1);
  (void)ignored;
}

// Installs on_sigint for the lifetime of the object and restores the previous action after.
class SigintGuard {
 public:
  explicit SigintGuard(bool on) : on_(on) {
    if (!on_) return;
    struct sigaction sa {};
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_);
  }
  ~SigintGuard() {
    if (on_) sigaction(SIGINT, &old_, nullptr);
  }

 private:
  bool on_;
  struct sigaction old_ {};
};

std::string fmt(const char* f, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, f);
  std::vsnprintf(buf, sizeof buf, f, ap);
  va_end(ap);
  return buf;
}

std::string num(double v) { return fmt("%.17g", v); }

nn::NamedTensors clone_state(const nn::Module& m) {
  nn::NamedTensors out;
  for (auto& [name, t] : m.state_dict()) out.emplace_back(name, t.clone());
  return out;
}

// Where the resumable state lives inside a --save / --resume folder.
std::filesystem::path last_dir(const std::filesystem::path& dir) { return dir / "last"; }

struct ResumeState {
  int epoch = 1;           // epoch to continue (1-based)
  int64_t next_batch = 0;  // first batch of that epoch still to run
  double best_val = std::numeric_limits<double>::infinity();
  double interval_loss = 0;  // loss sum since the last log line
  int64_t interval_batches = 0;
};

}  // namespace

bool lm_stop_requested() { return g_stop.load(); }
void reset_lm_stop_request() { g_stop.store(false); }

double evaluate_lm(models::TransformerLM& model, const Tensor& data_source, int64_t bptt) {
  XFMR_CHECK(data_source.defined() && data_source.dim() == 2 && data_source.size(0) >= 2,
             "evaluate_lm: need at least 2 rows of batchified data, got ",
             data_source.defined() ? data_source.describe() : std::string("undefined"));
  model.eval();
  NoGradGuard ng;
  const int64_t ntoken = model.config().ntoken;
  double total = 0;
  for (int64_t i = 0; i < data_source.size(0) - 1; i += bptt) {
    models::LMBatch b = models::get_batch(data_source, i, bptt);
    const int64_t seq_len = b.data.size(0);
    // is_causal = the square subsequent mask (the fused kernel's causal mode).
    Tensor out = model.forward(b.data, Tensor(), /*is_causal=*/true);
    Tensor loss = nn::functional::cross_entropy(reshape(out, {-1, ntoken}), b.targets);
    total += static_cast<double>(seq_len) * loss.item();
  }
  return total / static_cast<double>(data_source.size(0) - 1);
}

LMTrainResult train_lm(const LMTrainOptions& opts_in) {
  LMTrainOptions o = opts_in;
  std::FILE* out = o.log ? o.log : stdout;
  auto say = [&](const std::string& line) {
    std::fputs((line + "\n").c_str(), out);
    std::fflush(out);
  };

  // ---- resume: hyper-parameters come from the checkpoint ----
  std::filesystem::path resume_last, resume_top;
  std::map<std::string, std::string> resume_meta;
  std::unique_ptr<LMCheckpoint> resumed;
  if (!o.resume_dir.empty()) {
    std::error_code ec;
    if (std::filesystem::exists(o.resume_dir / "training_state.safetensors", ec)) {
      resume_last = o.resume_dir;
      resume_top = o.resume_dir.filename() == "last" ? o.resume_dir.parent_path() : o.resume_dir;
    } else {
      resume_last = last_dir(o.resume_dir);
      resume_top = o.resume_dir;
      XFMR_CHECK(std::filesystem::exists(resume_last / "training_state.safetensors", ec), "train-lm --resume: ",
                 o.resume_dir.string(), " holds no resumable checkpoint (no training_state.safetensors in it or in ",
                 resume_last.string(), ")");
    }
    resumed = std::make_unique<LMCheckpoint>(load_lm_checkpoint(resume_last));
    nlohmann::json j = nlohmann::json::parse(std::ifstream(resume_last / "config.json"));
    const auto& t = j.at("train");
    o.tokenization = resumed->tokenization;
    o.model = resumed->config;
    o.batch_size = t.at("batch_size").get<int64_t>();
    o.eval_batch_size = t.at("eval_batch_size").get<int64_t>();
    o.bptt = t.at("bptt").get<int64_t>();
    o.lr = t.at("lr").get<double>();
    o.gamma = t.at("gamma").get<double>();
    o.clip = t.at("clip").get<double>();
    o.seed = t.at("seed").get<uint64_t>();
    if (o.save_dir.empty()) o.save_dir = resume_top;
  }
  XFMR_CHECK(o.epochs >= 1, "train-lm: --epochs must be at least 1, got ", o.epochs);
  XFMR_CHECK(o.batch_size >= 1 && o.eval_batch_size >= 1, "train-lm: batch sizes must be positive");
  XFMR_CHECK(o.bptt >= 1, "train-lm: --bptt must be positive, got ", o.bptt);
  XFMR_CHECK(o.log_interval >= 1, "train-lm: --log-interval must be positive, got ", o.log_interval);
  XFMR_CHECK(o.model.d_model > 0 && o.model.nhead > 0 && o.model.d_model % o.model.nhead == 0,
             "train-lm: d_model (", o.model.d_model, ") must be a positive multiple of nhead (", o.model.nhead, ")");
  XFMR_CHECK(o.bptt <= o.model.max_len, "train-lm: --bptt ", o.bptt, " exceeds the positional encoding's max_len ",
             o.model.max_len);

  // ---- data ----
  data::LMCorpus corpus =
      data::load_lm_corpus(o.data_dir, o.tokenization, resumed ? &resumed->vocab : nullptr, /*load_train=*/true);
  o.model.ntoken = corpus.vocab.size();
  const Tensor train_data = models::batchify(corpus.train, o.batch_size);
  Tensor val_data, test_data;
  if (o.evaluate) {
    val_data = models::batchify(corpus.valid, o.eval_batch_size);
    test_data = models::batchify(corpus.test, o.eval_batch_size);
    XFMR_CHECK(val_data.size(0) >= 2 && test_data.size(0) >= 2, "train-lm: the valid/test splits in ",
               o.data_dir.string(), " are too short for --eval-batch-size ", o.eval_batch_size);
  }
  XFMR_CHECK(train_data.size(0) >= 2, "train-lm: the training split is too short for --batch-size ", o.batch_size);
  const int64_t ntoken = o.model.ntoken;
  const int64_t num_batches = train_data.size(0) / o.bptt;  // what the tutorial prints
  int64_t epoch_batches = (train_data.size(0) - 1 + o.bptt - 1) / o.bptt;
  if (o.max_batches > 0) epoch_batches = std::min(epoch_batches, o.max_batches);

  // ---- model, optimiser, schedule ----
  Generator gen(o.seed);
  models::TransformerLM model(o.model, gen);
  optim::SGD opt(model.parameters(), {.lr = o.lr});
  optim::StepLR sched(opt, 1, o.gamma);
  ResumeState rs;
  nn::NamedTensors best_state;
  if (resumed) {
    model.load_state_dict(resumed->model->state_dict());
    resume_meta = optim::load_training_state(resume_last / "training_state.safetensors", opt, &sched);
    auto get = [&](const char* k) {
      auto it = resume_meta.find(k);
      XFMR_CHECK(it != resume_meta.end(), (resume_last / "training_state.safetensors").string(),
                 ": missing metadata entry ", k);
      return it->second;
    };
    rs.epoch = std::stoi(get("lm.epoch"));
    rs.next_batch = std::stoll(get("lm.next_batch"));
    rs.best_val = std::stod(get("lm.best_val_loss"));
    rs.interval_loss = std::stod(get("lm.interval_loss"));
    rs.interval_batches = std::stoll(get("lm.interval_batches"));
    gen.set_state(get("lm.generator"));
    const int saved_threads = std::stoi(get("lm.threads"));
    if (saved_threads != num_threads())
      say(fmt("note: the checkpoint was written with %d threads, this run uses %d (results stay valid but are "
              "not bit-identical to an uninterrupted run)",
              saved_threads, num_threads()));
    if (std::isfinite(rs.best_val)) {
      std::error_code ec;
      if (std::filesystem::exists(resume_top / "model.safetensors", ec) && resume_top != resume_last)
        best_state = clone_state(*load_lm_checkpoint(resume_top).model);
      else
        rs.best_val = std::numeric_limits<double>::infinity();  // best model not kept: start over
    }
    say(fmt("resuming from %s: epoch %d, batch %lld", resume_last.string().c_str(), rs.epoch,
            static_cast<long long>(rs.next_batch)));
  }
  const nlohmann::ordered_json config = detail::lm_config_json(o.model, o);

  LMTrainResult res;
  res.vocab_size = ntoken;
  say(fmt("vocab %lld (%s), train tokens %lld, batches/epoch %lld, model parameters %lld, threads %d",
          static_cast<long long>(ntoken), data::lm_tokenization_name(o.tokenization).c_str(),
          static_cast<long long>(corpus.train.numel()),
          static_cast<long long>((train_data.size(0) - 1 + o.bptt - 1) / o.bptt),
          static_cast<long long>(model.num_parameters()), num_threads()));

  // Writes the resumable state: `epoch`/`next_batch` is where a resumed run continues.
  auto save_resumable = [&](const std::filesystem::path& top, int epoch, int64_t next_batch, double interval_loss,
                            int64_t interval_batches, double best_val) {
    const auto dir = last_dir(top);
    detail::save_lm_model(dir, config, corpus.vocab, model.state_dict());
    optim::save_training_state(dir / "training_state.safetensors", opt, &sched,
                               {{"lm.epoch", std::to_string(epoch)},
                                {"lm.next_batch", std::to_string(next_batch)},
                                {"lm.best_val_loss", num(best_val)},
                                {"lm.interval_loss", num(interval_loss)},
                                {"lm.interval_batches", std::to_string(interval_batches)},
                                {"lm.generator", gen.state()},
                                {"lm.threads", std::to_string(num_threads())}});
    return dir;
  };

  reset_lm_stop_request();
  SigintGuard sigint(o.handle_sigint);
  const Tensor no_mask;
  double best_val = rs.best_val;
  for (int epoch = rs.epoch; epoch <= o.epochs; ++epoch) {
    model.train();
    LMEpochRecord rec;
    rec.epoch = epoch;
    const int64_t first = epoch == rs.epoch ? rs.next_batch : 0;
    double interval_loss = epoch == rs.epoch ? rs.interval_loss : 0;
    int64_t interval_batches = epoch == rs.epoch ? rs.interval_batches : 0;
    const double lr = sched.get_last_lr()[0];
    std::unique_ptr<ProgressBar> bar;
    if (o.progress) {
      bar = std::make_unique<ProgressBar>(fmt("epoch %d", epoch), epoch_batches, "batch");
      bar->set_log_stream(out);
      bar->update(first);
    }
    auto log = [&](const std::string& line) {
      if (bar) bar->log(line);
      else say(line);
    };
    const auto epoch_start = Clock::now();
    auto log_start = epoch_start;
    bool stopped = false;
    for (int64_t batch = first; batch < epoch_batches; ++batch) {
      models::LMBatch b = models::get_batch(train_data, batch * o.bptt, o.bptt);
      Tensor output = model.forward(b.data, no_mask, /*is_causal=*/true);
      Tensor loss = nn::functional::cross_entropy(reshape(output, {-1, ntoken}), b.targets);
      // Dropping the gradients (instead of zeroing them in place, torch 1.13's default) saves a
      // memset and an accumulate pass over the 12M gradients; 0 + g == g, so the numbers are the same.
      opt.zero_grad(/*set_to_none=*/true);
      backward(loss);
      optim::clip_grad_norm_(model.parameters(), o.clip);
      opt.step();
      const float lv = static_cast<float>(loss.item());
      rec.tokens += b.targets.numel();
      ++rec.batches;
      res.losses.push_back(lv);
      interval_loss += lv;
      ++interval_batches;
      if (o.on_batch) o.on_batch(epoch, batch, lv);
      if (batch % o.log_interval == 0 && batch > 0) {
        // As the tutorial: divided by log_interval, although the first interval holds one more
        // batch (0..200), so the figures compare line by line with PyTorch's.
        const double cur = interval_loss / static_cast<double>(o.log_interval);
        const double ms = std::chrono::duration<double, std::milli>(Clock::now() - log_start).count() /
                          static_cast<double>(o.log_interval);
        log(fmt("| epoch %3d | %5lld/%5lld batches | lr %02.2f | ms/batch %5.2f | loss %5.2f | ppl %8.2f", epoch,
                static_cast<long long>(batch), static_cast<long long>(num_batches), lr, ms, cur, std::exp(cur)));
        interval_loss = 0;
        interval_batches = 0;
        log_start = Clock::now();
      }
      if (bar) bar->update(batch + 1, fmt("loss %.2f", lv));
      if (lm_stop_requested()) {
        if (bar) bar->finish();
        const auto top = o.save_dir.empty() ? o.interrupt_dir : o.save_dir;
        if (!best_state.empty() && o.save_dir.empty()) {
          auto best_cfg = config;
          best_cfg["val_loss"] = best_val;
          detail::save_lm_model(top, best_cfg, corpus.vocab, best_state);
        }
        res.resume_checkpoint = save_resumable(top, epoch, batch + 1, interval_loss, interval_batches, best_val);
        res.interrupted = true;
        stopped = true;
        break;
      }
    }
    if (bar) bar->finish();
    // Wall time of the epoch's batch loop (logging included), as bench/lm/torch_lm.py measures it.
    rec.train_seconds = std::chrono::duration<double>(Clock::now() - epoch_start).count();
    res.tokens += rec.tokens;
    res.train_seconds += rec.train_seconds;
    if (stopped) {
      res.epochs.push_back(rec);
      say(fmt("stopped in epoch %d after batch %lld; resumable checkpoint in %s (continue with: xfmr train-lm --data %s "
              "--resume %s)",
              epoch, static_cast<long long>(res.epochs.back().batches + first - 1), res.resume_checkpoint.string().c_str(),
              o.data_dir.string().c_str(),
              (o.save_dir.empty() ? o.interrupt_dir : o.save_dir).string().c_str()));
      break;
    }
    if (o.evaluate) {
      const double val_loss = evaluate_lm(model, val_data, o.bptt);
      rec.val_loss = val_loss;
      say(std::string(89, '-'));
      say(fmt("| end of epoch %3d | time: %5.2fs | valid loss %5.2f | valid ppl %8.2f", epoch, rec.train_seconds,
              val_loss, std::exp(val_loss)));
      say(std::string(89, '-'));
      if (val_loss < best_val) {
        best_val = val_loss;
        best_state = clone_state(model);
        if (!o.save_dir.empty()) {
          auto best_cfg = config;
          best_cfg["epoch"] = epoch;
          best_cfg["val_loss"] = val_loss;
          detail::save_lm_model(o.save_dir, best_cfg, corpus.vocab, best_state);
        }
      }
    } else {
      say(fmt("| end of epoch %3d | time: %5.2fs | %lld batches", epoch, rec.train_seconds,
              static_cast<long long>(rec.batches)));
    }
    res.epochs.push_back(rec);
    sched.step();
    if (!o.save_dir.empty()) {
      res.resume_checkpoint = save_resumable(o.save_dir, epoch + 1, 0, 0, 0, best_val);
      if (!o.evaluate) detail::save_lm_model(o.save_dir, config, corpus.vocab, model.state_dict());
    }
    if (lm_stop_requested()) {  // Ctrl-C during validation: the epoch is complete and saved
      res.interrupted = true;
      if (res.resume_checkpoint.empty()) {
        if (!best_state.empty()) detail::save_lm_model(o.interrupt_dir, config, corpus.vocab, best_state);
        res.resume_checkpoint = save_resumable(o.interrupt_dir, epoch + 1, 0, 0, 0, best_val);
      }
      say(fmt("stopped after epoch %d; resumable checkpoint in %s", epoch, res.resume_checkpoint.string().c_str()));
      break;
    }
  }
  res.best_val_loss = std::isfinite(best_val) ? best_val : std::numeric_limits<double>::quiet_NaN();
  if (res.tokens > 0)
    say(fmt("training: %lld tokens in %.1f s = %.0f tokens/s", static_cast<long long>(res.tokens), res.train_seconds,
            res.tokens_per_second()));
  if (!res.interrupted && o.evaluate && !best_state.empty()) {
    model.load_state_dict(best_state);
    res.test_loss = evaluate_lm(model, test_data, o.bptt);
    say(std::string(89, '='));
    say(fmt("| End of training | test loss %5.2f | test ppl %8.2f", res.test_loss, std::exp(res.test_loss)));
    say(std::string(89, '='));
  }
  return res;
}

}  // namespace xfmr::train
