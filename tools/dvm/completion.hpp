// Shell completion scripts, generated from the CLI11 command definitions so that they always
// list the same commands and flags as --help. VM names and templates come from
// `dvm __complete vms|templates` at completion time (config files only, no limactl call).
#pragma once

#include <CLI/CLI.hpp>

#include <string>

namespace dvm_cli {

/// The completion script for "bash", "zsh" or "fish"; throws dvm::error(usage) for others.
std::string completion_script(const CLI::App& app, const std::string& shell);

}  // namespace dvm_cli
