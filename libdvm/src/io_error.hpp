// The errc::io error of a failed system call: its message ends with strerror, and cause() keeps
// the errno, so callers can tell a full disk from a permission problem (dvm::error::cause).
#pragma once

#include <dvm/error.hpp>

#include <cstring>
#include <string>
#include <system_error>

namespace dvm::inline v0::detail {

/// `what` (e.g. "cannot write /x") + ": " + strerror(err), with cause() = err.
inline error io_error(const std::string& what, int err) {
  return error(errc::io, what + ": " + std::strerror(err), std::error_code(err, std::generic_category()));
}

/// The same from a std::error_code (std::filesystem's), keeping its category.
inline error io_error(const std::string& what, std::error_code ec) {
  return error(errc::io, what + ": " + ec.message(), ec);
}

}  // namespace dvm::v0::detail
