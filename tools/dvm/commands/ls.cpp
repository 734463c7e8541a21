// `dvm ls` (alias: list): a table, or with --json an array of the objects `dvm status --json` prints
#include "../cli.hpp"
#include "../output.hpp"

#include <boost/json/serialize.hpp>

#include <iostream>
#include <memory>

namespace dvm_cli {

void add_ls(CLI::App& root, command_list& registry) {
  auto recipes = std::make_shared<bool>(false);
  auto* app = root.add_subcommand("ls", "List DVM VMs (configured VMs that do not exist yet show as absent)");
  app->alias("list");
  app->add_flag("--recipes", *recipes, "List recipes instead (same as `dvm recipes`)");
  app->footer(examples({"dvm ls", "dvm ls --json | jq -r '.[] | select(.state == \"Running\") | .name'"}));
  registry.push_back({app, [recipes](const cli_state& state) {
    if (*recipes) return print_recipes(state);
    auto client = make_client(state, nullptr);
    auto vms = client.list();
    // An array (easy to use with jq) of the same objects as `dvm status --json`.
    boost::json::array list;
    for (const auto& s : vms) list.push_back(vm_json(s));
    output(state).result(std::move(list), [&](std::ostream& out, std::ostream&) {
      std::vector<std::vector<std::string>> rows{{"NAME", "STATUS", "SSH", "CPUS", "MEMORY", "DISK"}};
      for (const auto& s : vms) {
        rows.push_back({s.name, std::string(to_string(s.state)), s.ssh_address.empty() ? "-" : s.ssh_address,
                        s.cpus ? std::to_string(s.cpus) : "-", human_size(s.memory_bytes), human_size(s.disk_bytes)});
      }
      out << table(rows);
    });
    return 0;
  }});
}

}  // namespace dvm_cli
