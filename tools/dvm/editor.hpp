// `dvm edit NAME` and `dvm init NAME --edit`: the VM file in the user's editor, validated when
// the editor exits.
#pragma once

#include "cli.hpp"

#include <filesystem>
#include <string>

namespace dvm_cli {

/// Opens `file` in $VISUAL, else $EDITOR, else vi, and checks VM `name` when the editor exits.
/// On config errors: prints every one of them (dvm::validate), then on a terminal asks "edit
/// again? [Y/n]" and re-opens on yes; otherwise (or with --json, where the first error is thrown
/// for the error document) the file stays as the editor left it. Warnings are printed. Returns 0
/// when the file is valid, 2 when it is not. An editor that cannot start is
/// dvm::error(usage); one that fails is dvm::error(io), and the file is not checked.
int edit_until_valid(const cli_state& state, dvm::client& client, const std::string& name,
                     const std::filesystem::path& file);

}  // namespace dvm_cli
