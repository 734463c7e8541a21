#include <dvm/version.hpp>

namespace dvm::inline v0 {

std::string_view version() noexcept { return DVM_VERSION_STRING; }

}  // namespace dvm::v0
