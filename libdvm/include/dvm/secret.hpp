// dvm::secret: a value that must reach the guest only through limactl's stdin.
#pragma once

#include <dvm/export.hpp>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace dvm::inline v0 {

class stdin_payload;
namespace detail {
struct secret_access;
}

/// A secret value (an API token, an auth key). Move-only; it has no accessor, no stream
/// operator and no conversion, so it cannot be printed, logged or put into argv or an
/// environment by accident. Its buffer is wiped when it is destroyed. The only thing libdvm can
/// do with it is append it to a stdin_payload, which only a process_runner can write to a
/// child's stdin.
///
/// Core dumps: while any secret holds a value (and while a stdin_payload holds secret bytes),
/// libdvm turns core dumps off for the whole process: prctl(PR_SET_DUMPABLE, 0) on Linux and a
/// soft RLIMIT_CORE of 0 (the hard limit is left alone). When the last one is released it
/// restores the dumpable flag and the soft limit it found. Meanwhile the process cannot be
/// attached to by a debugger of the same user, its /proc/<pid> files belong to root, and the
/// children it starts (limactl) inherit the core limit of 0. The process environment is not
/// covered: a program that keeps secrets there (as `VAR=... dvm sync`) should turn core dumps
/// off itself; the dvm CLI does so at start-up.
class DVM_EXPORT secret {
 public:
  secret() noexcept = default;
  /// Copies the bytes of `value`.
  explicit secret(std::string_view value);
  /// Takes the bytes of `value` and wipes the string it came from.
  explicit secret(std::string&& value);
  secret(const secret&) = delete;
  secret& operator=(const secret&) = delete;
  secret(secret&& other) noexcept;
  secret& operator=(secret&& other) noexcept;
  ~secret();

  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }

 private:
  friend class stdin_payload;
  friend struct detail::secret_access;  // format checks of known tokens, inside libdvm only
  void wipe() noexcept;

  std::unique_ptr<char[]> data_;
  std::size_t size_ = 0;
};

/// Overwrites `size` bytes at `data` with zeros in a way the compiler may not optimise away.
DVM_EXPORT void secure_wipe(void* data, std::size_t size) noexcept;

}  // namespace dvm::v0
