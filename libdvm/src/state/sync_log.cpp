#include "state/sync_log.hpp"

#include <dvm/error.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <ctime>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

namespace dvm::inline v0::detail {

namespace fs = std::filesystem;

std::string sync_log_name(const std::string& vm, std::chrono::system_clock::time_point at) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(at.time_since_epoch()).count();
  const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm utc{};
  ::gmtime_r(&seconds, &utc);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%S", &utc);
  const auto millis = static_cast<unsigned>(ms % 1000);
  std::string text = std::string(stamp) + "." + static_cast<char>('0' + millis / 100) +
                     static_cast<char>('0' + millis / 10 % 10) + static_cast<char>('0' + millis % 10) + "Z";
  return vm + "." + text + ".log";
}

namespace {

// A name sync_log_name() made for `vm` (VM names have no '.', so "app." never matches "app-2.").
bool is_log_of(const std::string& file, const std::string& vm) {
  return file.size() == vm.size() + 1 + 20 + 4 && file.starts_with(vm + ".") && file.ends_with("Z.log");
}

// Removes the oldest logs of `vm` beyond `keep` (unlinkat removes an entry, never what a link
// names).
void remove_old_logs(int dir, const fs::path& dir_path, const std::string& vm, std::size_t keep) {
  std::vector<std::string> logs;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir_path, ec)) {
    std::string name = entry.path().filename().string();
    if (is_log_of(name, vm)) logs.push_back(std::move(name));
  }
  if (logs.size() <= keep) return;
  std::sort(logs.begin(), logs.end());
  for (std::size_t i = 0; i + keep < logs.size(); ++i) (void)::unlinkat(dir, logs[i].c_str(), 0);
}

}  // namespace

sync_log::sync_log(const fs::path& state_dir, const std::string& vm) {
  unique_fd dir = open_state_subdir(state_dir, "logs");
  const fs::path dir_path = state_dir / "logs";
  auto at = std::chrono::system_clock::now();
  // O_EXCL: a name already there (two syncs in one millisecond, or a planted file) is skipped.
  for (int attempt = 0; !fd_; ++attempt) {
    const std::string name = sync_log_name(vm, at + std::chrono::milliseconds(attempt));
    try {
      fd_ = open_state_file(dir.get(), dir_path, name, O_WRONLY | O_CREAT | O_EXCL | O_APPEND);
      path_ = dir_path / name;
    } catch (const error&) {
      if (attempt >= 10) throw;
    }
  }
  remove_old_logs(dir.get(), dir_path, vm, keep);
}

void sync_log::line(std::string_view text) {
  if (failed_) return;
  std::string out(text);
  out += '\n';
  std::string_view rest = out;
  while (!rest.empty()) {
    ssize_t n = ::write(fd_.get(), rest.data(), rest.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      failed_ = true;  // a full disk: the sync goes on without its log
      return;
    }
    rest.remove_prefix(static_cast<std::size_t>(n));
  }
}

}  // namespace dvm::v0::detail
