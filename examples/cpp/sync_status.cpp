// sync_status: sync one VM through libdvm, showing progress, then print every VM as a table.
//
//   sync_status NAME
//
// Configuration and limactl come from the environment, as for the `dvm` CLI (DVM_CONFIG,
// DVM_STATE, LIMACTL, LIMA_HOME, ...). Ctrl-C stops the running limactl call through a
// dvm::cancel_token; the library unwinds (lock released, guest cleaned up) and the program exits
// with 130.
#include <dvm/dvm.hpp>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

namespace {

dvm::cancel_token g_cancel;

extern "C" void on_sigint(int) { g_cancel.request(); }  // async-signal-safe

// libdvm never prints: everything it does arrives here as a typed event.
void show_progress(const dvm::event& e) {
  switch (e.kind) {
    case dvm::event_kind::vm_creating:
    case dvm::event_kind::vm_starting:
    case dvm::event_kind::vm_reconciling:
    case dvm::event_kind::warning:
      std::cout << "  " << e.vm << ": " << e.message << '\n';
      break;
    case dvm::event_kind::recipe_started:
      std::cout << "  " << e.vm << ": recipe " << e.name << " ..." << std::flush;
      break;
    case dvm::event_kind::recipe_finished:
      std::cout << " done (" << e.duration.count() << " ms)\n";
      break;
    case dvm::event_kind::recipe_failed:
      std::cout << " FAILED (exit " << e.exit_code << ")\n" << e.message << '\n';
      break;
    default:
      break;  // limactl calls, guest output lines, ...
  }
}

std::string gib(std::uint64_t bytes) {
  if (bytes == 0) return "-";
  char text[32];
  std::snprintf(text, sizeof text, "%.1fGiB", static_cast<double>(bytes) / (1024.0 * 1024.0 * 1024.0));
  return text;
}

void print_table(const std::vector<dvm::vm_status>& vms) {
  std::vector<std::vector<std::string>> rows{{"NAME", "STATE", "CPUS", "MEMORY", "DISK", "SSH"}};
  for (const auto& vm : vms) {
    rows.push_back({vm.name, std::string(to_string(vm.state)), vm.cpus > 0 ? std::to_string(vm.cpus) : "-", gib(vm.memory_bytes),
                    gib(vm.disk_bytes), vm.ssh_address.empty() ? "-" : vm.ssh_address});
  }
  std::vector<std::size_t> width(rows.front().size(), 0);
  for (const auto& row : rows) {
    for (std::size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  for (const auto& row : rows) {
    for (std::size_t i = 0; i < row.size(); ++i) {
      std::cout << row[i] << (i + 1 < row.size() ? std::string(width[i] - row[i].size() + 2, ' ') : "\n");
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: sync_status NAME\n";
    return 2;
  }
  std::signal(SIGINT, on_sigint);

  dvm::client_options options;  // everything else from the environment
  options.on_event = show_progress;
  options.cancel = &g_cancel;
  try {
    dvm::client client(std::move(options));
    std::cout << "syncing " << argv[1] << '\n';
    dvm::sync_result r = client.sync(argv[1]);
    std::cout << "synced " << r.vm << " in " << r.duration.count() << " ms with " << r.limactl_calls
              << " limactl calls" << (r.created ? " (created)" : "") << "\n\n";
    print_table(client.list());
    return 0;
  } catch (const dvm::config_error& e) {
    // file(), line(), column() and key_path() locate the problem; what() says it all in one line.
    std::cerr << "config error in " << e.file().string() << " line " << e.line() << ": " << e.rule() << '\n';
    return e.exit_code();
  } catch (const dvm::error& e) {
    std::cerr << "error (" << dvm::errc_name(e.code()) << "): " << e.what() << '\n';
    return e.exit_code();
  }
}
