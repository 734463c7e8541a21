// `dvm init NAME [--template T] [--edit]`
#include "../cli.hpp"
#include "../editor.hpp"
#include "../output.hpp"

#include <iostream>
#include <memory>

namespace dvm_cli {

void add_init(CLI::App& root, command_list& registry) {
  struct options {
    std::string name;
    std::string template_name = "app";
    bool edit = false;
  };
  auto o = std::make_shared<options>();
  auto* app = root.add_subcommand("init", "Write vms/NAME.toml from a bundled template; never overwrites");
  app->add_option("name", o->name, "VM name: [a-z][a-z0-9-]*, at most 30 characters")->required();
  app->add_option("-t,--template", o->template_name, "app, llama, cloudflared or tailscale (see `dvm templates`)")
      ->capture_default_str();
  app->add_flag("--edit", o->edit, "Open the new file in $VISUAL or $EDITOR and check it when the editor exits");
  app->footer(examples({"dvm init app                 # vms/app.toml from the app template",
                        "dvm init llm -t llama --edit  # a llama.cpp server, opened in your editor"}));
  registry.push_back({app, [o](const cli_state& state) {
    auto client = make_client(state, nullptr);
    dvm::init_result r = client.init_config(o->name, o->template_name);
    output(state).progress([&](std::ostream& out, std::ostream& err) {
      if (r.created) {
        out << "dvm: created " << r.path.string() << '\n';
      } else {
        err << "dvm: " << r.path.string() << " already exists; not overwritten\n";
      }
    });
    if (o->edit) {
      int code = edit_until_valid(state, client, dvm::normalize_vm_name(o->name), r.path);
      if (code != 0) return code;
    }
    // After the editor: one document, or the error's.
    output(state).result(to_json(r));
    return 0;
  }});
}

}  // namespace dvm_cli
