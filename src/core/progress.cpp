#include "xfmr/core/progress.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

namespace xfmr {

namespace {

int terminal_width() {
  winsize w{};
  if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &w) == 0 && w.ws_col > 20) return w.ws_col;
  return 100;
}

std::string format_rate(double rate, const std::string& unit) {
  char buf[64];
  if (rate >= 1 || rate == 0) std::snprintf(buf, sizeof buf, "%.1f %s/s", rate, unit.c_str());
  else std::snprintf(buf, sizeof buf, "%.2f s/%s", 1.0 / rate, unit.c_str());
  return buf;
}

}  // namespace

bool ProgressBar::enabled_by_default() {
  const char* off = std::getenv("XFMR_NO_PROGRESS");
  if (off && *off && std::strcmp(off, "0") != 0) return false;
  return ::isatty(STDERR_FILENO) != 0;
}

std::string ProgressBar::format_duration(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  auto t = static_cast<int64_t>(s + 0.5);
  char buf[32];
  if (t >= 3600) std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", (long long)(t / 3600), (long long)(t / 60 % 60), (long long)(t % 60));
  else std::snprintf(buf, sizeof buf, "%02lld:%02lld", (long long)(t / 60), (long long)(t % 60));
  return buf;
}

std::string ProgressBar::render(const std::string& label, int64_t done, int64_t total, const std::string& unit,
                                double elapsed_s, const std::string& postfix, int width) {
  const double rate = elapsed_s > 0 ? static_cast<double>(done) / elapsed_s : 0.0;
  std::string head = label.empty() ? "" : label + " ";
  std::string tail;
  if (total > 0) {
    const double frac = std::clamp(static_cast<double>(done) / static_cast<double>(total), 0.0, 1.0);
    char pct[8];
    std::snprintf(pct, sizeof pct, "%3d%%", static_cast<int>(frac * 100));
    head += pct;
    const double eta = rate > 0 ? static_cast<double>(total - done) / rate : NAN;
    tail = " " + std::to_string(done) + "/" + std::to_string(total) + " [" + format_duration(elapsed_s) + "<" +
           format_duration(eta) + ", " + format_rate(rate, unit) + "]";
    if (!postfix.empty()) tail += " " + postfix;
    // The bar takes what is left of the line, at least 10 cells. Eighth blocks give sub-cell resolution.
    const int cells = std::max(10, width - 1 - static_cast<int>(head.size() + tail.size()) - 2);
    static const char* eighths[] = {"", "▏", "▎", "▍", "▌", "▋", "▊", "▉"};
    const int total_eighths = static_cast<int>(frac * cells * 8);
    std::string bar;
    int used = total_eighths / 8;
    for (int i = 0; i < used; ++i) bar += "█";
    if (used < cells && total_eighths % 8) {
      bar += eighths[total_eighths % 8];
      ++used;
    }
    bar.append(static_cast<size_t>(cells - used), ' ');
    return head + "|" + bar + "|" + tail;
  }
  tail = std::to_string(done) + " " + unit + " [" + format_duration(elapsed_s) + ", " + format_rate(rate, unit) + "]";
  if (!postfix.empty()) tail += " " + postfix;
  return head + tail;
}

ProgressBar::ProgressBar(std::string label, int64_t total, std::string unit)
    : label_(std::move(label)), unit_(std::move(unit)), total_(total), draw_(enabled_by_default()) {
  start_ = last_draw_ = std::chrono::steady_clock::now();
}

ProgressBar::~ProgressBar() { finish(); }

double ProgressBar::elapsed_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void ProgressBar::update(int64_t done, const std::string& postfix) {
  done_ = done;
  if (!postfix.empty()) postfix_ = postfix;
  draw(false);
}

void ProgressBar::clear_line() {
  if (drawn_) std::fputs("\r\033[K", stderr);
}

void ProgressBar::log(const std::string& line) {
  if (draw_) clear_line();
  std::fputs(line.c_str(), log_stream_);
  std::fputc('\n', log_stream_);
  std::fflush(log_stream_);
  if (draw_ && !finished_) draw(true);
}

void ProgressBar::draw(bool force) {
  if (!draw_ || finished_) return;
  const auto now = std::chrono::steady_clock::now();
  if (!force && drawn_ && now - last_draw_ < std::chrono::milliseconds(100) && !(total_ > 0 && done_ >= total_)) return;
  last_draw_ = now;
  const std::string s = render(label_, done_, total_, unit_, elapsed_seconds(), postfix_, terminal_width());
  std::fputs("\r", stderr);
  std::fputs(s.c_str(), stderr);
  std::fputs("\033[K", stderr);
  std::fflush(stderr);
  drawn_ = true;
}

void ProgressBar::finish() {
  if (finished_) return;
  if (draw_) {
    draw(true);
    if (drawn_) std::fputc('\n', stderr);
    std::fflush(stderr);
  }
  finished_ = true;
}

}  // namespace xfmr
