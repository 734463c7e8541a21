// shell_quote(): for any value without NUL, one POSIX shell word that expands to exactly the
// value: only safe characters unquoted, everything else inside '...' (with ' as '\''), so no
// expansion, globbing, splitting or comment can apply. NUL is refused with invalid_argument.
// guest_path_expression() likewise, with only "$HOME" left to the guest shell.
#include "fuzz_target.hpp"

#include "guest/shell.hpp"

#include <optional>
#include <stdexcept>

namespace {

bool safe(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("_@%+=:,./-").find(c) != std::string_view::npos;
}

// What a POSIX shell makes of `word` when nothing but quoting may apply; nullopt when the word
// holds anything else (an unquoted special character, an unterminated quote).
std::optional<std::string> dequote(std::string_view word) {
  std::string out;
  for (std::size_t i = 0; i < word.size(); ++i) {
    char c = word[i];
    if (c == '\'') {
      std::size_t end = word.find('\'', i + 1);
      if (end == std::string_view::npos) return std::nullopt;
      out.append(word.substr(i + 1, end - i - 1));
      i = end;
    } else if (c == '\\') {
      if (i + 1 >= word.size() || word[i + 1] == '\n') return std::nullopt;
      out += word[++i];
    } else if (safe(c)) {
      out += c;
    } else {
      return std::nullopt;
    }
  }
  return out;
}

}  // namespace

DVM_FUZZ_TARGET(shell_quote) {
  std::string_view value = dvm_fuzz::as_text(data, size);
  if (value.find('\0') != std::string_view::npos) {
    try {
      (void)dvm::detail::shell_quote(value);
    } catch (const std::invalid_argument&) {
      return 0;
    }
    DVM_FUZZ_CHECK_MSG(false, "a NUL byte was quoted");
  }
  std::string word = dvm::detail::shell_quote(value);
  DVM_FUZZ_CHECK(!word.empty());
  DVM_FUZZ_CHECK_MSG(dequote(word) == std::string(value), word);
  // A leading '~' or '#' would be expanded or start a comment: never bare.
  DVM_FUZZ_CHECK(word.front() != '~' && word.front() != '#');

  // Guest paths: "~" and "~/..." keep "$HOME" for the guest, the rest is one quoted word.
  std::string expr = dvm::detail::guest_path_expression(value);
  constexpr std::string_view home = "\"$HOME\"";
  if (value == "~") {
    DVM_FUZZ_CHECK(expr == home);
  } else if (value.starts_with("~/")) {
    DVM_FUZZ_CHECK(expr.starts_with(std::string(home) + "/"));
    DVM_FUZZ_CHECK(dequote(std::string_view(expr).substr(home.size())) == std::string(value.substr(1)));
  } else {
    DVM_FUZZ_CHECK(expr == word);
  }
  return 0;
}
