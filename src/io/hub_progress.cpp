#include "io/hub_progress.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <sstream>

namespace xfmr::io::hub_detail {

ProgressStyle progress_style(const HubOptions& opts) {
  if (opts.on_progress) return ProgressStyle::Callback;
  switch (opts.progress) {
    case HubProgress::Quiet: return ProgressStyle::None;
    case HubProgress::Bar: return ProgressStyle::Bar;
    case HubProgress::Lines: return ProgressStyle::Lines;
    case HubProgress::Auto: break;
  }
  if (env_flag_is_true(std::getenv("HF_HUB_DISABLE_PROGRESS_BARS"))) return ProgressStyle::None;
  return ::isatty(STDERR_FILENO) ? ProgressStyle::Bar : ProgressStyle::Lines;
}

void hub_note(const HubOptions& opts, const std::string& message) {
  if (opts.progress == HubProgress::Quiet) return;
  std::cerr << "xfmr: " << message << "\n";
}

std::string human_bytes(double b) {
  const char* units[] = {"B", "kB", "MB", "GB", "TB"};
  int u = 0;
  while (b >= 1000 && u < 4) {
    b /= 1000;
    ++u;
  }
  char buf[32];
  if (u == 0) std::snprintf(buf, sizeof buf, "%.0f %s", b, units[u]);
  else std::snprintf(buf, sizeof buf, "%.1f %s", b, units[u]);
  return buf;
}

ProgressReporter::ProgressReporter(const HubOptions& opts, const std::string& repo_id, const std::string& filename,
                                   uint64_t total, uint64_t resumed_from)
    : opts_(opts), style_(progress_style(opts)) {
  state_.repo_id = repo_id;
  state_.filename = filename;
  state_.total = total;
  state_.downloaded = resumed_from;
  state_.resumed_from = resumed_from;
  start_ = last_emit_ = std::chrono::steady_clock::now();
  if (style_ == ProgressStyle::Lines) {
    std::ostringstream os;
    os << "downloading " << repo_id << "/" << filename;
    if (total) os << " (" << human_bytes(double(total)) << ")";
    if (resumed_from) os << ", resuming at " << human_bytes(double(resumed_from));
    std::cerr << "xfmr: " << os.str() << "\n";
  }
  emit(false, true);
}

void ProgressReporter::update(uint64_t downloaded) {
  state_.downloaded = downloaded;
  auto now = std::chrono::steady_clock::now();
  auto min_gap = style_ == ProgressStyle::Lines ? std::chrono::milliseconds(5000) : std::chrono::milliseconds(100);
  if (now - last_emit_ < min_gap) return;
  last_emit_ = now;
  emit(false, true);
}

void ProgressReporter::finish(bool ok) {
  if (finished_) return;
  finished_ = true;
  state_.done = ok;
  emit(true, ok);
}

void ProgressReporter::emit(bool final_call, bool ok) {
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double rate = secs > 0 ? double(state_.downloaded - state_.resumed_from) / secs : 0;
  switch (style_) {
    case ProgressStyle::None: return;
    case ProgressStyle::Callback: opts_.on_progress(state_); return;
    case ProgressStyle::Lines: {
      if (!final_call && secs < 1) return;  // the start line was printed by the constructor
      std::ostringstream os;
      os << "xfmr: " << state_.filename << ": ";
      if (final_call && ok) os << "done, ";
      else if (final_call) os << "interrupted at ";
      os << human_bytes(double(state_.downloaded));
      if (state_.total) os << " / " << human_bytes(double(state_.total)) << " (" << (100 * state_.downloaded / state_.total) << "%)";
      if (rate > 0) os << ", " << human_bytes(rate) << "/s";
      std::cerr << os.str() << "\n";
      return;
    }
    case ProgressStyle::Bar: {
      constexpr int width = 30;
      std::ostringstream os;
      std::string name = state_.filename;
      if (name.size() > 32) name = "..." + name.substr(name.size() - 29);
      os << "\r" << name << " ";
      if (state_.total) {
        double f = std::min(1.0, double(state_.downloaded) / double(state_.total));
        int fill = static_cast<int>(f * width);
        os << "[" << std::string(fill, '#') << std::string(width - fill, '.') << "] " << static_cast<int>(f * 100) << "% "
           << human_bytes(double(state_.downloaded)) << "/" << human_bytes(double(state_.total));
      } else {
        os << human_bytes(double(state_.downloaded));
      }
      if (rate > 0) os << " " << human_bytes(rate) << "/s";
      os << "\x1b[K";  // clear the rest of the line
      if (final_call) os << (ok ? "\n" : " (interrupted)\n");
      std::cerr << os.str() << std::flush;
      return;
    }
  }
}

}  // namespace xfmr::io::hub_detail
