// Uses libdvm the way an embedding program would: version, config validation, rendering.
#include <dvm/dvm.hpp>

#include <filesystem>
#include <fstream>
#include <iostream>

#include <unistd.h>

int main() {
  if (dvm::version() != DVM_VERSION_STRING) {
    std::cerr << "header version " << DVM_VERSION_STRING << " != library version " << dvm::version() << '\n';
    return 1;
  }
  auto dir = std::filesystem::temp_directory_path() / ("dvm-consumer-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir / "vms");
  std::ofstream(dir / "vms" / "demo.toml") << "ports = [\"3000:3000\"]\n";
  dvm::config_store store({dir, dir / "state"}, dvm::detect_host());
  std::string yaml = dvm::render_lima_yaml(store.load("demo"));
  std::filesystem::remove_all(dir);
  try {
    dvm::parse_port_forward("1:70000", "127.0.0.1");
    return 1;
  } catch (const dvm::error& e) {
    if (e.exit_code() != 2) return 1;
  }
  if (yaml.find("hostIP: \"127.0.0.1\"") == std::string::npos) return 1;
  std::cout << "libdvm " << dvm::version() << " OK\n";
  return 0;
}
