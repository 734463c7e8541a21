// The one shell-quoting function: every value must come out of a real shell byte for byte.
#include <doctest/doctest.h>

#include "guest/shell.hpp"

#include <dvm/shell.hpp>

#include <array>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

namespace {
std::string run_shell(const std::string& script) {
  std::string command = "bash -c " + dvm::detail::shell_quote(script);
  FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string out;
  std::array<char, 4096> buffer{};
  std::size_t n = 0;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0) out.append(buffer.data(), n);
  ::pclose(pipe);
  return out;
}
}  // namespace

TEST_CASE("shell_quote round-trips hostile values through bash") {
  const std::vector<std::string> values = {
      "plain", "", "with space", "it's", "'", "''", "\"double\"", "$(touch /tmp/dvm-pwned)",
      "`id`", "${HOME}", "$HOME", "a;b&&c||d|e", "new\nline", "tab\t", "glob * ? [a-z]",
      "~", "~/x", "back\\slash", "unicode zażółć 🚀", "-n", "--", "!bang", "#hash", "\x01\x7f\xff",
      "trailing newline\n"};
  for (const auto& v : values) {
    CAPTURE(v);
    CHECK(run_shell("printf %s " + dvm::detail::shell_quote(v)) == v);
  }
}

TEST_CASE("shell_quote leaves safe words bare and refuses NUL") {
  CHECK(dvm::detail::shell_quote("abc-1.2_3/x:y@z%+=,") == "abc-1.2_3/x:y@z%+=,");
  CHECK(dvm::detail::shell_quote("") == "''");
  CHECK(dvm::detail::shell_quote("a b") == "'a b'");
  CHECK(dvm::detail::shell_quote("it's") == "'it'\\''s'");
  CHECK_THROWS_AS(dvm::detail::shell_quote(std::string("a\0b", 3)), std::invalid_argument);
}

TEST_CASE("the public dvm::shell_quote is the library's one shell_quote") {
  // One function under two names: a second implementation would have its own address.
  constexpr auto* public_name = &dvm::shell_quote;
  constexpr auto* library_name = &dvm::detail::shell_quote;
  static_assert(public_name == library_name);
  CHECK(dvm::shell_quote("alias of sh") == "'alias of sh'");
  CHECK(run_shell("printf %s " + dvm::shell_quote("it's $HOME `x` \\")) == "it's $HOME `x` \\");
}

TEST_CASE("guest paths expand ~ in the guest and nothing else") {
  CHECK(dvm::detail::guest_path_expression("~") == "\"$HOME\"");
  CHECK(dvm::detail::guest_path_expression("~/code/app") == "\"$HOME\"/code/app");
  CHECK(dvm::detail::guest_path_expression("/srv/x y") == "'/srv/x y'");
  CHECK(run_shell("HOME=/h; printf %s " + dvm::detail::guest_path_expression("~/a $(b) c")) == "/h/a $(b) c");
}
