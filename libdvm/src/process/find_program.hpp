// The one PATH lookup of libdvm (limactl, and every program the process runner starts).
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace dvm::inline v0::detail {

/// The program a child started with `environment` ("KEY=value" entries) runs for `name`:
/// `name` itself when it holds a slash, else the first regular, executable file named `name`
/// in the directories of that environment's PATH (an empty entry is the working directory, as
/// for execvp, and is returned as "./name"); nullopt when there is none. Boost.Process's
/// environment::find_executable does the lookup.
std::optional<std::string> find_program(const std::string& name, const std::vector<std::string>& environment);

}  // namespace dvm::v0::detail
