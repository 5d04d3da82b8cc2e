// A training/processing progress bar on stderr, in the style users know from tqdm:
//
//   epoch 1  45%|███████▏        | 1317/2928 [00:12<00:15, 105.3 batch/s] loss 5.43
//
// On a terminal the bar is redrawn in place (throttled); when stderr is not a terminal nothing is
// drawn, so logs stay clean and the caller's own log lines are the record. Lines printed through
// log() appear above the bar without tearing it. XFMR_NO_PROGRESS=1 disables the bar everywhere.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace xfmr {

class ProgressBar {
 public:
  // total <= 0: unknown length (count and rate only). unit names one step ("batch", "it", "B").
  ProgressBar(std::string label, int64_t total, std::string unit = "it");
  ~ProgressBar();  // finish()
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  // Sets the number of completed steps (absolute) and the text shown after the bar.
  void update(int64_t done, const std::string& postfix = "");
  void advance(int64_t steps = 1, const std::string& postfix = "") { update(done_ + steps, postfix); }
  // Prints a full line (e.g. the tutorial's log line) above the bar; goes to `log_stream` (stdout by
  // default) whether or not a bar is drawn.
  void log(const std::string& line);
  // Draws the final state and ends the bar's line. Idempotent.
  void finish();

  bool drawing() const { return draw_; }
  double elapsed_seconds() const;
  void set_log_stream(std::FILE* f) { log_stream_ = f; }

  // True when stderr is a terminal and XFMR_NO_PROGRESS is not set.
  static bool enabled_by_default();
  // "01:23", "1:02:03".
  static std::string format_duration(double seconds);
  // The bar line for the given state (exposed for tests): label, percentage, bar, counts, elapsed<eta, rate.
  static std::string render(const std::string& label, int64_t done, int64_t total, const std::string& unit,
                            double elapsed_s, const std::string& postfix, int width = 100);

 private:
  void draw(bool force);
  void clear_line();

  std::string label_, unit_, postfix_;
  int64_t total_, done_ = 0;
  bool draw_, finished_ = false, drawn_ = false;
  std::FILE* log_stream_ = stdout;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace xfmr
