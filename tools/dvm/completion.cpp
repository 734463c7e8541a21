#include "completion.hpp"

#include <dvm/error.hpp>
#include <dvm/shell.hpp>

#include <map>
#include <vector>

namespace dvm_cli {

namespace {

struct command_info {
  std::string name;
  std::string description;  // first line
  std::vector<std::string> flags;
  std::vector<std::string> aliases;  // `shell` for `sh`: the names users of the peers type
};

std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

std::vector<command_info> commands_of(const CLI::App& app) {
  std::vector<command_info> out;
  for (const CLI::App* sub : app.get_subcommands({})) {
    if (sub->get_name().starts_with("__")) continue;  // hidden helpers
    command_info info{sub->get_name(), first_line(sub->get_description()), {"--help"}, sub->get_aliases()};
    for (const CLI::Option* opt : sub->get_options()) {
      for (const auto& l : opt->get_lnames()) {
        if (l != "help") info.flags.push_back("--" + l);
      }
      for (const auto& s : opt->get_snames()) {
        if (s != "h") info.flags.push_back("-" + s);
      }
    }
    out.push_back(std::move(info));
  }
  return out;
}

std::string join(const std::vector<std::string>& items, const std::string& sep) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : sep) + i;
  return out;
}

// Commands whose positional arguments are VM names (init names a new one; cp takes NAME:path).
bool takes_vm_name(const std::string& command) {
  return command != "init" && command != "cp" && command != "completion" && command != "help" &&
         command != "ls" && command != "recipes" && command != "version" && command != "templates";
}

// Every word that names a command: names and aliases.
std::vector<std::string> command_words(const std::vector<command_info>& commands) {
  std::vector<std::string> out;
  for (const auto& c : commands) {
    out.push_back(c.name);
    out.insert(out.end(), c.aliases.begin(), c.aliases.end());
  }
  return out;
}

// `sh|shell`: a case pattern for the command and its aliases.
std::string case_pattern(const command_info& c) {
  std::string out = c.name;
  for (const auto& a : c.aliases) out += "|" + a;
  return out;
}

std::string bash_script(const std::vector<command_info>& commands) {
  std::vector<std::string> names = command_words(commands);
  std::string out = R"SH(# bash completion for dvm. Load it with: source <(dvm completion bash)
# COMPREPLY from the lines on stdin: a word with spaces stays one word and is never globbed
# (`COMPREPLY=($(compgen ...))` would split and glob it). No mapfile: macOS ships bash 3.2.
_dvm_reply() {
  local line
  COMPREPLY=()
  while IFS= read -r line; do COMPREPLY+=("$line"); done
}
_dvm() {
  local cur prev cmd i
  cur=${COMP_WORDS[COMP_CWORD]}
  prev=${COMP_WORDS[COMP_CWORD-1]}
  cmd=
  for ((i = 1; i < COMP_CWORD; i++)); do
    case ${COMP_WORDS[i]} in
      -*) ;;
      *) cmd=${COMP_WORDS[i]}; break ;;
    esac
  done
  if [[ -z $cmd ]]; then
    _dvm_reply < <(compgen -W ")SH" + join(names, " ") + R"SH( --json --verbose --help --version" -- "$cur")
    return
  fi
  case $prev in
    -t|--template) _dvm_reply < <(compgen -W "$(dvm __complete templates 2>/dev/null)" -- "$cur"); return ;;
    --backend) _dvm_reply < <(compgen -W "auto scp rsync" -- "$cur"); return ;;
    -j|--jobs) return ;;
  esac
  local flags=
  case $cmd in
)SH";
  for (const auto& c : commands) {
    out += "    " + case_pattern(c) + ") flags=" + dvm::shell_quote(join(c.flags, " ") + " --json --verbose") + " ;;\n";
  }
  out += R"SH(  esac
  if [[ $cur == -* ]]; then
    _dvm_reply < <(compgen -W "$flags" -- "$cur")
    return
  fi
  case $cmd in
    completion) _dvm_reply < <(compgen -W "bash zsh fish" -- "$cur") ;;
    help) _dvm_reply < <(compgen -W ")SH" + join(names, " ") + R"SH(" -- "$cur") ;;
    cp)
      local vms
      vms=$(dvm __complete vms 2>/dev/null | sed 's/$/:/')
      _dvm_reply < <(compgen -W "$vms" -- "$cur"; compgen -f -- "$cur")
      compopt -o nospace 2>/dev/null
      ;;
)SH";
  std::vector<std::string> vm_commands;
  for (const auto& c : commands) {
    if (takes_vm_name(c.name) && c.name != "sync") vm_commands.push_back(case_pattern(c));
  }
  out += R"SH(    sync)
      # Several names: `dvm sync app web`.
      _dvm_reply < <(compgen -W "$(dvm __complete vms 2>/dev/null)" -- "$cur")
      ;;
)SH";
  out += "    " + join(vm_commands, "|") + R"SH()
      # Only the first positional word is a VM name (ssh/log pass the rest to the guest).
      local seen=0
      for ((i = i + 1; i < COMP_CWORD; i++)); do
        [[ ${COMP_WORDS[i]} == -* ]] || seen=1
      done
      [[ $seen == 0 ]] && _dvm_reply < <(compgen -W "$(dvm __complete vms 2>/dev/null)" -- "$cur")
      ;;
  esac
}
complete -F _dvm dvm
)SH";
  return out;
}

std::string zsh_script(const std::vector<command_info>& commands) {
  // zsh runs the bash function through bashcompinit: one implementation to keep right.
  return "#compdef dvm\n# zsh completion for dvm. Load it with: source <(dvm completion zsh)\n"
         "autoload -U +X compinit && compinit\n"
         "autoload -U +X bashcompinit && bashcompinit\n" +
         bash_script(commands);
}

std::string fish_script(const std::vector<command_info>& commands) {
  std::vector<std::string> names = command_words(commands);
  std::string out =
      "# fish completion for dvm. Load it with: dvm completion fish | source\n"
      "complete -c dvm -f\n"
      "complete -c dvm -l json -d 'Print JSON'\n"
      "complete -c dvm -l verbose -d 'Show every limactl call'\n";
  for (const auto& c : commands) {
    out += "complete -c dvm -n '__fish_use_subcommand' -a " + c.name + " -d " + dvm::shell_quote(c.description) + "\n";
    for (const auto& a : c.aliases) {
      out += "complete -c dvm -n '__fish_use_subcommand' -a " + a + " -d " + dvm::shell_quote("alias of " + c.name) + "\n";
    }
    std::string all_names = c.name;
    for (const auto& a : c.aliases) all_names += " " + a;
    for (const auto& f : c.flags) {
      std::string spec = f.starts_with("--") ? "-l " + f.substr(2) : "-s " + f.substr(1);
      out += "complete -c dvm -n '__fish_seen_subcommand_from " + all_names + "' " + spec + "\n";
    }
    if (takes_vm_name(c.name)) {
      out += "complete -c dvm -n '__fish_seen_subcommand_from " + all_names + "' -a '(dvm __complete vms 2>/dev/null)'\n";
    }
  }
  out += "complete -c dvm -n '__fish_seen_subcommand_from init' -l template -a '(dvm __complete templates 2>/dev/null)'\n";
  out += "complete -c dvm -n '__fish_seen_subcommand_from cp' -F -a '(dvm __complete vms 2>/dev/null | string replace -r \\$ :)'\n";
  out += "complete -c dvm -n '__fish_seen_subcommand_from cp' -l backend -a 'auto scp rsync'\n";
  out += "complete -c dvm -n '__fish_seen_subcommand_from completion' -a 'bash zsh fish'\n";
  out += "complete -c dvm -n '__fish_seen_subcommand_from help' -a " + dvm::shell_quote(join(names, " ")) + "\n";
  return out;
}

}  // namespace

std::string completion_script(const CLI::App& app, const std::string& shell) {
  auto commands = commands_of(app);
  if (shell == "bash") return bash_script(commands);
  if (shell == "zsh") return zsh_script(commands);
  if (shell == "fish") return fish_script(commands);
  throw dvm::error(dvm::errc::usage, "no completion for \"" + shell + "\": use bash, zsh or fish");
}

}  // namespace dvm_cli
