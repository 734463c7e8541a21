#include "lima/ssh_config.hpp"

#include <dvm/error.hpp>

#include <filesystem>
#include <fstream>
#include <string_view>

namespace dvm::inline v0::detail {

std::string dvm_ssh_config(const std::string& name, const instance_info& info) {
  std::filesystem::path file = std::filesystem::path(info.dir) / "ssh.config";
  std::ifstream in(file);
  if (!in) throw error(errc::io, "cannot read " + file.string() + " (Lima writes it when the VM starts)");
  // The host agent writes the file at each start: three comment lines, then one Host block
  // (upstream/pkg/hostagent/hostagent.go:288-318; the block is sshutil.Format's FormatConfig,
  // `Host lima-<instance>` and indented options, a package our upstream copy does not hold).
  // Ours names the VM as dvm does; Lima's comment lines are replaced by ours; every setting is
  // kept as Lima wrote it.
  std::string out = "# dvm " + name + ": `ssh dvm-" + name + "`, or this host in your editor's remote-SSH.\n"
                    "# Generated from " + file.string() + "; the port changes when the VM restarts:\n"
                    "# run `dvm ssh-config " + name + "` again after `dvm start " + name + "`.\n";
  bool host_seen = false;
  for (std::string line; std::getline(in, line);) {
    std::string_view trimmed = line;
    while (!trimmed.empty() && (trimmed.front() == ' ' || trimmed.front() == '\t')) trimmed.remove_prefix(1);
    if (trimmed.empty() || trimmed.front() == '#') continue;
    if (trimmed.starts_with("Host ") || trimmed.starts_with("Host\t")) {
      if (host_seen) break;  // one block: the instance's own
      host_seen = true;
      out += "Host dvm-" + name + "\n";
      continue;
    }
    if (host_seen) out += "  " + std::string(trimmed) + "\n";
  }
  if (!host_seen) throw error(errc::io, file.string() + " has no Host block");
  return out;
}

}  // namespace dvm::v0::detail
