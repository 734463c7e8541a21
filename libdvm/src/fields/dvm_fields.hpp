// The one description of the field names of libdvm's results, shared by the CLI's --json
// documents (tools/dvm/output.cpp) and the Python binding's dicts (bindings/python/module.cpp),
// so a field is named here and nowhere else (docs/json.md documents them).
//
// Internal, not part of the public headers: the CMake target dvm_fields (header only) exposes
// it to the CLI and the binding, which also link dvm_internal for the types.
//
// describe(const T&, V& v) calls v.field(key, value) once per field, in the JSON document's
// order. A visitor renders the values by their C++ type, the same way for every field:
//   * strings, paths, bools, integers: as such (Python str: undecodable bytes replaced);
//   * libdvm's enums (vm_state, doctor_status, ...): their to_string name;
//   * std::chrono::milliseconds: JSON integer milliseconds under the key + "_ms", Python float
//     seconds under the key itself (docs/json.md: "durations");
//   * std::vector: a JSON array / Python list; std::optional: its value, or null / None;
//   * a type with a describe() here: a nested object / dict.
// The few places where the JSON keeps a schema-1 name or shape that the library and Python do
// not share are said by the key (see `key`), so both forms are still described in one place.
#pragma once

#include <dvm/client.hpp>
#include <dvm/config.hpp>
#include <dvm/error.hpp>
#include <dvm/events.hpp>
#include <dvm/ports.hpp>
#include <dvm/recipes.hpp>

#include <chrono>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dvm::inline v0::fields {

/// A field's name and, when the CLI's JSON and the Python dict differ on purpose, how.
class key {
 public:
  constexpr key(const char* name) noexcept : name_(name), json_name_(name) {}  // NOLINT: implicit on purpose

  /// The JSON key, when schema 1 named it differently from the library (kept for programs).
  constexpr key json_as(const char* json_name) const noexcept {
    key k = *this;
    k.json_name_ = json_name;
    return k;
  }
  /// Only in the CLI's JSON (a value Python derives itself, or a JSON-only shape).
  constexpr key json_only() const noexcept {
    key k = *this;
    k.python_ = false;
    return k;
  }
  /// Only in the Python dict.
  constexpr key python_only() const noexcept {
    key k = *this;
    k.json_ = false;
    return k;
  }
  /// An empty value is null in the JSON ("" in Python).
  constexpr key json_null_when_empty() const noexcept {
    key k = *this;
    k.json_empty_ = empty_rule::null;
    return k;
  }
  /// An empty value leaves the key out of the JSON (Python keeps it: "" or None).
  constexpr key json_omitted_when_empty() const noexcept {
    key k = *this;
    k.json_empty_ = empty_rule::omitted;
    return k;
  }
  /// An empty value is None in Python (the JSON keeps it: "").
  constexpr key python_none_when_empty() const noexcept {
    key k = *this;
    k.python_none_ = true;
    return k;
  }

  constexpr std::string_view name() const noexcept { return name_; }  ///< library and Python
  constexpr std::string_view json_name() const noexcept { return json_name_; }
  constexpr bool in_json() const noexcept { return json_; }
  constexpr bool in_python() const noexcept { return python_; }
  constexpr bool json_null_if_empty() const noexcept { return json_empty_ == empty_rule::null; }
  constexpr bool json_omit_if_empty() const noexcept { return json_empty_ == empty_rule::omitted; }
  constexpr bool python_none_if_empty() const noexcept { return python_none_; }

 private:
  enum class empty_rule { kept, null, omitted };
  std::string_view name_;
  std::string_view json_name_;
  bool json_ = true;
  bool python_ = true;
  empty_rule json_empty_ = empty_rule::kept;
  bool python_none_ = false;
};

/// What the empty-value rules of `key` test: "" / no value / an empty path or list.
template <class T>
bool is_empty(const T& value) {
  if constexpr (requires { value.has_value(); }) {
    return !value.has_value();
  } else if constexpr (requires { value.empty(); }) {
    return value.empty();
  } else {
    return false;
  }
}

/// The {"code", "message"} of a failed VM in the JSON of `sync`/`start` over several VMs.
struct outcome_error {
  std::string code;
  std::string message;
};

template <class V>
void describe(const outcome_error& e, V& v) {
  v.field("code", e.code);
  v.field("message", e.message);
}

template <class V>
void describe(const port_forward& p, V& v) {
  v.field("host_ip", p.host_ip);
  v.field("host_port", p.host_port);
  v.field("guest_port", p.guest_port);
  v.field("proto", p.proto);
}

/// A moment as UTC text, "2026-12-02T21:50:03Z" (JSON and Python alike; Python parses it).
inline std::optional<std::string> utc_text(const std::optional<std::chrono::system_clock::time_point>& t) {
  if (!t) return std::nullopt;
  std::time_t seconds = std::chrono::system_clock::to_time_t(*t);
  std::tm utc{};
  if (::gmtime_r(&seconds, &utc) == nullptr) return std::nullopt;
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return std::string(text);
}

template <class V>
void describe(const recipe_state& r, V& v) {
  v.field("name", r.name);
  v.field("freshness", r.freshness);
  v.field("always", r.always);
  v.field("every_sync", r.every_sync);
  v.field("last_run", utc_text(r.last_run));
  v.field("will_run", r.will_run());
}

/// The VM object of `status --json` / `ls --json` (docs/json.md, `<!-- shape: vm_status -->`).
template <class V>
void describe(const vm_status& s, V& v) {
  v.field("name", s.name);
  v.field("instance", s.instance);
  v.field("state", s.state);
  v.field("configured", s.configured);
  v.field("ssh_address", s.ssh_address);
  v.field("cpus", s.cpus);
  v.field("memory_bytes", s.memory_bytes);
  v.field("disk_bytes", s.disk_bytes);
  v.field("arch", s.arch);
  v.field("vm_type", s.vm_type);
  v.field("dir", s.dir);
  v.field("code_dir", s.code_dir);
  v.field("recipes", s.recipes);
  v.field("recreate_to_apply", s.recreate_to_apply);
  v.field("ports", s.ports);
  v.field("recipe_states", s.recipe_states);
}

template <class V>
void describe(const recipe_timing& t, V& v) {
  v.field("name", t.name);
  v.field("duration", t.duration);
  v.field("ok", t.ok);
  v.field("skipped", t.skipped);
}

template <class V>
void describe(const sync_result& r, V& v) {
  v.field("vm", r.vm);
  v.field("created", r.created);
  v.field("started", r.started);
  v.field("reconciled", r.reconciled);
  v.field("recipes", r.recipes);
  v.field("limactl_calls", r.limactl_calls);
  v.field("duration", r.duration);
  v.field(key("log").json_null_when_empty().python_none_when_empty(), r.log);
}

// The JSON nests a failure as "error": {"code", "message"} (as start --all does); Python keeps
// the library's flat error_code and message.
template <class V>
void describe(const sync_outcome& o, V& v) {
  v.field("vm", o.vm);
  v.field("ok", o.ok);
  v.field(key("result").json_omitted_when_empty(), o.result);
  v.field(key("error_code").python_only(), o.error_code);
  v.field(key("message").python_only(), o.message);
  v.field(key("error").json_only().json_omitted_when_empty(),
          o.ok ? std::nullopt : std::optional<outcome_error>(outcome_error{o.error_code, o.message}));
}

template <class V>
void describe(const sync_all_result& r, V& v) {
  v.field(key("outcomes").json_as("results"), r.outcomes);
  v.field("ok", r.ok);
  v.field("failed", r.failed);
}

template <class V>
void describe(const start_result& r, V& v) {
  v.field("vm", r.vm);
  v.field("started", r.started);
}

template <class V>
void describe(const stop_outcome& o, V& v) {
  v.field("vm", o.vm);
  v.field("action", o.action);
  v.field("reason", o.reason);
}

template <class V>
void describe(const stop_all_result& r, V& v) {
  v.field(key("outcomes").json_as("results"), r.outcomes);
  v.field("stopped", r.stopped);
  v.field("skipped", r.skipped);
  v.field("failed", r.failed);
}

template <class V>
void describe(const planned_call& c, V& v) {
  v.field("argv", c.argv);
  v.field("stdin", c.stdin_text);
}

template <class V>
void describe(const plan_result& p, V& v) {
  v.field("vm", p.vm);
  v.field("instance", p.instance);
  v.field("lima_yaml", p.lima_yaml);
  v.field(key("calls").json_as("limactl_calls"), p.calls);
  v.field("guest_program", p.guest_program);
  v.field("secrets", p.secrets);
  v.field("warnings", p.warnings);
  v.field("recipes", p.recipes);
}

template <class V>
void describe(const dirty_repository& r, V& v) {
  v.field("path", r.path);
  v.field("reasons", r.reasons);
}

template <class V>
void describe(const dirty_problem& p, V& v) {
  v.field("kind", p.kind);
  v.field("path", p.path);
  v.field("message", p.message);
}

template <class V>
void describe(const dirty_report& r, V& v) {
  v.field(key("clean").json_only(), r.clean());  // Python: the DirtyReport.clean property
  v.field("repositories", r.repositories);
  v.field("loose_files", r.loose_files);
  v.field("loose_file_count", r.loose_file_count);
  v.field("problems", r.problems);
  v.field("incomplete", r.incomplete);
  v.field("incomplete_reason", r.incomplete_reason);
}

template <class V>
void describe(const remove_result& r, V& v) {
  v.field("vm", r.vm);
  v.field("removed", r.removed);
  v.field("checked", r.checked);
  v.field("warnings", r.warnings);
}

template <class V>
void describe(const recipe_service& s, V& v) {
  v.field("unit", s.unit);
  v.field("env", s.env_key);
}

template <class V>
void describe(const recipe_secret& s, V& v) {
  v.field("name", s.name);
  v.field("alias", s.alias);
  v.field("prefix", s.prefix);
  v.field("charset", std::string(s.token_charset ? "token" : "any"));
}

// The JSON says where a recipe comes from as a word ("source": "bundled" | "user", schema 1);
// Python keeps the library's bool.
template <class V>
void describe(const recipe& r, V& v) {
  v.field("name", r.name);
  v.field("description", r.description);
  v.field(key("bundled").python_only(), r.bundled);
  v.field(key("source").json_only(), std::string(r.bundled ? "bundled" : "user"));
  v.field("shadows_bundled", r.shadows_bundled);
  v.field(key("path").python_none_when_empty(), r.path);
  v.field("requires", r.requires_recipes);
  v.field("service", r.service);
  v.field("secrets", r.secrets);
  v.field("always", r.always);
  v.field("has_check", !r.check.empty());
  v.field("has_every_sync", !r.every_sync.empty());
}

template <class V>
void describe(const config_problem& p, V& v) {
  v.field("file", p.file);
  v.field("line", p.line);
  v.field("column", p.column);
  v.field("key", p.key_path);
  v.field("rule", p.rule);
  v.field("severity", p.severity);
  v.field("vm", p.vm);
}

template <class V>
void describe(const init_template& t, V& v) {
  v.field("name", t.name);
  v.field("description", t.description);
}

template <class V>
void describe(const init_result& r, V& v) {
  v.field("path", r.path);
  v.field("created", r.created);
}

template <class V>
void describe(const ssh_key_result& r, V& v) {
  v.field("access_public_key", r.access_public_key);
  v.field("signing_public_key", r.signing_public_key);
  v.field("created", r.created);
}

template <class V>
void describe(const gpg_key_result& r, V& v) {
  v.field("fingerprint", r.fingerprint);
  v.field("armored_public_key", r.armored_public_key);
  v.field("created", r.created);
}

template <class V>
void describe(const doctor_check& c, V& v) {
  v.field("vm", c.vm);
  v.field(key("name").json_as("check"), c.name);
  v.field("status", c.status);
  v.field("message", c.message);
}

// Python hands over the checks only (DoctorReport counts them itself).
template <class V>
void describe(const doctor_report& r, V& v) {
  v.field("checks", r.checks);
  v.field(key("problems").json_only(), r.problems());
  v.field(key("warnings").json_only(), r.warnings());
}

template <class V>
void describe(const version_info& x, V& v) {
  v.field("dvm", x.dvm);
  v.field(key("limactl").json_null_when_empty(), x.limactl);
  v.field(key("limactl_problem").json_omitted_when_empty(), x.limactl_problem);
}

template <class V>
void describe(const stop_result& r, V& v) {
  v.field("vm", r.vm);
  v.field("stopped", r.stopped);
}

/// Python only so far (`dvm log` streams): the binding hands `output` over as bytes.
template <class V>
void describe(const logs_result& r, V& v) {
  v.field("unit", r.unit);
  v.field("exit_code", r.exit_code);
  v.field("output", r.output);
  v.field("duration", r.duration);
}

template <class V>
void describe(const copy_result& r, V& v) {
  v.field("vm", r.vm);
  v.field("into_vm", r.into_vm);
  v.field("sources", r.sources);
  v.field("target", r.target);
  v.field("files", r.files);
  v.field("bytes", r.bytes);
  v.field("duration", r.duration);
  // Schema 2's cp document had limactl copy's status; a failure is an error document, so it is 0.
  v.field(key("exit_code").json_only(), 0);
}

/// A progress event (JSON lines of --json, Python callbacks). The JSON line says only what the
/// kind sets: exit_code for the kinds that end something, duration_ms when there is one (a
/// recipe's always, even 0), and no empty name/argv/message; Python's dict always has every key.
template <class V>
void describe(const event& e, V& v) {
  using k = event_kind;
  const bool ends_something =
      e.kind == k::limactl_finished || e.kind == k::recipe_failed || e.kind == k::sync_finished;
  const bool timed = e.duration.count() > 0 || e.kind == k::recipe_finished;
  const key exit_code("exit_code");
  const key duration("duration");
  v.field(key("kind").json_as("event"), std::string(event_kind_name(e.kind)));
  v.field("vm", e.vm);
  v.field(key("name").json_omitted_when_empty(), e.name);
  v.field(key("argv").json_omitted_when_empty(), e.argv);
  v.field(ends_something ? exit_code : exit_code.python_only(), e.exit_code);
  v.field(timed ? duration : duration.python_only(), e.duration);
  v.field(key("message").json_omitted_when_empty(), e.message);
}

/// The error object (JSON "error": {...}; Python: what dvm._errors.from_native reads). Three
/// JSON keys keep their schema-1 names.
template <class V>
void describe(const error& e, V& v) {
  v.field("code", std::string(errc_name(e.code())));
  v.field("message", std::string(e.what()));
  v.field("exit_code", e.exit_code());
  // The OS's error number of an io error (dvm::error::cause), when it has one.
  std::optional<int> os_errno;
  if (e.cause()) os_errno = e.cause().value();
  v.field(key("errno").json_omitted_when_empty(), os_errno);
  if (const auto* c = dynamic_cast<const config_error*>(&e)) {
    v.field(key("path").json_as("file"), c->file().string());
    v.field("line", c->line());
    v.field("column", c->column());
    v.field("key", c->key_path());
    v.field("rule", c->rule());
  }
  if (const auto* l = dynamic_cast<const lima_error*>(&e)) {
    v.field("subcommand", l->subcommand());
    v.field(key("exit_status").json_as("limactl_exit"), l->exit_status());
    v.field(key("stderr_tail").python_only(), l->stderr_tail());
  }
  if (const auto* u = dynamic_cast<const unsaved_work_error*>(&e)) {
    v.field("unsaved_work", u->report());
  }
}

}  // namespace dvm::v0::fields
