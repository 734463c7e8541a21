#include <dvm/version.hpp>

namespace dvm {

std::string_view version() noexcept { return DVM_VERSION_STRING; }

}  // namespace dvm
