// The frame of every fuzz target in tests/fuzz.
//
//   DVM_FUZZ_TARGET(size) { ...body using data/size...; return 0; }
//
// Built as a libFuzzer binary (DVM_FUZZ_LIBFUZZER defined, clang -fsanitize=fuzzer) the body is
// LLVMFuzzerTestOneInput. Built into the replay test (any compiler, also the sanitizer build)
// the body registers itself under its name, and the unit test replays every seed and regression
// file of tests/fuzz/corpus/<name>/ through it.
//
// A broken invariant is reported with DVM_FUZZ_CHECK: it aborts in a fuzzer (a crash libFuzzer
// saves) and throws dvm_fuzz::invariant_broken in the replay test (a failed test case naming the
// input). Any exception a target does not catch itself is a finding too.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>

namespace dvm_fuzz {

/// Thrown by DVM_FUZZ_CHECK in the replay test. Deliberately not a dvm::error.
struct invariant_broken : std::logic_error {
  using std::logic_error::logic_error;
};

[[noreturn]] inline void broken(const std::string& what) {
#ifdef DVM_FUZZ_LIBFUZZER
  std::fprintf(stderr, "fuzz invariant broken: %s\n", what.c_str());
  std::abort();
#else
  throw invariant_broken(what);
#endif
}

using target_fn = int (*)(const std::uint8_t* data, std::size_t size);

#ifndef DVM_FUZZ_LIBFUZZER
/// Replay test only (fuzz_replay_test.cpp).
bool register_target(const char* name, target_fn fn);
#endif

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

}  // namespace dvm_fuzz

#define DVM_FUZZ_STR2(x) #x
#define DVM_FUZZ_STR(x) DVM_FUZZ_STR2(x)
#define DVM_FUZZ_CHECK(cond)                                                                   \
  do {                                                                                         \
    if (!(cond)) ::dvm_fuzz::broken(#cond " (" __FILE__ ":" DVM_FUZZ_STR(__LINE__) ")");      \
  } while (0)
#define DVM_FUZZ_CHECK_MSG(cond, msg)                                                          \
  do {                                                                                         \
    if (!(cond)) {                                                                             \
      ::dvm_fuzz::broken(std::string(#cond " (" __FILE__ ":" DVM_FUZZ_STR(__LINE__) "): ") + \
                         (msg));                                                              \
    }                                                                                          \
  } while (0)

#ifdef DVM_FUZZ_LIBFUZZER
#define DVM_FUZZ_TARGET(name)                                                                  \
  static int dvm_fuzz_one_##name(const std::uint8_t* data, std::size_t size);                  \
  extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {          \
    return dvm_fuzz_one_##name(data, size);                                                    \
  }                                                                                            \
  static int dvm_fuzz_one_##name(const std::uint8_t* data, std::size_t size)
#else
#define DVM_FUZZ_TARGET(name)                                                                  \
  static int dvm_fuzz_one_##name(const std::uint8_t* data, std::size_t size);                  \
  [[maybe_unused]] static const bool dvm_fuzz_registered_##name =                              \
      ::dvm_fuzz::register_target(#name, &dvm_fuzz_one_##name);                                \
  static int dvm_fuzz_one_##name(const std::uint8_t* data, std::size_t size)
#endif
