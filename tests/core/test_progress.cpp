#include <gtest/gtest.h>

#include "xfmr/core/progress.h"

namespace {

using xfmr::ProgressBar;

TEST(ProgressBar, FormatsDurations) {
  EXPECT_EQ(ProgressBar::format_duration(0), "00:00");
  EXPECT_EQ(ProgressBar::format_duration(83.4), "01:23");
  EXPECT_EQ(ProgressBar::format_duration(3723), "1:02:03");
  EXPECT_EQ(ProgressBar::format_duration(-1), "?");
}

TEST(ProgressBar, RendersCountsEtaAndRate) {
  const std::string s = ProgressBar::render("epoch 1", 50, 100, "batch", 10.0, "loss 5.43", 80);
  EXPECT_EQ(s.rfind("epoch 1  50%|", 0), 0u) << s;
  EXPECT_NE(s.find("| 50/100 [00:10<00:10, 5.0 batch/s] loss 5.43"), std::string::npos) << s;
  // A finished bar is all full blocks, an empty one all spaces.
  auto bar_of = [](const std::string& line) {
    const size_t open = line.find('|'), close = line.find('|', open + 1);
    return line.substr(open + 1, close - open - 1);
  };
  const std::string full = bar_of(ProgressBar::render("e", 7, 7, "it", 1.0, "", 60));
  const std::string empty = bar_of(ProgressBar::render("e", 0, 7, "it", 1.0, "", 60));
  EXPECT_EQ(full.find(' '), std::string::npos) << full;
  EXPECT_EQ(empty.find_first_not_of(' '), std::string::npos) << empty;
}

TEST(ProgressBar, UnknownTotalShowsCountAndSlowRates) {
  EXPECT_EQ(ProgressBar::render("", 3, 0, "file", 6.0, ""), "3 file [00:06, 2.00 s/file]");
}

TEST(ProgressBar, DoesNotDrawWhenStderrIsNotATerminal) {
  // ctest captures stderr, so the bar is off and log() still prints the line.
  ProgressBar bar("x", 10, "it");
  EXPECT_FALSE(bar.drawing());
  bar.update(5);
  bar.finish();
  bar.finish();
}

}  // namespace
