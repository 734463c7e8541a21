// dvm cp (product spec §9): between the host and one VM, never following a link the agent user
// made and never reading or writing dvm's scratch directory.
#include "client_impl.hpp"

#include <dvm/error.hpp>

#include "guest/output.hpp"
#include "guest/scripts.hpp"
#include "guest/shell.hpp"

#include <chrono>
#include <optional>
#include <set>

namespace dvm::inline v0 {

namespace fs = std::filesystem;
using detail::exit_status;
using detail::last_lines;
using detail::lima_driver;
using detail::tab_fields;

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

// Regular files and bytes in host sources, as scp sees them: a source that is a link counts as
// its target, links inside a directory are not followed (copy_result).
void count_host_sources(const std::vector<copy_endpoint>& sources, copy_result& result) {
  for (const auto& e : sources) {
    std::error_code ec;
    fs::path p = host_path(e.path);
    auto st = fs::status(p, ec);
    if (fs::is_regular_file(st)) {
      result.files += 1;
      result.bytes += fs::file_size(p, ec);
      continue;
    }
    if (!fs::is_directory(st)) continue;
    for (fs::recursive_directory_iterator it(p, fs::directory_options::skip_permission_denied, ec), end;
         !ec && it != end; it.increment(ec)) {
      if (!it->is_symlink(ec) && it->is_regular_file(ec)) {
        result.files += 1;
        result.bytes += it->file_size(ec);
      }
    }
  }
}

// The "counted FILES BYTES" line of copy-out-check.sh (guest data: anything unparsable is 0).
void read_guest_count(const std::string& out, copy_result& result) {
  for (const auto& [key, value] : tab_fields(out)) {
    if (key != "counted") continue;
    std::size_t tab = value.find('\t');
    if (tab == std::string::npos) return;
    result.files = detail::parse_count(value.substr(0, tab));
    result.bytes = detail::parse_count(value.substr(tab + 1));
  }
}

// A limactl copy that did not exit 0, as the error to throw.
error limactl_copy_error(const process_result& r) {
  return error(errc::lima_failed, "limactl copy failed (exit " + std::to_string(exit_status(r)) + ")" +
                                      (r.err.empty() ? "" : ": " + detail::stderr_tail(r.err)));
}

// The operands of a copy, checked: one VM, one direction, a known backend (usage errors, and
// nothing is done).
struct copy_request {
  std::vector<copy_endpoint> from;
  copy_endpoint to;
  std::string vm;
};

copy_request parse_copy_request(const std::vector<std::string>& sources, const std::string& target,
                                const copy_options& options) {
  if (sources.empty()) throw error(errc::usage, "cp needs at least one source and a target");
  if (!options.backend.empty() && options.backend != "auto" && options.backend != "scp" &&
      options.backend != "rsync") {
    throw error(errc::usage, "unknown cp backend \"" + options.backend + "\": use auto, scp or rsync");
  }
  copy_request request;
  for (const auto& s : sources) request.from.push_back(parse_copy_operand(s));
  request.to = parse_copy_operand(target);
  std::set<std::string> vms;
  bool any_host_source = false;
  bool any_guest_source = false;
  for (const auto& e : request.from) {
    (e.guest ? any_guest_source : any_host_source) = true;
    if (e.guest) vms.insert(e.vm);
  }
  if (request.to.guest) vms.insert(request.to.vm);
  if (vms.size() > 1) throw error(errc::usage, "cp can address only one VM at a time");
  if (vms.empty()) throw error(errc::usage, "cp needs one side to be a VM path (NAME:path)");
  if (any_guest_source && any_host_source) {
    throw error(errc::usage, "cp copies either from the host into a VM or from a VM to the host, not both at once");
  }
  if (request.to.guest == any_guest_source) {
    throw error(errc::usage, request.to.guest ? "cp needs a host path on one side: both sides are VM paths"
                                              : "cp needs a VM path on one side");
  }
  request.vm = *vms.begin();
  return request;
}

// What a copy script reported on a refusal (exit 3), as an error; nullopt for anything else.
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
void copy_into_guest(Impl& impl, lima_driver& d, const Running& running, std::size_t source_count,
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
  if (exit_status(r) != 0) {
    if (staged) discard_staging();
    throw limactl_copy_error(r);
  }
  if (!staged) return;
  process_result install = impl.run_script(
      d, instance, detail::copy_install_script(running.config, install_target, staging, mode, kind),
      impl.lima.timeouts.command);
  if (auto refusal = copy_refusal(install, "into")) throw *refusal;
  if (install.exit_code != 0 || install.out.find("installed") == std::string::npos) {
    throw error(errc::guest_failed, "copied into " + staging + ", but moving it into place failed: " +
                                        last_lines(install.err + install.out, 3));
  }
}

}  // namespace

copy_result client::copy(const std::vector<std::string>& sources, const std::string& target,
                         const copy_options& options) {
  const auto began = std::chrono::steady_clock::now();
  copy_request request = parse_copy_request(sources, target, options);
  const std::vector<copy_endpoint>& from = request.from;
  const copy_endpoint& to = request.to;

  // Host paths are checked before the VM is even started: a typo is the caller's error (exit 2),
  // not a failed limactl copy.
  std::size_t guest_source_count = to.guest ? 0 : from.size();
  for (const auto& e : from) {
    if (!e.guest) check_host_source(e.path, options.recursive, impl_->lima.scratch_dir);
  }
  if (!to.guest) check_host_target(to.path, guest_source_count, impl_->lima.scratch_dir);

  copy_result result;
  result.vm = request.vm;
  result.into_vm = to.guest;
  result.sources = sources;
  result.target = target;
  auto finished = [&] {
    result.duration = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - began);
    return result;
  };
  const std::string& name = result.vm;
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
    read_guest_count(check.out, result);
    process_result r = d.copy(flags, operands);
    if (exit_status(r) != 0) throw limactl_copy_error(r);
    return finished();
  }
  count_host_sources(from, result);
  copy_into_guest(*impl_, d, running, from.size(), flags, operands, map_guest_path(running.config, to.path));
  return finished();
}

}  // namespace dvm::v0
