// dvm_e2e_api_sync NAME [SECRET=FILE...]: syncs one VM through the C++ API, handing each secret
// read from FILE directly to dvm::client::sync (no environment involved, so values of any size
// and any bytes except what a file cannot hold). Used by tests/e2e/test_sync.py for secrets too
// large for an environment variable. Prints one line per event kind it saw.
#include <dvm/dvm.hpp>

#include <fstream>
#include <iostream>
#include <iterator>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: dvm_e2e_api_sync NAME [SECRET=FILE...]\n";
    return 2;
  }
  dvm::sync_options options;
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    std::size_t eq = arg.find('=');
    std::ifstream in(arg.substr(eq + 1), std::ios::binary);
    std::string value{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    options.secrets.emplace(arg.substr(0, eq), dvm::secret(std::move(value)));
  }
  dvm::client_options client_options;
  client_options.on_event = [](const dvm::event& e) {
    if (e.kind == dvm::event_kind::recipe_finished) std::cout << "recipe_finished " << e.name << '\n';
  };
  try {
    dvm::client client(client_options);
    dvm::sync_result r = client.sync(argv[1], std::move(options));
    std::cout << "ok " << r.limactl_calls << '\n';
    return 0;
  } catch (const dvm::error& e) {
    std::cerr << "error: " << e.what() << '\n';
    return e.exit_code();
  }
}
