#include "style.hpp"

#include <cstdlib>

#include <unistd.h>

namespace dvm_cli {

bool colour_enabled(int fd) {
  const char* no_color = std::getenv("NO_COLOR");
  if (no_color != nullptr && *no_color != '\0') return false;
  return ::isatty(fd) != 0;
}

std::string paint(int fd, colour c, std::string_view text) {
  if (!colour_enabled(fd)) return std::string(text);
  const char* start = "";
  switch (c) {
    case colour::red: start = "\033[31m"; break;
    case colour::green: start = "\033[32m"; break;
    case colour::yellow: start = "\033[33m"; break;
    case colour::dim: start = "\033[2m"; break;
  }
  return start + std::string(text) + "\033[0m";
}

}  // namespace dvm_cli
