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
    boost::json::object o{{"dvm", v.dvm}};
    o["limactl"] = v.limactl.empty() ? boost::json::value(nullptr) : boost::json::value(v.limactl);
    if (!v.limactl_problem.empty()) o["limactl_problem"] = v.limactl_problem;
    output(state).result(std::move(o), [&](std::ostream& out, std::ostream&) {
      out << "dvm " << v.dvm << '\n';
      out << "limactl " << (v.limactl.empty() ? "unavailable: " + v.limactl_problem : v.limactl) << '\n';
    });
    return 0;
  }});
}

}  // namespace dvm_cli
