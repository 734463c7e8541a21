// `dvm doctor [NAME]`: exit 1 when a problem is found
#include "../cli.hpp"
#include "../output.hpp"
#include "../style.hpp"

#include <iostream>
#include <memory>

#include <unistd.h>

namespace dvm_cli {

void add_doctor(CLI::App& root, command_list& registry) {
  auto name = std::make_shared<std::string>();
  auto* app = root.add_subcommand("doctor",
      "Check the state dir, limactl, the config files (every error and warning of every file,\n"
      "permissions, secret-looking values), ports exposed beyond loopback or claimed twice, and drift between each instance and\n"
      "its config. Exit 1 when a problem is found");
  app->add_option("name", *name, "Only this VM");
  app->footer(examples({"dvm doctor", "dvm doctor app"}));
  registry.push_back({app, [name](const cli_state& state) {
    auto client = make_client(state, nullptr);
    dvm::doctor_report r = client.doctor(*name);
    output(state).result(
        to_json(r),
        [&](std::ostream& out, std::ostream&) {
          for (const auto& c : r.checks) {
            using dvm::doctor_status;
            std::string mark = c.status == doctor_status::ok        ? paint(STDOUT_FILENO, colour::green, "ok     ")
                               : c.status == doctor_status::warning ? paint(STDOUT_FILENO, colour::yellow, "warning")
                                                                    : paint(STDOUT_FILENO, colour::red, "PROBLEM");
            out << mark << "  " << (c.vm.empty() ? "" : c.vm + ": ") << c.name << ": " << c.message << '\n';
          }
          out << "dvm doctor: " << r.problems() << " problem" << (r.problems() == 1 ? "" : "s") << ", "
              << r.warnings() << " warning" << (r.warnings() == 1 ? "" : "s") << '\n';
        });
    return r.problems() == 0 ? 0 : 1;
  }});
}

}  // namespace dvm_cli
