// The Lima instance config: golden files, security properties, and hostile values that must
// come out as data.
#include <doctest/doctest.h>

#include <dvm/config.hpp>
#include <dvm/error.hpp>

#include "guest/shell.hpp"
#include "lima/instance.hpp"
#include "lima/yaml.hpp"
#include "test_support.hpp"

#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <sys/wait.h>

using dvm_test::config_tree;

namespace {
const std::filesystem::path golden_dir = std::filesystem::path(DVM_TEST_SOURCE_DIR) / "golden";

std::string render_case(const std::string& name) {
  config_tree t;
  t.recipe("git", "# Description: git\n");
  t.vm("app", dvm_test::read_file(golden_dir / (name + ".toml")));
  return dvm::render_lima_yaml(t.load("app"));
}
}  // namespace

TEST_CASE("golden lima.yaml files") {
  for (const char* name : {"default_app", "ports_lan", "custom_user", "aarch64", "qemu"}) {
    CAPTURE(name);
    std::string rendered = render_case(name);
    std::filesystem::path golden = golden_dir / (std::string(name) + ".lima.yaml");
    if (std::getenv("DVM_UPDATE_GOLDEN") != nullptr) dvm_test::write_file(golden, rendered);
    CHECK(rendered == dvm_test::read_file(golden));
  }
}

TEST_CASE("the instance config keeps the security defaults") {
  config_tree t;
  t.vm("app", "ports = [\"3000:3000\", \"0.0.0.0:8080:8080\"]\n");
  YAML::Node doc = YAML::Load(dvm::render_lima_yaml(t.load("app")));
  CHECK(doc["minimumLimaVersion"].as<std::string>() == "2.0.0");
  REQUIRE(doc["mounts"].IsSequence());
  CHECK(doc["mounts"].size() == 0);
  CHECK_FALSE(doc["containerd"]["system"].as<bool>());
  CHECK_FALSE(doc["containerd"]["user"].as<bool>());
  CHECK_FALSE(doc["ssh"]["loadDotSSHPubKeys"].as<bool>());
  CHECK_FALSE(doc["ssh"]["forwardAgent"].as<bool>());
  CHECK(doc["networks"][0]["lima"].as<std::string>() == "user-v2");
  CHECK(doc["user"]["home"].as<std::string>() == "/home/alice");
  YAML::Node ports = doc["portForwards"];
  REQUIRE(ports.size() == 4);
  CHECK(ports[0]["hostIP"].as<std::string>() == "127.0.0.1");
  // Dynamic rules: a `static` rule is a TCP-only SSH forward that also stops Lima from forwarding
  // its port for UDP (upstream/pkg/portfwd/forward.go:133-143, upstream/pkg/hostagent/port.go:90-94).
  CHECK_FALSE(ports[0]["static"]);
  CHECK_FALSE(ports[1]["static"]);
  CHECK(ports[1]["hostIP"].as<std::string>() == "0.0.0.0");
  // The two catch-all rules come last, so configured rules match first.
  CHECK(ports[2]["guestIP"].as<std::string>() == "0.0.0.0");
  CHECK(ports[2]["guestIPMustBeZero"].as<bool>());
  CHECK(ports[2]["ignore"].as<bool>());
  CHECK(ports[2]["proto"].as<std::string>() == "any");
  CHECK(ports[2]["guestPortRange"][0].as<int>() == 1);
  CHECK(ports[2]["guestPortRange"][1].as<int>() == 65535);
  CHECK(ports[3]["guestIP"].as<std::string>() == "127.0.0.1");
  CHECK(ports[3]["ignore"].as<bool>());
  CHECK(doc["provision"][0]["mode"].as<std::string>() == "system");
  CHECK(doc["provision"][1]["mode"].as<std::string>() == "user");

  // What dvm reads back from such a file.
  dvm::detail::instance_settings s = dvm::detail::parse_instance_yaml(dvm::render_lima_yaml(t.load("app")));
  CHECK(s.cpus == 2);
  CHECK(s.memory_bytes == 2ULL << 30);
  CHECK(s.ports.size() == 2);
  CHECK(s.ignores_guest_any);
  CHECK(s.ignores_guest_loopback);
  CHECK(s.mounts.empty());
}

TEST_CASE("no Go-template braces reach Lima's provision scripts") {
  config_tree t;
  t.vm("app", "code_dir = \"~/a b\"\n");
  std::string yaml = dvm::render_lima_yaml(t.load("app"));
  CHECK(yaml.find("{{") == std::string::npos);
}

TEST_CASE("hostile strings are YAML data") {
  const std::vector<std::string> hostile = {
      "plain",
      "",
      "with \"quotes\" and 'single'",
      "colon: space",
      "# not a comment",
      "- not a list",
      "key: [1, 2]",
      "{a: b}",
      "*alias &anchor !tag",
      "line\nbreak",
      "tab\there",
      "cr\rlf\n",
      "$(touch /tmp/pwned) `id` ${HOME}",
      "back\\slash",
      "unicode: zażółć 日本語 🚀",
      "next line \xc2\x85 ls \xe2\x80\xa8 ps \xe2\x80\xa9",
      "bom \xef\xbb\xbf",
      std::string("nul \0 byte", 10),
      "bell \a esc \x1b del \x7f",
      "---",
      "...",
      "null",
      "true",
      "0x10",
      " leading and trailing ",
      "%percent",
      "@at",
      "|pipe",
      ">folded",
  };
  for (const auto& s : hostile) {
    CAPTURE(s);
    using namespace dvm::detail::yaml;
    std::string doc = emit(node(mapping{{"value", s}, {"after", "sentinel"}}));
    YAML::Node parsed = YAML::Load(doc);
    CHECK(parsed["value"].as<std::string>() == s);
    CHECK(parsed["after"].as<std::string>() == "sentinel");
  }
}

TEST_CASE("multi-line scripts use a literal block only when it is exact") {
  using namespace dvm::detail::yaml;
  for (const std::string& script : {std::string("#!/bin/bash\necho hi\n"), std::string("a\n\n  b\n"),
                                    std::string("no newline at end"), std::string("two\n\n"),
                                    std::string(" leading space\nx\n"), std::string("ctl\x01\n")}) {
    CAPTURE(script);
    std::string doc = emit(node(mapping{{"script", script}}));
    CHECK(YAML::Load(doc)["script"].as<std::string>() == script);
  }
  CHECK(emit(node(mapping{{"script", "#!/bin/bash\necho hi\n"}})) == "script: |\n  #!/bin/bash\n  echo hi\n");
}

TEST_CASE("a hostile code_dir is created exactly by the guest user script") {
  // Everything check_guest_path allows: the provision script must create exactly this path.
  const std::string code_dir = "~/a b;c&d|e(f)g<h>i*j?k!l#m: n%o \xc3\xa9 [x] ^y =z ,w";
  config_tree t;
  t.vm("app", "code_dir = \"" + code_dir + "\"\n");
  YAML::Node doc = YAML::Load(dvm::render_lima_yaml(t.load("app")));
  std::string script = doc["provision"][1]["script"].as<std::string>();
  dvm_test::temp_dir home;
  dvm_test::write_file(home.path() / "script.sh", script);
  std::string command = "HOME='" + home.path().string() + "' bash '" + (home.path() / "script.sh").string() + "'";
  int status = std::system(command.c_str());
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(std::filesystem::is_directory(home.path() / code_dir.substr(2)));
}

TEST_CASE("an image locator with YAML specials is data") {
  config_tree t;
  t.vm("app", "image = 'template:x\":y#z&*!|>[]'\n");
  YAML::Node doc = YAML::Load(dvm::render_lima_yaml(t.load("app")));
  CHECK(doc["base"].as<std::string>() == "template:x\":y#z&*!|>[]");
  CHECK(doc["mounts"].size() == 0);
  // The image is also recorded in the user provision script, which Lima reads as a Go template:
  // braces are refused.
  t.vm("app", "image = 'template:{{.Name}}'\n");
  CHECK_THROWS_WITH_AS(t.load("app"), doctest::Contains("braces"), dvm::config_error);
}
