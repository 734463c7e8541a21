// Test-only tool of the shellcheck suite: writes every guest script dvm renders, as it is sent,
// into the directory given as argv[1], once with plain sample values and once with hostile ones
// (quotes, $(...), backticks, spaces, newlines wherever a value may hold them), so the test can
// run shellcheck over the text the guest's bash really parses.
//
//   <variant>-<script>.sh        a lifecycle script (guest/scripts.hpp)
//   <variant>-sync.sh            the sync program without secrets
//   <variant>-sync-secrets.sh    the sync program with secrets, frames cut out (see below)
//   <variant>-provision-<n>.sh   the provision scripts of the rendered lima.yaml
//   <variant>-login-shell.sh, <variant>-in-code-dir.sh   the `bash -c` texts of dvm sh / exec
#include <dvm/config.hpp>
#include <dvm/process.hpp>
#include <dvm/recipes.hpp>
#include <dvm/secret.hpp>

#include "guest/program.hpp"
#include "guest/scripts.hpp"
#include "guest/shell.hpp"

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

// The raw bytes of a payload (process_runner::bytes_of is for runners only).
struct payload_reader : dvm::process_runner {
  dvm::process_result run(const dvm::process_spec&) override { return {}; }
  static std::string bytes(const dvm::stdin_payload& payload) {
    auto b = bytes_of(payload);
    return {b.data(), b.size()};
  }
};

void write(const fs::path& file, const std::string& text) {
  std::ofstream out(file, std::ios::binary);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + file.string());
}

// The secret frames are data, not Bash: the line "__dvm_read_secrets N" calls a function that
// reads N frames ("NAME LENGTH\n" + LENGTH bytes) from the same stdin, and bash goes on parsing
// the program right after them. So the text bash parses is the program with the frames removed;
// they are cut out here exactly as the guest reads them (and a malformed frame fails the tool).
std::string without_frames(const std::string& raw) {
  const std::string call = "\n__dvm_read_secrets ";
  std::size_t at = raw.find(call);
  if (at == std::string::npos) throw std::runtime_error("no __dvm_read_secrets call");
  std::size_t pos = raw.find('\n', at + 1);
  int count = 0;
  auto [p, ec] = std::from_chars(raw.data() + at + call.size(), raw.data() + pos, count);
  if (ec != std::errc() || p != raw.data() + pos) throw std::runtime_error("bad secret count");
  std::string out = raw.substr(0, pos + 1);
  ++pos;
  for (int i = 0; i < count; ++i) {
    std::size_t nl = raw.find('\n', pos);
    std::size_t sp = raw.find(' ', pos);
    if (nl == std::string::npos || sp == std::string::npos || sp > nl) throw std::runtime_error("bad frame");
    std::size_t length = std::stoul(raw.substr(sp + 1, nl - sp - 1));
    pos = nl + 1 + length;
    if (pos > raw.size()) throw std::runtime_error("frame past the end");
  }
  return out + raw.substr(pos);
}

struct variant {
  std::string label;
  dvm::vm_config vm;
  std::string cp_target;     // absolute guest path of `dvm cp` (any bytes but NUL)
  std::string cp_staging;
  std::vector<std::string> cp_sources;
  std::vector<std::string> units;
  std::string secret_value;
};

dvm::vm_config make_vm(std::string name, std::string user, std::string agent, std::string code_dir,
                       std::vector<std::pair<std::string, std::string>> env) {
  dvm::vm_config vm;
  vm.name = std::move(name);
  vm.file = "vms/" + vm.name + ".toml";
  vm.memory_bytes = 4ULL << 30;
  vm.disk_bytes = 50ULL << 30;
  vm.vm_type = "vz";
  vm.image = "template:fedora";
  vm.user = std::move(user);
  vm.agent_user = std::move(agent);
  vm.code_dir = std::move(code_dir);
  // Bundled recipes with guest code of their own; baseline is added by the program.
  vm.recipes = {"agent-user", "git", "node", "tmux"};
  vm.secrets = {"API_TOKEN"};
  vm.env = std::move(env);
  return vm;
}

void render(const variant& v, const fs::path& dir) {
  const dvm::vm_config& vm = v.vm;
  const std::string p = v.label + "-";
  write(dir / (p + "dirty-check.sh"), dvm::detail::dirty_check_script(vm, "0123456789abcdef"));
  write(dir / (p + "activity-probe.sh"), dvm::detail::activity_probe_script(v.units));
  write(dir / (p + "activity-probe-no-units.sh"), dvm::detail::activity_probe_script({}));
  write(dir / (p + "ssh-key.sh"), dvm::detail::ssh_key_script(vm));
  write(dir / (p + "gpg-key.sh"), dvm::detail::gpg_key_script(vm));
  write(dir / (p + "copy-stage.sh"), dvm::detail::copy_stage_script(vm, v.cp_target));
  write(dir / (p + "copy-out-check.sh"), dvm::detail::copy_out_check_script(vm, v.cp_sources, true));
  write(dir / (p + "copy-install.sh"),
        dvm::detail::copy_install_script(vm, v.cp_target, v.cp_staging, "inside", "name"));

  // `dvm sh` and `dvm exec`: `bash -c TEXT NAME ARGS...`.
  write(dir / (p + "login-shell.sh"), dvm::detail::login_shell_command(vm).at(2));
  write(dir / (p + "in-code-dir.sh"), dvm::detail::in_code_dir_command(vm, {"ls", "-la"}).at(2));

  dvm::recipe_catalog catalog;  // the bundled recipes
  write(dir / (p + "sync.sh"), payload_reader::bytes(dvm::detail::build_sync_program(vm, catalog, {}, "n0nce")));
  dvm::secret token(v.secret_value);
  dvm::secret other(std::string_view("x"));
  std::vector<dvm::detail::named_secret> secrets{{"API_TOKEN", &token}, {"OTHER_1", &other}};
  write(dir / (p + "sync-secrets.sh"),
        without_frames(payload_reader::bytes(dvm::detail::build_sync_program(vm, catalog, secrets, "n0nce"))));

  YAML::Node doc = YAML::Load(dvm::render_lima_yaml(vm));
  int n = 0;
  for (const auto& step : doc["provision"]) {
    write(dir / (p + "provision-" + std::to_string(++n) + "-" + step["mode"].as<std::string>() + ".sh"),
          step["script"].as<std::string>());
  }
}

// guest_script(): the header is not sent (a "#!" line is), and an unknown name is a logic error.
void check_lookup() {
  std::string system = dvm::detail::guest_script("lima-system-provision");
  if (!system.starts_with("#!/bin/bash\n# dvm: guest essentials") || system.find("shellcheck") != std::string::npos) {
    throw std::runtime_error("guest_script() did not strip the header of lima-system-provision");
  }
  if (dvm::detail::guest_script("sync-prelude").find("# shellcheck") != std::string::npos) {
    throw std::runtime_error("guest_script() did not strip the header of sync-prelude");
  }
  try {
    (void)dvm::detail::guest_script("no-such-script");
  } catch (const std::logic_error&) {
    return;
  }
  throw std::runtime_error("guest_script(\"no-such-script\") did not throw std::logic_error");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUTPUT_DIR\n", argv[0]);
    return 2;
  }
  try {
    check_lookup();
    fs::path dir = argv[1];
    fs::create_directories(dir);
    std::vector<variant> variants;
    variants.push_back({"sample",
                        make_vm("app", "dev", "dvm-agent", "~/code/app", {{"GREETING", "hello"}, {"PORT", "8080"}}),
                        "/home/dev/code/app/docs/",
                        "/home/dev/code/.dvm-cp.0123abcd",
                        {"/home/dev/code/app/notes.md", "/etc/hostname"},
                        {"llama.service", "cloudflared.service"},
                        "s3cr3t"});
    // Names follow the config rules ([a-z][a-z0-9-]* VM names, Linux user names); code dirs may
    // not hold quotes, '$', '`', '\\', braces or control characters; `dvm cp` paths, [env]
    // values and secrets may hold anything but NUL.
    const std::string nasty = "it's \"$(touch /tmp/pwned)\" `id` ${HOME} a\\b\nline two\t*?[x] ;&|<>#!";
    variants.push_back({"hostile",
                        make_vm("x-1", "_u-9", "a_b-", "/srv/a b;c&d|e*(f)#g!h[i]<j>~k%l",
                                {{"A_B", nasty}, {"EMPTY", ""}, {"Z", "'"}}),
                        "/srv/a b;c&d|e*(f)#g!h[i]<j>~k%l/" + nasty + "/",
                        "/srv/.dvm-cp.' $(x)\nq",
                        {"/srv/a b;c&d|e*(f)#g!h[i]<j>~k%l/" + nasty, "-rf", "--", "'"},
                        {"a b.service", nasty, "-x"},
                        nasty + "\n__dvm_read_secrets 9\nOTHER 3\n"});
    for (const auto& v : variants) render(v, dir);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "dvm_shellcheck_render: %s\n", e.what());
    return 1;
  }
  return 0;
}
