// dvm._dvm: the thin compiled layer of the Python package `dvm`.
//
// It turns dvm::client calls into Python calls and nothing more: results come back as plain
// dicts and lists, which python/dvm/ turns into dataclasses; errors become the exception classes
// of python/dvm/_errors.py. The dicts' keys are those of libdvm/src/fields/dvm_fields.hpp, the
// description the CLI's --json renders too (py_fields below). Three things are done here because they cannot be done in Python:
//
//   * Blocking and interruptible. Every call runs on a worker thread while the calling thread
//     waits with the GIL released, waking every 50 ms to run Python's signal handlers
//     (PyErr_CheckSignals, with the GIL). When a handler raises (Ctrl-C: KeyboardInterrupt), the
//     call's dvm::cancel_token is set, the process runner kills the running limactl (and its
//     process group), the call unwinds (locks released, guest cleaned up) and the exception is
//     raised in Python.
//   * Events. The callback runs with the GIL, from whichever thread libdvm reports on (sync_all
//     uses worker threads). An exception raised by the callback cancels the call and is raised
//     when it has unwound; it is never lost.
//   * Secrets. A dict of str/bytes values is converted to dvm::secret before the call starts,
//     straight from the Python objects' buffers: no intermediate Python object holds a copy.
//
// Each call builds its own dvm::client (cheap: no limactl call, no file read), so calls from
// several Python threads never share a cancel token or an event callback.
#include <dvm/dvm.hpp>
#include <dvm_fields.hpp>

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <exception>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

extern char** environ;

namespace py = pybind11;
namespace fs = std::filesystem;

namespace {

using namespace std::chrono_literals;

// --- conversions to Python -------------------------------------------------------------------

// Text from limactl or the guest is not guaranteed to be UTF-8: undecodable bytes become U+FFFD.
py::str text(std::string_view s) {
  PyObject* o = PyUnicode_DecodeUTF8(s.data(), static_cast<Py_ssize_t>(s.size()), "replace");
  if (o == nullptr) throw py::error_already_set();
  return py::reinterpret_steal<py::str>(o);
}

py::bytes raw(std::string_view s) { return py::bytes(s.data(), s.size()); }

py::list text_list(const std::vector<std::string>& items) {
  py::list out;
  for (const auto& s : items) out.append(text(s));
  return out;
}

double seconds(std::chrono::milliseconds d) { return static_cast<double>(d.count()) / 1000.0; }

template <class T>
py::object py_value(const T& value);

// Renders the fields of a description (libdvm/src/fields/dvm_fields.hpp) into a dict, by the
// rules written there: durations as float seconds, None for keys that say so, and only the
// fields that Python has (JSON-only ones are left out).
class py_fields {
 public:
  explicit py_fields(py::dict& out) noexcept : out_(out) {}

  template <class T>
  void field(const dvm::fields::key& k, const T& value) {
    if (!k.in_python()) return;
    if (k.python_none_if_empty() && dvm::fields::is_empty(value)) {
      out_[text(k.name())] = py::none();
    } else {
      out_[text(k.name())] = py_value(value);
    }
  }

 private:
  py::dict& out_;
};

template <class T>
py::object py_value(const T& value) {
  if constexpr (std::is_same_v<T, std::chrono::milliseconds>) {
    return py::float_(seconds(value));
  } else if constexpr (std::is_same_v<T, fs::path>) {
    return text(value.string());
  } else if constexpr (std::is_same_v<T, std::string>) {
    return text(value);
  } else if constexpr (std::is_same_v<T, bool>) {
    return py::bool_(value);
  } else if constexpr (std::is_enum_v<T>) {  // libdvm's enums: their name (dvm's str enums)
    return text(to_string(value));
  } else if constexpr (std::is_arithmetic_v<T>) {
    return py::int_(value);
  } else if constexpr (requires { value.has_value(); }) {
    if (!value) return py::none();
    return py_value(*value);
  } else if constexpr (requires { value.begin(); }) {
    py::list out;
    for (const auto& item : value) out.append(py_value(item));
    return out;
  } else {
    py::dict out;
    py_fields visitor(out);
    dvm::fields::describe(value, visitor);
    return out;
  }
}

/// A libdvm result as the dict its description names (dvm._types turns it into a dataclass).
template <class T>
py::dict to_dict(const T& value) {
  py::dict out;
  py_fields visitor(out);
  dvm::fields::describe(value, visitor);
  return out;
}

py::dict to_python(const dvm::exec_result& r) {
  py::dict d;
  d["exit_code"] = r.exit_code;
  d["stdout"] = raw(r.stdout_text);
  d["stderr"] = raw(r.stderr_text);
  d["duration"] = seconds(r.duration);
  return d;
}

py::dict to_python(const dvm::vm_config& c) {
  py::list env;
  for (const auto& [k, v] : c.env) env.append(py::make_tuple(text(k), text(v)));
  py::dict d;
  d["name"] = text(c.name);
  d["file"] = text(c.file.string());
  d["cpus"] = c.cpus;
  d["memory_bytes"] = c.memory_bytes;
  d["disk_bytes"] = c.disk_bytes;
  d["arch"] = text(c.arch);
  d["vm_type"] = text(c.vm_type);
  d["image"] = text(c.image);
  d["user"] = text(c.user);
  d["code_dir"] = text(c.code_dir);
  d["host_ip"] = text(c.host_ip);
  d["ports"] = py_value(c.ports);
  d["baseline"] = c.baseline;
  d["recipes"] = text_list(c.recipes);
  d["agent_user"] = text(c.agent_user);
  d["secrets"] = text_list(c.secrets);
  d["env"] = env;
  d["warnings"] = text_list(c.warnings);
  d["instance"] = text(c.instance_name());
  return d;
}

// --- errors ----------------------------------------------------------------------------------

// Raises the exception python/dvm/_errors.py builds for a dvm::error (dvm.ConfigError, ...).
void raise_dvm_error(const dvm::error& e) {
  py::dict info = to_dict(e);
  py::object exc;
  try {
    exc = py::module_::import("dvm._errors").attr("from_native")(info);
  } catch (py::error_already_set&) {
    // _dvm used outside its package: a plain RuntimeError still carries the message.
    PyErr_SetString(PyExc_RuntimeError, e.what());
    return;
  }
  PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(exc.ptr())), exc.ptr());
}

// --- one blocking call -----------------------------------------------------------------------

struct call_state {
  dvm::cancel_token cancel;
  py::object on_event;                                  // None or a callable; GIL only
  std::optional<py::error_already_set> callback_error;  // the first exception of on_event
};

dvm::event_sink make_sink(call_state& state) {
  if (state.on_event.is_none()) return {};
  return [&state](const dvm::event& e) {
    // libdvm serialises calls to the sink; the GIL protects state.callback_error.
    py::gil_scoped_acquire gil;
    if (state.callback_error) return;  // the call is being cancelled: no more events
    try {
      state.on_event(to_dict(e));
    } catch (py::error_already_set& err) {
      state.callback_error.emplace(std::move(err));
      state.cancel.request();
    } catch (const std::exception& err) {  // a conversion failure inside pybind11
      PyErr_SetString(PyExc_RuntimeError, err.what());
      state.callback_error.emplace();
      state.cancel.request();
    }
  };
}

// Runs fn() on a worker thread with the GIL released; see the comment at the top.
template <class Fn>
auto run_blocking(call_state& state, Fn&& fn) -> decltype(fn()) {
  using result_type = decltype(fn());
  struct outcome {
    std::mutex mutex;
    std::condition_variable cv;
    bool done = false;
    std::optional<result_type> value;
    std::exception_ptr error;
  } out;
  std::optional<py::error_already_set> interrupt;
  {
    py::gil_scoped_release release;
    std::thread worker([&] {
      try {
        out.value.emplace(fn());
      } catch (...) {
        out.error = std::current_exception();
      }
      std::lock_guard<std::mutex> lock(out.mutex);
      out.done = true;
      out.cv.notify_all();
    });
    std::unique_lock<std::mutex> lock(out.mutex);
    while (!out.cv.wait_for(lock, 50ms, [&] { return out.done; })) {
      if (interrupt) continue;  // cancelled: wait for the call to unwind
      lock.unlock();
      {
        py::gil_scoped_acquire gil;
        if (PyErr_CheckSignals() != 0) {
          interrupt.emplace();  // fetches the handler's exception (KeyboardInterrupt)
          state.cancel.request();
        }
      }
      lock.lock();
    }
    lock.unlock();
    worker.join();
  }
  if (interrupt) throw std::move(*interrupt);
  if (state.callback_error) throw std::move(*state.callback_error);
  if (out.error) std::rethrow_exception(out.error);
  return std::move(*out.value);
}

// --- secrets ---------------------------------------------------------------------------------

// A secret straight from a Python object's own buffer: bytes and bytes-like objects are read in
// place; a str is encoded to UTF-8 into a buffer that dvm::secret takes over and wipes.
dvm::secret to_secret(const std::string& name, py::handle value) {
  PyObject* o = value.ptr();
  if (PyBytes_Check(o)) {
    return dvm::secret(std::string_view(PyBytes_AS_STRING(o), static_cast<std::size_t>(PyBytes_GET_SIZE(o))));
  }
  if (PyUnicode_Check(o)) {
#if PY_VERSION_HEX < 0x030C0000
    if (PyUnicode_READY(o) != 0) throw py::error_already_set();
#endif
    const Py_ssize_t length = PyUnicode_GET_LENGTH(o);
    const int kind = PyUnicode_KIND(o);
    const void* data = PyUnicode_DATA(o);
    if (PyUnicode_IS_ASCII(o)) {
      return dvm::secret(std::string_view(static_cast<const char*>(data), static_cast<std::size_t>(length)));
    }
    std::string utf8;
    utf8.reserve(static_cast<std::size_t>(length) * 4);  // never reallocates: no stray copies
    for (Py_ssize_t i = 0; i < length; ++i) {
      const Py_UCS4 c = PyUnicode_READ(kind, data, i);
      if (c < 0x80) {
        utf8.push_back(static_cast<char>(c));
      } else if (c < 0x800) {
        utf8.push_back(static_cast<char>(0xC0 | (c >> 6)));
        utf8.push_back(static_cast<char>(0x80 | (c & 0x3F)));
      } else if (c >= 0xD800 && c <= 0xDFFF) {
        dvm::secure_wipe(utf8.data(), utf8.size());
        throw py::value_error("secret " + name + ": the value is not valid Unicode (a lone surrogate); "
                              "pass bytes for binary values");
      } else if (c < 0x10000) {
        utf8.push_back(static_cast<char>(0xE0 | (c >> 12)));
        utf8.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
        utf8.push_back(static_cast<char>(0x80 | (c & 0x3F)));
      } else {
        utf8.push_back(static_cast<char>(0xF0 | (c >> 18)));
        utf8.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
        utf8.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
        utf8.push_back(static_cast<char>(0x80 | (c & 0x3F)));
      }
    }
    return dvm::secret(std::move(utf8));  // takes the bytes and wipes `utf8`
  }
  if (PyObject_CheckBuffer(o) != 0) {  // bytearray, memoryview, ...
    Py_buffer view;
    if (PyObject_GetBuffer(o, &view, PyBUF_SIMPLE) != 0) throw py::error_already_set();
    dvm::secret s(std::string_view(static_cast<const char*>(view.buf), static_cast<std::size_t>(view.len)));
    PyBuffer_Release(&view);
    return s;
  }
  throw py::type_error("secret " + name + ": the value must be str or bytes, not " +
                       std::string(Py_TYPE(o)->tp_name));
}

dvm::secret_map to_secrets(const py::object& secrets) {
  dvm::secret_map out;
  if (secrets.is_none()) return out;
  if (!PyDict_Check(secrets.ptr())) {
    throw py::type_error("secrets must be a dict of name -> str or bytes");
  }
  for (auto item : py::reinterpret_borrow<py::dict>(secrets)) {
    if (!PyUnicode_Check(item.first.ptr())) throw py::type_error("secret names must be str");
    std::string name = item.first.cast<std::string>();
    dvm::secret value = to_secret(name, item.second);
    out.insert_or_assign(std::move(name), std::move(value));
  }
  return out;
}

// sync_all's {vm name: {secret name: value}}; each inner dict as to_secrets.
std::map<std::string, dvm::secret_map> to_secrets_per_vm(const py::object& secrets) {
  std::map<std::string, dvm::secret_map> out;
  if (secrets.is_none()) return out;
  if (!PyDict_Check(secrets.ptr())) throw py::type_error("secrets must be a dict of VM name -> dict");
  for (auto item : py::reinterpret_borrow<py::dict>(secrets)) {
    if (!PyUnicode_Check(item.first.ptr())) throw py::type_error("secrets: VM names must be str");
    out.emplace(item.first.cast<std::string>(), to_secrets(py::reinterpret_borrow<py::object>(item.second)));
  }
  return out;
}

// --- the client ------------------------------------------------------------------------------

std::chrono::milliseconds to_duration(double secs) {
  if (!(secs >= 0)) throw py::value_error("timeouts must be >= 0 seconds");
  return std::chrono::milliseconds(static_cast<long long>(secs * 1000.0 + 0.5));
}

/// What a Python dvm.Client holds: the options every call's dvm::client is built from.
class native_client {
 public:
  native_client(std::optional<std::map<std::string, std::string>> environment,
                std::optional<std::string> config_dir, std::optional<std::string> state_dir,
                std::optional<std::string> limactl, const std::map<std::string, double>& timeouts)
      : environment_(std::move(environment)), host_(dvm::detect_host()) {
    if (config_dir) config_dir_ = fs::path(*config_dir);
    if (state_dir) state_dir_ = fs::path(*state_dir);
    if (limactl) limactl_ = *limactl;
    for (const auto& [key, secs] : timeouts) {
      const auto fields = dvm::timeouts::fields();
      auto field = std::find_if(fields.begin(), fields.end(), [&](const auto& f) { return f.name == key; });
      if (field == fields.end()) {
        std::string known;
        for (const auto& f : fields) known += (known.empty() ? "" : ", ") + std::string(f.name);
        throw py::value_error("unknown timeout \"" + key + "\" (known: " + known + ")");
      }
      timeouts_.*field->member = to_duration(secs);
    }
  }

  /// Runs op(client) for one call; the GIL is held on entry and on return.
  template <class Op>
  auto call(const py::object& on_event, Op&& op) {
    call_state state;
    state.on_event = on_event;
    dvm::client_options options;
    // The environment is read now, with the GIL held: Python threads change it only with the GIL.
    options.environment = environment_ ? *environment_ : dvm::current_environment();
    options.config_dir = config_dir_;
    options.state_dir = state_dir_;
    options.limactl = limactl_;
    options.host = host_;
    options.timeouts = timeouts_;
    options.cancel = &state.cancel;
    options.on_event = make_sink(state);
    return run_blocking(state, [&] {
      dvm::client client(std::move(options));
      return op(client);
    });
  }

 private:
  std::optional<std::map<std::string, std::string>> environment_;
  std::optional<fs::path> config_dir_;
  std::optional<fs::path> state_dir_;
  std::string limactl_;
  dvm::host_info host_;
  dvm::timeouts timeouts_;
};

}  // namespace

PYBIND11_MODULE(_dvm, m) {
  m.doc() = "The compiled core of the dvm package (use `import dvm`, not this module).";
  m.attr("__version__") = std::string(dvm::version());
  m.attr("compiled_version") = DVM_PYTHON_MODULE_VERSION;

  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const dvm::error& e) {
      raise_dvm_error(e);
    }
  });

  m.def("version", [] { return std::string(dvm::version()); }, "The version of libdvm.");
  m.def("error_codes", [] {
    py::dict out;
    for (auto code : {dvm::errc::usage, dvm::errc::config, dvm::errc::not_found, dvm::errc::not_created,
                      dvm::errc::not_running, dvm::errc::lima_missing, dvm::errc::lima_version,
                      dvm::errc::lima_failed, dvm::errc::guest_failed, dvm::errc::timeout, dvm::errc::busy,
                      dvm::errc::refused, dvm::errc::cancelled, dvm::errc::io, dvm::errc::internal}) {
      out[text(dvm::errc_name(code))] = dvm::exit_code(code);
    }
    return out;
  }, "Every error code with its CLI exit code.");
  m.def("parse_size", [](const std::string& s) { return dvm::parse_size(s); }, py::arg("text"));
  m.def("format_size", [](std::uint64_t n) { return dvm::format_size(n); }, py::arg("size"));
  m.def("is_valid_vm_name", [](const std::string& s) { return dvm::is_valid_vm_name(s); }, py::arg("name"));
  m.def("parse_port_forward",
        [](const std::string& s, const std::string& ip) { return to_dict(dvm::parse_port_forward(s, ip)); },
        py::arg("text"), py::arg("default_ip") = "127.0.0.1");
  m.def("validate",
        [](const std::optional<std::string>& config_dir,
           const std::optional<std::map<std::string, std::string>>& environment) {
          const auto env = environment ? *environment : dvm::current_environment();
          const std::filesystem::path dir = config_dir ? std::filesystem::path(*config_dir)
                                                       : dvm::resolve_paths(env).config_dir;
          return py_value(dvm::validate(dir, dvm::detect_host(), env));
        },
        py::arg("config_dir"), py::arg("environment"),
        "Every problem of every config file at once (dvm::validate).");
  m.def("init_template_names", [] { return dvm::init_template_names(); });
  m.def("init_templates", [] { return py_value(dvm::init_templates()); }, "Every bundled `dvm init` template: name and description, sorted by name.");

  py::class_<native_client>(m, "NativeClient")
      .def(py::init<std::optional<std::map<std::string, std::string>>, std::optional<std::string>,
                    std::optional<std::string>, std::optional<std::string>, const std::map<std::string, double>&>(),
           py::arg("environment"), py::arg("config_dir"), py::arg("state_dir"), py::arg("limactl"),
           py::arg("timeouts"))
      .def("paths", [](native_client& self, const py::object& on_event) {
        auto p = self.call(on_event, [](dvm::client& c) { return c.location(); });
        py::dict d;
        d["config_dir"] = text(p.config_dir.string());
        d["state_dir"] = text(p.state_dir.string());
        return d;
      }, py::arg("on_event"))
      .def("vm_names", [](native_client& self, const py::object& on_event) {
        return text_list(self.call(on_event, [](dvm::client& c) { return c.configs().vm_names(); }));
      }, py::arg("on_event"))
      .def("config", [](native_client& self, const std::string& name, const py::object& on_event) {
        return to_python(self.call(on_event, [&](dvm::client& c) {
          return c.configs().load(dvm::normalize_vm_name(name));
        }));
      }, py::arg("name"), py::arg("on_event"))
      .def("recipes", [](native_client& self, const py::object& on_event) {
        return py_value(self.call(on_event, [](dvm::client& c) { return c.configs().recipes().all(); }));
      }, py::arg("on_event"))
      .def("init_config", [](native_client& self, const std::string& name, const std::string& template_name,
                             const py::object& on_event) {
        return to_dict(self.call(on_event, [&](dvm::client& c) { return c.init_config(name, template_name); }));
      }, py::arg("name"), py::arg("template_name"), py::arg("on_event"))
      .def("plan", [](native_client& self, const std::string& name, const py::object& on_event) {
        return to_dict(self.call(on_event, [&](dvm::client& c) { return c.plan(name); }));
      }, py::arg("name"), py::arg("on_event"))
      .def("list", [](native_client& self, const py::object& on_event) {
        return py_value(self.call(on_event, [](dvm::client& c) { return c.list(); }));
      }, py::arg("on_event"))
      .def("status", [](native_client& self, const std::string& name, const py::object& on_event) {
        return to_dict(self.call(on_event, [&](dvm::client& c) { return c.status(name); }));
      }, py::arg("name"), py::arg("on_event"))
      .def("versions", [](native_client& self, const py::object& on_event) {
        return to_dict(self.call(on_event, [](dvm::client& c) { return c.versions(); }));
      }, py::arg("on_event"))
      .def("sync", [](native_client& self, const std::string& name, const py::object& secrets, bool restart,
                      bool full, const std::vector<std::string>& recipes, const py::object& on_event) {
        dvm::sync_options options;
        options.secrets = to_secrets(secrets);
        options.restart = restart;
        options.full = full;
        options.recipes = recipes;
        return to_dict(self.call(on_event, [&](dvm::client& c) { return c.sync(name, std::move(options)); }));
      }, py::arg("name"), py::arg("secrets"), py::arg("restart"), py::arg("full"), py::arg("recipes"),
         py::arg("on_event"))
      .def("sync_all", [](native_client& self, unsigned jobs, const std::vector<std::string>& names,
                          const py::object& secrets, bool restart, bool full, const std::vector<std::string>& recipes,
                          const py::object& on_event) {
        dvm::sync_all_options options;
        options.jobs = jobs;
        options.names = names;
        options.secrets = to_secrets_per_vm(secrets);
        options.restart = restart;
        options.full = full;
        options.recipes = recipes;
        return to_dict(self.call(on_event, [&](dvm::client& c) { return c.sync_all(std::move(options)); }));
      }, py::arg("jobs"), py::arg("names"), py::arg("secrets"), py::arg("restart"), py::arg("full"),
         py::arg("recipes"), py::arg("on_event"))
      .def("start", [](native_client& self, const std::string& name, const py::object& on_event) {
        return to_dict(self.call(on_event, [&](dvm::client& c) { return c.start(name); }));
      }, py::arg("name"), py::arg("on_event"))
      .def("restart", [](native_client& self, const std::string& name, const py::object& on_event) {
        return to_dict(self.call(on_event, [&](dvm::client& c) { return c.restart(name); }));
      }, py::arg("name"), py::arg("on_event"))
      .def("ssh_config", [](native_client& self, const std::string& name, const py::object& on_event) {
        return text(self.call(on_event, [&](dvm::client& c) { return c.ssh_config(name); }));
      }, py::arg("name"), py::arg("on_event"))
      .def("stop", [](native_client& self, const std::string& name, const py::object& on_event) {
        return to_dict(self.call(on_event, [&](dvm::client& c) { return c.stop(name); }));
      }, py::arg("name"), py::arg("on_event"))
      .def("stop_all", [](native_client& self, bool inactive_only, bool force, const py::object& on_event) {
        dvm::stop_all_options options;
        options.inactive_only = inactive_only;
        options.force = force;
        return to_dict(self.call(on_event, [&](dvm::client& c) { return c.stop_all(options); }));
      }, py::arg("inactive_only"), py::arg("force"), py::arg("on_event"))
      .def("remove", [](native_client& self, const std::string& name, bool force, const py::object& on_event) {
        dvm::remove_options options;
        options.force = force;
        return to_dict(self.call(on_event, [&](dvm::client& c) { return c.remove(name, options); }));
      }, py::arg("name"), py::arg("force"), py::arg("on_event"))
      .def("check_unsaved_work", [](native_client& self, const std::string& name, const py::object& on_event) {
        return to_dict(self.call(on_event, [&](dvm::client& c) { return c.check_unsaved_work(name); }));
      }, py::arg("name"), py::arg("on_event"))
      .def("exec", [](native_client& self, const std::string& name, const std::vector<std::string>& argv,
                      const std::optional<py::bytes>& input, bool interactive, const py::object& on_event) {
        dvm::exec_options options;
        options.interactive = interactive;
        if (input) options.input = std::string(*input);
        return to_python(self.call(on_event, [&](dvm::client& c) { return c.exec(name, argv, options); }));
      }, py::arg("name"), py::arg("argv"), py::arg("input"), py::arg("interactive"), py::arg("on_event"))
      .def("shell", [](native_client& self, const std::string& name, const py::object& on_event) {
        return self.call(on_event, [&](dvm::client& c) { return c.shell(name); });
      }, py::arg("name"), py::arg("on_event"))
      .def("copy", [](native_client& self, const std::vector<std::string>& sources, const std::string& target,
                      bool recursive, bool verbose, const std::string& backend, const py::object& on_event) {
        dvm::copy_options options;
        options.recursive = recursive;
        options.verbose = verbose;
        options.backend = backend;
        return to_dict(self.call(on_event, [&](dvm::client& c) { return c.copy(sources, target, options); }));
      }, py::arg("sources"), py::arg("target"), py::arg("recursive"), py::arg("verbose"), py::arg("backend"),
         py::arg("on_event"))
      .def("logs", [](native_client& self, const std::string& name, const std::string& unit,
                      const std::vector<std::string>& args, bool interactive, const py::object& on_event) {
        dvm::log_options options;
        options.unit = unit;
        options.args = args;
        options.interactive = interactive;
        dvm::logs_result r = self.call(on_event, [&](dvm::client& c) { return c.logs(name, options); });
        py::dict d = to_dict(r);
        d["output"] = raw(r.output);  // bytes: Client.logs decodes it for text=True
        return d;
      }, py::arg("name"), py::arg("unit"), py::arg("args"), py::arg("interactive"), py::arg("on_event"))
      .def("ssh_key", [](native_client& self, const std::string& name, const py::object& on_event) {
        return to_dict(self.call(on_event, [&](dvm::client& c) { return c.ssh_key(name); }));
      }, py::arg("name"), py::arg("on_event"))
      .def("doctor", [](native_client& self, const std::string& name, const py::object& on_event) {
        // The checks only: dvm.DoctorReport counts problems and warnings itself.
        return py_value(self.call(on_event, [&](dvm::client& c) { return c.doctor(name); }).checks);
      }, py::arg("name"), py::arg("on_event"))
      .def("gpg_key", [](native_client& self, const std::string& name, const py::object& on_event) {
        return to_dict(self.call(on_event, [&](dvm::client& c) { return c.gpg_key(name); }));
      }, py::arg("name"), py::arg("on_event"));
}
