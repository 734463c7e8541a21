#include "guest/shell.hpp"

#include <stdexcept>

namespace dvm::detail {

namespace {
bool is_safe(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("_@%+=:,./-").find(c) != std::string_view::npos;
}
}  // namespace

std::string shell_quote(std::string_view value) {
  if (value.find('\0') != std::string_view::npos) {
    throw std::invalid_argument("shell_quote: a NUL byte cannot be passed through a shell word");
  }
  bool safe = !value.empty();
  for (char c : value) safe = safe && is_safe(c);
  if (safe) return std::string(value);
  std::string out = "'";
  for (char c : value) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  out += '\'';
  return out;
}

std::string guest_path_expression(std::string_view path) {
  if (path == "~") return "\"$HOME\"";
  if (path.starts_with("~/")) return "\"$HOME\"/" + shell_quote(path.substr(2));
  return shell_quote(path);
}

}  // namespace dvm::detail
