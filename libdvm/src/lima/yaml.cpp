#include "lima/yaml.hpp"

#include "text/utf8.hpp"

#include <stdexcept>

namespace dvm::inline v0::detail::yaml {

namespace {

constexpr char hex_digits[] = "0123456789ABCDEF";

// Keys written without quotes: identifiers that no YAML 1.1 or 1.2 parser reads as a boolean or
// null (`null:` would be a null key, `on:` a boolean one).
bool is_identifier(std::string_view key) {
  static constexpr std::string_view reserved[] = {
      "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "true", "True", "TRUE",
      "false", "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF", "null", "Null", "NULL"};
  for (std::string_view word : reserved) {
    if (key == word) return false;
  }
  if (key.empty()) return false;
  for (char c : key) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) return false;
  }
  return !(key.front() >= '0' && key.front() <= '9');
}

// Code points that may appear as they are in a document: YAML's printable set without tab and
// line feed, the byte order mark, and U+0085, U+2028 and U+2029, which YAML 1.1 parsers (Lima's
// among them) treat as line breaks.
bool is_plain_printable(char32_t cp) {
  return (cp >= 0x20 && cp <= 0x7e) || (cp >= 0xa0 && cp <= 0xd7ff && cp != 0x2028 && cp != 0x2029) ||
         (cp >= 0xe000 && cp <= 0xfffd && cp != 0xfeff) || (cp >= 0x10000 && cp <= 0x10ffff);
}

// A literal block reproduces text exactly only if it is valid UTF-8 lines of printable characters
// and tabs, ends in exactly one newline (clip chomping), and its first line does not start with
// a space.
bool fits_literal_block(std::string_view text) {
  if (text.size() < 2 || text.back() != '\n' || text[text.size() - 2] == '\n') return false;
  if (text.front() == ' ' || text.front() == '\t' || text.front() == '\n') return false;
  char32_t cp = 0;
  for (std::size_t i = 0; i < text.size();) {
    std::size_t n = decode_utf8(text, i, cp);
    if (n == 0 || !(cp == '\n' || cp == '\t' || is_plain_printable(cp))) return false;
    i += n;
  }
  return true;
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

void write_scalar(std::string& out, const node& n, int indent, bool block_allowed = true) {
  if (std::holds_alternative<std::nullptr_t>(n.value)) {
    out += "null";
  } else if (const bool* b = std::get_if<bool>(&n.value)) {
    out += *b ? "true" : "false";
  } else if (const auto* i = std::get_if<std::int64_t>(&n.value)) {
    out += std::to_string(*i);
  } else {
    const std::string& s = std::get<std::string>(n.value);
    if (block_allowed && fits_literal_block(s) && s.find('\n') + 1 < s.size()) {
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
    std::string written = is_identifier(key) ? key : quote(key);
    if (written.size() > 1000) {
      // An implicit key is at most 1024 characters: a longer one needs the explicit form.
      out += "? " + written + "\n";
      out.append(static_cast<std::size_t>(indent), ' ');
    } else {
      out += written;
    }
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
    if (const auto* m = std::get_if<mapping>(&item.value)) {
      if (m->empty()) {
        out += "{}\n";
      } else {
        write_mapping(out, *m, indent + 2, true);
      }
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
        write_scalar(out, (*s)[i], indent, false);  // a literal block cannot be inside [...]
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
  char32_t cp = 0;
  auto escape = [&](char prefix, char32_t value, int digits) {
    out += '\\';
    out += prefix;
    for (int shift = (digits - 1) * 4; shift >= 0; shift -= 4) out += hex_digits[(value >> shift) & 0xf];
  };
  for (std::size_t i = 0; i < text.size();) {
    std::size_t n = decode_utf8(text, i, cp);
    if (n == 0) {
      // Not UTF-8: a document can only carry the byte as the character U+0080..U+00FF.
      escape('x', static_cast<unsigned char>(text[i]), 2);
      ++i;
      continue;
    }
    i += n;
    switch (cp) {
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
    if (is_plain_printable(cp)) {
      out.append(text.substr(i - n, n));
    } else if (cp < 0x100) {
      escape('x', cp, 2);  // other C0 controls, DEL, C1 controls and U+0085
    } else {
      escape('u', cp, 4);  // U+2028, U+2029, U+FEFF, U+FFFE, U+FFFF
    }
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
    char32_t cp = 0;
    for (std::size_t i = 0; i < line.size();) {
      std::size_t n = decode_utf8(line, i, cp);
      if (n == 0 || !is_plain_printable(cp)) {
        out += n == 0 ? '?' : ' ';  // a comment cannot hold it (or would end at a line break)
        i += n == 0 ? 1 : n;
        continue;
      }
      out.append(line.substr(i, n));
      i += n;
    }
    out += '\n';
    if (end == std::string_view::npos) break;
    pos = end + 1;
  }
  const auto* m = std::get_if<mapping>(&root.value);
  if (m == nullptr) throw std::logic_error("yaml: the document root must be a mapping");
  if (m->empty()) {
    out += "{}\n";
  } else {
    write_mapping(out, *m, 0, false);
  }
  return out;
}

}  // namespace dvm::v0::detail::yaml
