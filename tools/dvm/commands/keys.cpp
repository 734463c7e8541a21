// `dvm ssh-key NAME` and `dvm gpg-key NAME`: the VM's own keys
#include "../cli.hpp"
#include "../output.hpp"

#include <iostream>
#include <memory>

namespace dvm_cli {

void add_ssh_key(CLI::App& root, command_list& registry) {
  auto name = std::make_shared<std::string>();
  auto* app = root.add_subcommand("ssh-key",
      "Create (once) the VM's own Git access key and commit-signing key and print the public keys");
  app->add_option("name", *name, "VM name")->required();
  app->footer(examples({"dvm ssh-key app   # add the first key to your Git host, then in the VM:",
                        "dvm ssh app -- git clone git@github.com:you/app.git ."}));
  registry.push_back({app, [name](const cli_state& state) {
    auto client = make_client(state, nullptr);
    dvm::ssh_key_result r = client.ssh_key(*name);
    output(state).result(
        to_json(r),
        [&](std::ostream& out, std::ostream&) {
          out << "Git access key public key (use as deploy key or account authentication key):\n"
              << r.access_public_key << "\n\n"
              << "Git commit signing public key (add to your Git hosting account as an SSH signing key):\n"
              << r.signing_public_key << '\n';
        });
    return 0;
  }});
}

void add_gpg_key(CLI::App& root, command_list& registry) {
  auto name = std::make_shared<std::string>();
  auto* app = root.add_subcommand("gpg-key",
      "Create (once) a disposable GPG signing key in the VM (ed25519, no passphrase, 1 year)");
  app->add_option("name", *name, "VM name")->required();
  app->footer(examples({"dvm gpg-key app"}));
  registry.push_back({app, [name](const cli_state& state) {
    auto client = make_client(state, nullptr);
    dvm::gpg_key_result r = client.gpg_key(*name);
    output(state).result(
        to_json(r),
        [&](std::ostream& out, std::ostream&) {
          out << r.armored_public_key;
          if (!r.armored_public_key.ends_with("\n")) out << '\n';
          out << "fingerprint: " << r.fingerprint << '\n';
        });
    return 0;
  }});
}

}  // namespace dvm_cli
