// Per-VM lock: one sync (or rm) of a VM at a time across processes. flock(2) on a file in the
// state dir; the kernel releases it when the holder exits, however it exits.
#pragma once

#include <filesystem>
#include <string>

namespace dvm::inline v0::detail {

class vm_lock {
 public:
  /// Takes the lock or throws dvm::error(errc::busy) naming the holder's pid.
  vm_lock(const std::filesystem::path& state_dir, const std::string& vm, const std::string& purpose);
  ~vm_lock();
  vm_lock(const vm_lock&) = delete;
  vm_lock& operator=(const vm_lock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace dvm::v0::detail
