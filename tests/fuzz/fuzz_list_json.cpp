// `limactl list --json` (NDJSON): parse_list_json() returns records or throws dvm::lima_error
// (lima_failed), never anything else; every record has a name; numbers it cannot represent read
// as 0 (unknown), never as a wrapped or negative value; an error message is printable text.
#include "fuzz_target.hpp"
#include "utf8.hpp"

#include <dvm/error.hpp>

#include "lima/instance.hpp"

#include <algorithm>

namespace {

// Printable: valid UTF-8 without control characters (C0, DEL, C1).
bool printable(std::string_view s) {
  char32_t cp = 0;
  for (std::size_t i = 0; i < s.size();) {
    std::size_t n = dvm_fuzz::utf8_sequence(s, i, cp);
    if (n == 0 || cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) return false;
    i += n;
  }
  return true;
}

}  // namespace

DVM_FUZZ_TARGET(list_json) {
  std::string_view text = dvm_fuzz::as_text(data, size);
  std::vector<dvm::detail::instance_info> list;
  try {
    list = dvm::detail::parse_list_json(text);
  } catch (const dvm::lima_error& e) {
    DVM_FUZZ_CHECK(e.code() == dvm::errc::lima_failed);
    DVM_FUZZ_CHECK(e.subcommand() == "list");
    DVM_FUZZ_CHECK_MSG(printable(e.what()), e.what());
    DVM_FUZZ_CHECK(printable(e.stderr_tail()));
    return 0;
  }
  std::size_t lines = static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')) + 1;
  DVM_FUZZ_CHECK(list.size() <= lines);
  for (const auto& info : list) {
    DVM_FUZZ_CHECK(!info.name.empty());
    DVM_FUZZ_CHECK(info.cpus >= 0);
    DVM_FUZZ_CHECK(info.ssh_local_port >= 0);
  }
  return 0;
}
