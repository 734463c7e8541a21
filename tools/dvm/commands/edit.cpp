// `dvm edit NAME`: the VM file in $VISUAL / $EDITOR, checked when the editor exits
#include "../cli.hpp"
#include "../editor.hpp"
#include "../output.hpp"

#include <dvm/error.hpp>

#include <iostream>
#include <memory>

namespace dvm_cli {

void add_edit(CLI::App& root, command_list& registry) {
  auto name = std::make_shared<std::string>();
  auto* app = root.add_subcommand("edit",
      "Open vms/NAME.toml in $VISUAL or $EDITOR (default vi) and check it when the editor exits.\n"
      "Every error and warning of the VM is shown; on an error a terminal asks to edit again,\n"
      "otherwise dvm exits 2 and the file stays as the editor left it. Apply the change with\n"
      "`dvm sync NAME`");
  app->add_option("name", *name, "VM name (its file must exist: `dvm init NAME` writes one)")->required();
  app->footer(examples({"dvm edit app", "EDITOR=\"code --wait\" dvm edit app"}));
  registry.push_back({app, [name](const cli_state& state) {
    auto client = make_client(state, nullptr);
    std::string vm = dvm::normalize_vm_name(*name);
    if (!client.configs().has_vm(vm)) {
      throw dvm::error(dvm::errc::not_found, "no VM named " + vm + ": " + client.configs().vm_file(vm).string() +
                                                 " does not exist (create it with `dvm init " + vm + "`)");
    }
    std::filesystem::path file = client.configs().vm_file(vm);
    int code = edit_until_valid(state, client, vm, file);
    if (code != 0) return code;
    output(state).result(boost::json::object{{"vm", vm}, {"path", file.string()}, {"valid", true}},
                         [&](std::ostream& out, std::ostream&) {
                           out << "dvm: " << file.string() << " is valid; apply it with `dvm sync " << vm << "`\n";
                         });
    return 0;
  }});
}

}  // namespace dvm_cli
