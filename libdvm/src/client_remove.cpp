// dvm rm (product spec §8): deletion that refuses to lose uncommitted work, checked in the guest
// by the unsaved-work check, in the code dir the config names and the one the instance was
// created with.
#include "client_impl.hpp"

#include <dvm/error.hpp>

#include "guest/dirty_report.hpp"
#include "guest/scripts.hpp"
#include "guest/shell.hpp"
#include "lima/instance.hpp"
#include "state/lock.hpp"

#include <optional>

namespace dvm::inline v0 {

namespace fs = std::filesystem;
using detail::instance_info;

namespace {

// The code dir and user an instance was created with, as its lima.yaml records them. nullopt
// when either is not recorded.
std::optional<vm_config> recorded_vm(const std::string& name, const instance_info& info) {
  detail::instance_settings recorded;
  try {
    recorded = detail::read_instance_yaml(info);
  } catch (const error&) {
    return std::nullopt;
  }
  if (!recorded.user || !is_valid_user_name(*recorded.user) || !recorded.code_dir) return std::nullopt;
  vm_config vm;
  vm.name = name;
  vm.user = *recorded.user;
  vm.code_dir = *recorded.code_dir;
  return vm;
}

// An incomplete check, or unsaved work, is a refusal that carries the report.
void refuse_unless_clean(dirty_report report, const std::string& instance, const std::string& code_dir) {
  if (report.incomplete) {
    std::string message = "refusing to delete " + instance + ": the unsaved-work check is incomplete (" +
                          report.incomplete_reason + "); pass --force to delete anyway";
    throw unsaved_work_error(message, std::move(report));
  }
  if (!report.clean()) {
    std::string message = "refusing to delete " + instance + ": " +
                          (report.problems.empty() ? "unsaved work under " + code_dir
                                                   : "unsaved work, or places the check cannot see, under " + code_dir) +
                          ":" + detail::format_dirty_report(report) +
                          "\ncommit and push it, or copy it out with `dvm cp`, or pass --force to delete anyway";
    throw unsaved_work_error(message, std::move(report));
  }
}

}  // namespace

dirty_report client::check_unsaved_work(const std::string& name_arg) {
  std::string name = normalize_vm_name(name_arg);
  auto d = impl_->driver(name);
  auto running = impl_->require_running(d, name);
  const std::string nonce = detail::make_nonce();
  process_result r = impl_->run_script(d, running.info.name, detail::dirty_check_script(running.config, nonce),
                                       impl_->lima.timeouts.command);
  return detail::read_dirty_report(r, nonce);
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
  auto info = impl_->existing_instance(d, name);
  // Lima refuses to delete a protected instance (upstream/pkg/instance/delete.go:18-20), also
  // with --force; say so before anything is started or stopped.
  if (info.is_protected) {
    throw error(errc::refused, "refusing to delete " + info.name + ": it is protected in Lima (limactl protect); "
                               "run `limactl unprotect " + info.name + "` first if it should go");
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
      auto recorded = recorded_vm(name, info);
      if (!recorded) {
        std::string why = what + " and the instance records no code dir, so unsaved work cannot be looked for";
        std::string message = "refusing to delete " + info.name + ": " + why + "; pass --force to delete anyway";
        dirty_report report;
        report.problems.push_back({"vm_file_missing", "", std::move(why)});
        throw unsaved_work_error(message, std::move(report));
      }
      vm = std::move(*recorded);
      out.warnings.push_back(what + ": checking the code dir the instance was created with (" + vm.code_dir + ")");
      impl_->warn(name, out.warnings.back());
    }
    if (info.status != "Running") impl_->boot(d, name, info);
    auto check = [&](const vm_config& which) {
      const std::string nonce = detail::make_nonce();
      return detail::read_dirty_report(
          impl_->run_script(d, info.name, detail::dirty_check_script(which, nonce), impl_->lima.timeouts.command),
          nonce);
    };
    dirty_report report = check(vm);
    // The VM file's code dir changed since the instance was created: the old one may still
    // hold work, so it is checked too; its findings carry its path.
    if (configured) {
      if (auto recorded = recorded_vm(name, info);
          recorded && detail::absolute_guest_path(vm, recorded->code_dir) != detail::absolute_guest_path(vm, vm.code_dir)) {
        vm_config old = vm;
        old.code_dir = recorded->code_dir;
        detail::merge_dirty_report(report, check(old), old.code_dir);
      }
    }
    out.checked = true;
    refuse_unless_clean(std::move(report), info.name, vm.code_dir);
  } else if (!configured) {
    out.warnings.push_back("deleting " + info.name + ", which has no config file (" +
                           impl_->store.vm_file(name).string() + ")");
    impl_->warn(name, out.warnings.back());
  }
  impl_->emit(event{event_kind::vm_deleting, name, info.status, {}, 0, {}, "deleting " + info.name});
  auto current = d.query(info.name);
  if (current && current->status != "Stopped") d.stop(info.name);
  d.remove(info.name);
  out.removed = true;
  return out;
}

}  // namespace dvm::v0
