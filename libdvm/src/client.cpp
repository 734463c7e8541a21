// dvm::client: the commands, as orchestration over config/, lima/ and guest/.
#include "client_impl.hpp"

#include <dvm/error.hpp>
#include <dvm/version.hpp>

#include "embedded.hpp"
#include "guest/program.hpp"
#include "guest/scripts.hpp"
#include "guest/shell.hpp"
#include "lima/effective.hpp"
#include "process/find_program.hpp"
#include "state/lock.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>

#include <fcntl.h>
#include <unistd.h>



namespace dvm {

namespace fs = std::filesystem;
using detail::instance_info;
using detail::lima_driver;

namespace {

// The Lima side of a vm_status, from a `limactl list --json` record.
void fill_from_instance(vm_status& s, const instance_info& info) {
  s.state = info.status.empty() ? "Unknown" : info.status;
  if (info.ssh_local_port > 0) {
    s.ssh_address = (info.ssh_address.empty() ? "127.0.0.1" : info.ssh_address) + ":" +
                    std::to_string(info.ssh_local_port);
  }
  s.cpus = info.cpus;
  s.memory_bytes = info.memory_bytes;
  s.disk_bytes = info.disk_bytes;
  s.arch = info.arch;
  s.vm_type = info.vm_type;
  s.dir = info.dir;
}

// "dvm-app" -> "app" for DVM instances; "" for every other Lima instance.
std::string public_name(const std::string& instance) {
  if (!instance.starts_with(instance_prefix)) return {};
  std::string name = instance.substr(instance_prefix.size());
  return is_valid_vm_name(name) ? name : std::string();
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::stringstream in(text);
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

// "key\tvalue" lines of a guest script's output.
std::vector<std::pair<std::string, std::string>> tab_fields(const std::string& text) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& line : split_lines(text)) {
    std::size_t tab = line.find('\t');
    if (tab == std::string::npos) continue;
    out.emplace_back(line.substr(0, tab), line.substr(tab + 1));
  }
  return out;
}

std::string last_lines(const std::string& text, std::size_t n) {
  auto lines = split_lines(text);
  std::string out;
  std::size_t first = lines.size() > n ? lines.size() - n : 0;
  for (std::size_t i = first; i < lines.size(); ++i) {
    if (!out.empty()) out += '\n';
    out += lines[i];
  }
  return out;
}

int exit_status(const process_result& r) {
  return r.exit_code >= 0 ? r.exit_code : 128 + r.term_signal;
}

std::string render_template(std::string_view text, const std::string& name, const host_info& host) {
  std::string out(text);
  auto replace_all = [&](std::string_view from, const std::string& to) {
    for (std::size_t at = out.find(from); at != std::string::npos; at = out.find(from, at + to.size())) {
      out.replace(at, from.size(), to);
    }
  };
  replace_all("@NAME@", name);
  replace_all("@HOST_CPUS@", std::to_string(host.cpus));
  replace_all("@HOST_MEMORY@", std::to_string(host.memory_bytes >> 30) + "GiB");
  return out;
}

std::string format_dirty_report(const dirty_report& report) {
  std::string out;
  for (const auto& p : report.problems) {
    out += "\n  " + (p.path.empty() || p.path == "." ? std::string() : p.path + ": ") + p.message;
  }
  for (const auto& repo : report.repositories) {
    out += "\n  repository " + repo.path + ": ";
    for (std::size_t i = 0; i < repo.reasons.size(); ++i) out += (i ? ", " : "") + repo.reasons[i];
  }
  if (report.loose_file_count > 0) {
    out += "\n  " + std::to_string(report.loose_file_count) + " file" +
           (report.loose_file_count == 1 ? "" : "s") + " outside any repository:";
    for (const auto& f : report.loose_files) out += " " + f;
    if (report.loose_file_count > report.loose_files.size()) out += " ...";
  }
  return out;
}

// The unsaved-work check's output (guest/scripts.hpp, dirty_check_script). Only output that
// ends with the nonce line is a verdict: anything else (a login profile that exits early, a
// killed shell) makes the report incomplete.
dirty_report read_dirty_report(const process_result& r, const std::string& nonce) {
  dirty_report report;
  const std::string done = "::dvm-" + nonce + "::done";
  auto lines = split_lines(r.out);
  while (!lines.empty() && lines.back().empty()) lines.pop_back();
  bool finished = !lines.empty() && lines.back() == done;
  for (const auto& [key, value] : tab_fields(r.out)) {
    if (key == "repo") {
      std::size_t tab = value.find('\t');
      std::string path = value.substr(0, tab);
      std::string reason = tab == std::string::npos ? "unsaved work" : value.substr(tab + 1);
      auto it = std::find_if(report.repositories.begin(), report.repositories.end(),
                             [&](const dirty_repository& repo) { return repo.path == path; });
      if (it == report.repositories.end()) {
        report.repositories.push_back({path, {reason}});
      } else {
        it->reasons.push_back(reason);
      }
    } else if (key == "problem") {
      std::size_t t1 = value.find('\t');
      std::size_t t2 = t1 == std::string::npos ? t1 : value.find('\t', t1 + 1);
      dirty_problem p;
      p.kind = value.substr(0, t1);
      if (t1 != std::string::npos) p.path = value.substr(t1 + 1, t2 == std::string::npos ? t2 : t2 - t1 - 1);
      if (t2 != std::string::npos) p.message = value.substr(t2 + 1);
      if (p.message.empty()) p.message = p.kind;
      report.problems.push_back(std::move(p));
    } else if (key == "loose") {
      report.loose_files.push_back(value);
    } else if (key == "loose-count") {
      try {
        report.loose_file_count = static_cast<std::size_t>(std::stoull(value));
      } catch (const std::exception&) {
        report.loose_file_count = 1;  // unreadable count: still unsaved work
      }
    } else if (key == "incomplete") {
      report.incomplete = true;
      report.incomplete_reason = value;
    }
  }
  if (report.incomplete) return report;
  if (!finished) {
    report.incomplete = true;
    report.incomplete_reason = "the check did not run to its end (exit " + std::to_string(exit_status(r)) +
                               ", no completion line" +
                               (r.err.empty() ? std::string(")") : "): " + last_lines(r.err, 3));
  } else if (r.exit_code != 0 && r.exit_code != 1) {
    report.incomplete = true;
    report.incomplete_reason = "the check failed with status " + std::to_string(exit_status(r)) +
                               (r.err.empty() ? "" : ": " + last_lines(r.err, 3));
  } else if (r.exit_code == 1 && report.clean()) {
    report.incomplete = true;
    report.incomplete_reason = "the check reported unsaved work without details";
  } else if (r.exit_code == 0 && !report.clean()) {
    report.incomplete = true;
    report.incomplete_reason = "the check reported unsaved work but exited 0";
  }
  return report;
}

// Adds the findings of a check of another code dir to `into`, with that dir before each path.
void merge_dirty_report(dirty_report& into, dirty_report other, const std::string& code_dir) {
  auto full = [&](const std::string& path) { return path == "." || path.empty() ? code_dir : code_dir + "/" + path; };
  for (auto& repo : other.repositories) {
    repo.path = full(repo.path);
    into.repositories.push_back(std::move(repo));
  }
  for (auto& p : other.problems) {
    p.path = full(p.path);
    into.problems.push_back(std::move(p));
  }
  for (auto& f : other.loose_files) {
    if (into.loose_files.size() < 5) into.loose_files.push_back(full(f));
  }
  into.loose_file_count += other.loose_file_count;
  if (other.incomplete && !into.incomplete) {
    into.incomplete = true;
    into.incomplete_reason = other.incomplete_reason + " (in " + code_dir + ")";
  }
}

// The code dir and user an instance was created with, as its lima.yaml records them. nullopt
// when either is not recorded.
std::optional<vm_config> recorded_vm(const std::string& name, const instance_info& info) {
  detail::recorded_settings recorded = detail::read_recorded_settings(info);
  if (!recorded.user || !is_valid_user_name(*recorded.user) || !recorded.code_dir) return std::nullopt;
  vm_config vm;
  vm.name = name;
  vm.user = *recorded.user;
  vm.code_dir = *recorded.code_dir;
  return vm;
}

// The VM's service recipes (a `# Service:` header line) and their units, in run order.
std::vector<std::pair<std::string, std::string>> service_units(const vm_config& vm, const recipe_catalog& catalog) {
  std::vector<std::pair<std::string, std::string>> units;
  for (const recipe* r : recipes_run_by(vm, catalog)) {
    if (r->service) units.emplace_back(r->name, service_unit_in(*r->service, vm));
  }
  return units;
}

// stop/rm of a name Lima does not know: a typo (no config either) is a usage error like
// everywhere else; a configured VM that was never created is an operation that failed.
error missing_instance(const config_store& store, const std::string& name) {
  if (!store.has_vm(name)) {
    return error(errc::not_found, "no VM named \"" + name + "\": no config file (" + store.vm_file(name).string() +
                                      ") and no Lima instance " + instance_of(name));
  }
  return error(errc::not_created, "VM " + name + " does not exist (no Lima instance " + instance_of(name) +
                                      "); `dvm sync " + name + "` creates it");
}

}  // namespace

std::vector<const recipe*> recipes_run_by(const vm_config& vm, const recipe_catalog& catalog) {
  std::vector<const recipe*> out;
  auto add = [&](std::string_view name) {
    const recipe* r = catalog.find(name);
    if (r != nullptr && std::find(out.begin(), out.end(), r) == out.end()) out.push_back(r);
  };
  if (vm.baseline) add(baseline_recipe);
  for (const auto& name : vm.recipes) add(name);
  return out;
}

std::string service_unit_in(const recipe_service& service, const vm_config& vm) {
  // As the recipe's `dvm_setting KEY DEFAULT`: an empty value means the default.
  if (!service.env_key.empty()) {
    for (const auto& [key, value] : vm.env) {
      if (key == service.env_key && !value.empty()) return value;
    }
  }
  return service.unit;
}

// --- impl ------------------------------------------------------------------------------------

client::impl::impl(client_options options)
    : env(options.environment ? std::move(*options.environment) : current_environment()),
      where([&] {
        paths p{};
        // Explicit directories need no HOME; only missing ones are derived from the environment.
        if (!options.config_dir || !options.state_dir) p = resolve_paths(env);
        if (options.config_dir) p.config_dir = *options.config_dir;
        if (options.state_dir) p.state_dir = *options.state_dir;
        return p;
      }()),
      store(where, options.host ? *options.host : detect_host()),
      sink(std::move(options.on_event)),
      cancel(options.cancel) {
  lima.runner = options.runner ? std::move(options.runner) : make_default_runner();
  lima.limactl = !options.limactl.empty() ? options.limactl
                 : !env_value("LIMACTL").empty() ? env_value("LIMACTL")
                                                 : std::string("limactl");
  lima.scratch_dir = where.state_dir / "scratch";
  lima.state_dir = where.state_dir;
  lima.timeouts = options.timeouts;
  lima.cancel = cancel;
}

void client::impl::emit(event e) {
  if (!sink) return;
  std::lock_guard<std::mutex> lock(sink_mutex);
  sink(e);
}

void client::impl::warn(const std::string& vm, const std::string& message) {
  event e;
  e.kind = event_kind::warning;
  e.vm = vm;
  e.message = message;
  emit(std::move(e));
}

lima_driver client::impl::driver(const std::string& vm) {
  // Built on first use: [lima] pass_env comes from config.toml, which may not validate (then
  // this throws the config error, and the next call tries again).
  std::call_once(lima_environment_once,
                 [&] { lima.environment = detail::limactl_environment(env, store.lima_pass_env()); });
  return lima_driver(lima, vm, [this](event e) { emit(std::move(e)); });
}

std::vector<fs::path> client::impl::template_dirs() const {
  std::vector<fs::path> dirs;
  if (std::string list = env_value("LIMA_TEMPLATES_PATH"); !list.empty()) {
    std::stringstream in(list);
    for (std::string dir; std::getline(in, dir, ':');) {
      if (!dir.empty()) dirs.emplace_back(dir);
    }
    return dirs;
  }
  dirs.push_back(lima_home() / "_templates");
  fs::path limactl = lima.limactl;
  if (!limactl.has_parent_path()) {
    if (auto found = detail::find_program(limactl.string(), {"PATH=" + env_value("PATH")})) limactl = *found;
  }
  std::error_code ec;
  fs::path real = fs::canonical(limactl, ec);
  if (!ec) dirs.push_back(real.parent_path().parent_path() / "share" / "lima" / "templates");
  return dirs;
}

std::string client::impl::env_value(const std::string& name) const {
  auto it = env.find(name);
  return it == env.end() ? std::string() : it->second;
}

fs::path client::impl::lima_home() const {
  std::string home = env_value("LIMA_HOME");
  if (!home.empty()) return home;
  return fs::path(env_value("HOME")) / ".lima";
}

client::impl::running_vm client::impl::require_running(lima_driver& d, const std::string& name) {
  vm_config config = store.load(name);
  d.version();
  auto info = d.query(config.instance_name());
  if (!info) {
    throw error(errc::not_created, "VM " + name + " does not exist yet: run `dvm sync " + name + "`");
  }
  if (info->status != "Running") boot(d, name, *info);
  return {std::move(config), std::move(*info)};
}

detail::instance_info client::impl::existing_instance(lima_driver& d, const std::string& name) {
  d.version();
  auto info = d.query(instance_of(name));
  if (!info) throw missing_instance(store, name);
  return std::move(*info);
}

void client::impl::boot(lima_driver& d, const std::string& name, detail::instance_info& info) {
  emit(event{event_kind::vm_starting, name, info.status, {}, 0, {}, "starting " + info.name});
  if (info.status == "Broken") d.stop(info.name);
  d.start(info.name, info.dir);
  info.status = "Running";
}

process_result client::impl::run_script(lima_driver& d, const std::string& instance,
                                        const std::string& script, std::chrono::milliseconds timeout) {
  stdin_payload payload;
  payload.append(script);
  detail::shell_request request;
  request.command = detail::guest_bash_command();
  request.stdin_mode = stdio_mode::pipe;
  request.input = &payload;
  request.timeout = timeout;
  return d.shell(instance, request);
}

// --- client ----------------------------------------------------------------------------------

client::client(client_options options) : impl_(std::make_unique<impl>(std::move(options))) {}
client::~client() = default;
client::client(client&&) noexcept = default;
client& client::operator=(client&&) noexcept = default;

const paths& client::location() const noexcept { return impl_->where; }
const config_store& client::configs() const noexcept { return impl_->store; }

init_result client::init_config(const std::string& name_arg, const std::string& template_name) {
  std::string name = normalize_vm_name(name_arg);
  std::string_view text;
  for (const auto& t : detail::init_templates()) {
    if (t.name == template_name) text = t.data;
  }
  if (text.empty()) {
    std::string names;
    for (const auto& n : init_template_names()) names += (names.empty() ? "" : ", ") + n;
    throw error(errc::usage, "unknown template \"" + template_name + "\": use one of " + names);
  }
  fs::path path = impl_->store.vm_file(name);
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  if (ec) throw error(errc::io, "cannot create " + path.parent_path().string() + ": " + ec.message());
  // A second VM from one template must not forward the host port the first one does: a host
  // port another configured VM forwards moves to the next free one, said once the file exists.
  std::vector<std::string> moved_ports;
  std::string content =
      impl_->with_free_host_ports(name, render_template(text, name, impl_->store.host()), path, moved_ports);
  // O_EXCL: never overwrite, not even a file created a moment ago by someone else.
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    if (errno == EEXIST) return {path, false};
    throw error(errc::io, "cannot create " + path.string() + ": " + std::strerror(errno));
  }
  ssize_t written = ::write(fd, content.data(), content.size());
  ::close(fd);
  if (written != static_cast<ssize_t>(content.size())) {
    fs::remove(path, ec);
    throw error(errc::io, "cannot write " + path.string());
  }
  for (const auto& note : moved_ports) impl_->warn(name, note);
  return {path, true};
}

plan_result client::plan(const std::string& name_arg) {
  std::string name = normalize_vm_name(name_arg);
  vm_config vm = impl_->store.load(name);
  plan_result out;
  out.vm = name;
  out.instance = vm.instance_name();
  out.lima_yaml = render_lima_yaml(vm);
  out.warnings = vm.warnings;
  if (auto note = detail::base_template_note(vm.image, impl_->template_dirs())) out.warnings.push_back(*note);

  // The same secrets a sync would stage; plan never needs their values and never shows them.
  auto staged = impl_->collect_secrets(vm, {}, false);
  for (const auto& [secret_name, value] : staged.values) out.secrets.push_back(secret_name);
  for (const auto& listed : vm.secrets) {
    if (staged.values.count(listed) == 0) {
      out.secrets.push_back(listed);
      out.warnings.push_back("secret " + listed + " is not set in the environment: `dvm sync " + name + "` would refuse to run");
    }
  }
  secret_map placeholders;
  for (const auto& s : out.secrets) {
    if (staged.values.count(s) == 0) placeholders.emplace(s, secret(std::string_view("")));
  }
  std::vector<detail::named_secret> list = staged.list();
  for (const auto& [s, value] : placeholders) list.push_back({s, &value});
  std::sort(list.begin(), list.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  stdin_payload program = detail::build_sync_program(vm, impl_->store.recipes(), list, "<nonce>");
  out.guest_program = program.redacted();

  auto with_limactl = [](std::vector<std::string> args) {
    args.insert(args.begin(), "limactl");
    return args;
  };
  detail::shell_request sync_shell;
  sync_shell.command = detail::guest_bash_command();
  out.calls.push_back({with_limactl({"--version"}), ""});
  out.calls.push_back({with_limactl(lima_driver::list_args(out.instance)), ""});
  out.calls.push_back({with_limactl(lima_driver::create_args(out.instance)), out.lima_yaml});
  out.calls.push_back({with_limactl(lima_driver::start_args(out.instance, lima_driver::limactl_start_timeout(impl_->lima.timeouts.start))), ""});
  out.calls.push_back({with_limactl(lima_driver::shell_args(out.instance, sync_shell)), out.guest_program});
  return out;
}

namespace {

// The one shape of a VM for list() and status(): the instance's live facts when it exists, the
// config's when it does not, and always the config's ports, code dir and recipes (without a
// config, the ports the instance's lima.yaml forwards).
vm_status describe_vm(const std::string& name, const vm_config* vm, const instance_info* info) {
  vm_status s;
  s.name = name;
  s.instance = instance_of(name);
  s.configured = vm != nullptr;
  s.state = "absent";
  if (info != nullptr) fill_from_instance(s, *info);
  if (vm != nullptr) {
    if (info == nullptr) {
      s.cpus = vm->cpus;
      s.memory_bytes = vm->memory_bytes;
      s.disk_bytes = vm->disk_bytes;
      s.arch = vm->arch;
      s.vm_type = vm->vm_type;
    }
    s.ports = vm->ports;
    s.code_dir = vm->code_dir;
    s.recipes = vm->recipes;
    if (info != nullptr) s.recreate_to_apply = detail::recreate_to_apply(*vm, *info);
  } else if (info != nullptr && !info->dir.empty()) {
    std::ifstream in(fs::path(info->dir) / "lima.yaml");
    std::stringstream text;
    text << in.rdbuf();
    try {
      s.ports = detail::parse_instance_yaml(text.str()).ports;
    } catch (const error&) {
      // An unreadable lima.yaml: the VM is still listed, without ports.
    }
  }
  return s;
}

}  // namespace

std::vector<vm_status> client::list() {
  auto d = impl_->driver("");
  d.version();
  std::map<std::string, instance_info> instances;
  for (auto& info : d.list()) {
    std::string name = public_name(info.name);
    if (!name.empty()) instances.emplace(name, std::move(info));  // not ours: never listed
  }
  std::set<std::string> names;
  for (const auto& [name, _] : instances) names.insert(name);
  std::set<std::string> configured;
  for (const auto& name : impl_->store.vm_names()) {
    names.insert(name);
    configured.insert(name);
  }
  std::vector<vm_status> out;
  for (const auto& name : names) {
    std::optional<vm_config> vm;
    if (configured.count(name) != 0) {
      try {
        vm = impl_->store.load(name);
      } catch (const error& e) {
        impl_->warn(name, e.what());  // one bad file does not hide the other VMs
      }
    }
    auto it = instances.find(name);
    vm_status s = describe_vm(name, vm ? &*vm : nullptr, it == instances.end() ? nullptr : &it->second);
    s.configured = configured.count(name) != 0;
    out.push_back(std::move(s));
  }
  return out;
}

vm_status client::status(const std::string& name_arg) {
  std::string name = normalize_vm_name(name_arg);
  bool configured = impl_->store.has_vm(name);
  std::optional<vm_config> vm;
  if (configured) vm = impl_->store.load(name);
  auto d = impl_->driver(name);
  d.version();
  auto info = d.query(instance_of(name));
  if (!info && !configured) {
    throw error(errc::not_found, "no VM named \"" + name + "\": no config file (" +
                                     impl_->store.vm_file(name).string() + ") and no Lima instance " +
                                     instance_of(name));
  }
  return describe_vm(name, vm ? &*vm : nullptr, info ? &*info : nullptr);
}

version_info client::versions() {
  version_info out;
  out.dvm = std::string(version());
  try {
    auto d = impl_->driver("");
    out.limactl = d.version();
  } catch (const error& e) {
    out.limactl_problem = e.what();
  }
  return out;
}

void client::stop(const std::string& name_arg) {
  std::string name = normalize_vm_name(name_arg);
  auto d = impl_->driver(name);
  auto info = impl_->existing_instance(d, name);
  if (info.status == "Stopped") {
    impl_->warn(name, "VM " + name + " is already stopped");
    return;
  }
  impl_->emit(event{event_kind::vm_stopping, name, info.status, {}, 0, {}, "stopping " + info.name});
  d.stop(info.name);
}

start_result client::start(const std::string& name_arg) {
  std::string name = normalize_vm_name(name_arg);
  detail::vm_lock lock(impl_->where.state_dir, name, "dvm start");
  auto d = impl_->driver(name);
  auto info = impl_->existing_instance(d, name);
  if (info.status == "Running") {
    impl_->warn(name, "VM " + name + " is already running");
    return {name, false};
  }
  impl_->boot(d, name, info);
  return {name, true};
}

start_result client::restart(const std::string& name_arg) {
  std::string name = normalize_vm_name(name_arg);
  detail::vm_lock lock(impl_->where.state_dir, name, "dvm restart");
  auto d = impl_->driver(name);
  auto info = impl_->existing_instance(d, name);
  if (info.status != "Stopped") {
    impl_->emit(event{event_kind::vm_stopping, name, info.status, {}, 0, {}, "stopping " + info.name});
    d.stop(info.name);
    info.status = "Stopped";
  }
  impl_->boot(d, name, info);
  return {name, true};
}

std::string client::ssh_config(const std::string& name_arg) {
  std::string name = normalize_vm_name(name_arg);
  auto d = impl_->driver(name);
  auto info = impl_->existing_instance(d, name);
  // Lima rewrites ssh.config with a new port at every start: only a running VM's is current.
  if (info.status != "Running") {
    throw error(errc::not_running, "VM " + name + " is " + (info.status.empty() ? "not running" : info.status) +
                                       ": its SSH port is chosen when it starts; run `dvm start " + name +
                                       "` first");
  }
  fs::path file = fs::path(info.dir) / "ssh.config";
  std::ifstream in(file);
  if (!in) throw error(errc::io, "cannot read " + file.string() + " (Lima writes it when the VM starts)");
  // The host agent writes the file at each start: three comment lines, then one Host block
  // (upstream/pkg/hostagent/hostagent.go:288-318; the block is sshutil.Format's FormatConfig,
  // `Host lima-<instance>` and indented options, a package our upstream copy does not hold).
  // Ours names the VM as dvm does; Lima's comment lines are replaced by ours; every setting is
  // kept as Lima wrote it.
  std::string out = "# dvm " + name + ": `ssh dvm-" + name + "`, or this host in your editor's remote-SSH.\n"
                    "# Generated from " + file.string() + "; the port changes when the VM restarts:\n"
                    "# run `dvm ssh-config " + name + "` again after `dvm start " + name + "`.\n";
  bool host_seen = false;
  for (std::string line; std::getline(in, line);) {
    std::string_view trimmed = line;
    while (!trimmed.empty() && (trimmed.front() == ' ' || trimmed.front() == '\t')) trimmed.remove_prefix(1);
    if (trimmed.empty() || trimmed.front() == '#') continue;
    if (trimmed.starts_with("Host ") || trimmed.starts_with("Host\t")) {
      if (host_seen) break;  // one block: the instance's own
      host_seen = true;
      out += "Host dvm-" + name + "\n";
      continue;
    }
    if (host_seen) out += "  " + std::string(trimmed) + "\n";
  }
  if (!host_seen) throw error(errc::io, file.string() + " has no Host block");
  return out;
}

stop_all_result client::stop_all(const stop_all_options& options) {
  auto d = impl_->driver("");
  d.version();
  stop_all_result out;
  for (const auto& info : d.list()) {
    std::string name = public_name(info.name);
    if (name.empty() || info.status == "Stopped") continue;
    auto vm_driver = impl_->driver(name);
    stop_outcome outcome{name, "stopped", ""};
    try {
      if (options.inactive_only) {
        std::optional<vm_config> vm;
        try {
          if (impl_->store.has_vm(name)) vm = impl_->store.load(name);
        } catch (const error& e) {
          impl_->warn(name, std::string("checking only the default service units: ") + e.what());
        }
        client::impl::activity a = impl_->probe_activity(vm_driver, vm ? &*vm : nullptr, info.name);
        if (a.in_use) {
          outcome.action = "skipped";
          outcome.reason = "active: " + a.reason;
        } else if (a.failed && !options.force) {
          outcome.action = "failed";
          outcome.reason = a.reason;
        } else if (a.failed) {
          impl_->warn(name, a.reason + "; stopping anyway (--force)");
        }
      }
      if (outcome.action == "stopped") {
        impl_->emit(event{event_kind::vm_stopping, name, info.status, {}, 0, {}, "stopping " + info.name});
        vm_driver.stop(info.name);
      }
    } catch (const error& e) {
      if (e.code() == errc::cancelled) throw;
      outcome.action = "failed";
      outcome.reason = e.what();
    }
    if (outcome.action == "stopped") ++out.stopped;
    if (outcome.action == "skipped") ++out.skipped;
    if (outcome.action == "failed") ++out.failed;
    out.outcomes.push_back(std::move(outcome));
  }
  return out;
}

dirty_report client::check_unsaved_work(const std::string& name_arg) {
  std::string name = normalize_vm_name(name_arg);
  auto d = impl_->driver(name);
  auto running = impl_->require_running(d, name);
  const std::string nonce = detail::make_nonce();
  process_result r = impl_->run_script(d, running.info.name, detail::dirty_check_script(running.config, nonce),
                                       impl_->lima.timeouts.command);
  return read_dirty_report(r, nonce);
}

unsaved_work_error::unsaved_work_error(const std::string& message, dirty_report report)
    : error(errc::refused, message), report_(std::move(report)) {}

remove_result client::remove(const std::string& name_arg, const remove_options& options) {
  std::string name = normalize_vm_name(name_arg);
  detail::vm_lock lock(impl_->where.state_dir, name, "dvm rm");
  remove_result out;
  out.vm = name;
  bool configured = impl_->store.has_vm(name);
  auto d = impl_->driver(name);
  d.version();
  auto info = d.query(instance_of(name));
  if (!info) throw missing_instance(impl_->store, name);
  // Lima refuses to delete a protected instance (upstream/pkg/instance/delete.go:18-20), also
  // with --force; say so before anything is started or stopped.
  if (info->is_protected) {
    throw error(errc::refused, "refusing to delete " + info->name + ": it is protected in Lima (limactl protect); "
                               "run `limactl unprotect " + info->name + "` first if it should go");
  }
  if (!options.force) {
    // Which code dir to check: the VM file's, or, without one (missing, or a dangling link),
    // the one the instance was created with. Neither: refuse, there is no telling where work is.
    vm_config vm;
    if (configured) {
      vm = impl_->store.load(name);
    } else {
      fs::path file = impl_->store.vm_file(name);
      std::error_code ec;
      bool dangling = fs::is_symlink(fs::symlink_status(file, ec)) && !fs::exists(file, ec);
      std::string what = dangling ? "its VM file " + file.string() + " is a dangling link"
                                  : "it has no VM file (" + file.string() + ")";
      auto recorded = recorded_vm(name, *info);
      if (!recorded) {
        std::string why = what + " and the instance records no code dir, so unsaved work cannot be looked for";
        std::string message = "refusing to delete " + info->name + ": " + why + "; pass --force to delete anyway";
        dirty_report report;
        report.problems.push_back({"vm_file_missing", "", std::move(why)});
        throw unsaved_work_error(message, std::move(report));
      }
      vm = std::move(*recorded);
      out.warnings.push_back(what + ": checking the code dir the instance was created with (" + vm.code_dir + ")");
      impl_->warn(name, out.warnings.back());
    }
    if (info->status != "Running") {
      impl_->emit(event{event_kind::vm_starting, name, info->status, {}, 0, {}, "starting " + info->name});
      if (info->status == "Broken") d.stop(info->name);
      d.start(info->name, info->dir);
      info->status = "Running";
    }
    auto check = [&](const vm_config& which) {
      const std::string nonce = detail::make_nonce();
      return read_dirty_report(
          impl_->run_script(d, info->name, detail::dirty_check_script(which, nonce), impl_->lima.timeouts.command),
          nonce);
    };
    dirty_report report = check(vm);
    // The VM file's code dir changed since the instance was created: the old one may still
    // hold work, so it is checked too; its findings carry its path.
    if (configured) {
      if (auto recorded = recorded_vm(name, *info);
          recorded && detail::absolute_guest_path(vm, recorded->code_dir) != detail::absolute_guest_path(vm, vm.code_dir)) {
        vm_config old = vm;
        old.code_dir = recorded->code_dir;
        merge_dirty_report(report, check(old), old.code_dir);
      }
    }
    out.checked = true;
    if (report.incomplete) {
      std::string message = "refusing to delete " + info->name + ": the unsaved-work check is incomplete (" +
                            report.incomplete_reason + "); pass --force to delete anyway";
      throw unsaved_work_error(message, std::move(report));
    }
    if (!report.clean()) {
      std::string message = "refusing to delete " + info->name + ": " +
                            (report.problems.empty() ? "unsaved work under " + vm.code_dir
                                                     : "unsaved work, or places the check cannot see, under " + vm.code_dir) +
                            ":" + format_dirty_report(report) +
                            "\ncommit and push it, or copy it out with `dvm cp`, or pass --force to delete anyway";
      throw unsaved_work_error(message, std::move(report));
    }
  } else if (!configured) {
    out.warnings.push_back("deleting " + info->name + ", which has no config file (" +
                           impl_->store.vm_file(name).string() + ")");
    impl_->warn(name, out.warnings.back());
  }
  impl_->emit(event{event_kind::vm_deleting, name, info->status, {}, 0, {}, "deleting " + info->name});
  auto current = d.query(info->name);
  if (current && current->status != "Stopped") d.stop(info->name);
  d.remove(info->name);
  out.removed = true;
  return out;
}

exec_result client::exec(const std::string& name_arg, const std::vector<std::string>& argv,
                         const exec_options& options) {
  if (argv.empty()) throw error(errc::usage, "exec needs a command to run");
  std::string name = normalize_vm_name(name_arg);
  auto d = impl_->driver(name);
  auto running = impl_->require_running(d, name);
  detail::shell_request request;
  request.command = detail::in_code_dir_command(running.config, argv);
  stdin_payload input;
  if (options.interactive) {
    request.stdin_mode = request.stdout_mode = request.stderr_mode = stdio_mode::inherit;
  } else if (options.input) {
    input.append(*options.input);
    request.stdin_mode = stdio_mode::pipe;
    request.input = &input;
  }
  process_result r = d.shell(running.info.name, request);
  return {exit_status(r), std::move(r.out), std::move(r.err),
          std::chrono::duration_cast<std::chrono::milliseconds>(r.elapsed)};
}

int client::shell(const std::string& name_arg) {
  std::string name = normalize_vm_name(name_arg);
  auto d = impl_->driver(name);
  auto running = impl_->require_running(d, name);
  detail::shell_request request;
  request.command = detail::login_shell_command(running.config);
  request.stdin_mode = request.stdout_mode = request.stderr_mode = stdio_mode::inherit;
  return exit_status(d.shell(running.info.name, request));
}

namespace {
struct copy_endpoint {
  bool guest = false;
  std::string vm;    // public name
  std::string path;  // as written after "NAME:"
  std::string text;  // the operand as given
};

copy_endpoint parse_copy_operand(const std::string& operand) {
  copy_endpoint e;
  e.text = operand;
  std::size_t colon = operand.find(':');
  if (colon != std::string::npos) {
    std::string prefix = operand.substr(0, colon);
    if (prefix.starts_with(instance_prefix)) prefix = prefix.substr(instance_prefix.size());
    if (is_valid_vm_name(prefix)) {
      e.guest = true;
      e.vm = prefix;
      e.path = operand.substr(colon + 1);
      return e;
    }
    // limactl copy reads every operand with a colon as remote, so it cannot copy this one.
    throw error(errc::usage, "cannot copy \"" + operand +
                                 "\": host paths must not contain ':' (limactl copy reads them as VM paths)");
  }
  e.path = operand;
  return e;
}

// Guest path for a `cp` operand: relative to the code dir, "~" is the guest home.
std::string map_guest_path(const vm_config& vm, const std::string& path) {
  std::string code = detail::absolute_guest_path(vm, vm.code_dir);
  if (path.empty() || path == ".") return code;
  if (path.starts_with("./")) return code + path.substr(1);
  if (path.starts_with("/")) return path;
  if (path == "~" || path.starts_with("~/")) return detail::absolute_guest_path(vm, path);
  return code + "/" + path;
}

// What a copy script reported on a refusal (exit 3), as an error; nullopt for anything else.
// A host operand of `dvm cp` as the caller means it: relative to the caller's working
// directory (limactl runs in dvm's scratch directory, so it must never see a relative path).
fs::path host_path(const std::string& operand) {
  fs::path p = fs::absolute(operand).lexically_normal();
  // "dir/" stays a directory: the trailing separator tells scp and rsync so.
  if (operand.ends_with("/") && !p.string().ends_with("/")) p += "/";
  return p;
}

// dvm's scratch directory is where limactl runs; nothing is ever copied out of or into it.
void refuse_scratch(const std::string& operand, const fs::path& absolute, const fs::path& scratch) {
  std::error_code ec;
  fs::path real = fs::weakly_canonical(absolute, ec);
  fs::path scratch_real = fs::weakly_canonical(scratch, ec);
  for (const fs::path& candidate : {absolute.lexically_normal(), real}) {
    auto rel = candidate.lexically_relative(scratch_real);
    if (!rel.empty() && *rel.begin() != "..") {
      throw error(errc::usage, "cp: " + operand + " is in dvm's scratch directory (" + scratch_real.string() +
                                   "), which is never copied from or to; run dvm cp from another directory");
    }
  }
}

void check_host_source(const std::string& operand, bool recursive, const fs::path& scratch) {
  fs::path p = host_path(operand);
  std::error_code ec;
  auto st = fs::status(p, ec);
  if (!fs::exists(st)) {
    throw error(errc::usage, "cp: host source " + operand + " does not exist" +
                                 (fs::path(operand).is_absolute() ? "" : " (" + p.string() + ")"));
  }
  if (fs::is_directory(st) && !recursive) {
    throw error(errc::usage, "cp: host source " + operand + " is a directory: use `dvm cp -r`");
  }
  refuse_scratch(operand, p, scratch);
}

void check_host_target(const std::string& operand, std::size_t sources, const fs::path& scratch) {
  fs::path p = host_path(operand);
  std::error_code ec;
  bool is_dir = fs::is_directory(p, ec);
  if (!is_dir) {
    if (operand.ends_with("/")) {
      throw error(errc::usage, "cp: host directory " + operand + " does not exist");
    }
    if (sources > 1) {
      throw error(errc::usage, "cp: copying " + std::to_string(sources) + " sources needs a host directory as the target, not " + operand);
    }
    fs::path parent = p.parent_path();
    if (!fs::is_directory(parent, ec)) {
      throw error(errc::usage, "cp: host directory " + parent.string() + " (for " + operand + ") does not exist");
    }
  }
  refuse_scratch(operand, p, scratch);
}

std::optional<error> copy_refusal(const process_result& r, std::string_view direction) {
  if (r.exit_code != 3) return std::nullopt;
  for (const auto& [key, value] : tab_fields(r.out)) {
    std::size_t tab = value.find('\t');
    std::string path = value.substr(0, tab);
    if (key == "refused") {
      std::string link = tab == std::string::npos ? "?" : value.substr(tab + 1);
      return error(errc::refused, "refusing to copy " + std::string(direction) + " " + path +
                                      ": it is a symbolic link (to " + link +
                                      ") in the code dir, which the agent user can change; remove it in the VM first");
    }
    if (key == "moved") {
      return error(errc::refused, "refusing to copy " + std::string(direction) + " " + path +
                                      ": it changed while dvm was checking it (a directory replaced by a link?)");
    }
    if (key == "missing") return error(errc::guest_failed, "cannot copy into " + path + ": no such directory");
    if (key == "failed") return error(errc::guest_failed, "cannot copy: " + value);
  }
  return std::nullopt;
}

// Host to guest: limactl copies straight to a target outside the code dir; into the code dir (or
// a directory above it) it copies into a private staging directory, and a guest script moves
// the items into place without following any link the agent user made (SECURITY.md).
// (A template: client::impl is private, and deduction names no private type.)
template <class Impl, class Running>
int copy_into_guest(Impl& impl, lima_driver& d, const Running& running, std::size_t source_count,
                    const std::vector<std::string>& flags, std::vector<std::string> operands,
                    const std::string& target) {
  const std::string& instance = running.info.name;
  process_result stage =
      impl.run_script(d, instance, detail::copy_stage_script(running.config, target), impl.lima.timeouts.command);
  std::string mode;
  std::string kind;
  std::string name;
  std::string staging;
  std::string dirs;  // directories the copy creates below base (relative, "" for none)
  std::string base;  // the deepest existing directory of the target
  for (const auto& [key, value] : tab_fields(stage.out)) {
    if (key == "mode") mode = value;
    if (key == "kind") kind = value;
    if (key == "name") name = value;
    if (key == "staging") staging = value;
    if (key == "dirs") dirs = value;
    if (key == "base") base = value;
  }
  // A staging directory the copy will not use is removed at once (a later copy never reuses it).
  auto discard_staging = [&] {
    impl.run_script(d, instance, "rm -rf -- " + detail::shell_quote(staging) + "\n", impl.lima.timeouts.command);
  };
  if (stage.exit_code != 0 && staging.find("/.dvm-cp.") != std::string::npos) discard_staging();
  if (auto refusal = copy_refusal(stage, "into")) throw *refusal;
  if (stage.exit_code != 0) {
    throw error(errc::guest_failed, "cannot prepare the copy in " + instance + ": " + last_lines(stage.err + stage.out, 3));
  }
  bool staged = mode == "inside" || mode == "ancestor";
  if (!staged && mode != "outside") throw error(errc::guest_failed, "the guest did not say where " + target + " is");
  if (staged && (staging.find("/.dvm-cp.") == std::string::npos || (kind != "dir" && kind != "name") ||
                 (kind == "name" && (name.empty() || name.find('/') != std::string::npos)))) {
    throw error(errc::guest_failed, "the guest did not report a staging directory for the copy");
  }
  if (staged && !dirs.empty() && (mode != "inside" || base.empty() || dirs.starts_with("/"))) {
    discard_staging();
    throw error(errc::guest_failed, "the guest reported new directories for " + target + " outside the code dir");
  }
  std::string install_target = target;
  if (staged) {
    if (kind == "name" && source_count > 1) {
      discard_staging();
      throw error(errc::usage, "cannot copy " + std::to_string(source_count) + " sources to " + target +
                                   ": it is not a directory");
    }
    // Into the staging directory itself, the target ends with "/": then rsync (the `auto`
    // backend's choice when host and guest have it) copies a directory as itself, as scp does,
    // instead of merging its contents (upstream/pkg/copytool/rsync.go:149-169).
    std::string into = staging + (dirs.empty() ? "" : "/" + dirs);
    operands.back() = instance + ":" + into + (kind == "name" ? "/" + name : "/");
    if (!dirs.empty()) {
      // The staged tree starts with the first new directory: it is placed into base, the
      // deepest directory that exists, like the entries of a copy into a directory.
      install_target = base;
      kind = "dir";
    }
  }
  process_result r = d.copy(flags, operands);
  int status = exit_status(r);
  if (status != 0) {
    if (staged) discard_staging();
    throw error(errc::lima_failed, "limactl copy failed (exit " + std::to_string(status) + ")" +
                                       (r.err.empty() ? "" : ": " + detail::stderr_tail(r.err)));
  }
  if (!staged) return status;
  process_result install = impl.run_script(
      d, instance, detail::copy_install_script(running.config, install_target, staging, mode, kind),
      impl.lima.timeouts.command);
  if (auto refusal = copy_refusal(install, "into")) throw *refusal;
  if (install.exit_code != 0 || install.out.find("installed") == std::string::npos) {
    throw error(errc::guest_failed, "copied into " + staging + ", but moving it into place failed: " +
                                        last_lines(install.err + install.out, 3));
  }
  return status;
}

}  // namespace

int client::copy(const std::vector<std::string>& sources, const std::string& target,
                 const copy_options& options) {
  if (sources.empty()) throw error(errc::usage, "cp needs at least one source and a target");
  if (!options.backend.empty() && options.backend != "auto" && options.backend != "scp" &&
      options.backend != "rsync") {
    throw error(errc::usage, "unknown cp backend \"" + options.backend + "\": use auto, scp or rsync");
  }
  std::vector<copy_endpoint> from;
  for (const auto& s : sources) from.push_back(parse_copy_operand(s));
  copy_endpoint to = parse_copy_operand(target);
  std::set<std::string> vms;
  bool any_host_source = false;
  bool any_guest_source = false;
  for (const auto& e : from) {
    (e.guest ? any_guest_source : any_host_source) = true;
    if (e.guest) vms.insert(e.vm);
  }
  if (to.guest) vms.insert(to.vm);
  if (vms.size() > 1) throw error(errc::usage, "cp can address only one VM at a time");
  if (vms.empty()) throw error(errc::usage, "cp needs one side to be a VM path (NAME:path)");
  if (any_guest_source && any_host_source) {
    throw error(errc::usage, "cp copies either from the host into a VM or from a VM to the host, not both at once");
  }
  if (to.guest == any_guest_source) {
    throw error(errc::usage, to.guest ? "cp needs a host path on one side: both sides are VM paths"
                                      : "cp needs a VM path on one side");
  }

  // Host paths are checked before the VM is even started: a typo is the caller's error (exit 2),
  // not a failed limactl copy.
  std::size_t guest_source_count = any_guest_source ? from.size() : 0;
  for (const auto& e : from) {
    if (!e.guest) check_host_source(e.path, options.recursive, impl_->lima.scratch_dir);
  }
  if (!to.guest) check_host_target(to.path, guest_source_count, impl_->lima.scratch_dir);

  std::string name = *vms.begin();
  auto d = impl_->driver(name);
  auto running = impl_->require_running(d, name);
  const std::string& instance = running.info.name;
  // limactl runs in dvm's scratch directory, so a relative host path is made absolute here,
  // against the caller's working directory.
  auto endpoint = [&](const copy_endpoint& e) {
    return e.guest ? instance + ":" + map_guest_path(running.config, e.path) : host_path(e.path).string();
  };
  std::vector<std::string> flags;
  if (options.recursive) flags.emplace_back("-r");
  if (options.verbose) flags.emplace_back("-v");
  if (!options.backend.empty()) flags.push_back("--backend=" + options.backend);
  std::vector<std::string> operands;
  for (const auto& e : from) operands.push_back(endpoint(e));
  operands.push_back(endpoint(to));

  if (!to.guest) {
    // scp follows links as the main user: refuse a source in the code dir that holds one.
    std::vector<std::string> guest_sources;
    for (const auto& e : from) guest_sources.push_back(map_guest_path(running.config, e.path));
    process_result check = impl_->run_script(
        d, instance, detail::copy_out_check_script(running.config, guest_sources, options.recursive),
        impl_->lima.timeouts.command);
    if (auto refusal = copy_refusal(check, "from")) throw *refusal;
    if (check.exit_code != 0 || check.out.find("checked") == std::string::npos) {
      throw error(errc::guest_failed, "cannot check the sources in " + instance + ": " + last_lines(check.err + check.out, 3));
    }
    process_result r = d.copy(flags, operands);
    int status = exit_status(r);
    if (status != 0) {
      throw error(errc::lima_failed, "limactl copy failed (exit " + std::to_string(status) + ")" +
                                         (r.err.empty() ? "" : ": " + detail::stderr_tail(r.err)));
    }
    return status;
  }
  return copy_into_guest(*impl_, d, running, from.size(), flags, operands, map_guest_path(running.config, to.path));
}

int client::logs(const std::string& name_arg, const log_options& options, std::string* captured) {
  std::string name = normalize_vm_name(name_arg);
  std::string unit = options.unit;
  if (unit.empty()) {
    auto units = service_units(impl_->store.load(name), impl_->store.recipes());
    if (units.size() != 1) {
      std::string which = "recipes with a \"# Service:\" header line";
      if (!units.empty()) {
        which.clear();
        for (const auto& [recipe_name, _] : units) which += (which.empty() ? "" : ", ") + recipe_name;
      }
      throw error(errc::usage, "log needs a unit: VM " + name + " uses " +
                                   (units.empty() ? std::string("no") : std::to_string(units.size())) +
                                   " service recipes (" + which + "); name the unit, e.g. `dvm log " + name +
                                   " sshd.service`");
    }
    unit = units.front().second;
  }
  bool unit_ok = !unit.empty() && unit.front() != '-' &&
                 std::all_of(unit.begin(), unit.end(), [](char c) {
                   return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' ||
                          c == '@' || c == '-' || c == ':' || c == '\\';
                 });
  if (!unit_ok) throw error(errc::usage, "\"" + unit + "\" is not a systemd unit name");
  std::vector<std::string> command{"sudo", "journalctl", "-u", unit};
  if (options.args.empty()) {
    command.insert(command.end(), {"--no-pager", "-n", "100"});
  } else {
    command.insert(command.end(), options.args.begin(), options.args.end());
  }
  auto d = impl_->driver(name);
  auto running = impl_->require_running(d, name);
  detail::shell_request request;
  request.command = command;
  if (options.interactive) request.stdout_mode = request.stderr_mode = stdio_mode::inherit;
  process_result r = d.shell(running.info.name, request);
  if (captured != nullptr) *captured = r.out;
  return exit_status(r);
}

std::string client::impl::run_guest_script(const std::string& name_arg,
                                            const std::function<std::string(const vm_config&)>& script,
                                            const std::string& what) {
  std::string name = normalize_vm_name(name_arg);
  auto d = driver(name);
  auto running = require_running(d, name);
  process_result r = run_script(d, running.info.name, script(running.config), lima.timeouts.command);
  if (r.exit_code != 0) {
    throw error(errc::guest_failed, what + " in " + running.info.name + " failed (exit " +
                                        std::to_string(exit_status(r)) + "): " + last_lines(r.err + r.out, 4));
  }
  return r.out;
}

ssh_key_result client::ssh_key(const std::string& name) {
  std::string out_text = impl_->run_guest_script(name, detail::ssh_key_script, "creating the SSH keys");
  ssh_key_result out;
  for (const auto& [key, value] : tab_fields(out_text)) {
    if (key == "access") out.access_public_key = value;
    if (key == "signing") out.signing_public_key = value;
    if (key == "created") out.created = value == "1";
  }
  if (out.access_public_key.empty() || out.signing_public_key.empty()) {
    throw error(errc::guest_failed, "the guest did not report both public keys");
  }
  return out;
}

gpg_key_result client::gpg_key(const std::string& name) {
  std::string out_text = impl_->run_guest_script(name, detail::gpg_key_script, "creating the GPG key");
  gpg_key_result out;
  std::size_t armor = out_text.find("-----BEGIN PGP PUBLIC KEY BLOCK-----");
  for (const auto& [key, value] : tab_fields(out_text.substr(0, armor))) {
    if (key == "created") out.created = value == "1";
    if (key == "fingerprint") out.fingerprint = value;
  }
  if (armor != std::string::npos) out.armored_public_key = out_text.substr(armor);
  if (out.fingerprint.empty() || out.armored_public_key.empty()) {
    throw error(errc::guest_failed, "the guest did not report the GPG key");
  }
  return out;
}

}  // namespace dvm
