// `dvm cp [-r] [-v] [--backend B] SRC... DST`
#include "../cli.hpp"
#include "../output.hpp"

#include <memory>

namespace dvm_cli {

void add_cp(CLI::App& root, command_list& registry) {
  struct options {
    bool recursive = false;
    bool verbose = false;
    std::string backend;
    std::vector<std::string> operands;
  };
  auto o = std::make_shared<options>();
  auto* app = root.add_subcommand("cp",
      "Copy between the host and one VM: dvm cp [-r] SRC... DST, where VM paths are NAME:path\n"
      "(relative to the code directory; ~ is the guest home). Host paths are relative to the\n"
      "current directory. Files copied into the VM are made accessible to the AI agent user.\n"
      "A symlink in the code directory is never followed: a copy into or out of the VM through one\n"
      "is refused");
  app->add_flag("-r,--recursive", o->recursive, "Copy directories");
  app->add_flag("-v", o->verbose, "Verbose scp/rsync output");
  app->add_option("--backend", o->backend, "auto, scp or rsync (limactl copy)");
  app->add_option("operands", o->operands, "SRC... DST")->required()->expected(2, -1);
  app->footer(examples({"dvm cp notes.md app:docs/", "dvm cp -r app:build ./build-from-vm"}));
  registry.push_back({app, [o](const cli_state& state) {
    auto client = make_client(state, nullptr);
    dvm::copy_options options{o->recursive, o->verbose || state.verbose, o->backend};
    std::vector<std::string> sources(o->operands.begin(), o->operands.end() - 1);
    dvm::copy_result copied = client.copy(sources, o->operands.back(), options);
    // scp/rsync already showed what they copied (with -v): the text form adds nothing.
    output(state).result(to_json(copied));
    return exit_code_after_signal(0);
  }});
}

}  // namespace dvm_cli
