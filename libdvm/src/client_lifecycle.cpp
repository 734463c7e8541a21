// start, stop, restart and stop --all: Lima's lifecycle calls, with the events and the checks
// (a lock per VM, the activity probe) around them.
#include "client_impl.hpp"

#include <dvm/error.hpp>

#include "state/lock.hpp"

#include <optional>

namespace dvm::inline v0 {

stop_result client::stop(const std::string& name_arg) {
  std::string name = normalize_vm_name(name_arg);
  auto d = impl_->driver(name);
  auto info = impl_->existing_instance(d, name);
  if (info.status == "Stopped") {
    impl_->warn(name, "VM " + name + " is already stopped");
    return {name, false};
  }
  impl_->emit(event{event_kind::vm_stopping, name, info.status, {}, 0, {}, "stopping " + info.name});
  d.stop(info.name);
  return {name, true};
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

stop_all_result client::stop_all(const stop_all_options& options) {
  auto d = impl_->driver("");
  d.version();
  stop_all_result out;
  for (const auto& info : d.list()) {
    std::string name = public_name(info.name);
    if (name.empty() || info.status == "Stopped") continue;
    auto vm_driver = impl_->driver(name);
    stop_outcome outcome{name, stop_action::stopped, ""};
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
          outcome.action = stop_action::skipped;
          outcome.reason = "active: " + a.reason;
        } else if (a.failed && !options.force) {
          outcome.action = stop_action::failed;
          outcome.reason = a.reason;
        } else if (a.failed) {
          impl_->warn(name, a.reason + "; stopping anyway (--force)");
        }
      }
      if (outcome.action == stop_action::stopped) {
        impl_->emit(event{event_kind::vm_stopping, name, info.status, {}, 0, {}, "stopping " + info.name});
        vm_driver.stop(info.name);
      }
    } catch (const error& e) {
      if (e.code() == errc::cancelled) throw;
      outcome.action = stop_action::failed;
      outcome.reason = e.what();
    }
    if (outcome.action == stop_action::stopped) ++out.stopped;
    if (outcome.action == stop_action::skipped) ++out.skipped;
    if (outcome.action == stop_action::failed) ++out.failed;
    out.outcomes.push_back(std::move(outcome));
  }
  return out;
}

}  // namespace dvm::v0
