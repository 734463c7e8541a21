// Name rules for VMs and Linux users.
#include <dvm/config.hpp>
#include <dvm/error.hpp>

namespace dvm::inline v0 {

namespace {
bool lower_or_digit(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
}  // namespace

bool is_valid_vm_name(std::string_view name) noexcept {
  // 30 characters keeps $LIMA_HOME/dvm-<name>/ssh.sock.<16> under the UNIX socket path limit
  // for ordinary home directories, so a long name fails here instead of late in `limactl start`.
  if (name.empty() || name.size() > 30) return false;
  if (name.front() < 'a' || name.front() > 'z') return false;
  if (name.back() == '-') return false;
  for (char c : name) {
    if (!lower_or_digit(c) && c != '-') return false;
  }
  return true;
}

bool is_valid_secret_name(std::string_view name) noexcept {
  if (name.empty() || (name.front() >= '0' && name.front() <= '9')) return false;
  for (char c : name) {
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

bool is_valid_env_key(std::string_view key) noexcept {
  return !key.empty() && key.front() >= 'A' && key.front() <= 'Z' && is_valid_secret_name(key);
}

std::string normalize_vm_name(std::string_view name_or_instance) {
  std::string_view name = name_or_instance;
  if (name.starts_with(instance_prefix)) name.remove_prefix(instance_prefix.size());
  if (!is_valid_vm_name(name)) {
    throw error(errc::usage,
                "invalid VM name \"" + std::string(name_or_instance) +
                    "\": use [a-z][a-z0-9-]*, at most 30 characters, not ending in '-' "
                    "(an optional \"dvm-\" prefix is accepted)");
  }
  return std::string(name);
}

bool is_valid_user_name(std::string_view name) noexcept {
  if (name.empty() || name.size() > 32) return false;
  char first = name.front();
  if (!((first >= 'a' && first <= 'z') || first == '_')) return false;
  for (char c : name) {
    if (!lower_or_digit(c) && c != '_' && c != '-') return false;
  }
  return true;
}

}  // namespace dvm::v0
