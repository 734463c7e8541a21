// Checking what Lima really runs against what dvm's config allows: the effective instance
// config (`limactl list --json` `config`), Lima's own config files in $LIMA_HOME/_config, and the
// settings that only a new instance can change.
#pragma once

#include "lima/instance.hpp"

#include <dvm/config.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dvm::inline v0::detail {

/// Something in an instance's effective configuration that dvm's config does not allow.
struct instance_finding {
  std::string key;      ///< the Lima key: "portForwards", "mounts", "ssh.forwardAgent"
  std::string problem;  ///< what is wrong
  /// The Lima config file it comes from ($LIMA_HOME/_config/override.yaml, default.yaml or
  /// base.yaml), which dvm must not edit; empty when it is in the instance's own lima.yaml, which
  /// `limactl edit` repairs.
  std::filesystem::path source;
  /// The instance forwards or mounts more than the config allows (rather than less).
  bool widens = true;
};

/// $LIMA_HOME/_config files that would put mounts, port rules or agent forwarding into any
/// instance (upstream/pkg/limayaml/load.go:40-75, defaults.go:603 and 700-730; base.yaml is
/// embedded at create, upstream/pkg/limatmpl/embed.go:49-66).
std::vector<instance_finding> lima_config_file_findings(const std::filesystem::path& lima_home);

/// The effective config against dvm's: no mounts, exactly dvm's port rules in dvm's order, no
/// ssh agent forwarding. Each finding names its source. Nothing when `info.config` is absent.
std::vector<instance_finding> check_effective(const vm_config& vm, const instance_info& info);

/// What a base template brought besides the OS image: networks other than user-v2, socket
/// forwards, copyToHost, provisioning other than dvm's own. One line each.
std::vector<std::string> template_extras(const effective_config& config);

/// For `dvm plan`: what an `image` that is a full Lima template (not one of the image-only
/// `template:_images/...`) brings besides the OS: networks, socket forwards, port rules,
/// copyToHost, provisioning. Reads the template when it is a local file or a `template:NAME`
/// found in `template_dirs`; otherwise says that it could not look. Empty for image-only
/// templates.
std::optional<std::string> base_template_note(const std::string& image,
                                              const std::vector<std::filesystem::path>& template_dirs);

}  // namespace dvm::v0::detail
