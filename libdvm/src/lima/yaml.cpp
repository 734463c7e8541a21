#include "lima/yaml.hpp"

#include <stdexcept>

namespace dvm::detail::yaml {

namespace {

constexpr char hex_digits[] = "0123456789ABCDEF";

bool is_identifier(std::string_view key) {
  if (key.empty()) return false;
  for (char c : key) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) return false;
  }
  return !(key.front() >= '0' && key.front() <= '9');
}

// A literal block reproduces text exactly only if it is printable ASCII/UTF-8 lines with tabs,
// ends in exactly one newline (clip chomping), and its first line does not start with a space.
bool fits_literal_block(std::string_view text) {
  if (text.size() < 2 || text.back() != '\n' || text[text.size() - 2] == '\n') return false;
  if (text.front() == ' ' || text.front() == '\t' || text.front() == '\n') return false;
  for (char ch : text) {
    auto c = static_cast<unsigned char>(ch);
    if (c == '\n' || c == '\t') continue;
    if (c < 0x20 || c == 0x7f) return false;
  }
  // U+0085, U+2028 and U+2029 are line breaks in YAML 1.1.
  return text.find("\xc2\x85") == std::string_view::npos &&
         text.find("\xe2\x80\xa8") == std::string_view::npos &&
         text.find("\xe2\x80\xa9") == std::string_view::npos &&
         text.find("\xef\xbb\xbf") == std::string_view::npos;
}

void write_literal_block(std::string& out, std::string_view text, int indent) {
  out += "|\n";
  std::string pad(static_cast<std::size_t>(indent), ' ');
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    std::string_view line = text.substr(pos, end - pos);
    if (!line.empty()) out += pad;
    out += line;
    out += '\n';
    pos = end + 1;
  }
}

bool is_scalar(const node& n) {
  return !std::holds_alternative<sequence>(n.value) && !std::holds_alternative<mapping>(n.value);
}

void write_scalar(std::string& out, const node& n, int indent) {
  if (std::holds_alternative<std::nullptr_t>(n.value)) {
    out += "null";
  } else if (const bool* b = std::get_if<bool>(&n.value)) {
    out += *b ? "true" : "false";
  } else if (const auto* i = std::get_if<std::int64_t>(&n.value)) {
    out += std::to_string(*i);
  } else {
    const std::string& s = std::get<std::string>(n.value);
    if (fits_literal_block(s) && s.find('\n') + 1 < s.size()) {
      write_literal_block(out, s, indent);
      return;
    }
    out += quote(s);
  }
}

void write_value(std::string& out, const node& n, int indent);

// Writes "key: value" entries of a mapping; the first line's indentation is already written
// when `first_inline` (a mapping that starts after "- ").
void write_mapping(std::string& out, const mapping& m, int indent, bool first_inline) {
  bool first = true;
  for (const auto& [key, value] : m) {
    if (!(first && first_inline)) out.append(static_cast<std::size_t>(indent), ' ');
    first = false;
    out += is_identifier(key) ? key : quote(key);
    out += ':';
    if (is_scalar(value)) {
      out += ' ';
      write_scalar(out, value, indent + 2);
      if (out.back() != '\n') out += '\n';
    } else {
      write_value(out, value, indent + 2);
    }
  }
}

void write_sequence(std::string& out, const sequence& s, int indent) {
  for (const auto& item : s) {
    out.append(static_cast<std::size_t>(indent), ' ');
    out += "- ";
    if (const auto* m = std::get_if<mapping>(&item.value); m && !m->empty()) {
      write_mapping(out, *m, indent + 2, true);
    } else if (is_scalar(item)) {
      write_scalar(out, item, indent + 2);
      if (out.back() != '\n') out += '\n';
    } else {
      throw std::logic_error("yaml: nested sequences are not used by dvm");
    }
  }
}

// A collection value after "key:".
void write_value(std::string& out, const node& n, int indent) {
  if (const auto* s = std::get_if<sequence>(&n.value)) {
    if (s->empty()) {
      out += " []\n";
    } else if (n.flow) {
      out += " [";
      for (std::size_t i = 0; i < s->size(); ++i) {
        if (i > 0) out += ", ";
        if (!is_scalar((*s)[i])) throw std::logic_error("yaml: flow sequences hold scalars only");
        write_scalar(out, (*s)[i], indent);
      }
      out += "]\n";
    } else {
      out += '\n';
      write_sequence(out, *s, indent);
    }
  } else if (const auto* m = std::get_if<mapping>(&n.value)) {
    if (m->empty()) {
      out += " {}\n";
    } else {
      out += '\n';
      write_mapping(out, *m, indent, false);
    }
  }
}

}  // namespace

std::string quote(std::string_view text) {
  std::string out = "\"";
  for (std::size_t i = 0; i < text.size(); ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    switch (c) {
      case '"': out += "\\\""; continue;
      case '\\': out += "\\\\"; continue;
      case '\0': out += "\\0"; continue;
      case '\a': out += "\\a"; continue;
      case '\b': out += "\\b"; continue;
      case '\t': out += "\\t"; continue;
      case '\n': out += "\\n"; continue;
      case '\v': out += "\\v"; continue;
      case '\f': out += "\\f"; continue;
      case '\r': out += "\\r"; continue;
      case 0x1b: out += "\\e"; continue;
      default: break;
    }
    std::string_view rest = text.substr(i);
    // YAML line breaks other than \n: written as \u escapes (some parsers mishandle \N \L \P).
    if (rest.starts_with("\xc2\x85")) { out += "\\u0085"; ++i; continue; }
    if (rest.starts_with("\xe2\x80\xa8")) { out += "\\u2028"; i += 2; continue; }
    if (rest.starts_with("\xe2\x80\xa9")) { out += "\\u2029"; i += 2; continue; }
    if (rest.starts_with("\xef\xbb\xbf")) { out += "\\uFEFF"; i += 2; continue; }
    if (c < 0x20 || c == 0x7f) {
      out += "\\x";
      out += hex_digits[c >> 4];
      out += hex_digits[c & 0xf];
      continue;
    }
    out += static_cast<char>(c);
  }
  out += '"';
  return out;
}

std::string emit(const node& root, std::string_view header) {
  std::string out;
  std::size_t pos = 0;
  while (pos < header.size()) {
    std::size_t end = header.find('\n', pos);
    std::string_view line = header.substr(pos, end == std::string_view::npos ? end : end - pos);
    out += "# ";
    for (char c : line) out += (static_cast<unsigned char>(c) < 0x20) ? ' ' : c;
    out += '\n';
    if (end == std::string_view::npos) break;
    pos = end + 1;
  }
  const auto* m = std::get_if<mapping>(&root.value);
  if (m == nullptr) throw std::logic_error("yaml: the document root must be a mapping");
  write_mapping(out, *m, 0, false);
  return out;
}

}  // namespace dvm::detail::yaml
