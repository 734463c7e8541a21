#include "editor.hpp"

#include <dvm/error.hpp>

#include "style.hpp"

#include <cstdlib>
#include <iostream>
#include <sstream>

#include <unistd.h>

extern char** environ;

namespace dvm_cli {

namespace {

// The editor as the user set it: `EDITOR="code --wait"` is a program and its arguments.
std::pair<std::string, std::vector<std::string>> editor_command() {
  for (const char* variable : {"VISUAL", "EDITOR"}) {
    const char* value = std::getenv(variable);
    if (value == nullptr || *value == '\0') continue;
    std::vector<std::string> words;
    std::istringstream in(value);
    for (std::string w; in >> w;) words.push_back(w);
    if (!words.empty()) return {variable, words};
  }
  return {"", {"vi"}};
}

void run_editor(const std::filesystem::path& file) {
  auto [variable, command] = editor_command();
  std::string shown = command.front() + (variable.empty() ? " (neither VISUAL nor EDITOR is set)"
                                                          : " (from $" + variable + ")");
  command.push_back(file.string());
  dvm::process_spec spec;
  spec.argv = command;
  for (char** e = environ; *e != nullptr; ++e) spec.environment.emplace_back(*e);
  spec.working_directory = file.parent_path();
  spec.stdin_mode = spec.stdout_mode = spec.stderr_mode = dvm::stdio_mode::inherit;
  dvm::process_result r = dvm::make_default_runner()->run(spec);
  if (r.start_failed) {
    throw dvm::error(dvm::errc::usage, "cannot start the editor " + shown + ": " + r.err +
                                           "; set VISUAL or EDITOR to an editor that is installed");
  }
  if (r.exit_code != 0) {
    std::string how = r.exit_code < 0 ? "was killed" : "exited with status " + std::to_string(r.exit_code);
    throw dvm::error(dvm::errc::io, "the editor " + shown + " " + how + "; " + file.string() +
                                        " is kept as it left it and was not checked");
  }
}

bool ask_edit_again() {
  std::cerr << "edit again? [Y/n] " << std::flush;
  std::string answer;
  if (!std::getline(std::cin, answer)) return false;
  auto first = answer.find_first_not_of(" \t");
  return first == std::string::npos || answer[first] == 'y' || answer[first] == 'Y';
}

// Every problem dvm::validate finds for the VM (all its errors, not only the first, and its
// warnings); then load() as the last word, which also fails on a broken config.toml. Throws the
// first error as dvm::config_error; prints the warnings.
void check_vm_file(dvm::client& client, const std::string& name) {
  std::vector<dvm::config_problem> problems =
      client.configs().validate({});  // (DVM_TIMEOUT was checked before the command ran)
  std::erase_if(problems, [&](const dvm::config_problem& p) { return p.vm != name; });
  const dvm::config_problem* first_error = nullptr;
  for (const auto& p : problems) {
    if (p.severity == dvm::severity::error && first_error == nullptr) first_error = &p;
  }
  if (first_error != nullptr) {
    // The others before the thrown one, which the caller prints (or puts in the JSON document).
    for (const auto& p : problems) {
      if (&p != first_error && p.severity == dvm::severity::error) {
        std::cerr << paint(STDERR_FILENO, colour::red, "dvm: error:") << ' ' << to_string(p) << '\n';
      }
    }
    throw dvm::config_error(first_error->file, first_error->line, first_error->column,
                            first_error->key_path, first_error->rule);
  }
  (void)client.configs().load(name);
  for (const auto& p : problems) std::cerr << "dvm: warning: " << to_string(p) << '\n';
}

}  // namespace

int edit_until_valid(const cli_state& state, dvm::client& client, const std::string& name,
                     const std::filesystem::path& file) {
  const bool terminal = ::isatty(STDIN_FILENO) != 0 && ::isatty(STDERR_FILENO) != 0;
  while (true) {
    run_editor(file);
    try {
      check_vm_file(client, name);
      return 0;
    } catch (const dvm::config_error& e) {
      std::string kept = "dvm: " + file.string() + " is kept as the editor left it; fix it with `dvm edit " +
                         name + "`\n";
      // A program reading --json gets the error document (file, line, key), not a question.
      if (output(state).machine_readable()) {
        std::cerr << kept;
        throw;
      }
      std::cerr << paint(STDERR_FILENO, colour::red, "dvm: error:") << ' ' << e.what() << '\n';
      if (!terminal || !ask_edit_again()) {
        std::cerr << kept;
        return 2;
      }
    }
  }
}

}  // namespace dvm_cli
