// Host ports across VMs (libdvm/src/config/port_claims.hpp): the overlap rule, which VMs count,
// the clash text, and the free port `dvm init` picks for a template.
#include <doctest/doctest.h>

#include <dvm/ports.hpp>

#include "config/port_claims.hpp"
#include "test_support.hpp"

using dvm::port_forward;
using dvm::detail::port_claim;
using dvm_test::config_tree;

namespace {

port_claim claim(const std::string& vm, port_forward rule, std::size_t index = 0) {
  return {vm, "/c/vms/" + vm + ".toml", index, std::move(rule)};
}

std::size_t clashes(const port_forward& a, const port_forward& b) {
  return dvm::detail::find_port_clashes({claim("a", a)}, {claim("b", b)}).size();
}

}  // namespace

TEST_CASE("two VMs clash on one host ip:port and proto; 0.0.0.0 overlaps every IPv4 address") {
  CHECK(clashes({"127.0.0.1", 3000, 3000, "tcp"}, {"127.0.0.1", 3000, 8080, "tcp"}) == 1);
  // The guest port does not matter, the host binding does.
  CHECK(clashes({"127.0.0.1", 3000, 1, "tcp"}, {"127.0.0.1", 3000, 2, "tcp"}) == 1);
  CHECK(clashes({"0.0.0.0", 3000, 3000, "tcp"}, {"127.0.0.1", 3000, 3000, "tcp"}) == 1);
  CHECK(clashes({"192.168.1.5", 3000, 3000, "tcp"}, {"0.0.0.0", 3000, 3000, "tcp"}) == 1);
  CHECK(clashes({"0.0.0.0", 3000, 3000, "tcp"}, {"0.0.0.0", 3000, 3000, "tcp"}) == 1);
  // Two different addresses, another port, another protocol: both can listen.
  CHECK(clashes({"127.0.0.1", 3000, 3000, "tcp"}, {"127.0.0.2", 3000, 3000, "tcp"}) == 0);
  CHECK(clashes({"127.0.0.1", 3000, 3000, "tcp"}, {"127.0.0.1", 3001, 3000, "tcp"}) == 0);
  CHECK(clashes({"127.0.0.1", 3000, 3000, "tcp"}, {"127.0.0.1", 3000, 3000, "udp"}) == 0);
  CHECK(clashes({"0.0.0.0", 53, 53, "udp"}, {"127.0.0.1", 53, 53, "tcp"}) == 0);
}

TEST_CASE("a VM never clashes with itself, and every pair is found") {
  port_forward web{"127.0.0.1", 3000, 3000, "tcp"};
  port_forward dns{"0.0.0.0", 5353, 53, "udp"};
  CHECK(dvm::detail::find_port_clashes({claim("a", web)}, {claim("a", web)}).empty());
  auto found = dvm::detail::find_port_clashes({claim("a", web, 0), claim("a", dns, 1)},
                                              {claim("b", dns, 0), claim("c", web, 2), claim("d", {"10.0.0.1", 3000, 1, "tcp"})});
  REQUIRE(found.size() == 2);
  CHECK(found[0].ours.index == 0);
  CHECK(found[0].theirs.vm == "c");
  CHECK(found[1].ours.index == 1);
  CHECK(found[1].theirs.vm == "b");
}

TEST_CASE("a clash names both VMs, their files, the rules and the shared host address") {
  auto found = dvm::detail::find_port_clashes({claim("app", {"0.0.0.0", 3000, 3000, "tcp"})},
                                              {claim("web", {"127.0.0.1", 3000, 8080, "tcp"}, 1)});
  REQUIRE(found.size() == 1);
  CHECK(dvm::detail::describe(found[0]) ==
        "host port 127.0.0.1:3000/tcp: ports[0] of VM app (/c/vms/app.toml, 0.0.0.0:3000->3000/tcp) and "
        "ports[1] of VM web (/c/vms/web.toml, 127.0.0.1:3000->8080/tcp) both bind it");
}

TEST_CASE("the claims of other VMs: every configured VM but one, a broken file skipped") {
  config_tree tree;
  tree.vm("app", "ports = [\"3000:3000\"]\n");
  tree.vm("web", "ports = [\"0.0.0.0:3000:8080\", \"9000:9000\"]\n");
  tree.vm("broken", "ports = [\"3000:3000\"]\ncpus = \"many\"\n");
  tree.vm("quiet", "");
  auto store = tree.store();
  auto others = dvm::detail::other_vms_claims(store, "app");
  REQUIRE(others.size() == 2);
  CHECK(others[0].vm == "web");
  CHECK(others[0].file == store.vm_file("web"));
  CHECK(others[0].rule == port_forward{"0.0.0.0", 3000, 8080, "tcp"});
  CHECK(others[1].index == 1);
  auto found = dvm::detail::find_port_clashes(dvm::detail::claims_of(store.load("app")), others);
  REQUIRE(found.size() == 1);
  CHECK(found[0].theirs.vm == "web");
  CHECK(dvm::detail::other_vms_claims(store, "").size() == 3);
}

TEST_CASE("the free host port skips every port another VM binds for the protocol, on any address") {
  std::vector<port_claim> taken{claim("a", {"127.0.0.1", 3000, 3000, "tcp"}),
                                claim("b", {"10.0.0.1", 3001, 3000, "tcp"}),
                                claim("c", {"127.0.0.1", 3002, 3000, "udp"})};
  CHECK(dvm::detail::free_host_port({"127.0.0.1", 3000, 3000, "tcp"}, taken) == 3002);
  CHECK(dvm::detail::free_host_port({"127.0.0.1", 3000, 3000, "udp"}, taken) == 3000);
  CHECK(dvm::detail::free_host_port({"127.0.0.1", 8080, 8080, "tcp"}, taken) == 8080);
  CHECK(dvm::detail::free_host_port({"127.0.0.1", 65535, 1, "tcp"}, {claim("a", {"127.0.0.1", 65535, 1, "tcp"})}) == 0);
}

TEST_CASE("an init template's host ports move off the ports other VMs forward") {
  const std::string llama =
      "# The server is reached from the host at http://127.0.0.1:8080.\n"
      "# (not http://127.0.0.1:80800)\n"
      "ports = [\"8080:8080\", \"127.0.0.1:9000:9000\"]\n"
      "[env]\nLLAMA_PORT = 8080\n";
  SUBCASE("nothing taken: the text is unchanged") {
    auto r = dvm::detail::spread_template_ports(llama, {}, "/c/vms/two.toml");
    CHECK(r.text == llama);
    CHECK(r.notes.empty());
  }
  SUBCASE("taken: the next free port, in the rule and in the comment") {
    auto r = dvm::detail::spread_template_ports(
        llama, {claim("one", {"127.0.0.1", 8080, 8080, "tcp"}), claim("x", {"127.0.0.1", 8081, 1, "tcp"}),
                claim("y", {"0.0.0.0", 9000, 9000, "tcp"})},
        "/c/vms/two.toml");
    CHECK(r.text ==
          "# The server is reached from the host at http://127.0.0.1:8082.\n"
          "# (not http://127.0.0.1:80800)\n"
          "ports = [\"8082:8080\", \"127.0.0.1:9001:9000\"]\n"
          "[env]\nLLAMA_PORT = 8080\n");
    REQUIRE(r.notes.size() == 2);
    CHECK(r.notes[0] ==
          "host port 8080/tcp is already forwarded by VM one (/c/vms/one.toml): ports[0] of /c/vms/two.toml is "
          "\"8082:8080\" instead of \"8080:8080\"");
    CHECK(r.notes[1].find("VM y") != std::string::npos);
  }
  SUBCASE("two rules of the new VM never get the same free port") {
    auto r = dvm::detail::spread_template_ports("ports = [\"3000:3000\", \"3001:4000\"]\n",
                                                {claim("one", {"127.0.0.1", 3000, 3000, "tcp"})}, "/c/vms/two.toml");
    CHECK(r.text == "ports = [\"3002:3000\", \"3001:4000\"]\n");
  }
}
