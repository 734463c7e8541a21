// dvm sync and dvm sync --all (product spec §7): create or reconcile, start, then one guest
// program over one `limactl shell` whose stdin also carries the secrets.
#include "client_impl.hpp"

#include <dvm/error.hpp>
#include <dvm/version.hpp>

#include "config/port_claims.hpp"
#include "guest/output.hpp"
#include "guest/scripts.hpp"
#include "guest/sync_progress.hpp"
#include "lima/drift.hpp"
#include "lima/limactl_output.hpp"
#include "state/lock.hpp"
#include "state/sync_log.hpp"
#include "text/lines.hpp"

#include <algorithm>
#include <atomic>
#include <optional>
#include <thread>

namespace dvm::inline v0 {

namespace detail {
// The one place inside libdvm that looks at a secret's bytes: checking the format of tokens
// whose format is known, without copying them anywhere.
struct secret_access {
  template <class Predicate>
  static bool all_of(const secret& s, Predicate p) {
    return std::all_of(s.data_.get(), s.data_.get() + s.size_, p);
  }
  static bool starts_with(const secret& s, std::string_view prefix) {
    return s.size_ >= prefix.size() && std::string_view(s.data_.get(), prefix.size()) == prefix;
  }
};
}  // namespace detail

namespace fs = std::filesystem;
using detail::join;
using std::chrono::milliseconds;
using clock = std::chrono::steady_clock;

namespace {

milliseconds since(clock::time_point t) {
  return std::chrono::duration_cast<milliseconds>(clock::now() - t);
}

std::string refusal_text(const std::string& instance, const std::vector<detail::instance_finding>& found) {
  std::string text = "refusing to run " + instance + " with Lima settings that break dvm's rules:";
  for (const auto& f : found) {
    text += "\n  " + f.source.string() + ": " + f.key + ": " + f.problem;
  }
  text += "\ndvm does not edit Lima's own config files: remove these keys from them, or give dvm a "
          "LIMA_HOME of its own";
  return text;
}

// Lima cannot shrink a disk: a config error, since the fix is an edit (or a new VM).
void refuse_disk_shrink(const vm_config& vm, const detail::instance_drift& drift) {
  if (!drift.disk_shrinks_from) return;
  throw config_error(vm.file, 0, 0, "disk",
                     "disk = \"" + format_size(vm.disk_bytes) + "\" is smaller than the VM's disk (" +
                         format_size(*drift.disk_shrinks_from) +
                         "); Lima cannot shrink a disk: keep the size, or recreate the VM (dvm rm " + vm.name +
                         " --yes, then dvm sync " + vm.name + ")");
}

// Every host binding beyond loopback (127.0.0.0/8), named at every sync so that an exposed port
// (an explicit IP, or host_ip under [defaults] or in the VM file) is never silent.
std::vector<std::string> exposure_warnings(const vm_config& vm) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < vm.ports.size(); ++i) {
    const port_forward& p = vm.ports[i];
    if (p.host_ip.starts_with("127.")) continue;
    std::string text = "ports[" + std::to_string(i) + "] (" + to_string(p) + ") binds to " + p.host_ip +
                       ", beyond loopback: other machines that reach this host can connect to it";
    if (p.host_ip == vm.host_ip) text += " (from host_ip = \"" + vm.host_ip + "\")";
    out.push_back(std::move(text));
  }
  return out;
}

// The service units that mean "in use": every catalog recipe's `# Service:` unit under its
// default name, and the names this VM's [env] gives them (as `dvm stop --all --inactive` probes).
std::vector<std::string> units_to_probe(const config_store& store, const vm_config* vm) {
  std::optional<recipe_catalog> bundled;
  const recipe_catalog* catalog = nullptr;
  try {
    catalog = &store.recipes();
  } catch (const config_error&) {
    catalog = &bundled.emplace();  // a broken user recipe: the bundled units still count
  }
  std::vector<std::string> units;
  auto add = [&](const std::string& unit) {
    if (std::find(units.begin(), units.end(), unit) == units.end()) units.push_back(unit);
  };
  for (const auto& r : catalog->all()) {
    if (r.service) add(r.service->unit);
  }
  if (vm == nullptr) return units;
  for (const auto& r : catalog->all()) {
    if (r.service) add(service_unit_in(*r.service, *vm));
  }
  return units;
}

// "baseline, git, node": what a VM runs, for messages.
std::string runs_list(const vm_config& vm) {
  std::vector<std::string> names = detail::run_order(vm);
  return names.empty() ? std::string("none") : join(names, ", ");
}

std::string last_line(const std::string& text) {
  std::string_view rest(text);
  while (!rest.empty() && (rest.back() == '\n' || rest.back() == '\r')) rest.remove_suffix(1);
  std::size_t nl = rest.rfind('\n');
  return std::string(nl == std::string_view::npos ? rest : rest.substr(nl + 1));
}

// Refuses (before any limactl call) a VM whose host ports another configured VM binds too:
// only one of them could listen there. A config error: the fix is an edit of one of the files.
void refuse_port_clashes(const vm_config& vm, const config_store& store) {
  auto ours = detail::claims_of(vm);
  auto theirs = detail::other_vms_claims(store, vm.name);
  auto clashes = detail::find_port_clashes(ours, theirs);
  if (clashes.empty()) return;
  std::string text = "VM " + vm.name + " forwards a host port that another VM forwards too (only one VM can "
                     "listen on it):";
  for (const auto& c : clashes) text += "\n  " + detail::describe(c);
  const detail::port_claim& first = clashes.front().ours;
  std::vector<detail::port_claim> taken = theirs;
  taken.insert(taken.end(), ours.begin(), ours.end());
  if (std::uint16_t free = detail::free_host_port(first.rule, taken); free != 0) {
    text += "\nchange the host port in one of the files, e.g. ports[" + std::to_string(first.index) + "] = \"" +
            (first.rule.host_ip == vm.host_ip ? "" : first.rule.host_ip + ":") + std::to_string(free) + ":" +
            std::to_string(first.rule.guest_port) + "\" in " + vm.file.string();
  }
  throw config_error(vm.file, 0, 0, "ports[" + std::to_string(first.index) + "]", text);
}

}  // namespace

std::string client::impl::with_free_host_ports(const std::string& name, std::string text, const fs::path& file,
                                              std::vector<std::string>& notes) const {
  auto spread = detail::spread_template_ports(std::move(text), detail::other_vms_claims(store, name), file);
  notes.insert(notes.end(), spread.notes.begin(), spread.notes.end());
  return std::move(spread.text);
}

client::impl::activity client::impl::probe_activity(detail::lima_driver& d, const vm_config* vm,
                                                   const std::string& instance) {
  activity out;
  process_result probe;
  try {
    probe = run_script(d, instance, detail::activity_probe_script(units_to_probe(store, vm)), lima.timeouts.command);
  } catch (const error& e) {
    if (e.code() == errc::cancelled) throw;
    out.failed = true;
    out.reason = std::string("activity check failed: ") + e.what();
    return out;
  }
  std::string said = last_line(probe.out);
  // Exit 1 is also what limactl itself exits with when it fails: only the probe's own verdict
  // line means "in use".
  if (probe.exit_code == 1 && said.starts_with("active: ")) {
    out.in_use = true;
    out.reason = said.substr(8);
  } else if (probe.exit_code != 0 || said != "inactive") {
    out.failed = true;
    out.reason = "activity check failed (exit " +
                 std::to_string(detail::exit_status(probe)) + ")";
    std::string why = detail::stderr_tail(probe.err.empty() ? probe.out : probe.err, 2);
    if (!why.empty()) out.reason += ": " + why;
  }
  return out;
}

std::vector<detail::named_secret> client::impl::staged_secrets::list() const {
  std::vector<detail::named_secret> out;
  for (const auto& [name, value] : values) out.push_back({name, &value});
  return out;
}

std::vector<std::string> client::impl::secret_names_to_stage(const vm_config& vm) const {
  std::vector<std::string> names;
  for (auto& [name, value] : collect_secrets(vm, {}, false).values) names.push_back(name);
  for (const auto& listed : vm.secrets) {
    if (std::find(names.begin(), names.end(), listed) == names.end()) names.push_back(listed);
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<recipe_state> client::impl::recipe_states(detail::lima_driver* running, const vm_config& vm) {
  std::vector<detail::recipe_step> steps = detail::sync_steps(vm, store.recipes(), secret_names_to_stage(vm), {});
  std::optional<std::map<std::string, detail::recipe_record>> records;
  if (running != nullptr && !steps.empty()) {  // no recipes: nothing to read
    process_result r = run_script(*running, vm.instance_name(), detail::recipe_records_script(), lima.timeouts.command);
    records = detail::parse_recipe_records(r.out);
    if (!records) {
      std::string why = detail::stderr_tail(r.err.empty() ? r.out : r.err, 2);
      warn(vm.name, "could not read which recipes ran (exit " + std::to_string(detail::exit_status(r)) + ")" +
                        (why.empty() ? "" : ": " + why));
    }
  }
  return detail::recipe_states_of(steps, records);
}

client::impl::staged_secrets client::impl::collect_secrets(const vm_config& vm, secret_map direct,
                                                           bool require_listed) const {
  staged_secrets out;
  for (auto& [name, value] : direct) {
    if (!is_valid_secret_name(name)) {
      throw error(errc::usage, "\"" + name + "\" is not a valid secret name: use [A-Z_][A-Z0-9_]*");
    }
    out.values.emplace(name, std::move(value));
  }
  for (const auto& name : vm.secrets) {
    if (out.values.count(name) != 0) continue;
    std::string value = env_value(name);
    if (value.empty()) {
      if (!require_listed) continue;
      throw error(errc::config, "secret " + name + " (listed in " + vm.file.string() +
                                    ") is not set or empty in dvm's environment; set it for this run, e.g. `" +
                                    name + "=... dvm sync " + vm.name + "`");
    }
    out.values.emplace(name, secret(std::move(value)));
  }
  // The secrets the VM's recipes declare (`# Secret:` header lines) are staged automatically
  // when set; a value that breaks the declared rules is refused without being shown.
  for (const recipe* r : recipes_run_by(vm, store.recipes())) {
    for (const recipe_secret& s : r->secrets) {
      std::string source = s.name;
      if (out.values.count(s.name) == 0) {
        std::string value = s.alias.empty() ? std::string() : env_value(s.alias);
        source = s.alias;
        if (value.empty()) {
          value = env_value(s.name);
          source = s.name;
        }
        if (value.empty()) continue;
        out.values.emplace(s.name, secret(std::move(value)));
      }
      const secret& value = out.values.at(s.name);
      const std::string what = "secret " + s.name + " (" + (source == s.name ? "" : "from " + source + ", ") +
                               "used by recipe \"" + r->name + "\")";
      if (!detail::secret_access::starts_with(value, s.prefix)) {
        throw error(errc::config, what + " must start with \"" + s.prefix + "\" (the value is not shown)");
      }
      if (s.token_charset && (value.empty() || !detail::secret_access::all_of(value, recipe_secret::token_char))) {
        throw error(errc::config, what + " may only contain A-Z a-z 0-9 . _ = - (the value is not shown)");
      }
    }
  }
  return out;
}

void client::impl::bring_up(detail::lima_driver& d, const vm_config& vm, bool restart, sync_result& result) {
  const std::string& name = vm.name;
  const std::string instance = vm.instance_name();
  auto info = d.query(instance);
  // Lima's own config files apply to every instance and dvm must not edit them.
  if (auto found = detail::lima_config_file_findings(lima_home()); !found.empty()) {
    throw error(errc::refused, refusal_text(instance, found));
  }
  if (!info) {
    emit(event{event_kind::vm_creating, name, "create", {}, 0, {}, "creating " + instance});
    d.create(instance, render_lima_yaml(vm));
    result.created = true;
    emit(event{event_kind::vm_starting, name, "start", {}, 0, {}, "starting " + instance});
    d.start(instance, (lima_home() / instance).string());
    result.started = true;
    return;
  }
  const detail::instance_drift drift = detail::compare_instance(vm, *info);
  if (!drift.recreate.empty()) {
    warn(name, "recreate to apply: " + join(drift.recreate, ", ") + " (Lima sets these only when it creates "
               "an instance: dvm rm " + name + ", then dvm sync " + name + ")");
  }
  refuse_disk_shrink(vm, drift);
  const std::vector<std::string> changes = drift.editable();
  bool running = info->status == "Running";
  if (!changes.empty() && running && !restart) {
    // The change needs a stop: not of a VM someone is using, unless they said so. When the
    // probe cannot tell, the VM counts as in use.
    activity a = probe_activity(d, &vm, instance);
    if (a.in_use || a.failed) {
      throw error(errc::busy, name + (a.in_use ? " is in use (" : " may be in use (") + a.reason +
                                  "): applying " + join(changes, ", ") + " needs a restart; run `dvm sync " +
                                  name + " --restart` to restart it anyway");
    }
  }
  if (!changes.empty()) {
    emit(event{event_kind::vm_reconciling, name, "edit", {}, 0, {}, "updating " + join(changes, ", ")});
    if (info->status != "Stopped") d.stop(instance);
    d.edit(instance, detail::edit_expression(vm, drift));
    result.reconciled = changes;
    running = false;
  } else if (!running && info->status != "Stopped") {
    d.stop(instance);  // Broken or unknown: recover with a (forced) stop first
  }
  if (!running) {
    emit(event{event_kind::vm_starting, name, "start", {}, 0, {}, "starting " + instance});
    d.start(instance, info->dir);
    result.started = true;
  }
}

void client::impl::run_sync_program(detail::lima_driver& d, const vm_config& vm, staged_secrets staged,
                                    const detail::run_selection& selection, sync_result& result) {
  // Its log first: a state dir that cannot hold it costs the log, not the sync.
  std::optional<detail::sync_log> log;
  try {
    log.emplace(where.state_dir, vm.name);
    result.log = log->path();
    log->line("# dvm sync " + vm.name + ": the guest program's output (libdvm " + std::string(version()) + ")");
  } catch (const error& e) {
    warn(vm.name, std::string("this sync keeps no log: ") + e.what());
  }
  // One limactl call, everything on its stdin.
  const std::string nonce = detail::make_nonce();
  stdin_payload program = detail::build_sync_program(vm, store.recipes(), staged.list(), nonce, selection);
  staged.values.clear();  // wiped; the payload holds the only copy now
  detail::guest_output_parser parser(nonce);
  detail::sync_progress progress(vm.name, result, [this](event e) { emit(std::move(e)); },
                                 log ? &*log : nullptr);
  auto on_line = [&](std::string_view line) { progress.line(line); };
  auto on_marker = [&](const detail::guest_marker& m) { progress.marker(m); };
  emit(event{event_kind::guest_started, vm.name, "", {}, 0, {}, {}});
  detail::shell_request request;
  request.command = detail::guest_bash_command();
  request.stdin_mode = stdio_mode::pipe;
  request.input = &program;
  request.timeout = lima.timeouts.guest;
  request.on_stdout = [&](std::string_view chunk) { parser.feed(chunk, on_line, on_marker); };
  process_result r = d.shell(vm.instance_name(), request);
  parser.finish(on_line, on_marker);
  progress.finish(r, vm.instance_name());
  if (progress.succeeded(r)) return;
  // Nothing from the guest: limactl (ssh) failed, not a guest step.
  if (!progress.heard_from_guest() && r.exit_code != 0) {
    throw lima_error(errc::lima_failed, "shell", r.exit_code, detail::stderr_tail(r.err),
                     progress.shell_failure_message(r, vm.instance_name()));
  }
  throw error(errc::guest_failed, progress.failure_message(r, vm.instance_name()));
}

sync_result client::impl::sync_one(const std::string& name_arg, sync_options options, bool from_sync_all) {
  const auto started = clock::now();
  std::string name = normalize_vm_name(name_arg);
  // Everything that can be refused is checked before the first limactl call.
  vm_config vm = store.load(name);
  detail::run_selection selection{options.full, std::move(options.recipes)};
  for (const auto& unknown : detail::unknown_forced_recipes(vm, selection)) {
    if (from_sync_all) {
      std::erase(selection.forced, unknown);
      continue;
    }
    throw error(errc::usage, "--recipe " + unknown + ": VM " + name + " does not run recipe \"" + unknown +
                                 "\" (its recipes: " + runs_list(vm) + ")");
  }
  refuse_port_clashes(vm, store);
  for (const auto& w : vm.warnings) warn(name, w);
  for (const auto& w : exposure_warnings(vm)) warn(name, w);
  staged_secrets staged = collect_secrets(vm, std::move(options.secrets), true);
  store.recipes();  // a broken user recipe is a config error before anything starts
  detail::vm_lock lock(where.state_dir, name, "dvm sync");

  auto d = driver(name);
  d.version();
  sync_result result;
  result.vm = name;
  bring_up(d, vm, options.restart, result);
  run_sync_program(d, vm, std::move(staged), selection, result);
  result.limactl_calls = d.calls();
  result.duration = since(started);
  return result;
}

sync_result client::sync(const std::string& name, sync_options options) {
  auto started = clock::now();
  try {
    sync_result r = impl_->sync_one(name, std::move(options));
    impl_->emit(event{event_kind::sync_finished, r.vm, "", {}, 0, r.duration, "ok"});
    return r;
  } catch (const error& e) {
    impl_->emit(event{event_kind::sync_finished, name, "", {}, e.exit_code(), since(started), e.what()});
    throw;
  }
}

sync_all_result client::sync_all(sync_all_options options) {
  std::vector<std::string> names;
  for (const auto& n : options.names) names.push_back(normalize_vm_name(n));
  if (options.names.empty()) names = impl_->store.vm_names();
  if (names.empty()) {
    throw error(errc::usage, "no VMs are configured in " + (impl_->where.config_dir / "vms").string() +
                                 "; create one with `dvm init NAME`");
  }
  // Each VM's secrets move into its own sync_options before any thread starts.
  // Each --recipe must be run by one of the VMs: a typo is refused before anything runs.
  for (const auto& wanted : options.recipes) {
    bool anyone = false;
    for (const auto& n : names) {
      try {
        anyone = anyone || detail::unknown_forced_recipes(impl_->store.load(n), {false, {wanted}}).empty();
      } catch (const error&) {
        anyone = true;  // a VM whose config fails cannot tell; its own sync reports the config error
      }
    }
    if (!anyone) {
      throw error(errc::usage, "--recipe " + wanted + ": none of the VMs synced (" + join(names, ", ") +
                                   ") runs recipe \"" + wanted + "\"");
    }
  }
  std::vector<sync_options> per_vm(names.size());
  for (auto& o : per_vm) {
    o.restart = options.restart;
    o.full = options.full;
    o.recipes = options.recipes;
  }
  for (auto& [vm, secrets] : options.secrets) {
    auto at = std::find(names.begin(), names.end(), normalize_vm_name(vm));
    if (at == names.end()) {
      throw error(errc::usage, "sync_all: secrets are given for VM \"" + vm + "\", which is not among the VMs synced");
    }
    auto& target = per_vm[static_cast<std::size_t>(at - names.begin())].secrets;
    for (auto& [key, value] : secrets) target.insert_or_assign(key, std::move(value));
  }
  sync_all_result out;
  out.outcomes.resize(names.size());
  std::atomic<std::size_t> next{0};
  auto worker = [&] {
    while (true) {
      std::size_t i = next.fetch_add(1);
      if (i >= names.size()) return;
      sync_outcome& o = out.outcomes[i];
      o.vm = names[i];
      if (impl_->cancel != nullptr && impl_->cancel->requested()) {
        o.error_code = std::string(errc_name(errc::cancelled));
        o.message = "not started: interrupted";
        continue;
      }
      auto started = clock::now();
      try {
        o.result = impl_->sync_one(names[i], std::move(per_vm[i]), true);
        o.ok = true;
        impl_->emit(event{event_kind::sync_finished, names[i], "", {}, 0, o.result->duration, "ok"});
      } catch (const error& e) {
        o.error_code = std::string(errc_name(e.code()));
        o.message = e.what();
        impl_->emit(event{event_kind::sync_finished, names[i], "", {}, e.exit_code(), since(started), e.what()});
      } catch (const std::exception& e) {
        o.error_code = std::string(errc_name(errc::internal));
        o.message = e.what();
        impl_->emit(event{event_kind::sync_finished, names[i], "", {}, 1, since(started), e.what()});
      }
    }
  };
  std::size_t jobs = std::clamp<std::size_t>(options.jobs, 1, names.size());
  std::vector<std::thread> threads;
  for (std::size_t j = 1; j < jobs; ++j) threads.emplace_back(worker);
  worker();
  for (auto& t : threads) t.join();
  for (const auto& o : out.outcomes) (o.ok ? out.ok : out.failed) += 1;
  return out;
}

}  // namespace dvm::v0
