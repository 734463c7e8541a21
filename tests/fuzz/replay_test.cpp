// Replays every file of tests/fuzz/corpus/<target>/ (the seeds and the inputs that once broke a
// target, named regression-*) through its fuzz target, with any compiler and in the sanitizer
// build: a target whose invariant breaks throws, so the failing file is named here.
#include "fuzz_target.hpp"

#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <vector>

namespace fs = std::filesystem;

namespace {
std::map<std::string, dvm_fuzz::target_fn>& registry() {
  static std::map<std::string, dvm_fuzz::target_fn> r;
  return r;
}

std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

const fs::path corpus_root = fs::path(DVM_FUZZ_SOURCE_DIR) / "corpus";
}  // namespace

bool dvm_fuzz::register_target(const char* name, target_fn fn) {
  registry()[name] = fn;
  return true;
}

TEST_CASE("fuzz: every target has a seed corpus and every corpus a target") {
  std::vector<std::string> dirs;
  for (const auto& e : fs::directory_iterator(corpus_root)) {
    if (e.is_directory()) dirs.push_back(e.path().filename().string());
  }
  std::sort(dirs.begin(), dirs.end());
  std::vector<std::string> targets;
  for (const auto& [name, fn] : registry()) targets.push_back(name);
  CHECK(dirs == targets);
  CHECK(!targets.empty());
}

TEST_CASE("fuzz: the seed corpora and regression inputs replay cleanly") {
  for (const auto& [name, fn] : registry()) {
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(corpus_root / name)) {
      if (e.is_regular_file()) files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    CHECK_MESSAGE(!files.empty(), name);
    for (const auto& file : files) {
      std::string bytes = read_bytes(file);
      INFO(file.string());
      try {
        fn(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
      } catch (const std::exception& e) {
        FAIL_CHECK(std::string(e.what()));
      }
    }
  }
}

TEST_CASE("fuzz: the targets take empty and tiny inputs") {
  const std::uint8_t bytes[] = {0, 1, 0xff, '\n', ':'};
  for (const auto& [name, fn] : registry()) {
    INFO(name);
    for (std::size_t n = 0; n <= sizeof bytes; ++n) {
      try {
        fn(bytes, n);
      } catch (const std::exception& e) {
        FAIL_CHECK(std::string(e.what()));
      }
    }
  }
}
