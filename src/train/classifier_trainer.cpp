// The classifier training loop: epochs of shuffled (length-grouped) batches, AdamW + linear warmup
// and decay, gradient clipping, evaluation on the dev set after every epoch, the best model kept,
// checkpoints that --resume continues bit for bit (optimizer, scheduler, dropout RNG and position).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>

#include "classifier_internal.h"
#include "classifier_setup.h"
#include "xfmr/autograd/autograd.h"
#include "xfmr/autograd/loss.h"
#include "xfmr/core/error.h"
#include "xfmr/core/progress.h"
#include "xfmr/core/random.h"
#include "xfmr/optim/adam.h"
#include "xfmr/optim/checkpoint.h"
#include "xfmr/optim/clip_grad.h"
#include "xfmr/optim/lr_scheduler.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace xfmr::train {
namespace {

std::string fmt(const char* f, double v) {
  char b[64];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

// The batches of one epoch: a permutation from (seed, epoch); with group_by_length, chunks of 50
// batches are sorted by length before cutting (little padding) and the batches are shuffled again.
std::vector<std::vector<size_t>> epoch_batches(const EncodedSet& s, int64_t batch_size, uint64_t seed, int64_t epoch,
                                               bool group) {
  std::mt19937_64 g(seed * 1000003ULL + static_cast<uint64_t>(epoch) + 1);
  std::vector<size_t> idx(s.ids.size());
  std::iota(idx.begin(), idx.end(), size_t{0});
  std::shuffle(idx.begin(), idx.end(), g);
  const size_t bs = static_cast<size_t>(batch_size);
  if (group) {
    const size_t chunk = bs * 50;
    for (size_t c = 0; c < idx.size(); c += chunk) {
      auto b = idx.begin() + std::ptrdiff_t(c), e = idx.begin() + std::ptrdiff_t(std::min(idx.size(), c + chunk));
      std::stable_sort(b, e, [&](size_t x, size_t y) { return s.ids[x].size() > s.ids[y].size(); });
    }
  }
  std::vector<std::vector<size_t>> out;
  for (size_t c = 0; c < idx.size(); c += bs)
    out.emplace_back(idx.begin() + std::ptrdiff_t(c), idx.begin() + std::ptrdiff_t(std::min(idx.size(), c + bs)));
  if (group) std::shuffle(out.begin(), out.end(), g);
  return out;
}

json metrics_json(const EvalMetrics& m) {
  return {{"n", m.n}, {"loss", m.loss}, {"accuracy", m.accuracy}, {"macro_f1", m.macro_f1}};
}
EvalMetrics metrics_from(const json& j) {
  EvalMetrics m;
  m.n = j.at("n").get<int64_t>();
  m.loss = j.at("loss").get<double>();
  m.accuracy = j.at("accuracy").get<double>();
  m.macro_f1 = j.at("macro_f1").get<double>();
  return m;
}

// AdamW groups as HF's Trainer builds them: no weight decay on biases and LayerNorm weights.
std::vector<optim::ParamGroup> param_groups(const models::PreTrainedModel& m, double weight_decay) {
  std::vector<Tensor> decay, no_decay;
  for (auto& [name, t] : m.named_parameters()) {
    bool nd = name.size() >= 5 && name.compare(name.size() - 5, 5, ".bias") == 0;
    nd = nd || name.find("LayerNorm") != std::string::npos || name.find("layer_norm") != std::string::npos ||
         name.find("layernorm") != std::string::npos || name.find("ln_") != std::string::npos;
    (nd ? no_decay : decay).push_back(t);
  }
  return {optim::make_group(decay, {{"weight_decay", weight_decay}}), optim::make_group(no_decay, {{"weight_decay", 0.0}})};
}

}  // namespace

TrainReport train_classifier(const ClassifierTrainOptions& o) {
  detail::Logger log = o.log ? o.log : detail::Logger([](const std::string& s) { std::cout << s << std::endl; });
  XFMR_CHECK(!o.train_file.empty(), "train-classifier: --train FILE is required");
  XFMR_CHECK(!o.dev_file.empty(), "train-classifier: --dev FILE is required");
  XFMR_CHECK(!o.output_dir.empty(), "train-classifier: --output DIR is required");
  XFMR_CHECK(o.resume || (o.model.empty() != !o.scratch.has_value()),
             "train-classifier: give exactly one of --model ID_OR_DIR (fine-tune) and --from-scratch");
  XFMR_CHECK(o.epochs > 0, "train-classifier: --epochs must be positive");
  XFMR_CHECK(o.batch_size > 0 && o.eval_batch_size > 0, "train-classifier: batch sizes must be positive");
  XFMR_CHECK(o.lr > 0, "train-classifier: --lr must be positive");
  XFMR_CHECK(o.max_length >= 2, "train-classifier: --max-length must be at least 2");
  const fs::path ckpt = o.output_dir / "checkpoint";

  // ---- data and labels ----
  data::ReadOptions ro = o.read;
  ro.max_examples = o.max_train_examples;
  data::ClassificationData train = data::read_classification_file(o.train_file, ro);
  ro.max_examples = o.max_dev_examples;
  data::ClassificationData dev = data::read_classification_file(o.dev_file, ro);
  XFMR_CHECK(train.has_pairs == dev.has_pairs, "train-classifier: ", train.has_pairs ? "the training" : "the dev",
             " file has text pairs and the other does not");

  // ---- model, tokenizer ----
  detail::Start st;
  data::LabelMap labels;
  if (o.resume) {
    st = detail::start_resume(ckpt);
    labels = data::LabelMap::from_id2label(st.model->config().id2label());
    log("resuming from " + ckpt.string());
  } else {
    labels = data::LabelMap::from_examples(train.examples, o.label_names);
    st = o.scratch ? detail::start_scratch(o, labels.names(), train.examples, log)
                   : detail::start_pretrained(o, labels.names(), log);
  }
  std::vector<int64_t> train_y = labels.encode(train.examples, train.path);
  std::vector<int64_t> dev_y = labels.encode(dev.examples, dev.path);  // unknown dev labels: error + line
  models::PreTrainedModel& model = *st.model;
  const int64_t max_len = detail::usable_length(model.config(), o.max_length);
  const int32_t pad = detail::pad_id_of(*st.tokenizer, model.config());
  EncodedSet tr = encode_examples(*st.tokenizer, train.examples, max_len);
  tr.labels = train_y;
  EncodedSet dv = encode_examples(*st.tokenizer, dev.examples, max_len);
  dv.labels = dev_y;
  {
    std::string names;
    for (const auto& n : labels.names()) names += (names.empty() ? "" : ", ") + n;
    log(model.architecture() + ": " + std::to_string(model.num_parameters()) + " parameters; labels [" + names +
        "]; " + std::to_string(tr.ids.size()) + " training / " + std::to_string(dv.ids.size()) +
        " dev examples; max length " + std::to_string(max_len));
  }

  // ---- optimizer and schedule ----
  const int64_t per_epoch = (static_cast<int64_t>(tr.ids.size()) + o.batch_size - 1) / o.batch_size;
  const int64_t total = per_epoch * o.epochs;
  const int64_t warmup = o.warmup_steps >= 0 ? o.warmup_steps : static_cast<int64_t>(std::ceil(o.warmup_ratio * double(total)));
  optim::AdamOptions ao = optim::AdamW::default_options();
  ao.lr = o.lr;
  ao.weight_decay = o.weight_decay;
  optim::AdamW opt(param_groups(model, o.weight_decay), ao);
  auto sched = optim::get_linear_schedule_with_warmup(opt, warmup, total);
  std::vector<Tensor> params;
  for (auto& [n, t] : model.named_parameters()) params.push_back(t);

  TrainReport report;
  report.output_dir = o.output_dir;
  int64_t epoch0 = 0, batch0 = 0, step = 0;
  manual_seed(o.seed);  // dropout
  if (o.resume) {
    auto meta = optim::load_training_state(ckpt / "training_state.safetensors", opt, sched.get());
    epoch0 = std::stoll(meta.at("xfmr.epoch"));
    batch0 = std::stoll(meta.at("xfmr.batch"));
    step = std::stoll(meta.at("xfmr.step"));
    default_generator().set_state(meta.at("xfmr.rng"));
    json prev = json::parse(meta.at("xfmr.report"));
    report.best_epoch = prev.at("best_epoch").get<int64_t>();
    if (report.best_epoch > 0) report.best = metrics_from(prev.at("best"));
    for (const auto& h : prev.at("history")) {
      EpochRecord r;
      r.epoch = h.at("epoch");
      r.steps = h.at("steps");
      r.train_loss = h.at("train_loss");
      r.seconds = h.at("seconds");
      r.dev = metrics_from(h.at("dev"));
      report.history.push_back(r);
    }
    XFMR_CHECK(std::stoll(meta.at("xfmr.total_steps")) == total, "train-classifier: --resume: the checkpoint's run has ",
               meta.at("xfmr.total_steps"), " steps in total, this one ", total,
               " (use the same data, --epochs and --batch-size)");
    log("at epoch " + std::to_string(epoch0 + 1) + ", batch " + std::to_string(batch0) + ", step " + std::to_string(step));
  }
  log("training: " + std::to_string(o.epochs) + " epoch(s) x " + std::to_string(per_epoch) + " batches of " +
      std::to_string(o.batch_size) + ", lr " + fmt("%g", o.lr) + ", warmup " + std::to_string(warmup) +
      " steps, weight decay " + fmt("%g", o.weight_decay));

  auto history_json = [&] {
    json h = json::array();
    for (const auto& r : report.history)
      h.push_back({{"epoch", r.epoch}, {"steps", r.steps}, {"train_loss", r.train_loss}, {"seconds", r.seconds},
                   {"dev", metrics_json(r.dev)}});
    return json{{"best_epoch", report.best_epoch}, {"best", metrics_json(report.best)}, {"history", h}};
  };
  auto save_checkpoint = [&](int64_t epoch, int64_t batch) {
    detail::save_model_folder(st, ckpt, DType::F32);
    optim::save_training_state(ckpt / "training_state.safetensors", opt, sched.get(),
                               {{"xfmr.epoch", std::to_string(epoch)},
                                {"xfmr.batch", std::to_string(batch)},
                                {"xfmr.step", std::to_string(step)},
                                {"xfmr.total_steps", std::to_string(total)},
                                {"xfmr.rng", default_generator().state()},
                                {"xfmr.report", history_json().dump()}});
  };

  model.train();
  for (int64_t epoch = epoch0; epoch < o.epochs; ++epoch) {
    auto batches = epoch_batches(tr, o.batch_size, o.seed, epoch, o.group_by_length);
    const auto t0 = std::chrono::steady_clock::now();
    ProgressBar bar("epoch " + std::to_string(epoch + 1) + "/" + std::to_string(o.epochs),
                    static_cast<int64_t>(batches.size()), "batch");
    if (!o.show_progress) bar.finish();
    double loss_sum = 0;
    int64_t loss_n = 0, examples = 0;
    const int64_t first = epoch == epoch0 ? batch0 : 0;
    for (int64_t b = first; b < static_cast<int64_t>(batches.size()); ++b) {
      if (o.stop_after_steps > 0 && step >= o.stop_after_steps) {
        bar.finish();
        save_checkpoint(epoch, b);
        log("stopped after " + std::to_string(step) + " steps (checkpoint in " + ckpt.string() + "; --resume continues)");
        report.steps = step;
        return report;
      }
      detail::Batch batch = detail::collate(tr, batches[size_t(b)], pad, model.accepts_token_type_ids());
      Tensor logits = model.forward(batch.inputs).logits;
      Tensor loss = cross_entropy(logits, batch.labels, Tensor(), -100, Reduction::Mean,
                                            static_cast<float>(o.label_smoothing));
      backward(loss);
      if (o.max_grad_norm > 0) optim::clip_grad_norm_(params, o.max_grad_norm);
      opt.step();
      sched->step();
      opt.zero_grad();
      ++step;
      const double l = loss.item();
      XFMR_CHECK(std::isfinite(l), "train-classifier: the loss is ", l, " at step ", step, " (lower --lr?)");
      loss_sum += l;
      ++loss_n;
      examples += static_cast<int64_t>(batches[size_t(b)].size());
      if (o.show_progress && bar.drawing()) {
        double secs = bar.elapsed_seconds();
        bar.update(b + 1, "loss " + fmt("%.4f", loss_sum / double(loss_n)) + " lr " +
                              fmt("%.2e", sched->get_last_lr()[0]) + " " +
                              fmt("%.0f", secs > 0 ? double(examples) / secs : 0.0) + " ex/s");
      } else if (o.show_progress && (b + 1) % std::max<int64_t>(1, int64_t(batches.size()) / 10) == 0 &&
                 b + 1 < int64_t(batches.size())) {
        // No terminal (a log file): a line every tenth of the epoch instead of the bar.
        double secs = bar.elapsed_seconds(), rate = secs > 0 ? double(b + 1 - first) / secs : 0.0;
        log("  epoch " + std::to_string(epoch + 1) + " " + std::to_string(b + 1) + "/" +
            std::to_string(batches.size()) + " batches: loss " + fmt("%.4f", loss_sum / double(loss_n)) +
            ", " + fmt("%.0f", secs > 0 ? double(examples) / secs : 0.0) + " examples/s, epoch ETA " +
            ProgressBar::format_duration(rate > 0 ? double(int64_t(batches.size()) - b - 1) / rate : 0.0));
      }
      if (o.checkpoint_every > 0 && step % o.checkpoint_every == 0) save_checkpoint(epoch, b + 1);
    }
    bar.finish();
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    model.eval();
    EpochRecord rec;
    rec.epoch = epoch + 1;
    rec.steps = step;
    rec.train_loss = loss_n ? loss_sum / double(loss_n) : 0.0;
    rec.seconds = secs;
    rec.dev = evaluate_classifier(model, dv, pad, o.eval_batch_size);
    model.train();
    const bool best = report.best_epoch == 0 || rec.dev.accuracy > report.best.accuracy;
    report.history.push_back(rec);
    if (best) {
      report.best_epoch = rec.epoch;
      report.best = rec.dev;
      detail::save_model_folder(st, o.output_dir, o.save_dtype);
    }
    log("epoch " + std::to_string(rec.epoch) + "/" + std::to_string(o.epochs) + ": train loss " +
        fmt("%.4f", rec.train_loss) + " | dev loss " + fmt("%.4f", rec.dev.loss) + " accuracy " +
        fmt("%.4f", rec.dev.accuracy) + " macro-F1 " + fmt("%.4f", rec.dev.macro_f1) + " | " + fmt("%.1f", secs) +
        " s, " + fmt("%.0f", secs > 0 ? double(examples) / secs : 0.0) + " examples/s" +
        (best ? "  [best, saved to " + o.output_dir.string() + "]" : ""));
    save_checkpoint(epoch + 1, 0);
    std::ofstream lj(o.output_dir / "training_log.jsonl", std::ios::app);
    lj << json{{"epoch", rec.epoch},       {"steps", rec.steps},    {"train_loss", rec.train_loss},
               {"dev", metrics_json(rec.dev)}, {"seconds", rec.seconds}, {"best", best}}
              .dump()
       << "\n";
  }
  report.steps = step;
  log("best epoch " + std::to_string(report.best_epoch) + ": dev accuracy " + fmt("%.4f", report.best.accuracy) +
      ", macro-F1 " + fmt("%.4f", report.best.macro_f1) + " -> " + o.output_dir.string());
  return report;
}

}  // namespace xfmr::train
