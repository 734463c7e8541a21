// `dvm status NAME` (alias: info)
#include "../cli.hpp"
#include "../output.hpp"

#include <iostream>
#include <memory>

namespace dvm_cli {

void add_status(CLI::App& root, command_list& registry) {
  auto name = std::make_shared<std::string>();
  auto* app = root.add_subcommand("status", "Show one VM: state, resources, ports and their host binding, and for a running VM\n"
      "when each recipe last ran and whether the next sync runs it");
  app->alias("info");
  app->add_option("name", *name, "VM name")->required();
  app->footer(examples({"dvm status app", "dvm status app --json"}));
  registry.push_back({app, [name](const cli_state& state) {
    auto client = make_client(state, nullptr);
    dvm::vm_status s = client.status(*name);
    output(state).result(vm_json(s), [&](std::ostream& out, std::ostream&) {
    std::vector<std::vector<std::string>> rows{
        {"name:", s.name},
        {"instance:", s.instance + (s.configured ? "" : "  (no config file)")},
        {"status:", std::string(to_string(s.state))},
        {"ssh:", s.ssh_address.empty() ? "-" : s.ssh_address},
        {"resources:", (s.cpus ? std::to_string(s.cpus) : "-") + " CPUs, " + human_size(s.memory_bytes) +
                           " memory, " + human_size(s.disk_bytes) + " disk"},
    };
    if (!s.arch.empty()) rows.push_back({"arch:", s.arch + (s.vm_type.empty() ? "" : " (" + s.vm_type + ")")});
    if (!s.code_dir.empty()) rows.push_back({"code dir:", s.code_dir});
    if (!s.recipe_states.empty()) {
      for (std::size_t i = 0; i < s.recipe_states.size(); ++i) {
        rows.push_back({i == 0 ? "recipes:" : "", s.recipe_states[i].name + "  " + recipe_state_text(s.recipe_states[i])});
      }
    } else if (!s.recipes.empty()) {
      std::string list;
      for (const auto& r : s.recipes) list += (list.empty() ? "" : " ") + r;
      rows.push_back({"recipes:", list});
    }
    for (const auto& r : s.recreate_to_apply) rows.push_back({"recreate to apply:", r});
    if (s.ports.empty()) rows.push_back({"ports:", "none forwarded"});
    for (std::size_t i = 0; i < s.ports.size(); ++i) {
      const auto& p = s.ports[i];
      std::string line = p.host_ip + ":" + std::to_string(p.host_port) + " -> guest " + std::to_string(p.guest_port) +
                         "/" + p.proto;
      if (p.host_ip != "127.0.0.1") line += "  (reachable from other machines)";
      rows.push_back({i == 0 ? "ports:" : "", line});
    }
    out << table(rows);
    });
    return 0;
  }});
}

}  // namespace dvm_cli
