#include "guest/program.hpp"

#include "guest/shell.hpp"

#include <dvm/error.hpp>

#include <array>
#include <charconv>
#include <random>

namespace dvm::detail {

namespace {

// The fixed part that runs before anything else. No user value appears in it.
//
// Threat model (SECURITY.md): everything the agent user can write (its home, the code dir) is
// hostile. The program runs as the main user with a login environment built from the main user's
// own dotfiles, which may still name such a directory (a careless `PATH=~/code/app/bin:$PATH`).
// So every command of the program, its helpers and its recipes is found through a PATH of
// root-owned directories only, and nothing of the environment changes how bash runs it (the
// program is started as `/bin/bash -p -s`: no BASH_ENV, ENV, SHELLOPTS, BASHOPTS or functions
// from the environment; PATH and the rest are reset by its first lines, safe_guest_environment
// in guest/shell.hpp).
constexpr std::string_view prelude = R"SH(set -euo pipefail
__dvm_step=''
__dvm_secret_dir=''
__dvm_mark() { printf '::dvm-%s::%s\n' "$__dvm_nonce" "$*"; }
__dvm_watchdog_pid=''
__dvm_exiting=''
# Removes a staged secrets directory: the files first as their owner (works even if sudo is
# broken), then the directory as root. No stdio for sudo: after a lost connection stdout is a
# broken pipe. find -P (never follows a link) and rm -rf do not leave the directory.
__dvm_wipe_secrets() {
  case $1 in /run/dvm-secrets/?*) ;; *) return 0 ;; esac
  find -P "$1" -mindepth 1 -delete </dev/null >/dev/null 2>&1 || true
  sudo -n rm -rf -- "$1" </dev/null >/dev/null 2>&1 || true
}
__dvm_remove_secrets() {
  if [ -n "$__dvm_watchdog_pid" ]; then
    kill "$__dvm_watchdog_pid" 2>/dev/null || true
    wait "$__dvm_watchdog_pid" 2>/dev/null || true
    __dvm_watchdog_pid=''
  fi
  if [ -n "$__dvm_secret_dir" ]; then
    __dvm_wipe_secrets "$__dvm_secret_dir"
    __dvm_secret_dir=''
  fi
}
# Every way out of the program ends here: the EXIT trap, and the signal traps call it themselves
# (bash does not run the EXIT trap for `exit` in a signal trap that interrupted the read of the
# next line of the program, which is where a dropped connection usually finds it).
__dvm_exit() {
  local status=$?
  if [ "$#" -gt 0 ]; then status=$1; fi
  # Nothing may interrupt the cleanup: the connection may be gone and signals keep coming.
  trap '' HUP INT TERM PIPE
  trap - EXIT
  if [ -z "$__dvm_exiting" ]; then
    __dvm_exiting=1
    __dvm_remove_secrets
    if [ -n "$__dvm_step" ]; then
      __dvm_mark "failed $status $__dvm_step" 2>/dev/null || true
      if [ "$status" -eq 0 ]; then status=3; fi
    fi
  fi
  exit "$status"
}
# A lost connection can deliver several signals in a row (SIGHUP twice, SIGPIPE): the first one
# ignores the rest, so none can cut the cleanup short.
__dvm_signal() {
  trap '' HUP INT TERM PIPE
  __dvm_exit "$1"
}
trap __dvm_exit EXIT
trap '__dvm_signal 129' HUP
trap '__dvm_signal 130' INT
trap '__dvm_signal 143' TERM
trap '__dvm_signal 141' PIPE
)SH";

// Hostname and the secrets directory. Stale directories left by a guest that died in an
// earlier sync are removed first (only one sync of a VM runs at a time: dvm holds a lock).
constexpr std::string_view setup = R"SH(__dvm_hostname=$(hostname 2>/dev/null || true)
if [ "$__dvm_hostname" != "$DVM_NAME" ]; then
  if command -v hostnamectl >/dev/null 2>&1; then
    sudo -n hostnamectl set-hostname "$DVM_NAME"
  else
    sudo -n hostname "$DVM_NAME"
  fi
fi
if [ -d /run/dvm-secrets ]; then
  sudo -n find -P /run/dvm-secrets -mindepth 1 -maxdepth 1 -exec rm -rf -- {} +
fi
# dvm_secret NAME: prints the staged value. Tracing (set -x) is off while it runs, and restored.
dvm_secret() {
  case $- in *x*) set +x; local __dvm_xtrace=1 ;; *) local __dvm_xtrace='' ;; esac
  local file_var="DVM_SECRET_FILE_${1:?usage: dvm_secret NAME}" status=0
  if [ -z "${!file_var:-}" ]; then
    echo "dvm_secret: no secret named $1 was staged for this sync" >&2
    status=1
  else
    cat -- "${!file_var}" || status=$?
  fi
  if [ -n "$__dvm_xtrace" ]; then set -x; fi
  return "$status"
}
)SH";

// Reads `count` framed secrets ("NAME LENGTH\n" + LENGTH bytes) from stdin into 0600 files in
// a fresh 0700 directory. bash reads a script from a pipe one byte at a time, so the frames that
// follow the call line are read by this function and never parsed as script text. Tracing is
// off while it runs (a trace would show the lengths).
constexpr std::string_view secret_reader = R"SH(__dvm_read_secrets() {
  case $- in *x*) set +x; local __dvm_xtrace=1 ;; *) local __dvm_xtrace='' ;; esac
  local count=$1 name length size i old_umask dir
  old_umask=$(umask)
  umask 077
  sudo -n install -d -m 0711 -o root -g root /run/dvm-secrets
  dir=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
  case $dir in '' | *[!0-9a-f]*) echo "dvm: cannot name the secrets directory" >&2; return 1 ;; esac
  # The name is chosen before the directory exists, so the exit trap always knows what to
  # remove, and the watchdog runs before the first byte of a value is read. Only root can
  # create entries in /run/dvm-secrets.
  __dvm_secret_dir=/run/dvm-secrets/$dir
  __dvm_watchdog "$$" </dev/null &
  __dvm_watchdog_pid=$!
  sudo -n install -d -m 0700 -o "$(id -u)" -g "$(id -g)" "$__dvm_secret_dir"
  for ((i = 0; i < count; i++)); do
    IFS=' ' read -r name length || { echo "dvm: the secrets ended early" >&2; return 1; }
    case $name in '' | *[!A-Z0-9_]*) echo "dvm: bad secret frame" >&2; return 1 ;; esac
    case $length in '' | *[!0-9]*) echo "dvm: bad secret frame" >&2; return 1 ;; esac
    head -c "$length" >"$__dvm_secret_dir/$name"
    size=$(wc -c <"$__dvm_secret_dir/$name")
    if [ "$size" -ne "$length" ]; then
      echo "dvm: secret $name arrived incomplete" >&2
      return 1
    fi
    export "DVM_SECRET_FILE_$name=$__dvm_secret_dir/$name"
  done
  umask "$old_umask"
  if [ -n "$__dvm_xtrace" ]; then set -x; fi
}
# While secrets are staged. It ignores the hang-up that ends the session (a dropped connection
# sends SIGHUP to the whole process group), so it outlives the main shell: when the host is gone
# (a write to stdout fails) it removes the secrets at once and stops the program, instead of both
# lingering until the program's next output; when the main shell is gone without removing them
# (killed outright), it removes them too. The main shell stops it with SIGTERM.
__dvm_watchdog() {
  local main=$1 group
  trap '' HUP INT PIPE
  trap - EXIT
  set +e
  while kill -0 "$main" 2>/dev/null; do
    if ! __dvm_mark alive 2>/dev/null; then
      __dvm_wipe_secrets "$__dvm_secret_dir"
      group=$(ps -o pgid= -p "$main" 2>/dev/null | tr -d ' ')
      if [ "$group" = "$main" ]; then
        kill -TERM -- "-$main" 2>/dev/null
      else
        pkill -TERM -P "$main" 2>/dev/null
        kill -TERM "$main" 2>/dev/null
      fi
      exit 0
    fi
    sleep 1 >/dev/null 2>&1
  done
  __dvm_wipe_secrets "$__dvm_secret_dir"
  exit 0
}
)SH";

constexpr std::string_view runner = R"SH(__dvm_run_recipe() {
  cd "$HOME"
  __dvm_step="recipe $1"
  DVM_RECIPE=$1
  export DVM_RECIPE
  __dvm_mark "recipe-start $1"
  # A plain command (strict mode stays on inside it), and never the program's own stdin, which
  # still holds the rest of this program.
  "$2" </dev/null
  __dvm_mark "recipe-done $1"
  __dvm_step=''
}
)SH";

constexpr std::string_view finale = R"SH(__dvm_remove_secrets
if [ -f "$DVM_CODE_DIR/.dvm/sync.sh" ]; then
  __dvm_step='hook .dvm/sync.sh'
  __dvm_mark 'hook-start .dvm/sync.sh'
  (cd "$DVM_CODE_DIR" && /bin/bash ./.dvm/sync.sh </dev/null)
  __dvm_mark 'hook-done .dvm/sync.sh'
  __dvm_step=''
fi
__dvm_mark 'done'
)SH";

std::string export_line(std::string_view name, std::string_view value) {
  return "export " + std::string(name) + "=" + shell_quote(value) + "\n";
}

}  // namespace

std::vector<std::string> guest_bash_command() { return {"/bin/bash", "-p", "-s"}; }

std::string make_nonce() {
  std::random_device rd;
  std::array<unsigned, 4> words{rd(), rd(), rd(), rd()};
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned w : words) {
    for (int i = 0; i < 8; ++i) out += hex[(w >> (i * 4)) & 0xf];
  }
  return out;
}

stdin_payload build_sync_program(const vm_config& vm, const recipe_catalog& catalog,
                                 const std::vector<named_secret>& secrets, std::string_view nonce) {
  stdin_payload out;
  out.append("# dvm guest program for VM " + vm.name +
             ": streamed over stdin, never stored on the host.\n");
  out.append(safe_guest_environment);  // IFS: bash never takes it from the environment
  out.append("__dvm_nonce=" + shell_quote(nonce) + "\n");
  out.append(prelude);

  out.append(export_line("DVM_NAME", vm.name));
  out.append(export_line("DVM_USER", vm.user));
  out.append(export_line("DVM_AGENT_USER", vm.agent_user));
  out.append("DVM_CODE_DIR=" + guest_path_expression(vm.code_dir) + "\nexport DVM_CODE_DIR\n");
  for (const auto& [key, value] : vm.env) out.append(export_line("DVM_" + key, value));
  out.append(setup);

  if (!secrets.empty()) {
    out.append(secret_reader);
    // The call must be a simple command on a line of its own, directly followed by the frames.
    out.append("__dvm_read_secrets " + std::to_string(secrets.size()) + "\n");
    for (const auto& s : secrets) {
      // Callers validate names; a frame header with another character would not parse in the
      // guest, so refuse it here too rather than send it.
      bool valid = !s.name.empty() && !(s.name.front() >= '0' && s.name.front() <= '9');
      for (char c : s.name) valid = valid && ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_');
      if (!valid) throw error(errc::usage, "\"" + s.name + "\" is not a valid secret name: use [A-Z_][A-Z0-9_]*");
      // The length is marked secret too, so `dvm plan` does not show how long a value is.
      out.append(s.name + " ");
      out.append(secret(std::to_string(s.value->size())));
      out.append("\n");
      out.append(*s.value);
    }
    out.append("\n");
  }

  // From here on, recipe errors and output share one ordered stream.
  out.append("exec 2>&1\n");
  out.append("# dvm recipe helpers\n");
  out.append(catalog.helpers());
  if (!catalog.helpers().empty() && catalog.helpers().back() != '\n') out.append("\n");
  out.append(runner);

  std::vector<std::string> steps;
  if (vm.baseline) steps.emplace_back("baseline");
  for (const auto& r : vm.recipes) steps.push_back(r);
  int index = 0;
  for (const auto& name : steps) {
    const recipe* r = catalog.find(name);
    if (r == nullptr) continue;  // the config loader has already refused unknown recipes
    std::string fn = "__dvm_recipe_" + std::to_string(++index);
    out.append("# dvm recipe: " + name + (r->bundled ? " (bundled)" : " (user)") + "\n");
    out.append(fn + "() {\n");
    out.append(r->text);
    if (!r->text.empty() && r->text.back() != '\n') out.append("\n");
    out.append(":\n}\n");
    out.append("__dvm_run_recipe " + shell_quote(name) + " " + fn + "\n");
  }
  out.append(finale);
  return out;
}

guest_output_parser::guest_output_parser(std::string nonce)
    : prefix_("::dvm-" + nonce + "::") {}

std::optional<guest_marker> guest_output_parser::parse_marker(std::string_view body) {
  auto word = [&]() {
    std::size_t sp = body.find(' ');
    std::string_view w = body.substr(0, sp);
    body = sp == std::string_view::npos ? std::string_view() : body.substr(sp + 1);
    return w;
  };
  std::string_view what = word();
  guest_marker m{guest_marker::kind::done, {}, 0};
  if (what == "recipe-start") {
    m.what = guest_marker::kind::recipe_started;
  } else if (what == "recipe-done") {
    m.what = guest_marker::kind::recipe_finished;
  } else if (what == "hook-start") {
    m.what = guest_marker::kind::hook_started;
  } else if (what == "hook-done") {
    m.what = guest_marker::kind::hook_finished;
  } else if (what == "alive") {
    m.what = guest_marker::kind::alive;
    return body.empty() ? std::optional<guest_marker>(m) : std::nullopt;
  } else if (what == "done") {
    return body.empty() ? std::optional<guest_marker>(m) : std::nullopt;
  } else if (what == "failed") {
    m.what = guest_marker::kind::failed;
    std::string_view status = word();
    auto [p, ec] = std::from_chars(status.data(), status.data() + status.size(), m.status);
    if (ec != std::errc() || p != status.data() + status.size()) return std::nullopt;
    // The step stays "recipe NAME" or "hook PATH".
    if (!body.starts_with("recipe ") && !body.starts_with("hook ")) return std::nullopt;
  } else {
    return std::nullopt;
  }
  if (body.empty()) return std::nullopt;
  m.step = std::string(body);
  return m;
}

}  // namespace dvm::detail
