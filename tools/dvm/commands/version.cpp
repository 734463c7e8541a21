// `dvm version`
#include "../cli.hpp"
#include "../output.hpp"

#include <iostream>

namespace dvm_cli {

void add_version(CLI::App& root, command_list& registry) {
  auto* app = root.add_subcommand("version", "Print the versions of dvm and limactl");
  app->footer(examples({"dvm version"}));
  registry.push_back({app, [](const cli_state& state) {
    auto client = make_client(state, nullptr);
    dvm::version_info v = client.versions();
    output(state).result(to_json(v), [&](std::ostream& out, std::ostream&) {
      out << "dvm " << v.dvm << '\n';
      out << "limactl " << (v.limactl.empty() ? "unavailable: " + v.limactl_problem : v.limactl) << '\n';
    });
    return 0;
  }});
}

}  // namespace dvm_cli
