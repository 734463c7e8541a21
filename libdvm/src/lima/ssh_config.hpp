// The ssh config Lima's host agent writes for a running instance, rewritten under dvm's host
// name for `dvm ssh-config`.
#pragma once

#include "lima/instance.hpp"

#include <string>

namespace dvm::inline v0::detail {

/// Reads `info.dir`/ssh.config and returns its one Host block as `Host dvm-<name>`, every
/// setting kept as Lima wrote it, under dvm's own comment lines. Throws dvm::error(errc::io)
/// when the file cannot be read or has no Host block.
std::string dvm_ssh_config(const std::string& name, const instance_info& info);

}  // namespace dvm::v0::detail
