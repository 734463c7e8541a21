// `dvm plan NAME [--summary]`: a readable report of what sync would do, or one JSON document
#include "../cli.hpp"
#include "../output.hpp"

#include <dvm/config.hpp>

#include <algorithm>
#include <iostream>
#include <memory>

namespace dvm_cli {

namespace {

std::string joined(const std::vector<std::string>& words, const char* sep = " ") {
  std::string out;
  for (const auto& w : words) out += (out.empty() ? "" : sep) + w;
  return out;
}

void print_calls(const dvm::plan_result& p, bool mark_inputs) {
  for (const auto& c : p.calls) {
    std::cout << "  " << joined(c.argv);
    if (mark_inputs && c.stdin_text == p.lima_yaml && !c.stdin_text.empty()) std::cout << "    < lima.yaml above";
    if (mark_inputs && c.stdin_text == p.guest_program && !c.stdin_text.empty()) std::cout << "    < guest program below";
    std::cout << '\n';
  }
}

// The facts of the VM that lima.yaml is rendered from, the limactl calls and the recipes.
void print_summary(const dvm::plan_result& p, const dvm::vm_config& vm) {
  std::cout << "# dvm plan --summary for " << p.vm << " (nothing is changed)\n\n";
  std::vector<std::vector<std::string>> rows{
      {"instance:", p.instance},
      {"resources:", std::to_string(vm.cpus) + " CPUs, " + human_size(vm.memory_bytes) + " memory, " +
                         human_size(vm.disk_bytes) + " disk"},
      {"machine:", vm.arch + (vm.vm_type.empty() ? "" : " (" + vm.vm_type + ")") + ", image " + vm.image},
      {"guest user:", vm.user},
      {"code dir:", vm.code_dir},
  };
  if (vm.ports.empty()) rows.push_back({"ports:", "none forwarded"});
  for (std::size_t i = 0; i < vm.ports.size(); ++i) {
    const auto& f = vm.ports[i];
    rows.push_back({i == 0 ? "ports:" : "", f.host_ip + ":" + std::to_string(f.host_port) + " -> guest " +
                                                std::to_string(f.guest_port) + "/" + f.proto});
  }
  if (p.recipes.empty()) rows.push_back({"recipes:", "none"});
  for (std::size_t i = 0; i < p.recipes.size(); ++i) {
    rows.push_back({i == 0 ? "recipes:" : "", p.recipes[i].name + "  " + recipe_state_text(p.recipes[i])});
  }
  rows.push_back({"secrets:", p.secrets.empty() ? "none" : joined(p.secrets, ", ")});
  std::cout << table(rows) << "\nlimactl calls on a machine where " << p.instance << " does not exist yet:\n";
  print_calls(p, false);
  std::cout << "\nThe full plan (lima.yaml and the guest program): dvm plan " << p.vm << '\n';
}

}  // namespace

void add_plan(CLI::App& root, command_list& registry) {
  struct options {
    std::string name;
    bool summary = false;
  };
  auto o = std::make_shared<options>();
  auto* app = root.add_subcommand("plan",
      "Show what `dvm sync NAME` would do: the lima.yaml, the limactl calls and the guest program\n"
      "(secrets as <redacted>), and which recipes it would run: read from the guest when the VM runs\n"
      "(`limactl list` and one read-only `limactl shell`). Changes nothing and works without Lima");
  app->add_option("name", o->name, "VM name")->required();
  app->add_flag("--summary", o->summary,
                "Only the key facts (resources, ports, code dir), the limactl calls and the recipes");
  app->footer(examples({"dvm plan app --summary", "dvm plan app | less"}));
  registry.push_back({app, [o](const cli_state& state) {
    auto client = make_client(state, nullptr);
    dvm::plan_result p = client.plan(o->name);
    output(state).result(to_json(p), [&](std::ostream& out, std::ostream& err) {
      for (const auto& w : p.warnings) err << "dvm: warning: " << w << '\n';
      if (o->summary) {
        print_summary(p, client.configs().load(p.vm));
        return;
      }
      out << "# dvm plan for " << p.vm << " (nothing is changed)\n\n";
      out << "## " << p.instance << "/lima.yaml\n\n" << p.lima_yaml << '\n';
      out << "## limactl calls of `dvm sync " << p.vm << "` on a machine where " << p.instance
          << " does not exist yet\n\n";
      print_calls(p, true);
      out << "\n## recipes, in the order the guest program runs them\n\n";
      if (p.recipes.empty()) out << "  none\n";
      for (const auto& r : p.recipes) out << "  " << r.name << "  " << recipe_state_text(r) << '\n';
      out << "\n(An existing VM: `limactl list --json` and the `shell` call; `stop`, `edit --set` and `start`\n"
             "only when cpus, memory or disk differ, or the instance's effective port rules, mounts or\n"
             "ssh.forwardAgent differ from dvm's. The version check is cached.)\n\n";
      out << "## guest program (stdin of the shell call; secrets: " << (p.secrets.empty() ? "none" : joined(p.secrets, ", "))
          << ")\n\n" << p.guest_program;
    });
    return 0;
  }});
}

}  // namespace dvm_cli
