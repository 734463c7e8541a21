// Colour on terminals only: success and failure marks and "dvm: error:" are coloured when the
// stream written is a terminal and NO_COLOR is unset or empty (https://no-color.org). Never with
// --json (JSON output never goes through here).
#pragma once

#include <string>
#include <string_view>

namespace dvm_cli {

enum class colour { red, green, yellow, dim };

/// True when `fd` is a terminal and NO_COLOR does not ask for no colour.
bool colour_enabled(int fd);
/// `text` wrapped in the colour's escape sequence when colour_enabled(fd), else `text`.
std::string paint(int fd, colour c, std::string_view text);

}  // namespace dvm_cli
