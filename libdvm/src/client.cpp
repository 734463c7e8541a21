// dvm::client: construction, the shared impl members, and the commands that read or plan without
// touching a guest (init, plan, list, status, version). The other commands are client_*.cpp.
#include "client_impl.hpp"

#include <dvm/error.hpp>
#include <dvm/version.hpp>

#include "embedded.hpp"
#include "guest/program.hpp"
#include "lima/drift.hpp"
#include "process/find_program.hpp"
#include "io_error.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <set>
#include <sstream>

#include <fcntl.h>
#include <unistd.h>

namespace dvm::inline v0 {

namespace fs = std::filesystem;
using detail::instance_info;
using detail::lima_driver;

namespace {

// The Lima side of a vm_status, from a `limactl list --json` record.
void fill_from_instance(vm_status& s, const instance_info& info) {
  s.state = detail::state_of(info.status);
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
  if (ec) throw detail::io_error("cannot create " + path.parent_path().string(), ec);
  // A second VM from one template must not forward the host port the first one does: a host
  // port another configured VM forwards moves to the next free one, said once the file exists.
  std::vector<std::string> moved_ports;
  std::string content =
      impl_->with_free_host_ports(name, render_template(text, name, impl_->store.host()), path, moved_ports);
  // O_EXCL: never overwrite, not even a file created a moment ago by someone else.
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    if (errno == EEXIST) return {path, false};
    throw detail::io_error("cannot create " + path.string(), errno);
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

  // Which recipes the sync would run: from the guest's records when the VM runs (read only).
  // Without limactl (plan works without Lima), whether they run is unknown.
  try {
    auto d = impl_->driver(name);
    auto info = d.query(out.instance);
    out.recipes = impl_->recipe_states(info && info->status == "Running" ? &d : nullptr, vm);
    if (!info) {
      for (auto& r : out.recipes) r.freshness = recipe_freshness::never_ran;  // a new VM runs them all
    }
  } catch (const error& e) {
    if (e.code() == errc::cancelled) throw;
    out.recipes = impl_->recipe_states(nullptr, vm);
  }

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
  s.state = vm_state::absent;
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
  }
  if (info == nullptr) return s;
  std::optional<detail::instance_settings> stored;
  try {
    stored = detail::read_instance_yaml(*info);
  } catch (const error&) {
    return s;  // an unreadable lima.yaml: the VM is still listed, without what it records
  }
  if (vm != nullptr) {
    s.recreate_to_apply = detail::recreate_to_apply(*vm, *stored);
  } else {
    s.ports = stored->ports;
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
  vm_status s = describe_vm(name, vm ? &*vm : nullptr, info ? &*info : nullptr);
  if (vm && s.state == vm_state::running) s.recipe_states = impl_->recipe_states(&d, *vm);
  return s;
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

}  // namespace dvm::v0
