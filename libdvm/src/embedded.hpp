// Data files compiled into libdvm by cmake/dvm-embed.cmake.
#pragma once

#include <span>
#include <string_view>

namespace dvm::inline v0::detail {

struct embedded_file {
  std::string_view name;  ///< file name without directory and extension
  std::string_view data;
};

/// libdvm/recipes/*.sh, including the helper library "_helpers".
std::span<const embedded_file> bundled_recipes();
/// libdvm/templates/*.toml, the VM config templates of `dvm init`.
std::span<const embedded_file> init_templates();
/// libdvm/guest/*.sh, the guest scripts; read them through guest_script() (guest/shell.hpp).
std::span<const embedded_file> guest_scripts();

}  // namespace dvm::v0::detail
