// Download progress on stderr (a redrawn bar on a TTY, plain lines otherwise) or through the
// user's callback; and warnings that respect the quiet setting. Private to src/io.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "xfmr/io/hub.h"

namespace xfmr::io::hub_detail {

enum class ProgressStyle { None, Bar, Lines, Callback };

// The effective style for `opts` (Auto -> Bar on a TTY stderr, Lines otherwise, None when
// $HF_HUB_DISABLE_PROGRESS_BARS is true).
ProgressStyle progress_style(const HubOptions& opts);

// A warning / note on stderr unless the options are quiet.
void hub_note(const HubOptions& opts, const std::string& message);

// "4.0 MB", "812 kB", "17 B".
std::string human_bytes(double bytes);

class ProgressReporter {
 public:
  ProgressReporter(const HubOptions& opts, const std::string& repo_id, const std::string& filename, uint64_t total,
                   uint64_t resumed_from);
  void update(uint64_t downloaded);  // throttled
  void finish(bool ok);              // final bar/line/callback (done = true when ok)

 private:
  void emit(bool final_call, bool ok);
  const HubOptions& opts_;
  ProgressStyle style_;
  DownloadProgress state_;
  std::chrono::steady_clock::time_point start_, last_emit_;
  bool finished_ = false;
};

}  // namespace xfmr::io::hub_detail
