// Subcommand registry for the xfmr CLI. Each src/cli/cmd_<name>.cpp defines one subcommand and
// registers it with XFMR_REGISTER_COMMAND, so adding a command touches no other file.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

namespace xfmr::cli {

struct Command {
  std::string name;
  std::string description;
  // Adds options to `sub` and returns the function to run when the subcommand is chosen
  // (it returns the process exit code).
  std::function<std::function<int()>(CLI::App& sub)> setup;
};

std::vector<Command>& command_registry();

struct CommandRegistrar {
  explicit CommandRegistrar(Command c) { command_registry().push_back(std::move(c)); }
};

// Number checks with short messages ("--lr: must be greater than 0, got 0"); CLI11's PositiveNumber
// and NonNegativeNumber print the whole range, up to a 309-digit double maximum.
CLI::Validator positive_number();
CLI::Validator non_negative_number();

// Shared option: --threads N (applied before the command runs).
void add_threads_option(CLI::App& sub, int* threads);
void apply_threads(int threads);

}  // namespace xfmr::cli

#define XFMR_CLI_CONCAT2(a, b) a##b
#define XFMR_CLI_CONCAT(a, b) XFMR_CLI_CONCAT2(a, b)
#define XFMR_REGISTER_COMMAND(...) \
  static ::xfmr::cli::CommandRegistrar XFMR_CLI_CONCAT(xfmr_command_, __LINE__)(::xfmr::cli::Command{__VA_ARGS__})
