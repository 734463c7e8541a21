// What an instance runs against what its dvm config says: the one desired-vs-actual comparison.
// `dvm sync` repairs it (`limactl edit --set`), `dvm status` reports its create-only part and
// `dvm doctor` judges all of it.
#pragma once

#include "lima/effective.hpp"
#include "lima/instance.hpp"

#include <dvm/config.hpp>
#include <dvm/ports.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace dvm::inline v0::detail {

struct instance_drift {
  instance_settings stored;  ///< the instance's lima.yaml as read

  /// "cpus", "memory", "disk": stored values that differ from the config's (or are missing).
  std::vector<std::string> resized;
  /// The instance's disk, when the config asks for a smaller one (Lima cannot shrink a disk).
  std::optional<std::uint64_t> disk_shrinks_from;

  /// From the effective config (`limactl list --json` `config`, Lima 2.0): mounts, port rules
  /// and agent forwarding that dvm's rules forbid, and what a base template brought.
  std::vector<instance_finding> effective;
  std::vector<std::string> template_extras;

  /// Only without an effective config: the stored lima.yaml's forwarded ports against the
  /// config's (`removed` forwards what the config does not list), and whether one of the two
  /// catch-all ignore rules is missing.
  port_forward_diff ports;
  bool catch_all_missing = false;

  /// Create-only settings whose config value differs from what the instance records, as
  /// "vm_type (qemu in the VM, vz in the config)"; settings it does not record are not compared.
  std::vector<std::string> recreate;

  /// What `limactl edit --set` repairs, by name: "cpus", "memory", "disk", then "mounts",
  /// "ports", "ssh.forwardAgent" as found.
  std::vector<std::string> editable() const;
};

/// Compares the instance (its stored lima.yaml and its effective config) with `vm`. Throws
/// dvm::error(errc::io) naming lima.yaml when it cannot be read or is not YAML.
instance_drift compare_instance(const vm_config& vm, const instance_info& info);

/// Create-only settings (vm_type, arch, user, image, code_dir) that differ; see
/// instance_drift::recreate.
std::vector<std::string> recreate_to_apply(const vm_config& vm, const instance_settings& stored);

/// The `limactl edit --set` expression that brings `drift.editable()` to the config ("" when it
/// is empty). Values are numbers, sizes from format_size and port_rules_json: no user text.
std::string edit_expression(const vm_config& vm, const instance_drift& drift);

}  // namespace dvm::v0::detail
