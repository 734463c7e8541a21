// The guest side of the secret framing, in C++: exactly what the Bash function
// __dvm_read_secrets (libdvm/src/guest/program.cpp) does with the bytes that follow its call
// line on the guest program's stdin. fuzz_secret_framing checks that build_sync_program frames
// every secret so that this reader gets it back; secret_frames_test.cpp runs the real Bash
// function on the same inputs, so this model cannot drift from it.
//
// The Bash function, per secret i < count:
//   IFS=' ' read -r name length || fail "ended early"
//       read: one line up to '\n' (NUL bytes are dropped; EOF before '\n' fails, -r: backslashes
//       are plain); spaces (IFS) around the line are stripped; `name` is up to the first space,
//       `length` the rest with leading and trailing spaces stripped
//   case $name   in '' | *[!A-Z0-9_]*) fail "bad secret frame"
//   case $length in '' | *[!0-9]*)     fail "bad secret frame"
//   head -c "$length" >"$dir/$name"    exactly `length` bytes, fewer at EOF
//   [ "$size" -ne "$length" ] && fail "incomplete"
// A later frame with the same name replaces the file of an earlier one.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace dvm_fuzz {

struct frames_read {
  bool ok = false;
  std::string error;                         ///< "ended early", "bad frame", "incomplete", "too long"
  std::map<std::string, std::string> files;  ///< name -> bytes, as in the secrets directory
  std::size_t consumed = 0;                  ///< bytes of the stream the reader took
};

inline frames_read read_secret_frames(std::string_view stream, unsigned long count) {
  frames_read r;
  std::size_t pos = 0;
  auto fail = [&](const char* why) {
    r.ok = false;
    r.error = why;
    r.consumed = pos;
    return r;
  };
  for (unsigned long i = 0; i < count; ++i) {
    // read -r: one line, NUL bytes dropped.
    std::size_t nl = stream.find('\n', pos);
    std::string line;
    for (char c : stream.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos)) {
      if (c != '\0') line += c;
    }
    if (nl == std::string_view::npos) {
      pos = stream.size();
      return fail("ended early");
    }
    pos = nl + 1;
    // IFS=' ': strip spaces around the line, first word to name, the rest to length.
    std::size_t b = line.find_first_not_of(' ');
    std::size_t e = line.find_last_not_of(' ');
    line = b == std::string::npos ? std::string() : line.substr(b, e - b + 1);
    std::size_t sp = line.find(' ');
    std::string name = line.substr(0, sp);
    std::string length;
    if (sp != std::string::npos) {
      std::size_t rest = line.find_first_not_of(' ', sp);
      length = rest == std::string::npos ? std::string() : line.substr(rest);
    }
    if (name.empty() || name.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") != std::string::npos) {
      return fail("bad frame");
    }
    if (length.empty() || length.find_first_not_of("0123456789") != std::string::npos) {
      return fail("bad frame");
    }
    // head -c and `[ -ne ]` read the number in decimal (leading zeros allowed). Beyond 18
    // significant digits the two tools disagree about what it means; the model stops there.
    std::size_t first = length.find_first_not_of('0');
    std::string digits = first == std::string::npos ? "0" : length.substr(first);
    if (digits.size() > 18) return fail("too long");
    std::size_t want = std::stoull(digits);
    std::size_t got = std::min(want, stream.size() - pos);
    r.files[name] = std::string(stream.substr(pos, got));
    pos += got;
    if (got != want) return fail("incomplete");
  }
  r.ok = true;
  r.consumed = pos;
  return r;
}

/// In a whole guest program: the count of the top-level `__dvm_read_secrets N` call line and the
/// offset just after it (where the guest's stdin is when the function runs). The call is the first
/// such line after the function's definition, which comes after every user value of the prelude.
inline std::optional<std::pair<unsigned long, std::size_t>> find_secret_call(std::string_view program) {
  std::size_t def = program.find("\n__dvm_read_secrets() {\n");
  if (def == std::string_view::npos) return std::nullopt;
  constexpr std::string_view call = "\n__dvm_read_secrets ";
  for (std::size_t at = program.find(call, def + 1); at != std::string_view::npos;
       at = program.find(call, at + 1)) {
    std::size_t start = at + call.size();
    std::size_t nl = program.find('\n', start);
    if (nl == std::string_view::npos || nl == start) continue;
    std::string_view n = program.substr(start, nl - start);
    if (n.find_first_not_of("0123456789") != std::string_view::npos || n.size() > 9) continue;
    return std::pair{std::stoul(std::string(n)), nl + 1};
  }
  return std::nullopt;
}

}  // namespace dvm_fuzz
