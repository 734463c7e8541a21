// The sync guest program: its shape, secret framing and redaction, and the marker parser.
#include <doctest/doctest.h>

#include <dvm/secret.hpp>

#include "guest/output.hpp"
#include "guest/program.hpp"
#include "test_support.hpp"

#include <cstdio>

using dvm_test::config_tree;

namespace {
dvm::vm_config sample(config_tree& t) {
  t.recipe("alpha", "# Description: a\necho alpha\n");
  t.recipe("beta", "# Description: b\necho beta");
  t.vm("app", "recipes = [\"alpha\", \"beta\"]\nbaseline = false\n[env]\nGREETING = \"it's $(x) `y`\"\nPORT = 8080\n");
  return t.load("app");
}

int bash_syntax_check(const std::string& program) {
  dvm_test::temp_dir dir;
  dvm_test::write_file(dir.path() / "p.sh", program);
  return std::system(("bash -n '" + (dir.path() / "p.sh").string() + "'").c_str());
}
}  // namespace

TEST_CASE("the program is valid bash in the documented order") {
  config_tree t;
  dvm::vm_config vm = sample(t);
  dvm::stdin_payload p = dvm::detail::build_sync_program(vm, t.store().recipes(), {}, "n0nce");
  std::string text = p.redacted();
  CHECK(bash_syntax_check(text) == 0);
  auto at = [&](const std::string& s) {
    std::size_t pos = text.find(s);
    CHECK_MESSAGE(pos != std::string::npos, s);
    return pos;
  };
  CHECK(at("set -euo pipefail") < at("trap __dvm_exit EXIT"));
  CHECK(at("trap __dvm_exit EXIT") < at("export DVM_NAME=app"));
  CHECK(at("export DVM_NAME=app") < at("hostnamectl set-hostname"));
  CHECK(at("export DVM_GREETING='it'\\''s $(x) `y`'") > 0);
  CHECK(at("export DVM_PORT=8080") > 0);
  CHECK(at("DVM_CODE_DIR=\"$HOME\"/code/app") > 0);
  CHECK(at("__dvm_run_recipe alpha") < at("__dvm_run_recipe beta"));
  CHECK(at("__dvm_run_recipe beta") < at("__dvm_remove_secrets\nif [ -f \"$DVM_CODE_DIR/.dvm/sync.sh\" ]"));
  CHECK(text.find("__dvm_read_secrets") == std::string::npos);  // no secrets, no reader
  CHECK(text.find("__dvm_run_recipe baseline") == std::string::npos);
}

TEST_CASE("secrets are framed into the stream and redacted everywhere else") {
  config_tree t;
  dvm::vm_config vm = sample(t);
  const std::string value = "s3cr3t\nwith 'quotes' and $(cmd)";
  dvm::secret s(value);
  dvm::secret other(std::string_view("x"));
  std::vector<dvm::detail::named_secret> list{{"API_TOKEN", &s}, {"OTHER", &other}};
  dvm::stdin_payload p = dvm::detail::build_sync_program(vm, t.store().recipes(), list, "n0nce");
  std::string redacted = p.redacted();
  CHECK(redacted.find("s3cr3t") == std::string::npos);
  CHECK(redacted.find("__dvm_read_secrets 2\nAPI_TOKEN <redacted>\n<redacted>OTHER <redacted>\n<redacted>\n") !=
        std::string::npos);
  CHECK(p.has_secrets());
  // The real bytes carry the length and the value right after the reader's call line.
  struct peek : dvm::process_runner {
    dvm::process_result run(const dvm::process_spec&) override { return {}; }
    static std::string bytes(const dvm::stdin_payload& payload) {
      auto b = bytes_of(payload);
      return {b.data(), b.size()};
    }
  };
  std::string raw = peek::bytes(p);
  CHECK(raw.find("__dvm_read_secrets 2\nAPI_TOKEN " + std::to_string(value.size()) + "\n" + value + "OTHER 1\nx\n") !=
        std::string::npos);
}

TEST_CASE("secret and payload buffers") {
  dvm::secret a(std::string_view("abc"));
  CHECK(a.size() == 3);
  dvm::secret b(std::move(a));
  CHECK(a.empty());
  CHECK(b.size() == 3);
  std::string source = "from a string";
  dvm::secret c(std::move(source));
  CHECK(source.empty());
  CHECK(c.size() == 13);
  dvm::stdin_payload p;
  p.append("x=");
  p.append(c);
  p.append(";");
  CHECK(p.size() == 16);
  CHECK(p.redacted() == "x=<redacted>;");
  CHECK(p.redacted("***") == "x=***;");
  // Growing many times keeps the content (each step wipes the old buffer).
  dvm::stdin_payload big;
  std::string expect;
  for (int i = 0; i < 1000; ++i) {
    big.append("0123456789");
    expect += "0123456789";
  }
  CHECK(big.redacted() == expect);
  unsigned char buffer[4] = {1, 2, 3, 4};
  dvm::secure_wipe(buffer, sizeof buffer);
  CHECK(buffer[0] == 0);
  CHECK(buffer[3] == 0);
}

TEST_CASE("markers need the nonce; forged ones are plain output") {
  dvm::detail::guest_output_parser parser("abc123");
  std::vector<std::string> lines;
  std::vector<dvm::detail::guest_marker> markers;
  auto on_line = [&](std::string_view l) { lines.emplace_back(l); };
  auto on_marker = [&](const dvm::detail::guest_marker& m) { markers.push_back(m); };
  parser.feed("hello\n::dvm-abc123::recipe-start node\n::dvm-guess::recipe-done node\nno newline", on_line, on_marker);
  parser.feed("::dvm-abc123::recipe-done node\n::dvm-abc123::failed 7 recipe node\n::dvm-abc123::hook-start .dvm/sync.sh\n",
              on_line, on_marker);
  parser.feed("::dvm-abc123::bogus\n::dvm-abc123::failed x recipe y\n::dvm-abc123::done", on_line, on_marker);
  parser.finish(on_line, on_marker);
  CHECK(lines == std::vector<std::string>{"hello", "::dvm-guess::recipe-done node", "no newline",
                                          "::dvm-abc123::bogus", "::dvm-abc123::failed x recipe y"});
  using kind = dvm::detail::guest_marker::kind;
  REQUIRE(markers.size() == 5);
  CHECK(markers[0].what == kind::recipe_started);
  CHECK(markers[0].step == "node");
  CHECK(markers[1].what == kind::recipe_finished);
  CHECK(markers[2].what == kind::failed);
  CHECK(markers[2].status == 7);
  CHECK(markers[2].step == "recipe node");
  CHECK(markers[3].what == kind::hook_started);
  CHECK(markers[4].what == kind::done);
  CHECK(dvm::detail::make_nonce().size() == 32);
  CHECK(dvm::detail::make_nonce() != dvm::detail::make_nonce());
}

namespace {
// Runs `script` with bash; returns stdout followed by "--stderr--" and stderr.
std::string run_bash(const std::string& script, const std::string& env = "") {
  dvm_test::temp_dir dir;
  dvm_test::write_file(dir.path() / "s.sh", script);
  std::string out_path = (dir.path() / "out").string();
  std::string cmd = env + " bash '" + (dir.path() / "s.sh").string() + "' >'" + out_path + "' 2>&1";
  CHECK(std::system(cmd.c_str()) == 0);
  std::FILE* f = std::fopen(out_path.c_str(), "r");
  std::string out;
  if (f != nullptr) {
    char buf[4096];
    std::size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
    std::fclose(f);
  }
  return out;
}

std::string between(const std::string& text, const std::string& from, const std::string& to) {
  std::size_t a = text.find(from);
  REQUIRE(a != std::string::npos);
  std::size_t b = text.find(to, a);
  REQUIRE(b != std::string::npos);
  return text.substr(a, b + to.size() - a);
}
}  // namespace

TEST_CASE("the program runs nothing from a directory the agent could write") {
  config_tree t;
  dvm::vm_config vm = sample(t);
  dvm::secret s(std::string_view("v"));
  std::vector<dvm::detail::named_secret> list{{"TOKEN", &s}};
  std::string text = dvm::detail::build_sync_program(vm, t.store().recipes(), list, "n0nce").redacted();
  // Absolute bash, privileged mode (no BASH_ENV, SHELLOPTS or functions from the environment).
  CHECK(dvm::detail::guest_bash_command() == std::vector<std::string>{"/bin/bash", "-p", "-s"});
  // PATH is reset by the first command, before the nonce, the traps and every lookup.
  std::size_t first = text.find('\n') + 1;
  CHECK(text.compare(first, 18, "__dvm_safe_path() ") == 0);
  CHECK(text.find("__dvm_safe_path\nexport PATH\nunset -v BASH_ENV ENV CDPATH GLOBIGNORE\n") < text.find("__dvm_nonce="));
  CHECK(text.find("/bin/bash ./.dvm/sync.sh") != std::string::npos);
  // The signal traps clean up themselves; the watchdog survives the hang-up and cleans up after
  // a main shell that is gone.
  CHECK(text.find("__dvm_signal() {\n  trap '' HUP INT TERM PIPE\n  __dvm_exit \"$1\"\n}") != std::string::npos);
  std::string watchdog = between(text, "__dvm_watchdog() {", "\n}\n");
  CHECK(watchdog.find("trap '' HUP INT PIPE") != std::string::npos);
  CHECK(watchdog.find("done\n  __dvm_wipe_secrets \"$__dvm_secret_dir\"") != std::string::npos);
  CHECK(text.find("__dvm_watchdog \"$$\" </dev/null &") < text.find("head -c \"$length\""));

  // The PATH filter keeps root-owned directories nobody else can write, in order.
  dvm_test::temp_dir dir;
  std::filesystem::create_directories(dir.path() / "open");
  std::filesystem::permissions(dir.path() / "open", std::filesystem::perms::all);
  std::string filter = between(text, "__dvm_safe_path() {", "\nexport PATH\n") + "printf '%s' \"$PATH\"\n";
  std::string path = run_bash(filter, "PATH='" + (dir.path() / "open").string() + ":relative::/usr/bin:/nonexistent:/tmp'");
  CHECK(path.find("/usr/bin") == 0);
  CHECK(path.find("open") == std::string::npos);
  CHECK(path.find("relative") == std::string::npos);
  CHECK(path.find("/tmp") == std::string::npos);
  CHECK(path.find("/usr/sbin") != std::string::npos);
}

TEST_CASE("dvm_secret is not traced, and tracing is restored after it") {
  config_tree t;
  dvm::vm_config vm = sample(t);
  std::string text = dvm::detail::build_sync_program(vm, t.store().recipes(), {}, "n0nce").redacted();
  std::string fn = between(text, "dvm_secret() {", "\n}\n");
  dvm_test::temp_dir dir;
  dvm_test::write_file(dir.path() / "S", "the-value");
  std::string out = run_bash(fn + "DVM_SECRET_FILE_S='" + (dir.path() / "S").string() +
                             "'\nset -x\nv=$(dvm_secret S)\n: after \"${#v}\"\n");
  CHECK(out.find((dir.path() / "S").string()) == std::string::npos);
  CHECK(out.find("+ : after 9") != std::string::npos);
}

TEST_CASE("guest scripts' key<TAB>value records and counts are read as data") {
  using dvm::detail::parse_count;
  using dvm::detail::tab_fields;
  auto fields = tab_fields("noise\ncounted\t3\t4096\nchecked\n\tempty key\n");
  REQUIRE(fields.size() == 2);
  CHECK(fields[0] == std::pair<std::string, std::string>{"counted", "3\t4096"});
  CHECK(fields[1].first.empty());
  CHECK(parse_count("18446744073709551615") == UINT64_MAX);
  for (const char* bad : {"", "-1", " 3", "3 ", "0x10", "18446744073709551616", "3\n", "1e3"}) {
    CHECK_MESSAGE(parse_count(bad) == 0, bad);
  }
  CHECK(parse_count("0042") == 42);
}
