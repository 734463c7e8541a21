// The state dir ($DVM_STATE, default $XDG_STATE_HOME/dvm or ~/.local/state/dvm) and what dvm
// writes there: locks/<vm>.lock, cache/limactl-version.json and scratch/ (limactl's working
// directory). Rules, each refused with errc::io naming the path and the rule:
//   * the state dir is created with mode 0700 (missing parents too, as the XDG spec asks); an
//     existing one must be a directory owned by the effective user and not writable by its
//     group or others (the path itself may be a symbolic link the user chose);
//   * nothing inside it is ever reached through a symbolic link: subdirectories are opened with
//     O_DIRECTORY|O_NOFOLLOW relative to the state dir's descriptor, files with O_NOFOLLOW
//     relative to their directory's descriptor (O_CLOEXEC always);
//   * a file must be a regular file owned by the user with no other hard link (a hard link to
//     ~/.bashrc planted as a lock file would otherwise be truncated).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace dvm::inline v0::detail {

/// An owned file descriptor.
class unique_fd {
 public:
  unique_fd() noexcept = default;
  explicit unique_fd(int fd) noexcept : fd_(fd) {}
  unique_fd(unique_fd&& other) noexcept : fd_(other.release()) {}
  unique_fd& operator=(unique_fd&& other) noexcept;
  unique_fd(const unique_fd&) = delete;
  unique_fd& operator=(const unique_fd&) = delete;
  ~unique_fd();

  int get() const noexcept { return fd_; }
  explicit operator bool() const noexcept { return fd_ >= 0; }
  int release() noexcept {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_ = -1;
};

/// Opens the state dir `root`, creating it with mode 0700 when it is missing.
unique_fd open_state_dir(const std::filesystem::path& root);

/// Opens root/<name> (one path component), creating it with mode 0700 when it is missing.
unique_fd open_state_subdir(const std::filesystem::path& root, std::string_view name);

/// Opens the file <name> in the directory `dir` (whose path is `dir_path`, for messages) with
/// O_NOFOLLOW|O_CLOEXEC|O_NONBLOCK added to `flags`; with O_CREAT a new file gets mode 0600.
/// Returns an empty descriptor when the file does not exist and `flags` has no O_CREAT.
unique_fd open_state_file(int dir, const std::filesystem::path& dir_path, std::string_view name,
                          int flags);

/// The content of root/<sub>/<name>, or nullopt when it (or root/<sub>) does not exist.
std::optional<std::string> read_state_file(const std::filesystem::path& root, std::string_view sub,
                                           std::string_view name);

/// Replaces root/<sub>/<name> atomically: a new 0600 file, renamed over the old entry (rename
/// replaces a link planted there, never its target).
void write_state_file(const std::filesystem::path& root, std::string_view sub,
                      std::string_view name, std::string_view content);

}  // namespace dvm::v0::detail
