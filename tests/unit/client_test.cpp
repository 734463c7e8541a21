// dvm::client and the limactl driver against a recording fake runner: which limactl calls are
// made, with which argv, environment and stdin, and how failures are reported.
#include <doctest/doctest.h>

#include <dvm/client.hpp>
#include <dvm/error.hpp>

#include "lima/driver.hpp"
#include "test_support.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <system_error>

#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

using dvm_test::recorded_call;

namespace {

// A pretend Lima: one instance directory per name, answering like limactl does.
struct fake_lima {
  dvm_test::temp_dir home;
  std::shared_ptr<dvm_test::fake_runner> runner = std::make_shared<dvm_test::fake_runner>();
  std::map<std::string, std::string> status;  // instance -> Running/Stopped
  std::string version = "2.0.3";
  std::string guest_stdout_extra;
  int guest_exit = 0;
  bool guest_done = true;

  fake_lima() {
    runner->fallback = [this](const recorded_call& c) { return answer(c); };
  }

  std::filesystem::path dir(const std::string& instance) const { return home.path() / "lima" / instance; }

  dvm::process_result answer(const recorded_call& c) {
    dvm::process_result r;
    r.exit_code = 0;
    const std::string& sub = c.argv.at(1);
    std::string instance = c.argv.back();
    if (sub == "--version") {
      r.out = "limactl version " + version + "\n";
    } else if (sub == "list") {
      if (c.argv.size() > 3) {
        if (!status.count(instance)) {
          r.exit_code = 1;
          r.err = "time=\"x\" level=warning msg=\"No instance matching " + instance +
                  " found.\"\ntime=\"x\" level=fatal msg=\"unmatched instances\"\n";
          return r;
        }
        r.out = record(instance) + "\n";
      } else {
        for (const auto& [name, _] : status) r.out += record(name) + "\n";
      }
    } else if (sub == "create") {
      std::string name = c.argv.at(4);
      dvm_test::write_file(dir(name) / "lima.yaml", c.stdin_bytes);
      status[name] = "Stopped";
    } else if (sub == "start") {
      status[instance] = "Running";
    } else if (sub == "stop") {
      status[instance] = "Stopped";
    } else if (sub == "delete") {
      status.erase(instance);
    } else if (sub == "shell" && c.stdin_bytes.find("# dvm activity probe") != std::string::npos) {
      r.out = "inactive\n";  // nobody uses the fake VM: a change may restart it
    } else if (sub == "shell") {
      std::size_t at = c.stdin_bytes.find("__dvm_nonce=");
      std::string nonce = at == std::string::npos ? "" : c.stdin_bytes.substr(at + 12, 32);
      r.out = guest_stdout_extra;
      if (guest_done) r.out += "::dvm-" + nonce + "::done\n";
      r.exit_code = guest_exit;
    }
    return r;
  }

  std::string record(const std::string& name) const {
    boost::json::object o{{"name", name},
                          {"status", status.at(name)},
                          {"dir", dir(name).string()},
                          {"cpus", 2},
                          {"memory", 2147483648ULL},
                          {"disk", 10737418240ULL},
                          {"sshLocalPort", 60022},
                          {"sshAddress", "127.0.0.1"},
                          {"newFieldFromTheFuture", boost::json::object{{"x", 1}}}};
    return boost::json::serialize(o);
  }

  std::vector<std::string> subcommands() const {
    std::vector<std::string> out;
    for (const auto& c : runner->calls) out.push_back(c.argv.at(1));
    return out;
  }
};

struct fixture {
  dvm_test::config_tree config;
  fake_lima lima;
  std::map<std::string, std::string> env{{"HOME", "/home/tester"},
                                         {"PATH", "/usr/bin:/bin"},
                                         {"LANG", "C.UTF-8"},
                                         {"LC_ALL", "C"},
                                         {"API_TOKEN", "tok-EN.value_123="},
                                         {"AWS_SECRET_ACCESS_KEY", "must-not-leak"},
                                         {"SSH_AUTH_SOCK", "/tmp/agent"},
                                         {"_LIMA_OUTPUT_IS_TTY", "1"},
                                         {"LIMA_HOME", "/tmp/lima-home"}};
  std::vector<dvm::event> events;

  fixture() {
    config.recipe("alpha", "# Description: a\necho alpha\n");
    config.recipe("baseline", "# Description: b\n:\n");
  }

  dvm::client make() {
    dvm::client_options o;
    o.environment = env;
    o.config_dir = config.path();
    o.state_dir = config.path() / "state";
    o.limactl = "/bin/true";  // never run: the fake answers
    o.runner = lima.runner;
    o.host = dvm_test::test_host();
    o.on_event = [this](const dvm::event& e) { events.push_back(e); };
    return dvm::client(o);
  }
};

}  // namespace

TEST_CASE("a fresh sync: version, list, create, start, shell") {
  fixture f;
  f.config.vm("app", "ports = [\"3000:3000\"]\nrecipes = [\"alpha\"]\nsecrets = [\"API_TOKEN\"]\n");
  dvm::sync_result r = f.make().sync("app");
  CHECK(r.created);
  CHECK(r.started);
  CHECK(f.lima.subcommands() == std::vector<std::string>{"--version", "list", "create", "start", "shell"});
  const auto& calls = f.lima.runner->calls;
  CHECK(calls[1].argv == std::vector<std::string>{"/bin/true", "list", "--json", "dvm-app"});
  CHECK(calls[2].argv == std::vector<std::string>{"/bin/true", "create", "--tty=false", "--name", "dvm-app", "--mount-none", "-"});
  CHECK(calls[2].stdin_bytes.find("hostIP: \"127.0.0.1\"") != std::string::npos);
  CHECK(calls[4].argv == std::vector<std::string>{"/bin/true", "shell", "--workdir", "/", "dvm-app", "/bin/bash", "-p", "-s"});
  // The secret is in the shell call's stdin and nowhere else.
  CHECK(calls[4].stdin_bytes.find("tok-EN.value_123=") != std::string::npos);
  for (const auto& c : calls) {
    for (const auto& a : c.argv) CHECK(a.find("tok-EN") == std::string::npos);
    for (const auto& e : c.environment) {
      CHECK(e.find("tok-EN") == std::string::npos);
      std::string name = e.substr(0, e.find('='));
      bool allowed = name == "PATH" || name == "HOME" || name == "USER" || name == "LOGNAME" ||
                     name == "LANG" || name == "TERM" || name == "TMPDIR" || name == "LIMA_HOME" ||
                     name.starts_with("LC_");
      CHECK_MESSAGE(allowed, "limactl got " << name);
    }
    CHECK(c.stdin_redacted.find("tok-EN") == std::string::npos);
    CHECK(c.working_directory == f.config.path() / "state" / "scratch");
  }
  for (const auto& e : f.events) {
    CHECK(e.message.find("tok-EN") == std::string::npos);
    for (const auto& a : e.argv) CHECK(a.find("tok-EN") == std::string::npos);
  }
}

TEST_CASE("a warm sync makes two limactl calls, whatever the recipes and secrets") {
  fixture f;
  std::string recipes;
  for (int i = 0; i < 25; ++i) {
    f.config.recipe("r" + std::to_string(i), "# Description: r\n:\n");
    recipes += std::string(i ? ", " : "") + "\"r" + std::to_string(i) + "\"";
  }
  std::string secrets;
  for (int i = 0; i < 20; ++i) {
    f.env["S" + std::to_string(i)] = "value-" + std::to_string(i);
    secrets += std::string(i ? ", " : "") + "\"S" + std::to_string(i) + "\"";
  }
  f.config.vm("app", "recipes = [" + recipes + "]\nsecrets = [" + secrets + "]\n");
  f.make().sync("app");
  f.lima.runner->calls.clear();
  dvm::sync_result r = f.make().sync("app");  // a new client: the version check is cached on disk
  CHECK(f.lima.subcommands() == std::vector<std::string>{"list", "shell"});
  CHECK(r.limactl_calls == 2);
  CHECK_FALSE(r.created);
  CHECK_FALSE(r.started);
  CHECK(r.reconciled.empty());
}

TEST_CASE("changed ports: stop, one edit with the new rules, start") {
  fixture f;
  f.config.vm("app", "ports = [\"3000:3000\"]\n");
  f.make().sync("app");
  f.config.vm("app", "ports = [\"3000:3000\", \"0.0.0.0:9000:9000\"]\ncpus = 3\n");
  f.lima.runner->calls.clear();
  dvm::sync_result r = f.make().sync("app");
  // The activity probe (a shell call) first: the change needs a restart.
  CHECK(f.lima.subcommands() == std::vector<std::string>{"list", "shell", "stop", "edit", "start", "shell"});
  CHECK(r.reconciled == std::vector<std::string>{"cpus", "ports"});
  const auto& edit = f.lima.runner->calls[3].argv;
  REQUIRE(edit.size() == 6);
  CHECK(edit[2] == "--tty=false");
  CHECK(edit[3] == "--set");
  CHECK(edit[5] == "dvm-app");
  CHECK(edit[4].find(".cpus = 3 | .portForwards = [") == 0);
  CHECK(edit[4].find("\"hostIP\":\"0.0.0.0\"") != std::string::npos);
  CHECK(edit[4].find("\"guestIPMustBeZero\":true") != std::string::npos);
  CHECK(edit[4].find("\"ignore\":true") != std::string::npos);
}

TEST_CASE("a disk shrink is refused before anything changes") {
  fixture f;
  f.config.vm("app", "disk = \"20GiB\"\n");
  f.make().sync("app");
  f.config.vm("app", "disk = \"10GiB\"\n");
  f.lima.runner->calls.clear();
  try {
    f.make().sync("app");
    FAIL("no error");
  } catch (const dvm::config_error& e) {
    CHECK(std::string(e.what()).find("cannot shrink a disk") != std::string::npos);
    CHECK(e.exit_code() == 2);
  }
  CHECK(f.lima.subcommands() == std::vector<std::string>{"list"});
}

TEST_CASE("bad config or a missing secret: no limactl call at all") {
  fixture f;
  f.config.vm("app", "secrets = [\"NOT_SET\"]\n");
  try {
    f.make().sync("app");
    FAIL("no error");
  } catch (const dvm::error& e) {
    CHECK(e.exit_code() == 2);
    CHECK(std::string(e.what()).find("NOT_SET") != std::string::npos);
  }
  f.config.vm("app", "cpus = 0\n");
  CHECK_THROWS_AS(f.make().sync("app"), dvm::config_error);
  CHECK(f.lima.runner->calls.empty());
}

TEST_CASE("service tokens are validated without showing them") {
  fixture f;
  f.config.recipe("cloudflared", "# Description: c\n:\n");
  f.config.recipe("tailscale", "# Description: t\n:\n");
  f.config.vm("cf", "recipes = [\"cloudflared\"]\n");
  f.config.vm("ts", "recipes = [\"tailscale\"]\n");
  f.env["CLOUDFLARED_TOKEN"] = "bad token;rm -rf";
  f.env["TAILSCALE_AUTH_KEY"] = "not-a-tskey";
  for (const char* vm : {"cf", "ts"}) {
    try {
      f.make().sync(vm);
      FAIL("no error");
    } catch (const dvm::error& e) {
      CHECK(e.exit_code() == 2);
      std::string m = e.what();
      CHECK(m.find("bad token") == std::string::npos);
      CHECK(m.find("not-a-tskey") == std::string::npos);
    }
  }
  CHECK(f.lima.runner->calls.empty());
  f.env["CLOUDFLARED_TOKEN"] = "eyJh.Z_-=";
  f.env["DVM_TAILSCALE_AUTH_KEY"] = "tskey-auth-abc";
  f.make().sync("cf");
  CHECK(f.lima.runner->calls.back().stdin_bytes.find("CLOUDFLARED_TOKEN 9\neyJh.Z_-=") != std::string::npos);
  f.make().sync("ts");
  CHECK(f.lima.runner->calls.back().stdin_bytes.find("TAILSCALE_AUTH_KEY 14\ntskey-auth-abc") != std::string::npos);
}

TEST_CASE("a user recipe's # Secret: line stages the secret and refuses a value that breaks its rules") {
  fixture f;
  f.config.recipe("web", "# Description: w\n# Secret: MY_TOKEN prefix=ab- charset=token alias=DVM_MY_TOKEN\n:\n");
  f.config.recipe("plain", "# Description: p\n# Secret: PLAIN_VALUE\n:\n");
  f.config.vm("app", "recipes = [\"web\", \"plain\"]\n");
  f.config.vm("none", "recipes = [\"alpha\"]\n");
  auto refused = [&](const char* vm, const std::string& phrase) {
    f.lima.runner->calls.clear();
    try {
      f.make().sync(vm);
      FAIL("no error");
    } catch (const dvm::error& e) {
      CHECK(e.exit_code() == 2);
      std::string m = e.what();
      CHECK_MESSAGE(m.find(phrase) != std::string::npos, m);
      CHECK(m.find("xy-") == std::string::npos);
      CHECK(m.find("ab-bad") == std::string::npos);
    }
    CHECK(f.lima.runner->calls.empty());
  };
  f.env["MY_TOKEN"] = "xy-123";
  refused("app", "secret MY_TOKEN (used by recipe \"web\") must start with \"ab-\" (the value is not shown)");
  f.env["MY_TOKEN"] = "ab-bad value";
  refused("app", "may only contain A-Z a-z 0-9 . _ = - (the value is not shown)");
  f.env["DVM_MY_TOKEN"] = "xy-alias";  // the alias is read first
  refused("app", "secret MY_TOKEN (from DVM_MY_TOKEN, used by recipe \"web\") must start with \"ab-\"");
  f.env.erase("DVM_MY_TOKEN");
  f.env["MY_TOKEN"] = "ab-Z.9_=";
  f.env["PLAIN_VALUE"] = "any thing; goes";
  f.make().sync("app");
  const std::string& program = f.lima.runner->calls.back().stdin_bytes;
  CHECK(program.find("MY_TOKEN 8\nab-Z.9_=") != std::string::npos);
  CHECK(program.find("PLAIN_VALUE 15\nany thing; goes") != std::string::npos);
  // Only for VMs that run the recipe; unset, it is simply not staged.
  f.make().sync("none");
  CHECK(f.lima.runner->calls.back().stdin_bytes.find("ab-Z.9_=") == std::string::npos);
  f.env.erase("MY_TOKEN");
  f.make().sync("app");
  CHECK(f.lima.runner->calls.back().stdin_bytes.find("MY_TOKEN 8\n") == std::string::npos);
}

TEST_CASE("log infers the unit of a user recipe's # Service: line, renamed by its [env] key") {
  fixture f;
  f.config.recipe("web", "# Description: w\n# Service: web-app.service env=WEB_SERVICE\n:\n");
  f.config.recipe("other", "# Description: o\n# Service: other.service\n:\n");
  f.config.vm("app", "recipes = [\"web\"]\n");
  f.lima.status["dvm-app"] = "Running";
  dvm::log_options o;  // captured: the default
  auto last_argv = [&] {
    std::string all;
    for (const auto& a : f.lima.runner->calls.back().argv) all += a + " ";
    return all;
  };
  dvm::logs_result r = f.make().logs("app", o);
  CHECK(last_argv().find("-u web-app.service --no-pager -n 100") != std::string::npos);
  CHECK(r.unit == "web-app.service");
  CHECK(r.exit_code == 0);
  f.config.vm("app", "recipes = [\"web\"]\n[env]\nWEB_SERVICE = \"renamed.service\"\n");
  CHECK(f.make().logs("app", o).unit == "renamed.service");
  CHECK(last_argv().find("-u renamed.service ") != std::string::npos);
  f.config.vm("app", "recipes = [\"web\", \"other\"]\n");
  CHECK_THROWS_WITH_AS(f.make().logs("app", o),
                       doctest::Contains("uses 2 service recipes (web, other); name the unit"), dvm::error);
  f.config.vm("app", "recipes = [\"alpha\"]\n");
  CHECK_THROWS_WITH_AS(f.make().logs("app", o),
                       doctest::Contains("uses no service recipes (recipes with a \"# Service:\" header line)"),
                       dvm::error);
}

TEST_CASE("the activity probe checks every catalog # Service: unit and the VM's [env] renames") {
  fixture f;
  f.config.recipe("web", "# Description: w\n# Service: web-app.service env=WEB_SERVICE\n:\n");
  f.config.vm("app", "recipes = [\"alpha\"]\n[env]\nWEB_SERVICE = \"renamed.service\"\n");
  f.lima.status["dvm-app"] = "Running";
  f.lima.status["dvm-gone"] = "Running";  // no config file: the catalog's default units only
  dvm::stop_all_options o;
  o.inactive_only = true;
  (void)f.make().stop_all(o);
  std::map<std::string, std::string> probes;  // instance -> the probe's list of units
  for (const auto& c : f.lima.runner->calls) {
    std::size_t at = c.stdin_bytes.find("\nunits=(");
    if (c.argv.at(1) != "shell" || at == std::string::npos) continue;
    auto instance = std::find_if(c.argv.begin(), c.argv.end(), [](const std::string& a) { return a.starts_with("dvm-"); });
    REQUIRE(instance != c.argv.end());
    probes[*instance] = c.stdin_bytes.substr(at + 1, c.stdin_bytes.find(')', at) - at);
  }
  CHECK(probes["dvm-app"] ==
        "units=( dvm-cloudflared.service dvm-llama.service tailscaled.service web-app.service renamed.service )");
  CHECK(probes["dvm-gone"] == "units=( dvm-cloudflared.service dvm-llama.service tailscaled.service web-app.service )");
}

TEST_CASE("secrets passed through the API take the place of the environment") {
  fixture f;
  f.config.vm("app", "secrets = [\"API_TOKEN\"]\n");
  dvm::sync_options o;
  o.secrets.emplace("API_TOKEN", dvm::secret(std::string_view("from-the-api")));
  o.secrets.emplace("EXTRA", dvm::secret(std::string_view("\x01\x02 binary\xff")));
  f.make().sync("app", std::move(o));
  const auto& shell = f.lima.runner->calls.back();
  CHECK(shell.stdin_bytes.find("API_TOKEN 12\nfrom-the-api") != std::string::npos);
  CHECK(shell.stdin_bytes.find("EXTRA 10\n\x01\x02 binary\xff") != std::string::npos);
  CHECK(shell.stdin_bytes.find("tok-EN") == std::string::npos);
  dvm::sync_options bad;
  bad.secrets.emplace("lower", dvm::secret(std::string_view("x")));
  CHECK_THROWS_AS(f.make().sync("app", std::move(bad)), dvm::error);
}

TEST_CASE("sync_all: each VM gets only the secrets given for it") {
  fixture f;
  f.config.vm("one", "secrets = [\"API_TOKEN\"]\n");
  f.config.vm("two", "secrets = [\"API_TOKEN\"]\n");
  f.config.vm("three", "");
  dvm::sync_all_options o;
  o.jobs = 3;
  o.secrets["one"].emplace("API_TOKEN", dvm::secret(std::string_view("first-value")));
  o.secrets["two"].emplace("API_TOKEN", dvm::secret(std::string_view("second-value")));
  dvm::sync_all_result r = f.make().sync_all(std::move(o));
  CHECK(r.ok == 3);
  std::map<std::string, std::string> program_of;
  for (const auto& c : f.lima.runner->calls) {
    if (c.argv.at(1) == "shell") program_of[c.argv.at(c.argv.size() - 4)] = c.stdin_bytes;  // ... NAME /bin/bash -p -s
  }
  REQUIRE(program_of.size() == 3);
  CHECK(program_of["dvm-one"].find("API_TOKEN 11\nfirst-value") != std::string::npos);
  CHECK(program_of["dvm-one"].find("second-value") == std::string::npos);
  CHECK(program_of["dvm-two"].find("API_TOKEN 12\nsecond-value") != std::string::npos);
  CHECK(program_of["dvm-two"].find("first-value") == std::string::npos);
  CHECK(program_of["dvm-three"].find("-value") == std::string::npos);
  CHECK(program_of["dvm-one"].find("tok-EN") == std::string::npos);  // not the environment's

  // Secrets for a VM that is not synced: refused before any limactl call.
  auto calls_before = f.lima.runner->calls.size();
  dvm::sync_all_options stray;
  stray.names = {"one"};
  stray.secrets["two"].emplace("API_TOKEN", dvm::secret(std::string_view("x")));
  try {
    f.make().sync_all(std::move(stray));
    FAIL("no error");
  } catch (const dvm::error& e) {
    CHECK(e.code() == dvm::errc::usage);
    CHECK(std::string(e.what()).find("\"two\", which is not among the VMs synced") != std::string::npos);
  }
  CHECK(f.lima.runner->calls.size() == calls_before);
}

TEST_CASE("a failing recipe is reported by name with its last output") {
  fixture f;
  f.config.vm("app", "recipes = [\"alpha\"]\n");
  f.make().sync("app");
  f.lima.guest_done = false;
  f.lima.guest_exit = 7;
  f.lima.runner->fallback = [&](const recorded_call& c) {
    dvm::process_result r = f.lima.answer(c);
    if (c.argv.at(1) == "shell") {
      std::size_t at = c.stdin_bytes.find("__dvm_nonce=");
      std::string nonce = c.stdin_bytes.substr(at + 12, 32);
      r.out = "::dvm-" + nonce + "::recipe-start alpha\ndownloading\nboom: no network\n::dvm-" + nonce +
              "::failed 7 recipe alpha\n";
    }
    return r;
  };
  f.events.clear();
  auto client = f.make();
  try {
    client.sync("app");
    FAIL("no error");
  } catch (const dvm::error& e) {
    CHECK(e.code() == dvm::errc::guest_failed);
    CHECK(e.exit_code() == 1);
    std::string m = e.what();
    CHECK(m.find("recipe alpha failed (exit 7)") != std::string::npos);
    // The last lines are in the recipe_failed event (below), not repeated; the message ends
    // with the sync's log, which has every line.
    CHECK(m.find("boom: no network") == std::string::npos);
    const std::string marker = "\nthe whole output: ";
    auto at = m.rfind(marker);
    REQUIRE(at != std::string::npos);
    std::string log = dvm_test::read_file(m.substr(at + marker.size()));
    CHECK(log.find("downloading\nboom: no network\n") != std::string::npos);
    CHECK(log.find("== the sync failed: recipe alpha failed (exit 7)") != std::string::npos);
  }
  bool saw_failed = false;
  for (const auto& e : f.events) {
    if (e.kind == dvm::event_kind::recipe_failed) {
      saw_failed = true;
      CHECK(e.name == "alpha");
      CHECK(e.exit_code == 7);
      CHECK(e.message.find("boom") != std::string::npos);
    }
  }
  CHECK(saw_failed);
}

TEST_CASE("a guest program that ends without its final marker fails the sync") {
  fixture f;
  f.config.vm("app", "");
  f.make().sync("app");
  f.lima.guest_done = false;
  CHECK_THROWS_AS(f.make().sync("app"), dvm::error);
}

TEST_CASE("limactl missing, too old, or failing") {
  fixture f;
  f.config.vm("app", "");
  {
    dvm::client_options o;
    o.environment = f.env;
    o.config_dir = f.config.path();
    o.state_dir = f.config.path() / "state";
    o.limactl = "/nonexistent/limactl";
    o.runner = f.lima.runner;
    dvm::client c(o);
    try {
      c.sync("app");
      FAIL("no error");
    } catch (const dvm::lima_error& e) {
      CHECK(e.code() == dvm::errc::lima_missing);
      CHECK(e.exit_code() == 3);
    }
  }
  f.lima.version = "1.2.1";
  try {
    f.make().sync("app");
    FAIL("no error");
  } catch (const dvm::lima_error& e) {
    CHECK(e.code() == dvm::errc::lima_version);
    CHECK(e.exit_code() == 3);
    CHECK(std::string(e.what()).find("1.2.1 is too old") != std::string::npos);
  }
  // The cached answer stays valid until the limactl binary changes; a newer Lima is a new binary.
  std::filesystem::remove(f.config.path() / "state" / "cache" / "limactl-version.json");
  f.lima.version = "2.1.0";
  f.lima.runner->then_output(0, "limactl version 2.1.0\n");
  f.lima.runner->then_output(1, "", "time=\"x\" level=fatal msg=\"open /x/lima.yaml: permission denied\"\n");
  try {
    f.make().sync("app");
    FAIL("no error");
  } catch (const dvm::lima_error& e) {
    CHECK(e.code() == dvm::errc::lima_failed);
    CHECK(e.subcommand() == "list");
    CHECK(e.exit_status() == 1);
    CHECK(e.stderr_tail() == "open /x/lima.yaml: permission denied");
  }
}

TEST_CASE("a failed start is cleaned up with stop --force and explained with the host agent log") {
  fixture f;
  f.config.vm("app", "");
  f.lima.runner->fallback = [&](const recorded_call& c) {
    if (c.argv.at(1) == "start") {
      dvm_test::write_file(f.lima.dir("dvm-app") / "ha.stderr.log",
                           "{\"level\":\"info\",\"msg\":\"booting\"}\n{\"level\":\"error\",\"msg\":\"qemu: no KVM\"}\n");
      dvm::process_result r;
      r.exit_code = 1;
      r.err = "time=\"x\" level=fatal msg=\"exiting, status={Running:false Degraded:false Exiting:true}\"\n";
      return r;
    }
    return f.lima.answer(c);
  };
  f.env["LIMA_HOME"] = (f.lima.home.path() / "lima").string();
  try {
    f.make().sync("app");
    FAIL("no error");
  } catch (const dvm::lima_error& e) {
    CHECK(e.subcommand() == "start");
    CHECK(std::string(e.what()).find("qemu: no KVM") != std::string::npos);
  }
  auto subs = f.lima.subcommands();
  REQUIRE(subs.size() >= 2);
  CHECK(subs[subs.size() - 2] == "start");
  CHECK(subs.back() == "stop");
  CHECK(f.lima.runner->calls.back().argv == std::vector<std::string>{"/bin/true", "stop", "--force", "dvm-app"});
}

TEST_CASE("ls shows only dvm-* instances, without the prefix, plus configured absent VMs") {
  fixture f;
  f.config.vm("app", "");
  f.config.vm("later", "cpus = 3\n");
  f.lima.status["dvm-app"] = "Running";
  f.lima.status["default"] = "Running";
  f.lima.status["dvm-Not_Ours"] = "Running";
  f.lima.status["dvm-orphan"] = "Stopped";
  auto list = f.make().list();
  REQUIRE(list.size() == 3);
  CHECK(list[0].name == "app");
  CHECK(list[0].state == dvm::vm_state::running);
  CHECK(list[0].ssh_address == "127.0.0.1:60022");
  CHECK(list[0].configured);
  CHECK(list[1].name == "later");
  CHECK(list[1].state == dvm::vm_state::absent);
  CHECK(list[1].cpus == 3);
  CHECK(list[2].name == "orphan");
  CHECK_FALSE(list[2].configured);
}

TEST_CASE("exec runs in the code dir, passes argv exactly and returns the exit status as data") {
  fixture f;
  f.config.vm("app", "code_dir = \"~/src/my app\"\n");
  f.lima.status["dvm-app"] = "Running";
  f.lima.runner->fallback = [&](const recorded_call& c) {
    dvm::process_result r = f.lima.answer(c);
    if (c.argv.at(1) == "shell") {
      r.exit_code = 7;
      r.out = "out";
      r.err = "err";
    }
    return r;
  };
  dvm::exec_result r = f.make().exec("dvm-app", {"sh", "-c", "exit 7", "K=V"});
  CHECK(r.exit_code == 7);
  CHECK(r.stdout_text == "out");
  CHECK(r.stderr_text == "err");
  const auto& argv = f.lima.runner->calls.back().argv;
  REQUIRE(argv.size() == 14);
  CHECK(std::vector<std::string>(argv.begin() + 1, argv.begin() + 6) ==
        std::vector<std::string>{"shell", "--workdir", "/", "dvm-app", "bash"});
  CHECK(argv[9] == "/home/alice/src/my app");
  CHECK(std::vector<std::string>(argv.end() - 4, argv.end()) == std::vector<std::string>{"sh", "-c", "exit 7", "K=V"});
}

TEST_CASE("commands on a VM that does not exist") {
  fixture f;
  f.config.vm("app", "");
  try {
    f.make().exec("app", {"true"});
    FAIL("no error");
  } catch (const dvm::error& e) {
    CHECK(e.code() == dvm::errc::not_created);
    CHECK(std::string(e.what()).find("dvm sync app") != std::string::npos);
  }
  CHECK_THROWS_AS(f.make().stop("app"), dvm::error);
  try {
    f.make().status("ghost");
    FAIL("no error");
  } catch (const dvm::error& e) {
    CHECK(e.code() == dvm::errc::not_found);
  }
  // Nothing ever asked Lima to start (and so create) an unknown instance.
  for (const auto& sub : f.lima.subcommands()) CHECK(sub != "start");
}

TEST_CASE("the environment limactl gets is an allowlist") {
  auto env = dvm::detail::limactl_environment({{"PATH", "/bin"}, {"HOME", "/h"}, {"LC_CTYPE", "x"},
                                               {"SSH", "evil"}, {"GITHUB_TOKEN", "t"}, {"LIMA_HOME", "/l"},
                                               {"_LIMA_OUTPUT_IS_TTY", "1"}, {"LD_PRELOAD", "x"}});
  CHECK(env == std::vector<std::string>{"HOME=/h", "LC_CTYPE=x", "LIMA_HOME=/l", "PATH=/bin"});

  // Proxies (Lima hands them to the guest, upstream/pkg/cidata/cidata.go:59-80), Lima's own
  // settings, XDG_CONFIG_HOME and [lima] pass_env pass; secret-looking names never do, and
  // LIMA_SSH_PORT_FORWARDER (the TCP-only forwarder) does not either.
  env = dvm::detail::limactl_environment(
      {{"http_proxy", "h"}, {"HTTPS_PROXY", "s"}, {"no_proxy", "n"}, {"ALL_PROXY", "a"}, {"ftp_proxy", "f"},
       {"LIMA_INSTANCE", "i"}, {"LIMA_TEMPLATES_PATH", "t"}, {"LIMA_SSH_PORT_FORWARDER", "true"},
       {"LIMA_API_TOKEN", "secret"}, {"XDG_CONFIG_HOME", "/x"}, {"MY_SETTING", "m"},
       {"MY_PASSWORD", "p"}, {"OTHER", "o"}},
      {"MY_SETTING", "MY_PASSWORD"});
  CHECK(env == std::vector<std::string>{"ALL_PROXY=a", "HTTPS_PROXY=s", "LIMA_INSTANCE=i",
                                        "LIMA_TEMPLATES_PATH=t", "MY_SETTING=m", "XDG_CONFIG_HOME=/x",
                                        "ftp_proxy=f", "http_proxy=h", "no_proxy=n"});
}

TEST_CASE("limactl versions and stderr tails") {
  using dvm::detail::parse_limactl_version;
  CHECK(parse_limactl_version("limactl version 2.0.3\n") == "2.0.3");
  CHECK(parse_limactl_version("limactl version 2.2.0-153-g183a60d7.m") == "2.2.0");
  CHECK_FALSE(parse_limactl_version("limactl version <unknown>").has_value());
  CHECK(dvm::detail::version_at_least("2.0.0", "2.0.0"));
  CHECK(dvm::detail::version_at_least("10.0.0", "2.0.0"));
  CHECK_FALSE(dvm::detail::version_at_least("1.99.99", "2.0.0"));
  std::string logfmt =
      "time=\"t\" level=info msg=\"Terminal is not available\"\n"
      "time=\"t\" level=fatal msg=\"instance \\\"dvm-x\\\" does not exist\"\n";
  CHECK(dvm::detail::stderr_tail(logfmt) == "instance \"dvm-x\" does not exist");
  CHECK(dvm::detail::stderr_tail("{\"level\":\"fatal\",\"msg\":\"boom\"}\n") == "boom");
  CHECK(dvm::detail::stderr_tail("plain ssh error\n") == "plain ssh error");
}

TEST_CASE("limactl list --json is NDJSON") {
  using dvm::detail::parse_list_json;
  CHECK(parse_list_json("").empty());
  auto two = parse_list_json("{\"name\":\"a\",\"status\":\"Running\",\"errors\":[{\"x\":1},\"s\"]}\n\n{\"name\":\"b\"}\n");
  REQUIRE(two.size() == 2);
  CHECK(two[0].errors == std::vector<std::string>{"{\"x\":1}", "s"});
  CHECK(two[1].status.empty());
  CHECK(two[1].cpus == 0);
  CHECK_THROWS_AS(parse_list_json("[{\"name\":\"a\"}]"), dvm::lima_error);
  CHECK_THROWS_AS(parse_list_json("{\"name\":\"a\"\n"), dvm::lima_error);
  CHECK_THROWS_AS(parse_list_json("{\"status\":\"Running\"}\n"), dvm::lima_error);
  CHECK_THROWS_AS(parse_list_json("garbage"), dvm::lima_error);
}

TEST_CASE("init writes a template once and never overwrites") {
  fixture f;
  auto c = f.make();
  dvm::init_result first = c.init_config("dvm-demo");
  CHECK(first.created);
  CHECK(first.path == f.config.path() / "vms" / "demo.toml");
  std::string text = dvm_test::read_file(first.path);
  CHECK(text.find("This host has 8 CPUs and 16GiB of memory") != std::string::npos);
  CHECK(text.find("@") == std::string::npos);
  dvm_test::write_file(first.path, "cpus = 3\n");
  dvm::init_result second = c.init_config("demo", "llama");
  CHECK_FALSE(second.created);
  CHECK(dvm_test::read_file(first.path) == "cpus = 3\n");
  CHECK_THROWS_AS(c.init_config("x", "nope"), dvm::error);
  for (const auto& t : dvm::init_template_names()) {
    CAPTURE(t);
    CHECK(c.init_config("t-" + t, t).created);
    // Every bundled template validates as it is.
    CHECK_NOTHROW((void)c.configs().load("t-" + t));
  }
}

TEST_CASE("plan shows the calls and the program without secret values") {
  fixture f;
  f.config.vm("app", "ports = [\"3000:3000\"]\nsecrets = [\"API_TOKEN\", \"UNSET_ONE\"]\n");
  dvm::plan_result p = f.make().plan("app");
  // One read-only query: the VM does not exist, so every recipe would run.
  CHECK(f.lima.subcommands() == std::vector<std::string>{"list"});
  REQUIRE(p.recipes.size() == 1);
  CHECK(p.recipes[0].name == "baseline");
  CHECK(p.recipes[0].freshness == dvm::recipe_freshness::never_ran);
  CHECK(p.recipes[0].will_run());
  REQUIRE(p.calls.size() == 5);
  CHECK(p.calls[2].argv == std::vector<std::string>{"limactl", "create", "--tty=false", "--name", "dvm-app", "--mount-none", "-"});
  CHECK(p.calls[2].stdin_text == p.lima_yaml);
  CHECK(p.calls[4].argv == std::vector<std::string>{"limactl", "shell", "--workdir", "/", "dvm-app", "/bin/bash", "-p", "-s"});
  CHECK(p.guest_program.find("tok-EN") == std::string::npos);
  CHECK(p.guest_program.find("API_TOKEN <redacted>\n<redacted>") != std::string::npos);
  CHECK(p.guest_program.find("UNSET_ONE <redacted>") != std::string::npos);
  CHECK(p.secrets == std::vector<std::string>{"API_TOKEN", "UNSET_ONE"});
  REQUIRE(p.warnings.size() == 1);
  CHECK(p.warnings[0].find("UNSET_ONE") != std::string::npos);
}

// --- the host side of issue 10: state dir, core dumps, exposure warnings --------------------

namespace {

namespace fs = std::filesystem;

mode_t mode_of(const fs::path& p) {
  struct stat st {};
  REQUIRE_MESSAGE(::lstat(p.c_str(), &st) == 0, p.string());
  return st.st_mode & 07777;
}

int dumpable() { return ::prctl(PR_GET_DUMPABLE, 0, 0, 0, 0); }

rlim_t core_soft_limit() {
  struct rlimit r {};
  ::getrlimit(RLIMIT_CORE, &r);
  return r.rlim_cur;
}

// The dvm::error(errc::io) `f` throws, as text ("" when it throws nothing).
std::string io_error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const dvm::error& e) {
    CHECK(e.code() == dvm::errc::io);
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("the state dir and its subdirectories are created 0700, its files 0600") {
  fixture f;
  f.config.vm("app", "");
  dvm_test::temp_dir top;
  const fs::path state = top.path() / "missing" / "parent" / "state";
  dvm::client_options o;
  o.environment = f.env;
  o.config_dir = f.config.path();
  o.state_dir = state;
  o.limactl = "/bin/true";
  o.runner = f.lima.runner;
  o.host = dvm_test::test_host();
  dvm::client(o).sync("app");
  for (const fs::path& d : {top.path() / "missing", top.path() / "missing" / "parent", state, state / "locks",
                            state / "cache", state / "scratch"}) {
    CAPTURE(d);
    CHECK(mode_of(d) == 0700);
  }
  CHECK(mode_of(state / "locks" / "app.lock") == 0600);
  CHECK(mode_of(state / "cache" / "limactl-version.json") == 0600);
}

TEST_CASE("an io error keeps the operating system's cause (errno), and says it in its message") {
  fixture f;
  f.config.vm("app", "");
  dvm_test::temp_dir top;
  {
    std::ofstream file(top.path() / "a-file");  // the state dir would have to be below a file
  }
  dvm::client_options o;
  o.environment = f.env;
  o.config_dir = f.config.path();
  o.state_dir = top.path() / "a-file" / "state";
  o.limactl = "/bin/true";
  o.runner = f.lima.runner;
  o.host = dvm_test::test_host();
  try {
    dvm::client(o).sync("app");
    FAIL("sync succeeded without a state dir");
  } catch (const dvm::error& e) {
    CHECK(e.code() == dvm::errc::io);
    CHECK(e.cause() == std::errc::not_a_directory);  // ENOTDIR, not flattened into text only
    CHECK(std::string(e.what()).find(std::strerror(ENOTDIR)) != std::string::npos);
  }
  CHECK(f.lima.runner->calls.empty());  // found before any limactl call
  CHECK_FALSE(dvm::error(dvm::errc::usage, "no cause").cause());
}

TEST_CASE("a link planted in the state dir is refused with an io error, and its target is left alone") {
  struct plant {
    const char* title;
    const char* entry;  // the refused path, relative to the state dir
    const char* rule;
    std::function<void(const fs::path& state, const fs::path& victim)> setup;
  };
  const plant plants[] = {
      {"lock file -> ~/.bashrc", "locks/app.lock", "is a symbolic link, and dvm never follows links",
       [](const fs::path& s, const fs::path& v) { fs::create_symlink(v / "bashrc", s / "locks" / "app.lock"); }},
      {"lock file -> a file that does not exist yet", "locks/app.lock", "is a symbolic link",
       [](const fs::path& s, const fs::path& v) { fs::create_symlink(v / "new", s / "locks" / "app.lock"); }},
      {"lock file hard-linked to ~/.bashrc", "locks/app.lock", "has 2 hard links",
       [](const fs::path& s, const fs::path& v) { fs::create_hard_link(v / "bashrc", s / "locks" / "app.lock"); }},
      {"lock file is a FIFO", "locks/app.lock", "is not a regular file",
       [](const fs::path& s, const fs::path&) { REQUIRE(::mkfifo((s / "locks" / "app.lock").c_str(), 0600) == 0); }},
      {"locks -> /etc", "locks", "is a symbolic link",
       [](const fs::path& s, const fs::path& v) {
         fs::remove(s / "locks");
         fs::create_directory_symlink(v / "etc", s / "locks");
       }},
      {"cache -> /etc", "cache", "is a symbolic link",
       [](const fs::path& s, const fs::path& v) { fs::create_directory_symlink(v / "etc", s / "cache"); }},
      {"version cache -> ~/.bashrc", "cache/limactl-version.json", "is a symbolic link",
       [](const fs::path& s, const fs::path& v) {
         fs::create_directory(s / "cache");
         fs::create_symlink(v / "bashrc", s / "cache" / "limactl-version.json");
       }},
      {"scratch -> /etc", "scratch", "is a symbolic link",
       [](const fs::path& s, const fs::path& v) { fs::create_directory_symlink(v / "etc", s / "scratch"); }},
  };
  for (const auto& p : plants) {
    CAPTURE(p.title);
    fixture f;
    f.config.vm("app", "");
    dvm_test::temp_dir victim;
    dvm_test::write_file(victim.path() / "bashrc", "export PS1='$ '\n");
    fs::permissions(victim.path() / "bashrc", fs::perms(0644));
    fs::create_directory(victim.path() / "etc");
    const fs::path state = f.config.path() / "state";
    fs::create_directories(state / "locks");
    p.setup(state, victim.path());
    const std::string expected = "refusing " + (state / p.entry).string() + ": ";
    std::string message = io_error_of([&] { f.make().sync("app"); });
    CHECK_MESSAGE(message.starts_with(expected), message);
    CHECK_MESSAGE(message.find(p.rule) != std::string::npos, message);
    if (std::string(p.entry).starts_with("locks")) {
      CHECK(f.lima.runner->calls.empty());  // refused before any limactl call
    } else {
      // `dvm ls` reads the version cache and runs limactl in scratch/ too.
      std::string listed = io_error_of([&] { (void)f.make().list(); });
      CHECK_MESSAGE(listed.starts_with(expected), listed);
    }
    CHECK(dvm_test::read_file(victim.path() / "bashrc") == "export PS1='$ '\n");
    CHECK(mode_of(victim.path() / "bashrc") == 0644);
    CHECK(fs::is_empty(victim.path() / "etc"));
    CHECK_FALSE(fs::exists(victim.path() / "new"));
  }
}

TEST_CASE("a state dir that others can write to, or that is not ours, is refused") {
  fixture f;
  f.config.vm("app", "");
  const fs::path state = f.config.path() / "state";
  fs::create_directory(state);
  fs::permissions(state, fs::perms(0777));
  std::string message = io_error_of([&] { f.make().sync("app"); });
  CHECK_MESSAGE(message.find("refusing the state directory " + state.string() + ": it is writable by everyone") == 0, message);
  CHECK(f.lima.runner->calls.empty());
  fs::permissions(state, fs::perms(0770));
  message = io_error_of([&] { (void)f.make().list(); });
  CHECK_MESSAGE(message.find("is writable by its group (mode 0770)") != std::string::npos, message);
  fs::permissions(state, fs::perms(0755));
  fs::create_directory(state / "locks");
  fs::permissions(state / "locks", fs::perms(0777));
  message = io_error_of([&] { f.make().sync("app"); });
  CHECK_MESSAGE(message.find("refusing the state directory " + (state / "locks").string()) == 0, message);
  fs::permissions(state / "locks", fs::perms(0700));
  CHECK_NOTHROW(f.make().sync("app"));
  if (::geteuid() == 0) {
    REQUIRE(::chown(state.c_str(), 4242, 4242) == 0);
    message = io_error_of([&] { f.make().sync("app"); });
    CHECK_MESSAGE(message.find("it is owned by uid 4242, not by you") != std::string::npos, message);
  }
}

TEST_CASE("no core dumps while a secret is held; the process's settings come back afterwards") {
  REQUIRE(dumpable() == 1);
  struct rlimit original {};
  REQUIRE(::getrlimit(RLIMIT_CORE, &original) == 0);
  struct rlimit some = original;
  some.rlim_cur = original.rlim_max == RLIM_INFINITY ? 1 << 20 : original.rlim_max;
  if (some.rlim_cur != 0) REQUIRE(::setrlimit(RLIMIT_CORE, &some) == 0);
  const rlim_t soft = core_soft_limit();
  {
    dvm::secret s(std::string_view("value"));
    CHECK(dumpable() == 0);
    CHECK(core_soft_limit() == 0);
    { dvm::secret t(std::string_view("other")); }
    CHECK(dumpable() == 0);  // one secret is still held
    dvm::secret moved(std::move(s));
    dvm::secret empty;
    empty = std::move(moved);
    CHECK(dumpable() == 0);
  }
  CHECK(dumpable() == 1);
  CHECK(core_soft_limit() == soft);
  {
    dvm::stdin_payload payload;
    payload.append("no secret yet");
    CHECK(dumpable() == 1);
    {
      dvm::secret s(std::string_view("value"));
      payload.append(s);
    }
    CHECK(dumpable() == 0);  // the payload holds a copy of the bytes
    dvm::stdin_payload moved(std::move(payload));
    CHECK(dumpable() == 0);
    moved = dvm::stdin_payload();
    CHECK(dumpable() == 1);
  }
  // A sync with a secret: the guest program's limactl call runs with dumps off.
  fixture f;
  f.config.vm("app", "secrets = [\"API_TOKEN\"]\n");
  int dumpable_during = -1;
  rlim_t core_during = 1;
  f.lima.runner->fallback = [&](const recorded_call& c) {
    if (c.argv.at(1) == "shell") {
      dumpable_during = dumpable();
      core_during = core_soft_limit();
    }
    return f.lima.answer(c);
  };
  f.make().sync("app");
  CHECK(dumpable_during == 0);
  CHECK(core_during == 0);
  CHECK(dumpable() == 1);
  CHECK(core_soft_limit() == soft);
  ::setrlimit(RLIMIT_CORE, &original);
}

TEST_CASE("every sync warns about each port bound beyond loopback") {
  fixture f;
  f.config.global("[defaults]\nhost_ip = \"0.0.0.0\"\n");
  f.config.vm("app", "ports = [\"3000:3000\", \"127.0.0.1:4000:4000\", {ip = \"192.168.1.5\", host = 5000, guest = 5000, proto = \"udp\"}]\n");
  std::vector<std::string> warnings;
  auto collect = [&] {
    warnings.clear();
    for (const auto& e : f.events) {
      if (e.kind == dvm::event_kind::warning) {
        CHECK(e.vm == "app");
        warnings.push_back(e.message);
      }
    }
  };
  f.make().sync("app");
  collect();
  REQUIRE(warnings.size() == 2);
  CHECK(warnings[0] == "ports[0] (0.0.0.0:3000->3000/tcp) binds to 0.0.0.0, beyond loopback: other machines "
                       "that reach this host can connect to it (from host_ip = \"0.0.0.0\")");
  CHECK(warnings[1].starts_with("ports[2] (192.168.1.5:5000->5000/udp) binds to 192.168.1.5, beyond loopback"));
  // At every sync, not only the first.
  f.events.clear();
  f.make().sync("app");
  collect();
  CHECK(warnings.size() == 2);
  // Loopback only: no warning.
  f.config.global("");
  f.config.vm("app", "ports = [\"3000:3000\", \"127.0.0.2:4000:4000\"]\n");
  f.events.clear();
  f.make().sync("app");
  collect();
  CHECK(warnings.empty());
}
