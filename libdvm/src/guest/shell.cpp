#include "guest/shell.hpp"

#include "embedded.hpp"

#include <stdexcept>

namespace dvm::inline v0 {

namespace {
// The characters shell_quote leaves bare (and decode_guest_path_expression reads bare).
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

namespace detail {

std::string guest_path_expression(std::string_view path) {
  if (path == "~") return "\"$HOME\"";
  if (path.starts_with("~/")) return "\"$HOME\"/" + shell_quote(path.substr(2));
  return shell_quote(path);
}

// Decodes the word guest_path_expression() wrote ("$HOME"/'rest', or a shell-quoted absolute
// path) back into "~/rest" or the path; nullopt for anything else.
std::optional<std::string> decode_guest_path_expression(std::string_view text) {
  std::string out;
  if (text.starts_with("\"$HOME\"")) {
    out = "~";
    text.remove_prefix(7);
    if (text.empty()) return out;
    if (!text.starts_with("/")) return std::nullopt;
    out += '/';
    text.remove_prefix(1);
  }
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\'') {
      std::size_t end = text.find('\'', i + 1);
      if (end == std::string_view::npos) return std::nullopt;
      out.append(text.substr(i + 1, end - i - 1));
      i = end;
    } else if (c == '\\') {
      if (i + 1 >= text.size()) return std::nullopt;
      out += text[++i];
    } else if (is_safe(c)) {
      out += c;
    } else {
      return std::nullopt;
    }
  }
  if (out.empty() || (out != "~" && !out.starts_with("~/") && !out.starts_with("/"))) return std::nullopt;
  return out;
}

std::string guest_script(std::string_view name) {
  for (const embedded_file& file : guest_scripts()) {
    if (file.name != name) continue;
    std::string_view data = file.data;
    std::string out;
    if (data.starts_with("#!")) {
      std::size_t nl = data.find('\n');
      out = data.substr(0, nl + 1);
      data.remove_prefix(out.size());
    }
    // The header: comment lines only, ending with the shellcheck shell directive.
    static constexpr std::string_view marker = "# shellcheck shell=bash\n";
    std::size_t at = 0;
    while (!data.substr(at).starts_with(marker)) {
      std::size_t nl = data.find('\n', at);
      if (data.substr(at, 1) != "#" || nl == std::string_view::npos) {
        throw std::logic_error("guest script \"" + std::string(name) +
                               "\" has no header ending with \"# shellcheck shell=bash\"");
      }
      at = nl + 1;
    }
    out.append(data.substr(at + marker.size()));
    return out;
  }
  throw std::logic_error("no embedded guest script \"" + std::string(name) + "\"");
}

std::string safe_guest_environment() { return guest_script("safe-environment"); }

}  // namespace detail

}  // namespace dvm::v0
