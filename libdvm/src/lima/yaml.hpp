// The one YAML emitter of libdvm. Documents are built as a small tree and written in block
// style; every string is emitted as a double-quoted, escaped scalar (or, for multi-line scripts,
// a literal block when that is exact), so no value can change the structure of the document.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace dvm::inline v0::detail::yaml {

struct node;
using sequence = std::vector<node>;
using mapping = std::vector<std::pair<std::string, node>>;  // keys are fixed identifiers

struct node {
  std::variant<std::nullptr_t, bool, std::int64_t, std::string, sequence, mapping> value;
  bool flow = false;  ///< write a sequence of scalars on one line: [1, 65535]

  node() : value(nullptr) {}
  node(bool b) : value(b) {}
  node(int i) : value(static_cast<std::int64_t>(i)) {}
  node(std::int64_t i) : value(i) {}
  node(std::uint64_t i) : value(static_cast<std::int64_t>(i)) {}
  node(const char* s) : value(std::string(s)) {}
  node(std::string s) : value(std::move(s)) {}
  node(std::string_view s) : value(std::string(s)) {}
  node(sequence s) : value(std::move(s)) {}
  node(mapping m) : value(std::move(m)) {}
};

/// The document, ending with a newline ("{}" for an empty root mapping). Each line of `header`
/// becomes a comment line, with characters a comment cannot hold replaced.
std::string emit(const node& root, std::string_view header = {});

/// A double-quoted YAML scalar for any text, made only of printable characters: controls, YAML
/// 1.1 line breaks (U+0085, U+2028, U+2029) and U+FEFF are escaped. Valid UTF-8 reads back
/// exactly; a byte that is not part of valid UTF-8 is written as \xHH, which reads back as the
/// character U+00HH (a YAML document cannot hold raw bytes).
std::string quote(std::string_view text);

}  // namespace dvm::v0::detail::yaml
