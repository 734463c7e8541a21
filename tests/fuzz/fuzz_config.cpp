// The config loader and validator: vms/<name>.toml (and optionally config.toml) are written to
// a temporary config directory and loaded with dvm::config_store::load. The only allowed
// outcomes are a vm_config or a dvm::error (config_error for anything wrong in a file). A config
// that loads must satisfy the validator's promises, render to a lima.yaml that the instance
// reader reads back to the same settings, and build a sync program.
//
// Input: the VM file; if it contains a line "#@config.toml", what follows is config.toml.
#include "fuzz_target.hpp"

#include <dvm/config.hpp>
#include <dvm/error.hpp>
#include <dvm/secret.hpp>

#include "guest/program.hpp"
#include "lima/instance.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>

namespace {

namespace fs = std::filesystem;

constexpr std::string_view marker = "\n#@config.toml\n";

struct fixture {
  fs::path dir;
  std::unique_ptr<dvm::config_store> store;

  fixture() {
    std::string tmpl = (fs::temp_directory_path() / "dvm-fuzz-config-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) dvm_fuzz::broken("mkdtemp failed");
    dir = tmpl;
    fs::create_directories(dir / "vms");
    dvm::host_info host;
    host.os = "linux";
    host.arch = "x86_64";
    host.cpus = 4;
    host.memory_bytes = 8ULL << 30;
    host.login_name = "alice";
    store = std::make_unique<dvm::config_store>(dvm::paths{dir, dir / "state"}, host);
  }
  ~fixture() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

fixture& the_fixture() {
  static fixture f;
  return f;
}

void write(const fs::path& p, std::string_view text) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  if (!out) dvm_fuzz::broken("cannot write " + p.string());
}

bool only(std::string_view s, std::string_view allowed_first, std::string_view allowed) {
  if (s.empty() || allowed_first.find(s.front()) == std::string_view::npos) return false;
  return std::all_of(s.begin(), s.end(), [&](char c) { return allowed.find(c) != std::string_view::npos; });
}
constexpr std::string_view upper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
constexpr std::string_view env_chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_";

void check_loaded(const dvm::vm_config& vm, const dvm::config_store& store) {
  DVM_FUZZ_CHECK(vm.name == "fuzz");
  DVM_FUZZ_CHECK(vm.cpus >= 1 && vm.cpus <= 1024);
  DVM_FUZZ_CHECK(vm.memory_bytes > 0 && vm.disk_bytes > 0);
  DVM_FUZZ_CHECK(vm.arch == "default" || vm.arch == "x86_64" || vm.arch == "aarch64");
  DVM_FUZZ_CHECK(vm.vm_type == "vz" || vm.vm_type == "qemu");
  DVM_FUZZ_CHECK(dvm::is_valid_user_name(vm.user) && dvm::is_valid_user_name(vm.agent_user));
  DVM_FUZZ_CHECK(vm.user != vm.agent_user);
  DVM_FUZZ_CHECK(!vm.code_dir.empty());
  DVM_FUZZ_CHECK(vm.code_dir.front() == '/' || vm.code_dir.starts_with("~/"));
  DVM_FUZZ_CHECK(vm.code_dir.find_first_of("\"'$`\\{}") == std::string::npos);
  DVM_FUZZ_CHECK(dvm::is_ipv4_literal(vm.host_ip));
  for (std::size_t i = 0; i < vm.ports.size(); ++i) {
    const auto& p = vm.ports[i];
    DVM_FUZZ_CHECK(dvm::is_ipv4_literal(p.host_ip));
    DVM_FUZZ_CHECK(p.host_port >= 1 && p.guest_port >= 1 && p.guest_port != 22);
    DVM_FUZZ_CHECK(p.proto == "tcp" || p.proto == "udp");
    for (std::size_t j = 0; j < i; ++j) DVM_FUZZ_CHECK(!dvm::host_bindings_conflict(vm.ports[j], p));
  }
  std::set<std::string> seen;
  for (const auto& r : vm.recipes) {
    DVM_FUZZ_CHECK(store.recipes().find(r) != nullptr);
    DVM_FUZZ_CHECK(seen.insert(r).second);
  }
  seen.clear();
  for (const auto& s : vm.secrets) {
    DVM_FUZZ_CHECK(only(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ_", env_chars));
    DVM_FUZZ_CHECK(seen.insert(s).second);
  }
  for (std::size_t i = 0; i < vm.env.size(); ++i) {
    DVM_FUZZ_CHECK(only(vm.env[i].first, upper, env_chars));
    DVM_FUZZ_CHECK(i == 0 || vm.env[i - 1].first < vm.env[i].first);
    DVM_FUZZ_CHECK(vm.env[i].second.find('\0') == std::string::npos);
  }

  // lima.yaml: rendered by the emitter, read back by the instance reader.
  std::string yaml = dvm::render_lima_yaml(vm);
  dvm::detail::instance_settings back = dvm::detail::parse_instance_yaml(yaml);
  DVM_FUZZ_CHECK(back.cpus == vm.cpus);
  DVM_FUZZ_CHECK(back.memory_bytes == vm.memory_bytes);
  DVM_FUZZ_CHECK(back.disk_bytes == vm.disk_bytes);
  DVM_FUZZ_CHECK(back.ports == vm.ports);
  DVM_FUZZ_CHECK(back.ignores_guest_any && back.ignores_guest_loopback);
  DVM_FUZZ_CHECK(back.mounts.empty());
  DVM_FUZZ_CHECK(back.containerd_system == false && back.containerd_user == false);
  DVM_FUZZ_CHECK(back.ssh_forward_agent == false && back.ssh_load_dot_ssh_pub_keys == false);
  DVM_FUZZ_CHECK(back.user == vm.user);

  // The sync program builds (its framing has its own target).
  dvm::secret value(std::string_view("v"));
  std::vector<dvm::detail::named_secret> secrets;
  for (const auto& s : vm.secrets) secrets.push_back({s, &value});
  dvm::stdin_payload program = dvm::detail::build_sync_program(vm, store.recipes(), secrets, "n0nce");
  DVM_FUZZ_CHECK(program.size() > 0);
}

}  // namespace

DVM_FUZZ_TARGET(config) {
  fixture& f = the_fixture();
  std::string_view input = dvm_fuzz::as_text(data, size);
  std::size_t at = input.find(marker);
  std::string_view vm_text = input.substr(0, at);
  write(f.dir / "vms" / "fuzz.toml", vm_text);
  std::error_code ec;
  if (at == std::string_view::npos) {
    fs::remove(f.dir / "config.toml", ec);
  } else {
    write(f.dir / "config.toml", input.substr(at + marker.size()));
  }
  dvm::vm_config vm;
  try {
    vm = f.store->load("fuzz");
  } catch (const dvm::config_error& e) {
    DVM_FUZZ_CHECK(e.code() == dvm::errc::config);
    DVM_FUZZ_CHECK(!e.rule().empty());
    DVM_FUZZ_CHECK(e.file() == f.dir / "vms" / "fuzz.toml" || e.file() == f.dir / "config.toml");
    return 0;
  } catch (const dvm::error& e) {
    DVM_FUZZ_CHECK_MSG(false, std::string("an error that is not a config_error: ") + e.what());
  }
  check_loaded(vm, *f.store);
  return 0;
}
