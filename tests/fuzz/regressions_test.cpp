// What the fuzz targets found, as plain unit tests (the inputs themselves are the regression-*
// files of tests/fuzz/corpus, replayed by replay_test.cpp).
#include <dvm/config.hpp>
#include <dvm/error.hpp>

#include "lima/instance.hpp"
#include "lima/yaml.hpp"

#include <doctest/doctest.h>

#include <yaml-cpp/yaml.h>

namespace y = dvm::detail::yaml;

TEST_CASE("fuzz regression: sizes with 8 or 9 decimals of a TiB are exact") {
  // numerator * 2^40 overflowed 64 bits: valid sizes were refused as "not a whole number".
  CHECK(dvm::parse_size("0.99609375T") == 255ULL << 32);
  CHECK(dvm::parse_size("3500081.12890625TiB") == 3500081ULL * (1ULL << 40) + 66ULL * (1ULL << 31));
  CHECK(dvm::parse_size("0.5T") == 1ULL << 39);
  CHECK_THROWS_AS(dvm::parse_size("0.000000001T"), dvm::error);  // 1099.51 bytes
  CHECK_THROWS_AS(dvm::parse_size("1.999999999T"), dvm::error);
  CHECK_THROWS_AS(dvm::parse_size("16777215.999999999T"), dvm::error);
  CHECK_THROWS_AS(dvm::parse_size("16777216T"), dvm::error);  // 2^64
}

TEST_CASE("fuzz regression: limactl list numbers out of range read as unknown") {
  // A double beyond int/uint64 was converted with undefined behaviour; big integers wrapped.
  auto list = dvm::detail::parse_list_json(
      "{\"name\":\"a\",\"cpus\":1e300,\"memory\":1e30,\"disk\":-5,\"sshLocalPort\":4294967295}\n"
      "{\"name\":\"b\",\"cpus\":4.0,\"memory\":9223372036854775808,\"disk\":2147483648.5}\n");
  REQUIRE(list.size() == 2);
  CHECK(list[0].cpus == 0);
  CHECK(list[0].memory_bytes == 0);
  CHECK(list[0].disk_bytes == 0);
  CHECK(list[0].ssh_local_port == 0);
  CHECK(list[1].cpus == 4);
  CHECK(list[1].memory_bytes == 9223372036854775808ULL);
  CHECK(list[1].disk_bytes == 2147483648ULL);
}

TEST_CASE("fuzz regression: an unreadable limactl list line is quoted printably") {
  try {
    dvm::detail::parse_list_json("\x1b]0;title\x07{\xff\n");
    FAIL("no error");
  } catch (const dvm::lima_error& e) {
    std::string what = e.what();
    CHECK(what.find('\x1b') == std::string::npos);
    CHECK(what.find("\\x1b]0;title\\x07{\\xff") != std::string::npos);
    CHECK(e.stderr_tail() == "\\x1b]0;title\\x07{\\xff");
  }
}

TEST_CASE("fuzz regression: the YAML emitter") {
  // Bytes that are not UTF-8 were written raw (no YAML parser reads that document).
  CHECK(y::quote("a\xff") == "\"a\\xFF\"");
  CHECK(YAML::Load("k: " + y::quote("\xc3\x28")).as<std::map<std::string, std::string>>().at("k") ==
        "\xc3\x83(");
  // Line breaks of YAML 1.1, C1 controls and the BOM are escaped.
  CHECK(y::quote("\xe2\x80\xa8\xc2\x85\xc2\x80\xef\xbb\xbf") == "\"\\u2028\\x85\\x80\\uFEFF\"");
  // An empty document root is "{}", not an empty (null) document.
  CHECK(y::emit(y::node(y::mapping{})) == "{}\n");
  // Keys a parser reads as null or a boolean are quoted.
  CHECK(y::emit(y::node(y::mapping{{"null", 1}, {"on", 2}, {"onion", 3}})) ==
        "\"null\": 1\n\"on\": 2\nonion: 3\n");
  // A multi-line string in a flow sequence stays quoted (a literal block cannot be in [...]).
  y::node flow = y::sequence{y::node("a\nb\n")};
  flow.flow = true;
  CHECK(y::emit(y::node(y::mapping{{"s", flow}})) == "s: [\"a\\nb\\n\"]\n");
  // An empty mapping as a sequence item; it threw "nested sequences are not used".
  CHECK(y::emit(y::node(y::mapping{{"s", y::sequence{y::node(y::mapping{})}}})) == "s:\n  - {}\n");
  // A key longer than YAML's 1024-character limit of implicit keys is written explicitly.
  std::string long_key(1100, 'k');
  long_key += '-';
  std::string doc = y::emit(y::node(y::mapping{{long_key, 1}}));
  CHECK(doc.starts_with("? \""));
  CHECK(YAML::Load(doc)[long_key].as<int>() == 1);
  // A header line cannot break out of its comment.
  CHECK(y::emit(y::node(y::mapping{{"a", 1}}), "x\xe2\x80\xa8" "b: 2\xff") == "# x b: 2?\na: 1\n");
}
