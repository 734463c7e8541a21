// `dvm edit NAME` and `dvm init NAME --edit`: the VM file in the user's editor, validated when
// the editor exits.
#pragma once

#include "cli.hpp"

#include <filesystem>
#include <string>

namespace dvm_cli {

/// Opens `file` in $VISUAL, else $EDITOR, else vi, and loads VM `name` when the editor exits.
/// On a config error: on a terminal asks "edit again? [Y/n]" and re-opens on yes; otherwise the
/// error is printed (thrown with --json) and the file stays as the editor left it. Returns 0
/// when the file is valid, 2 when it is not. An editor that cannot start is
/// dvm::error(usage); one that fails is dvm::error(io), and the file is not checked.
int edit_until_valid(const cli_state& state, dvm::client& client, const std::string& name,
                     const std::filesystem::path& file);

}  // namespace dvm_cli
