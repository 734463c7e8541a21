// Secret framing round trip: build_sync_program() frames any secrets (names as the config
// allows them, values any bytes, empty too) so that the guest-side reader -- the C++ model of the
// Bash function __dvm_read_secrets in secret_frames.hpp -- gets exactly those files, and the
// guest shell goes on reading the program at the line after the frames. The redacted program
// shows the frames with the lengths and values replaced.
#include "fuzz_target.hpp"
#include "secret_frames.hpp"

#include <dvm/config.hpp>
#include <dvm/process.hpp>
#include <dvm/recipes.hpp>
#include <dvm/secret.hpp>

#include "guest/program.hpp"

#include <memory>

namespace {

struct peek : dvm::process_runner {
  dvm::process_result run(const dvm::process_spec&) override { return {}; }
  static std::string bytes(const dvm::stdin_payload& payload) {
    auto b = bytes_of(payload);
    return {b.data(), b.size()};
  }
};

const dvm::recipe_catalog& catalog() {
  static const dvm::recipe_catalog c;
  return c;
}

dvm::vm_config vm() {
  dvm::vm_config v;
  v.name = "fuzz";
  v.user = "alice";
  v.code_dir = "~/code/fuzz";
  v.baseline = false;
  v.env = {{"GREETING", "hello"}};
  return v;
}

}  // namespace

DVM_FUZZ_TARGET(secret_framing) {
  static constexpr std::string_view alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789";
  std::size_t pos = 0;
  auto byte = [&]() -> std::uint8_t { return pos < size ? data[pos++] : 0; };

  std::vector<std::pair<std::string, std::unique_ptr<dvm::secret>>> owned;
  std::map<std::string, std::string> expected;
  std::size_t count = byte() % 6;
  for (std::size_t i = 0; i < count; ++i) {
    // A name as the config allows it: [A-Z_][A-Z0-9_]*, distinct.
    std::string name(1, alphabet[byte() % 27]);
    std::size_t extra = byte() % 8;
    for (std::size_t k = 0; k < extra; ++k) name += alphabet[byte() % alphabet.size()];
    std::size_t len = byte();
    len = len < 0xf0 ? len % 48 : (len - 0xef) * 512;
    len = std::min(len, size - pos);
    std::string value(reinterpret_cast<const char*>(data) + pos, len);
    pos += len;
    if (expected.count(name) != 0) continue;
    expected[name] = value;
    owned.emplace_back(name, std::make_unique<dvm::secret>(std::string_view(value)));
  }
  std::vector<dvm::detail::named_secret> secrets;
  for (const auto& [name, value] : owned) secrets.push_back({name, value.get()});

  dvm::stdin_payload program = dvm::detail::build_sync_program(vm(), catalog(), secrets, "n0nce");
  std::string raw = peek::bytes(program);
  auto call = dvm_fuzz::find_secret_call(raw);
  if (secrets.empty()) {
    DVM_FUZZ_CHECK(!call);
    return 0;
  }
  DVM_FUZZ_CHECK(call.has_value());
  DVM_FUZZ_CHECK(call->first == secrets.size());
  std::string_view stream = std::string_view(raw).substr(call->second);
  dvm_fuzz::frames_read got = dvm_fuzz::read_secret_frames(stream, call->first);
  DVM_FUZZ_CHECK_MSG(got.ok, got.error);
  DVM_FUZZ_CHECK(got.files == expected);
  // The guest shell reads on at a line boundary: the empty line after the frames, then the rest.
  DVM_FUZZ_CHECK(stream.substr(got.consumed).starts_with("\nexec 2>&1\n"));

  // Redaction: the same text up to the call line, then "NAME <redacted>\n<redacted>" frames.
  std::string redacted = program.redacted();
  DVM_FUZZ_CHECK(redacted.compare(0, call->second, raw, 0, call->second) == 0);
  std::string frames;
  for (const auto& s : secrets) frames += s.name + " <redacted>\n<redacted>";
  DVM_FUZZ_CHECK(redacted.compare(call->second, frames.size() + 11, frames + "\nexec 2>&1\n") == 0);
  return 0;
}
