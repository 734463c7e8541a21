#include "state/files.hpp"
#include "io_error.hpp"

#include <dvm/error.hpp>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace dvm::inline v0::detail {

namespace fs = std::filesystem;

unique_fd& unique_fd::operator=(unique_fd&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.release();
  }
  return *this;
}

unique_fd::~unique_fd() {
  if (fd_ >= 0) ::close(fd_);
}

namespace {

std::string mode_text(mode_t mode) {
  char buffer[8];
  std::snprintf(buffer, sizeof buffer, "%04o", static_cast<unsigned>(mode & 07777));
  return buffer;
}

// A directory of the state dir (or the state dir itself): ours and writable only by us, so
// nobody else can plant links or files in it.
void check_directory(int fd, const fs::path& path) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    throw detail::io_error("cannot inspect " + path.string(), errno);
  }
  if (!S_ISDIR(st.st_mode)) throw error(errc::io, "refusing " + path.string() + ": it is not a directory");
  if (st.st_uid != ::geteuid()) {
    throw error(errc::io, "refusing the state directory " + path.string() + ": it is owned by uid " +
                              std::to_string(st.st_uid) + ", not by you (uid " + std::to_string(::geteuid()) +
                              "); dvm keeps its state only in a directory of your own (set DVM_STATE)");
  }
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    throw error(errc::io, "refusing the state directory " + path.string() + ": it is writable by " +
                              ((st.st_mode & S_IWOTH) != 0 ? "everyone" : "its group") + " (mode " +
                              mode_text(st.st_mode) +
                              "), so another user could plant links or files in it; run `chmod go-w " +
                              path.string() + "`");
  }
}

// Why `name` in `dir` could not be opened: a link (the rule), something else, or an OS error.
[[noreturn]] void refuse_entry(int dir, std::string_view name, const fs::path& path, int err,
                               std::string_view expected) {
  struct stat st {};
  if (::fstatat(dir, std::string(name).c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
    if (S_ISLNK(st.st_mode)) {
      throw error(errc::io, "refusing " + path.string() +
                                ": it is a symbolic link, and dvm never follows links inside its state "
                                "directory (remove the link)");
    }
    if ((expected == "directory" && !S_ISDIR(st.st_mode)) ||
        (expected == "file" && !S_ISREG(st.st_mode))) {
      throw error(errc::io, "refusing " + path.string() + ": it is not a " + std::string(expected) +
                                " (remove it)");
    }
  }
  throw detail::io_error("cannot open " + path.string(), err);
}

unique_fd open_subdir_at(int root, const fs::path& root_path, std::string_view name, bool create) {
  const std::string n(name);
  const fs::path path = root_path / n;
  constexpr int flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
  int fd = ::openat(root, n.c_str(), flags);
  if (fd < 0 && errno == ENOENT) {
    if (!create) return {};
    if (::mkdirat(root, n.c_str(), 0700) != 0 && errno != EEXIST) {
      throw detail::io_error("cannot create " + path.string(), errno);
    }
    fd = ::openat(root, n.c_str(), flags);
  }
  if (fd < 0) refuse_entry(root, name, path, errno, "directory");
  unique_fd out(fd);
  check_directory(out.get(), path);
  return out;
}

}  // namespace

unique_fd open_state_dir(const fs::path& root) {
  if (root.empty()) throw error(errc::io, "the state directory is not set (set DVM_STATE)");
  // Missing components are created with mode 0700, from the outermost one in.
  std::vector<fs::path> missing;
  for (fs::path p = root; !p.empty(); p = p.parent_path()) {
    struct stat st {};
    if (::lstat(p.c_str(), &st) == 0) break;
    missing.push_back(p);
    if (p == p.parent_path()) break;
  }
  for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
    if (::mkdir(it->c_str(), 0700) != 0 && errno != EEXIST) {
      throw detail::io_error("cannot create the state directory " + it->string(), errno);
    }
  }
  // The state dir's own path may be a link the user chose; what it names must pass the checks.
  int fd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    throw detail::io_error("cannot open the state directory " + root.string(), errno);
  }
  unique_fd out(fd);
  check_directory(out.get(), root);
  return out;
}

unique_fd open_state_subdir(const fs::path& root, std::string_view name) {
  unique_fd dir = open_state_dir(root);
  return open_subdir_at(dir.get(), root, name, true);
}

unique_fd open_state_file(int dir, const fs::path& dir_path, std::string_view name, int flags) {
  const std::string n(name);
  const fs::path path = dir_path / n;
  int fd = ::openat(dir, n.c_str(), flags | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0600);
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT && (flags & O_CREAT) == 0) return {};
    refuse_entry(dir, name, path, err, "file");
  }
  unique_fd out(fd);
  struct stat st {};
  if (::fstat(out.get(), &st) != 0) {
    throw detail::io_error("cannot inspect " + path.string(), errno);
  }
  if (!S_ISREG(st.st_mode)) throw error(errc::io, "refusing " + path.string() + ": it is not a regular file (remove it)");
  if (st.st_uid != ::geteuid()) {
    throw error(errc::io, "refusing " + path.string() + ": it is owned by uid " + std::to_string(st.st_uid) +
                              ", not by you (remove it)");
  }
  if (st.st_nlink != 1) {
    throw error(errc::io, "refusing " + path.string() + ": it has " + std::to_string(st.st_nlink) +
                              " hard links, and dvm never writes through a link inside its state "
                              "directory (remove it)");
  }
  return out;
}

std::optional<std::string> read_state_file(const fs::path& root, std::string_view sub,
                                           std::string_view name) {
  unique_fd top = open_state_dir(root);
  unique_fd dir = open_subdir_at(top.get(), root, sub, false);
  if (!dir) return std::nullopt;
  unique_fd file = open_state_file(dir.get(), root / std::string(sub), name, O_RDONLY);
  if (!file) return std::nullopt;
  std::string text;
  char buffer[4096];
  while (true) {
    ssize_t n = ::read(file.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      throw detail::io_error("cannot read " + (root / std::string(sub) / std::string(name)).string(), errno);
    }
    if (n == 0) break;
    text.append(buffer, static_cast<std::size_t>(n));
  }
  return text;
}

void write_state_file(const fs::path& root, std::string_view sub, std::string_view name,
                      std::string_view content) {
  unique_fd dir = open_state_subdir(root, sub);
  const fs::path dir_path = root / std::string(sub);
  // Unique per process and thread: sync --all writes the version cache from several threads.
  const std::string tmp = std::string(name) + ".tmp." + std::to_string(::getpid()) + "." +
                          std::to_string(std::hash<std::thread::id>{}(std::this_thread::get_id()));
  int fd = ::openat(dir.get(), tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    throw detail::io_error("cannot create " + (dir_path / tmp).string(), errno);
  }
  unique_fd file(fd);
  std::size_t done = 0;
  while (done < content.size()) {
    ssize_t n = ::write(file.get(), content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = errno;
      ::unlinkat(dir.get(), tmp.c_str(), 0);
      throw detail::io_error("cannot write " + (dir_path / tmp).string(), err);
    }
    done += static_cast<std::size_t>(n);
  }
  file = unique_fd();
  if (::renameat(dir.get(), tmp.c_str(), dir.get(), std::string(name).c_str()) != 0) {
    int err = errno;
    ::unlinkat(dir.get(), tmp.c_str(), 0);
    throw detail::io_error("cannot replace " + (dir_path / std::string(name)).string(), err);
  }
}

}  // namespace dvm::v0::detail
