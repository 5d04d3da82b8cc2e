// xfmr: the command-line entry point. Subcommands live in cmd_*.cpp files.
#include <algorithm>
#include <iostream>
#include <string>

#include "cli/command.h"
#include "xfmr/core/error.h"
#include "xfmr/core/parallel.h"
#include "xfmr/version.h"

namespace xfmr::cli {

std::vector<Command>& command_registry() {
  static std::vector<Command> commands;
  return commands;
}

namespace {
CLI::Validator number_at_least(double low, bool inclusive, const char* what, const char* name) {
  return CLI::Validator(
      [=](std::string& text) -> std::string {
        size_t used = 0;
        double v = 0;
        try {
          v = std::stod(text, &used);
        } catch (const std::exception&) {
          used = 0;
        }
        if (used == 0 || used != text.size()) return "expected a number, got '" + text + "'";
        if (inclusive ? v >= low : v > low) return {};
        return std::string("must be ") + what + ", got " + text;
      },
      name);
}
}  // namespace

CLI::Validator positive_number() { return number_at_least(0, false, "greater than 0", "POSITIVE"); }
CLI::Validator non_negative_number() { return number_at_least(0, true, "0 or more", "NONNEGATIVE"); }

void add_threads_option(CLI::App& sub, int* threads) {
  sub.add_option("--threads", *threads, "Number of CPU threads (default: all cores)")->check(CLI::Range(1, 1024));
}

void apply_threads(int threads) {
  if (threads > 0) set_num_threads(threads);
}

}  // namespace xfmr::cli

int main(int argc, char** argv) {
  using namespace xfmr::cli;
  CLI::App app{"xfmr: Transformers in C++ - run and train HuggingFace-style Transformer models on CPU", "xfmr"};
  app.set_version_flag("--version", std::string("xfmr ") + XFMR_VERSION_STRING);
  app.require_subcommand(1);
  auto& cmds = command_registry();
  std::sort(cmds.begin(), cmds.end(), [](const Command& a, const Command& b) { return a.name < b.name; });
  std::function<int()> run;
  for (auto& c : cmds) {
    CLI::App* sub = app.add_subcommand(c.name, c.description);
    auto fn = c.setup(*sub);
    sub->callback([&run, fn] { run = fn; });
  }
  // CLI11 reports an unknown first word as "A subcommand is required"; name it instead.
  if (argc > 1 && argv[1][0] != '-' &&
      std::none_of(cmds.begin(), cmds.end(), [&](const Command& c) { return c.name == argv[1]; })) {
    std::cerr << "xfmr: unknown command '" << argv[1] << "' (xfmr --help lists the commands)\n";
    return 109;  // CLI11's exit code for arguments it did not expect
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    return run ? run() : 0;
  } catch (const xfmr::Error& e) {
    std::cerr << "xfmr: error: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "xfmr: internal error: " << e.what() << "\n";
    return 2;
  }
}
