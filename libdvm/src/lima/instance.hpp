// What libdvm reads back from Lima: `limactl list --json` records and an instance's stored
// lima.yaml. What they mean against the config is lima/drift.hpp's business.
#pragma once

#include <dvm/client.hpp>
#include <dvm/ports.hpp>

#include "lima/port_rules.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dvm::inline v0::detail {

/// The instance's effective configuration as Lima runs it: `limactl list --json` `config`, which
/// includes $LIMA_HOME/_config/default.yaml and override.yaml (upstream/pkg/limayaml/load.go:40-75).
struct effective_config {
  bool present = false;  ///< false when the record has no `config` object
  std::vector<lima_port_rule> port_forwards;
  std::vector<std::string> mounts;        ///< locations
  bool forward_agent = false;             ///< ssh.forwardAgent
  std::vector<std::string> networks;      ///< "lima: user-v2", "socket: /path", "vzNAT"
  std::vector<std::string> copy_to_host;  ///< guest files
  std::vector<std::string> provision;     ///< the scripts, as text
};

/// One record of `limactl list --json` (NDJSON). Unknown keys are ignored; missing optional
/// keys keep their defaults.
struct instance_info {
  std::string name;
  std::string status;  ///< "Running", "Stopped", "Broken", "" ...
  std::string dir;
  std::string vm_type;
  std::string arch;
  int cpus = 0;
  std::uint64_t memory_bytes = 0;
  std::uint64_t disk_bytes = 0;
  int ssh_local_port = 0;
  std::string ssh_address;
  bool is_protected = false;
  std::string lima_version;
  std::vector<std::string> errors;
  effective_config config;
};

/// Parses NDJSON. Empty input is an empty list. Throws dvm::lima_error (lima_failed) naming the
/// line for anything that is not a JSON object with a string "name".
std::vector<instance_info> parse_list_json(std::string_view text);

/// The vm_state of a `limactl list --json` status (upstream/pkg/limatype/lima_instance.go:17-24);
/// "" and statuses this dvm does not know are vm_state::unknown.
vm_state state_of(std::string_view lima_status) noexcept;

/// The settings of an instance's stored lima.yaml that dvm reconciles and checks.
struct instance_settings {
  std::optional<int> cpus;
  std::optional<std::uint64_t> memory_bytes;
  std::optional<std::uint64_t> disk_bytes;
  std::vector<port_forward> ports;  ///< rules with a hostPort that are not `ignore`
  bool ignores_guest_any = false;       ///< the guest 0.0.0.0 catch-all ignore rule is present
  bool ignores_guest_loopback = false;  ///< the guest 127.0.0.1 catch-all ignore rule is present
  std::vector<std::string> mounts;      ///< mount locations (should be empty)
  std::optional<bool> containerd_system;
  std::optional<bool> containerd_user;
  std::optional<bool> ssh_forward_agent;
  std::optional<bool> ssh_load_dot_ssh_pub_keys;
  // Create-only settings: vmType, arch, user.name and, from dvm's user provision script
  // (render.cpp), the image and the code dir. nullopt: not recorded.
  std::optional<std::string> vm_type;
  std::optional<std::string> arch;
  std::optional<std::string> user;
  std::optional<std::string> image;
  std::optional<std::string> code_dir;
};

/// Parses lima.yaml text. Throws dvm::error(errc::io) when it is not YAML.
instance_settings parse_instance_yaml(std::string_view text);

/// Reads and parses the instance's stored lima.yaml (in `info.dir`). Throws dvm::error(errc::io)
/// naming the file when it cannot be read or is not YAML.
instance_settings read_instance_yaml(const instance_info& info);

/// The image line dvm writes into its user provision script (render.cpp), read back above.
inline constexpr std::string_view created_from_prefix = "# dvm: created from image ";

}  // namespace dvm::v0::detail
