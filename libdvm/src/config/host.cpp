// Host facts (for defaults) and the config/state directories.
#include <dvm/config.hpp>
#include <dvm/error.hpp>

#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <pwd.h>
#include <sys/utsname.h>
#include <unistd.h>

extern char** environ;

namespace dvm::inline v0 {

namespace {
std::string normalize_arch(std::string machine) {
  if (machine == "arm64" || machine == "aarch64") return "aarch64";
  if (machine == "amd64" || machine == "x86_64") return "x86_64";
  return machine;
}

std::uint64_t linux_memory_bytes() {
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  std::uint64_t kib = 0;
  std::string unit;
  while (meminfo >> key >> kib >> unit) {
    if (key == "MemTotal:") return kib * 1024;
  }
  return 0;
}

std::string get(const std::map<std::string, std::string>& env, const char* name) {
  auto it = env.find(name);
  return it == env.end() ? std::string() : it->second;
}
}  // namespace

host_info detect_host() {
  host_info host;
  struct utsname uts {};
  if (::uname(&uts) == 0) {
    std::string sys = uts.sysname;
    host.os = sys == "Darwin" ? "darwin" : "linux";
    host.arch = normalize_arch(uts.machine);
  }
  host.cpus = std::max(1U, std::thread::hardware_concurrency());
  long pages = ::sysconf(_SC_PHYS_PAGES);
  long page_size = ::sysconf(_SC_PAGESIZE);
  if (pages > 0 && page_size > 0) {
    host.memory_bytes = static_cast<std::uint64_t>(pages) * static_cast<std::uint64_t>(page_size);
  } else {
    host.memory_bytes = linux_memory_bytes();
  }
  // getpwuid_r: detect_host() may run on several threads of an embedding program at once.
  struct passwd pw {};
  struct passwd* found = nullptr;
  std::vector<char> buffer(16384);
  if (::getpwuid_r(::geteuid(), &pw, buffer.data(), buffer.size(), &found) == 0 && found != nullptr &&
      found->pw_name != nullptr) {
    host.login_name = found->pw_name;
  }
  return host;
}

std::map<std::string, std::string> current_environment() {
  std::map<std::string, std::string> out;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view entry(*e);
    std::size_t eq = entry.find('=');
    if (eq == std::string_view::npos) continue;
    out.emplace(std::string(entry.substr(0, eq)), std::string(entry.substr(eq + 1)));
  }
  return out;
}

// XDG_CONFIG_HOME and XDG_STATE_HOME count only when absolute (the XDG Base Directory spec:
// a relative one is invalid and ignored), so the state dir never depends on the working
// directory unless DVM_STATE says so.
paths resolve_paths(const std::map<std::string, std::string>& environment) {
  paths out;
  std::string home = get(environment, "HOME");
  auto under_home = [&](const char* rest) -> std::filesystem::path {
    if (home.empty()) {
      throw error(errc::usage, std::string("cannot locate ~/") + rest +
                                   ": HOME is not set (set DVM_CONFIG and DVM_STATE instead)");
    }
    return std::filesystem::path(home) / rest;
  };
  if (std::string v = get(environment, "DVM_CONFIG"); !v.empty()) {
    out.config_dir = v;
  } else if (std::string xdg = get(environment, "XDG_CONFIG_HOME"); !xdg.empty() && xdg.front() == '/') {
    out.config_dir = std::filesystem::path(xdg) / "dvm";
  } else {
    out.config_dir = under_home(".config/dvm");
  }
  if (std::string v = get(environment, "DVM_STATE"); !v.empty()) {
    out.state_dir = v;
  } else if (std::string xdg = get(environment, "XDG_STATE_HOME"); !xdg.empty() && xdg.front() == '/') {
    out.state_dir = std::filesystem::path(xdg) / "dvm";
  } else {
    out.state_dir = under_home(".local/state/dvm");
  }
  return out;
}

}  // namespace dvm::v0
