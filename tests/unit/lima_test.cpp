// Lima's port rules, the effective instance config and the create-only settings, checked
// against what Lima's source does (the cases cite upstream/<path>:<line>).
#include <doctest/doctest.h>

#include <dvm/config.hpp>
#include <dvm/error.hpp>

#include "lima/drift.hpp"
#include "lima/effective.hpp"
#include "lima/instance.hpp"
#include "lima/port_rules.hpp"
#include "test_support.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

namespace {
using dvm::detail::fill_defaults;
using dvm::detail::lima_port_rule;
using dvm_test::config_tree;

dvm::vm_config load(config_tree& t, const std::string& text) {
  t.vm("app", text);
  return t.load("app");
}

// A `limactl list --json` record whose `config.portForwards` holds `rules` (JSON text).
dvm::detail::instance_info record(const std::filesystem::path& dir, const std::string& config_json) {
  std::string line = R"({"name":"dvm-app","status":"Stopped","dir":)" +
                     boost::json::serialize(boost::json::value(dir.string())) + R"(,"config":)" + config_json + "}";
  auto list = dvm::detail::parse_list_json(line);
  REQUIRE(list.size() == 1);
  return list[0];
}

// dvm's own rules as Lima reports them: defaults filled in (upstream/pkg/limayaml/defaults.go:991-1041).
std::string dvm_rules_json(const std::string& user_rules) {
  return R"({"portForwards":[)" + user_rules +
         R"({"guestIP":"0.0.0.0","guestIPMustBeZero":true,"guestPortRange":[1,65535],"hostIP":"127.0.0.1","hostPortRange":[1,65535],"proto":"any","ignore":true},)"
         R"({"guestIP":"127.0.0.1","guestPortRange":[1,65535],"hostIP":"127.0.0.1","hostPortRange":[1,65535],"proto":"any","ignore":true}]})";
}
}  // namespace

TEST_CASE("port rule defaults follow FillPortForwardDefaults") {
  // upstream/pkg/limayaml/defaults.go:992-1040: an empty rule forwards guest 127.0.0.1:1-65535.
  auto empty = fill_defaults(lima_port_rule{});
  CHECK(empty.proto == "any");
  CHECK(empty.guest_ip == "127.0.0.1");
  CHECK_FALSE(empty.guest_ip_must_be_zero);
  CHECK(empty.host_ip == "127.0.0.1");
  CHECK(empty.guest_port_range == std::array<int, 2>{1, 65535});
  CHECK(empty.host_port_range == std::array<int, 2>{1, 65535});
  // defaults.go:995-1004: guestIPMustBeZero without guestIP means 0.0.0.0; 0.0.0.0 means must-be-zero.
  lima_port_rule zero;
  zero.guest_ip_must_be_zero = true;
  CHECK(fill_defaults(zero).guest_ip == "0.0.0.0");
  lima_port_rule any;
  any.guest_ip = "0.0.0.0";
  CHECK(fill_defaults(any).guest_ip_must_be_zero);
  // defaults.go:1008-1040: single ports become ranges.
  lima_port_rule one;
  one.guest_port = 80;
  one.host_port = 8080;
  auto filled = fill_defaults(one);
  CHECK(filled.guest_port_range == std::array<int, 2>{80, 80});
  CHECK(filled.host_port_range == std::array<int, 2>{8080, 8080});
}

TEST_CASE("dvm's rules: configured ports are dynamic, then the two catch-all ignore rules") {
  config_tree t;
  auto rules = dvm::detail::dvm_port_rules(load(t, "ports = [\"3000:3000\", {host = 5353, guest = 53, proto = \"udp\"}]\n"));
  REQUIRE(rules.size() == 4);
  for (const auto& r : rules) CHECK_FALSE(r.is_static);
  CHECK(rules[1].proto == "udp");
  CHECK(fill_defaults(rules[2]).ignore);
  CHECK(fill_defaults(rules[2]).guest_ip_must_be_zero);
  CHECK(fill_defaults(rules[3]).guest_ip == "127.0.0.1");
}

TEST_CASE("the effective config is checked rule by rule, and _config files are named") {
  config_tree t;
  auto vm = load(t, "ports = [\"3000:3000\"]\n");
  dvm_test::temp_dir lima_home;
  auto dir = lima_home.path() / "dvm-app";
  std::filesystem::create_directories(dir);
  const std::string user_rule =
      R"({"guestIP":"127.0.0.1","guestPort":3000,"guestPortRange":[3000,3000],"hostIP":"127.0.0.1","hostPort":3000,"hostPortRange":[3000,3000],"proto":"tcp"},)";

  SUBCASE("what dvm renders, as Lima fills it, is clean") {
    CHECK(dvm::detail::check_effective(vm, record(dir, dvm_rules_json(user_rule))).empty());
  }
  SUBCASE("no config in the record: nothing to compare") {
    auto list = dvm::detail::parse_list_json(R"({"name":"dvm-app","dir":"/x"})");
    CHECK(dvm::detail::check_effective(vm, list[0]).empty());
  }
  SUBCASE("a rule before dvm's, from the instance itself, is repaired") {
    std::string extra = R"({"guestIP":"0.0.0.0","guestIPMustBeZero":false,"guestPortRange":[1,65535],"hostIP":"0.0.0.0","proto":"any"},)";
    auto found = dvm::detail::check_effective(vm, record(dir, dvm_rules_json(extra + user_rule)));
    REQUIRE(found.size() == 1);
    CHECK(found[0].key == "portForwards");
    CHECK(found[0].source.empty());
    CHECK(found[0].widens);
    CHECK(found[0].problem.find("not from the config: guest 0.0.0.0:1-65535/any -> host 0.0.0.0:1-65535") != std::string::npos);
  }
  SUBCASE("an old static rule is drift too (it cannot forward UDP)") {
    std::string old = R"({"guestIP":"127.0.0.1","guestPortRange":[3000,3000],"hostIP":"127.0.0.1","hostPortRange":[3000,3000],"proto":"tcp","static":true},)";
    auto found = dvm::detail::check_effective(vm, record(dir, dvm_rules_json(old)));
    REQUIRE(found.size() == 1);
    CHECK(found[0].key == "portForwards");
  }
  SUBCASE("a missing catch-all rule widens") {
    std::string only = R"({"portForwards":[)" + user_rule.substr(0, user_rule.size() - 1) + "]}";
    auto found = dvm::detail::check_effective(vm, record(dir, only));
    REQUIRE(found.size() == 1);
    CHECK(found[0].widens);
    CHECK(found[0].problem.find("missing: ignore guest 0.0.0.0:1-65535/any") != std::string::npos);
  }
  SUBCASE("mounts and agent forwarding from override.yaml are named with their file") {
    dvm_test::write_file(lima_home.path() / "_config" / "override.yaml",
                         "mounts:\n- location: \"~\"\nssh:\n  forwardAgent: true\n");
    std::string cfg = dvm_rules_json(user_rule);
    cfg.pop_back();
    cfg += R"(,"mounts":[{"location":"/home/me"}],"ssh":{"forwardAgent":true}})";
    auto found = dvm::detail::check_effective(vm, record(dir, cfg));
    REQUIRE(found.size() == 2);
    CHECK(found[0].key == "mounts");
    CHECK(found[0].source == lima_home.path() / "_config" / "override.yaml");
    CHECK(found[1].key == "ssh.forwardAgent");
    CHECK(found[1].source == lima_home.path() / "_config" / "override.yaml");
    auto files = dvm::detail::lima_config_file_findings(lima_home.path());
    CHECK(files.size() == 2);
  }
  SUBCASE("default.yaml port rules are named; its forwardAgent cannot overrule dvm's false") {
    dvm_test::write_file(lima_home.path() / "_config" / "default.yaml",
                         "portForwards:\n- guestIP: 0.0.0.0\n  hostIP: 0.0.0.0\nssh:\n  forwardAgent: true\n");
    auto files = dvm::detail::lima_config_file_findings(lima_home.path());
    REQUIRE(files.size() == 1);
    CHECK(files[0].key == "portForwards");
    CHECK(files[0].source == lima_home.path() / "_config" / "default.yaml");
  }
}

TEST_CASE("create-only settings that changed are reported") {
  config_tree t;
  auto created = load(t, "vm_type = \"qemu\"\ncode_dir = \"~/src/app\"\n");
  dvm_test::temp_dir dir;
  dvm_test::write_file(dir.path() / "lima.yaml", dvm::render_lima_yaml(created));
  dvm::detail::instance_info info;
  info.dir = dir.path().string();
  CHECK(dvm::detail::compare_instance(created, info).recreate.empty());
  auto changed = load(t, "vm_type = \"vz\"\ncode_dir = \"~/work/app\"\nimage = \"template:_images/ubuntu\"\nuser = \"zed\"\n");
  auto found = dvm::detail::compare_instance(changed, info).recreate;
  CHECK(found == std::vector<std::string>{"vm_type (qemu in the VM, vz in the config)",
                                          "user (alice in the VM, zed in the config)",
                                          "image (template:_images/fedora in the VM, template:_images/ubuntu in the config)",
                                          "code_dir (~/src/app in the VM, ~/work/app in the config)"});
}

TEST_CASE("one drift: what sync edits, what doctor and status report") {
  config_tree t;
  auto created = load(t, "cpus = 2\nmemory = \"4GiB\"\ndisk = \"40GiB\"\nports = [\"3000:3000\"]\n");
  dvm_test::temp_dir dir;
  dvm_test::write_file(dir.path() / "lima.yaml", dvm::render_lima_yaml(created));
  auto list = dvm::detail::parse_list_json(R"({"name":"dvm-app","status":"Stopped","dir":")" + dir.path().string() + "\"}");
  REQUIRE(list.size() == 1);
  const auto& info = list[0];  // no effective config: lima.yaml is all there is

  SUBCASE("the config it was created from: nothing to do") {
    auto drift = dvm::detail::compare_instance(created, info);
    CHECK(drift.editable().empty());
    CHECK(drift.ports.empty());
    CHECK_FALSE(drift.catch_all_missing);
    CHECK(dvm::detail::edit_expression(created, drift).empty());
  }
  SUBCASE("changed sizes and ports become one `limactl edit --set` expression") {
    auto changed = load(t, "cpus = 4\nmemory = \"8GiB\"\ndisk = \"40GiB\"\nports = [\"3000:3000\", \"8080:80\"]\n");
    auto drift = dvm::detail::compare_instance(changed, info);
    CHECK(drift.editable() == std::vector<std::string>{"cpus", "memory", "ports"});
    REQUIRE(drift.ports.added.size() == 1);
    CHECK(drift.ports.added[0].host_port == 8080);
    CHECK(drift.ports.removed.empty());
    std::string expression = dvm::detail::edit_expression(changed, drift);
    CHECK(expression.starts_with(".cpus = 4 | .memory = \"8GiB\" | .portForwards = [{"));
    CHECK(expression.find("\"hostPort\":8080") != std::string::npos);
    CHECK_FALSE(drift.disk_shrinks_from.has_value());
  }
  SUBCASE("a smaller disk is named, not edited silently") {
    auto smaller = load(t, "cpus = 2\nmemory = \"4GiB\"\ndisk = \"20GiB\"\nports = [\"3000:3000\"]\n");
    auto drift = dvm::detail::compare_instance(smaller, info);
    REQUIRE(drift.disk_shrinks_from.has_value());
    CHECK(*drift.disk_shrinks_from == 40ULL << 30);
  }
  SUBCASE("a lost catch-all ignore rule is a port change") {
    auto text = dvm::render_lima_yaml(created);
    auto at = text.find("ignore: true");
    REQUIRE(at != std::string::npos);
    text.replace(at, 12, "ignore: false");
    dvm_test::write_file(dir.path() / "lima.yaml", text);
    auto drift = dvm::detail::compare_instance(created, info);
    CHECK(drift.catch_all_missing);
    CHECK(drift.editable() == std::vector<std::string>{"ports"});
  }
  SUBCASE("an effective config: its findings are what sync edits") {
    const std::string cfg = R"({"mounts":[{"location":"/home/me"}],"portForwards":[]})";
    auto with_config = record(dir.path(), cfg);
    auto drift = dvm::detail::compare_instance(created, with_config);
    CHECK(drift.editable() == std::vector<std::string>{"mounts", "ports"});
    CHECK(drift.ports.empty());  // lima.yaml's own rules are not compared then
    CHECK(dvm::detail::edit_expression(created, drift).starts_with(".mounts = [] | .portForwards = ["));
  }
  SUBCASE("an unreadable lima.yaml is an I/O error naming it") {
    std::filesystem::remove(dir.path() / "lima.yaml");
    try {
      dvm::detail::compare_instance(created, info);
      FAIL("no error");
    } catch (const dvm::error& e) {
      CHECK(e.code() == dvm::errc::io);
      CHECK(std::string(e.what()).find("lima.yaml") != std::string::npos);
    }
  }
}

TEST_CASE("port rules are written from one list, as YAML for lima.yaml and JSON for edit --set") {
  config_tree t;
  auto vm = load(t, "ports = [\"3000:3000\", {host = 5353, guest = 53, proto = \"udp\"}]\n");
  dvm_test::temp_dir dir;
  dvm_test::write_file(dir.path() / "lima.yaml", dvm::render_lima_yaml(vm));
  // The JSON array read back as Lima's `config.portForwards` equals what lima.yaml says.
  auto from_json = record(dir.path(), R"({"portForwards":)" + dvm::detail::port_rules_json(vm) + "}");
  auto rules = dvm::detail::dvm_port_rules(vm);
  REQUIRE(from_json.config.port_forwards.size() == rules.size());
  for (std::size_t i = 0; i < rules.size(); ++i) {
    CHECK(fill_defaults(from_json.config.port_forwards[i]) == fill_defaults(rules[i]));
  }
  auto stored = dvm::detail::parse_instance_yaml(dvm::render_lima_yaml(vm));
  CHECK(stored.ports == vm.ports);
  CHECK(stored.ignores_guest_any);
  CHECK(stored.ignores_guest_loopback);
}

TEST_CASE("a full Lima template as image is described by plan") {
  dvm_test::temp_dir dir;
  CHECK_FALSE(dvm::detail::base_template_note("template:_images/fedora", {dir.path()}).has_value());
  dvm_test::write_file(dir.path() / "docker.yaml",
                       "networks:\n- lima: shared\nportForwards:\n- guestSocket: /run/docker.sock\n  hostSocket: docker.sock\n"
                       "provision:\n- mode: system\n  script: echo hi\n");
  auto note = dvm::detail::base_template_note("template:docker", {dir.path()});
  REQUIRE(note.has_value());
  CHECK(note->find("networks (lima: shared)") != std::string::npos);
  CHECK(note->find("1 socket forward") != std::string::npos);
  CHECK(note->find("1 provision script") != std::string::npos);
  auto unknown = dvm::detail::base_template_note("https://example.com/t.yaml", {dir.path()});
  REQUIRE(unknown.has_value());
  CHECK(unknown->find("cannot read it") != std::string::npos);
  // A plain OS template with nothing else: no note.
  dvm_test::write_file(dir.path() / "plain.yaml", "images:\n- location: https://x/y.img\n");
  CHECK_FALSE(dvm::detail::base_template_note("file://" + (dir.path() / "plain.yaml").string(), {}).has_value());
}
