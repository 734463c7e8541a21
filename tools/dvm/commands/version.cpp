// `dvm version`
#include "../cli.hpp"
#include "../output.hpp"

#include <iostream>

namespace dvm_cli {

void add_version(CLI::App& root, command_list& out) {
  auto* app = root.add_subcommand("version", "Print the versions of dvm and limactl");
  app->footer(examples({"dvm version"}));
  out.push_back({app, [](const cli_state& state) {
    auto client = make_client(state, nullptr);
    dvm::version_info v = client.versions();
    if (state.json) {
      boost::json::object o{{"dvm", v.dvm}};
      o["limactl"] = v.limactl.empty() ? boost::json::value(nullptr) : boost::json::value(v.limactl);
      if (!v.limactl_problem.empty()) o["limactl_problem"] = v.limactl_problem;
      print_json(std::move(o));
    } else {
      std::cout << "dvm " << v.dvm << '\n';
      std::cout << "limactl " << (v.limactl.empty() ? "unavailable: " + v.limactl_problem : v.limactl) << '\n';
    }
    return 0;
  }});
}

}  // namespace dvm_cli
