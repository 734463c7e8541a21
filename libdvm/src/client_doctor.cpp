// dvm doctor: read-only checks of the host setup, the config files and the instances.
// Findings are data; nothing here changes anything.
#include "client_impl.hpp"

#include "config/port_claims.hpp"
#include "lima/drift.hpp"
#include "guest/output.hpp"
#include "lima/limactl_output.hpp"
#include "text/lines.hpp"

#include "state/files.hpp"

#include <dvm/error.hpp>

#include <algorithm>
#include <fstream>
#include <functional>
#include <regex>
#include <sstream>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace dvm::inline v0 {

namespace fs = std::filesystem;

namespace {

struct secret_pattern {
  const char* what;
  std::regex re;
};

// Shapes of well-known credentials. A match is reported by file and line, never by value.
const std::vector<secret_pattern>& secret_patterns() {
  static const std::vector<secret_pattern> patterns = [] {
    std::vector<secret_pattern> p;
    auto add = [&](const char* what, const char* re) { p.push_back({what, std::regex(re)}); };
    add("a Tailscale auth key", R"(tskey-[A-Za-z0-9]+-[A-Za-z0-9-]{8,})");
    add("a GitHub token", R"((gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}))");
    add("a GitLab token", R"(glpat-[A-Za-z0-9_-]{20,})");
    add("an API key (sk-...)", R"(sk-[A-Za-z0-9_-]{20,})");
    add("a Slack token", R"(xox[abposr]-[A-Za-z0-9-]{10,})");
    add("an AWS access key id", R"(AKIA[0-9A-Z]{16})");
    add("a private key", R"(-----BEGIN [A-Z ]*PRIVATE KEY-----)");
    add("a JWT or Cloudflare tunnel token", R"(eyJ[A-Za-z0-9_=-]{16,}\.?[A-Za-z0-9_=-]*)");
    return p;
  }();
  return patterns;
}

std::string shown(const fs::path& path, const fs::path& root) {
  std::error_code ec;
  fs::path rel = fs::relative(path, root, ec);
  return ec || rel.empty() || rel.native().starts_with("..") ? path.string() : rel.string();
}

}  // namespace

namespace {

// What doctor needs of the client: the driver (for limactl), Lima's home and dvm's environment.
struct doctor_access {
  std::function<detail::lima_driver()> driver;
  /// Runs a program in a VM's guest (stdin of /bin/bash -p -s), its output captured.
  std::function<process_result(const vm_config&, const stdin_payload&)> run_in_guest;
  fs::path lima_home;
  std::function<std::string(const std::string&)> env_value;
};

// One `dvm doctor` run: each check is a member that adds its findings to `report`.
class doctor_run {
 public:
  doctor_run(const paths& where, const config_store& store, doctor_access access)
      : where_(where), store_(store), access_(std::move(access)) {}

  doctor_report finish() && { return std::move(report_); }

  // The VMs to check: all configured ones, or the one named.
  std::vector<std::string> vm_names(const std::string& name_arg) {
    std::vector<std::string> names;
    if (name_arg.empty()) {
      names = store_.vm_names();
      if (names.empty()) add("", "config", doctor_status::warning, "no VM is configured in " + (where_.config_dir / "vms").string());
      return names;
    }
    std::string name = normalize_vm_name(name_arg);
    if (!store_.has_vm(name)) {
      add(name, "config", doctor_status::problem, "no config file " + store_.vm_file(name).string());
    } else {
      names.push_back(name);
    }
    return names;
  }

  // The state dir: yours, writable only by you, no link in it (state/files.hpp). Checked without
  // creating anything; a missing state dir or subdirectory is created 0700 on first use.
  void state_dir() {
    std::error_code exists_ec;
    try {
      if (!fs::exists(where_.state_dir, exists_ec)) {
        add("", "state", doctor_status::ok, where_.state_dir.string() + " does not exist yet (dvm creates it with mode 0700)");
        return;
      }
      for (const char* sub : {"locks", "cache", "scratch", "logs"}) {
        struct stat st {};
        if (::lstat((where_.state_dir / sub).c_str(), &st) != 0) continue;
        detail::unique_fd dir = detail::open_state_subdir(where_.state_dir, sub);
        if (std::string_view(sub) == "scratch") continue;  // limactl's, not read by dvm
        std::error_code list_ec;
        for (const auto& entry : fs::directory_iterator(where_.state_dir / sub, list_ec)) {
          (void)detail::open_state_file(dir.get(), where_.state_dir / sub, entry.path().filename().string(), O_RDONLY);
        }
      }
      add("", "state", doctor_status::ok, where_.state_dir.string() + " belongs to you, only you can write to it, and holds no links");
    } catch (const error& e) {
      add("", "state", doctor_status::problem, e.what());
    }
  }

  // limactl: found, runnable, new enough. Returns its instances when `limactl list` worked.
  std::optional<std::vector<detail::instance_info>> limactl() {
    try {
      auto d = access_.driver();
      add("", "limactl", doctor_status::ok, "limactl " + d.version());
      try {
        return d.list();
      } catch (const error& e) {
        add("", "limactl", doctor_status::problem, std::string("limactl list failed: ") + e.what());
      }
    } catch (const error& e) {
      add("", "limactl", doctor_status::problem, e.what());
    }
    return std::nullopt;
  }

  // Lima's own config files, which apply to every instance (sync refuses to run with these).
  void lima_config() {
    auto found = detail::lima_config_file_findings(access_.lima_home);
    for (const auto& f : found) {
      add("", "lima-config", doctor_status::problem, f.source.string() + ": " + f.key + ": " + f.problem +
                                          "; dvm sync refuses to run until it is removed");
    }
    if (found.empty()) {
      add("", "lima-config", doctor_status::ok, "no mounts, port rules or agent forwarding in " +
                                       (access_.lima_home / "_config").string());
    }
  }

  // Permissions: config files another user could change would let them change what runs in
  // the VM and which ports it exposes.
  void permissions(const std::vector<std::string>& names) {
    std::vector<fs::path> files{where_.config_dir, where_.config_dir / "config.toml", where_.config_dir / "vms",
                                where_.config_dir / "recipes"};
    for (const auto& n : names) files.push_back(store_.vm_file(n));
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(where_.config_dir / "recipes", ec)) files.push_back(entry.path());
    std::size_t problems = 0;
    for (const auto& f : files) {
      struct stat st {};
      if (::stat(f.c_str(), &st) != 0) continue;
      if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
        ++problems;
        add("", "permissions", doctor_status::problem,
            shown(f, where_.config_dir) + " is writable by " +
                ((st.st_mode & S_IWOTH) != 0 ? "everyone" : "its group") + ": run `chmod go-w " + f.string() + "`");
      } else if (st.st_uid != ::geteuid()) {
        add("", "permissions", doctor_status::warning, shown(f, where_.config_dir) + " is owned by uid " +
                                              std::to_string(st.st_uid) + ", not by you");
      }
    }
    if (problems == 0) add("", "permissions", doctor_status::ok, "config files are writable only by their owner");
  }

  // Every config problem at once (dvm::validate): the ones of config.toml, recipes/, misnamed
  // VM files and the environment now, each VM's with that VM (config()).
  void config_problems() {
    problems_ = store_.validate({{"DVM_TIMEOUT", access_.env_value("DVM_TIMEOUT")}});
    for (const auto& p : problems_) {
      if (p.vm.empty()) add_problem("", p);
    }
  }

  // One VM's problems; the VM's config when it loads (nullopt otherwise). Remembers the values
  // of its listed secrets that are set now, for secrets().
  std::optional<vm_config> config(const std::string& n) {
    bool errors = false;
    for (const auto& p : problems_) {
      if (p.vm != n) continue;
      add_problem(n, p);
      errors = errors || p.severity == severity::error;
    }
    if (errors) return std::nullopt;
    std::optional<vm_config> vm;
    try {
      vm = store_.load(n);
    } catch (const error& e) {
      // A config.toml that does not validate fails every VM: reported once, above.
      bool reported = std::any_of(problems_.begin(), problems_.end(),
                                  [&](const auto& p) { return to_string(p) == e.what(); });
      add(n, "config", doctor_status::problem,
          reported ? "not checked further: " + shown(where_.config_dir / "config.toml", where_.config_dir) +
                         " does not validate"
                   : std::string(e.what()));
      return std::nullopt;
    }
    add(n, "config", doctor_status::ok, shown(vm->file, where_.config_dir) + " is valid");
    for (const auto& s : vm->secrets) {
      std::string value = access_.env_value(s);
      if (value.size() >= 6) listed_values_.push_back(std::move(value));
    }
    return vm;
  }

  // Ports beyond loopback, and host ports another checked VM claims too (each clash once:
  // under the first of its two VMs when both are checked).
  void ports(const vm_config& vm, const std::vector<std::string>& names,
             const std::vector<detail::port_claim>& all_claims) {
    const std::string& n = vm.name;
    std::size_t exposed = 0;
    for (std::size_t i = 0; i < vm.ports.size(); ++i) {
      const port_forward& p = vm.ports[i];
      if (p.host_ip.starts_with("127.")) continue;
      ++exposed;
      std::string where_from = "ports[" + std::to_string(i) + "] (" + to_string(p) + ")";
      if (p.host_ip == vm.host_ip && vm.host_ip != "127.0.0.1") {
        add(n, "ports", doctor_status::warning, where_from + " is reachable from other machines only because host_ip = \"" +
                                       vm.host_ip + "\"; name the IP in the rule if that is intended");
      } else {
        add(n, "ports", doctor_status::ok, where_from + " is reachable from other machines (explicit)");
      }
    }
    if (exposed == 0) add(n, "ports", doctor_status::ok, "every forwarded port binds to loopback");
    std::vector<detail::port_claim> theirs;
    for (const auto& c : all_claims) {
      bool reported_before = c.vm < n && std::find(names.begin(), names.end(), c.vm) != names.end();
      if (c.vm != n && !reported_before) theirs.push_back(c);
    }
    for (const auto& clash : detail::find_port_clashes(detail::claims_of(vm), theirs)) {
      add(n, "ports", doctor_status::problem, detail::describe(clash) + "; only one VM can listen there, and `dvm sync` refuses "
                                     "both VMs until one of them forwards another host port");
    }
  }

  // The `dvm_check` functions of a running VM's recipes (guest/recipe-checks.sh): a failing one
  // makes the next sync run its recipe again (the guest forgets its record).
  void recipe_checks(const vm_config& vm, const std::vector<detail::instance_info>& instances) {
    const std::string& n = vm.name;
    const recipe_catalog& catalog = store_.recipes();
    bool any = false;
    for (const auto& step : detail::sync_steps(vm, catalog, {}, {})) any = any || !step.r->check.empty();
    if (!any) return;
    auto it = std::find_if(instances.begin(), instances.end(),
                           [&](const detail::instance_info& i) { return i.name == vm.instance_name(); });
    if (it == instances.end() || it->status != "Running") {
      add(n, "recipe-checks", doctor_status::ok, "not run: " + vm.instance_name() + " does not run");
      return;
    }
    const std::string nonce = detail::make_nonce();
    process_result r;
    try {
      r = access_.run_in_guest(vm, detail::build_check_program(vm, catalog, nonce));
    } catch (const error& e) {
      if (e.code() == errc::cancelled) throw;
      add(n, "recipe-checks", doctor_status::problem, std::string("the recipes' checks could not run: ") + e.what());
      return;
    }
    std::vector<std::string> forgot;
    for (const auto& line : detail::split_lines(r.out)) {
      if (line.starts_with("forgot\t")) forgot.push_back(line.substr(7));
    }
    bool done = false;
    for (const auto& line : detail::split_lines(r.out)) {
      if (line == "::dvm-" + nonce + "::done") done = true;
      if (!line.starts_with("check\t")) continue;
      std::vector<std::string> f;
      for (std::size_t at = 0; at <= line.size();) {
        std::size_t tab = std::min(line.find('\t', at), line.size());
        f.push_back(line.substr(at, tab - at));
        at = tab + 1;
      }
      if (f.size() != 4) continue;
      if (f[2] == "ok") {
        add(n, "recipe-checks", doctor_status::ok, "recipe " + f[1] + ": its dvm_check passes");
        continue;
      }
      bool forgotten = std::find(forgot.begin(), forgot.end(), f[1]) != forgot.end();
      add(n, "recipe-checks", doctor_status::problem,
          "recipe " + f[1] + ": its dvm_check failed (exit " + f[3] + "); " +
              (forgotten ? "the next `dvm sync " + n + "` runs it again"
                         : "run `dvm sync " + n + " --recipe " + f[1] + "`"));
    }
    if (!done) {
      add(n, "recipe-checks", doctor_status::problem,
          "the recipes' checks did not run to their end (exit " + std::to_string(detail::exit_status(r)) + ")" +
              (r.err.empty() ? "" : ": " + detail::stderr_tail(r.err, 2)));
    }
  }

  // What the instance runs against what the config says.
  void drift(const vm_config& vm, const std::vector<detail::instance_info>& instances) {
    const std::string& n = vm.name;
    auto it = std::find_if(instances.begin(), instances.end(),
                           [&](const detail::instance_info& i) { return i.name == vm.instance_name(); });
    if (it == instances.end()) {
      add(n, "drift", doctor_status::ok, vm.instance_name() + " does not exist yet");
      return;
    }
    detail::instance_drift drift;
    try {
      drift = detail::compare_instance(vm, *it);
    } catch (const error& e) {
      add(n, "drift", doctor_status::problem, e.what());
      return;
    }
    std::size_t findings = 0;
    auto problem = [&](const std::string& m) {
      ++findings;
      add(n, "drift", doctor_status::problem, m);
    };
    auto warning = [&](const std::string& m) {
      ++findings;
      add(n, "drift", doctor_status::warning, m);
    };
    // What Lima runs, _config files included: the same findings sync repairs or refuses.
    for (const auto& f : drift.effective) {
      std::string fix = f.source.empty() ? "; `dvm sync " + n + "` repairs it"
                                         : "; it comes from " + f.source.string() + " (" + f.key +
                                               "), which dvm does not edit";
      if (f.widens || !f.source.empty()) {
        problem(f.problem + fix);
      } else {
        warning(f.problem + "; `dvm sync " + n + "` applies the config");
      }
    }
    for (const auto& extra : drift.template_extras) {
      bool breaks_promise = extra.starts_with("network") || extra.starts_with("socket");
      if (breaks_promise) {
        problem("the image brings a " + extra);
      } else {
        warning("the image brings " + extra);
      }
    }
    const detail::instance_settings& actual = drift.stored;
    const bool lima_yaml_only = !it->config.present;  // no effective config to judge by
    if (lima_yaml_only && !actual.mounts.empty()) {
      problem("the instance mounts host directories (" + detail::join(actual.mounts, ", ") + "); recreate it with `dvm rm " + n +
              " --yes` and `dvm sync " + n + "`");
    }
    if (drift.catch_all_missing) {
      problem("the instance forwards every guest port to the host (the catch-all ignore rules are missing); `dvm sync " +
              n + "` restores them");
    }
    if (lima_yaml_only && actual.ssh_forward_agent.value_or(false)) problem("the instance forwards your ssh agent (ssh.forwardAgent)");
    if (actual.ssh_load_dot_ssh_pub_keys.value_or(false)) {
      problem("the instance trusts every key in your ~/.ssh (ssh.loadDotSSHPubKeys)");
    }
    if (actual.containerd_system.value_or(false) || actual.containerd_user.value_or(false)) {
      add(n, "drift", doctor_status::warning, "containerd is enabled in the instance");
    }
    for (const auto& p : drift.ports.removed) {
      if (!p.host_ip.starts_with("127.")) {
        problem("the instance forwards " + to_string(p) + " beyond loopback, which the config does not list");
      }
    }
    for (const auto& r : drift.recreate) {
      warning("recreate to apply: " + r + " (dvm rm " + n + ", then dvm sync " + n + ")");
    }
    // Sizes, and port rules where lima.yaml is all there is to compare: sync applies them.
    std::vector<std::string> differs = drift.resized;
    if (!drift.ports.empty()) differs.emplace_back("ports");
    if (!differs.empty()) {
      add(n, "drift", doctor_status::warning, "the instance's " + detail::join(differs, ", ") + " differ from the config; `dvm sync " + n + "` applies it");
    }
    if (findings == 0 && differs.empty()) add(n, "drift", doctor_status::ok, vm.instance_name() + " matches its config");
  }

  // Secret-looking values in config files, and values of listed secrets that are set now. A
  // match is reported by file and line, never by value; comments count too (a token in a
  // comment is just as leaked).
  void secrets(const std::vector<std::string>& names) {
    std::vector<fs::path> texts{where_.config_dir / "config.toml"};
    for (const auto& n : names) texts.push_back(store_.vm_file(n));
    std::size_t findings = 0;
    for (const auto& file : texts) {
      std::ifstream in(file);
      std::string line;
      int number = 0;
      while (std::getline(in, line)) {
        ++number;
        std::string at = shown(file, where_.config_dir) + ":" + std::to_string(number);
        for (const auto& p : secret_patterns()) {
          if (std::regex_search(line, p.re)) {
            ++findings;
            add("", "secrets", doctor_status::problem, at + " holds what looks like " + p.what +
                                              ": remove it, rotate it, and pass it with secrets = [...] instead");
            break;
          }
        }
        for (const auto& v : listed_values_) {
          if (line.find(v) != std::string::npos) {
            ++findings;
            add("", "secrets", doctor_status::problem, at + " contains the value of a secret listed in `secrets`: remove it and rotate it");
            break;
          }
        }
      }
    }
    if (findings == 0) add("", "secrets", doctor_status::ok, "no secret-looking values in the config files");
  }

 private:
  void add(std::string vm, std::string check, doctor_status status, std::string message) {
    report_.checks.push_back({std::move(vm), std::move(check), status, std::move(message)});
  }
  void add_problem(const std::string& vm, const config_problem& p) {
    add(vm, "config", p.severity == severity::error ? doctor_status::problem : doctor_status::warning,
        to_string(p));
  }

  const paths& where_;
  const config_store& store_;
  doctor_access access_;
  doctor_report report_;
  std::vector<std::string> listed_values_;
  std::vector<config_problem> problems_;
};

}  // namespace

doctor_report client::doctor(const std::string& name_arg) {
  doctor_run run(impl_->where, impl_->store,
                 {[this] { return impl_->driver(""); },
                  [this](const vm_config& vm, const stdin_payload& program) {
                    auto d = impl_->driver(vm.name);
                    detail::shell_request request;
                    request.command = detail::guest_bash_command();
                    request.stdin_mode = stdio_mode::pipe;
                    request.input = &program;
                    request.timeout = impl_->lima.timeouts.guest;
                    return d.shell(vm.instance_name(), request);
                  },
                  impl_->lima_home(),
                  [this](const std::string& n) { return impl_->env_value(n); }});
  std::vector<std::string> names = run.vm_names(name_arg);
  run.state_dir();
  std::optional<std::vector<detail::instance_info>> instances = run.limactl();
  run.lima_config();
  run.permissions(names);
  run.config_problems();
  // Host ports of every configured VM (one that does not load has no claims), for the clashes
  // between VMs that sync refuses.
  const std::vector<detail::port_claim> all_claims = detail::other_vms_claims(impl_->store, "");
  for (const auto& n : names) {
    std::optional<vm_config> vm = run.config(n);
    if (!vm) continue;
    run.ports(*vm, names, all_claims);
    if (instances) run.drift(*vm, *instances);
    if (instances) run.recipe_checks(*vm, *instances);
  }
  run.secrets(names);
  return std::move(run).finish();
}

}  // namespace dvm::v0
