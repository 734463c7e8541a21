#include "state/lock.hpp"

#include "state/files.hpp"
#include "io_error.hpp"

#include <dvm/error.hpp>

#include <cerrno>
#include <cstring>
#include <string>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

namespace dvm::inline v0::detail {

vm_lock::vm_lock(const std::filesystem::path& state_dir, const std::string& vm,
                 const std::string& purpose) {
  // Never through a link: locks/ and the lock file are opened with O_NOFOLLOW (state/files.hpp).
  unique_fd dir = open_state_subdir(state_dir, "locks");
  const std::filesystem::path file = state_dir / "locks" / (vm + ".lock");
  fd_ = open_state_file(dir.get(), state_dir / "locks", vm + ".lock", O_RDWR | O_CREAT).release();
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    char buffer[128] = {};
    ssize_t n = ::pread(fd_, buffer, sizeof buffer - 1, 0);
    std::string holder = n > 0 ? std::string(buffer, static_cast<std::size_t>(n)) : "";
    while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) holder.pop_back();
    ::close(fd_);
    fd_ = -1;
    if (err == EWOULDBLOCK) {
      throw error(errc::busy, "VM " + vm + " is busy: another dvm process" +
                                  (holder.empty() ? "" : " (" + holder + ")") +
                                  " is working on it; wait for it to finish");
    }
    throw detail::io_error("cannot lock " + file.string(), err);
  }
  std::string me = "pid " + std::to_string(::getpid()) + ", " + purpose + "\n";
  if (::ftruncate(fd_, 0) == 0) {
    ssize_t ignored = ::pwrite(fd_, me.data(), me.size(), 0);
    (void)ignored;
  }
}

vm_lock::~vm_lock() {
  if (fd_ >= 0) ::close(fd_);  // closing releases the flock
}

}  // namespace dvm::v0::detail
