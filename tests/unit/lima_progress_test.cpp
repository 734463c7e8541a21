// limactl's logrus lines (libdvm/src/lima/driver.hpp): Go %q unquoting, logfmt and JSON
// records, and the lima_progress / warning events of `limactl create` and `start`.
#include <doctest/doctest.h>

#include <dvm/error.hpp>
#include <dvm/events.hpp>

#include "lima/driver.hpp"
#include "test_support.hpp"

using dvm::detail::go_unquote;
using dvm::detail::parse_log_record;

TEST_CASE("Go %q text is unquoted like strconv.Unquote") {
  CHECK(go_unquote(R"(Starting the instance \"dvm-app\")") == "Starting the instance \"dvm-app\"");
  CHECK(go_unquote(R"(a\\b\tc\nd\re)") == "a\\b\tc\nd\re");
  CHECK(go_unquote(R"(\a\b\f\v)") == "\a\b\f\v");
  CHECK(go_unquote(R"(\x1b[31m\x00)") == std::string("\x1b[31m\0", 6));
  CHECK(go_unquote(R"(\101\060)") == "A0");
  CHECK(go_unquote(R"(caf\u00e9 \U0001F600)") == "caf\xc3\xa9 \xf0\x9f\x98\x80");
  // What Go never writes is kept as it is.
  CHECK(go_unquote(R"(\xZZ \u12 end\)") == R"(\xZZ \u12 end\)");
}

TEST_CASE("a logrus record: logfmt as limactl writes it without a terminal, or JSON") {
  auto r = parse_log_record(
      R"(time="2026-12-02T03:12:03Z" level=info msg="Attempting to download the image" arch=x86_64 location="https://x/y.qcow2")");
  REQUIRE(r);
  CHECK(r->level == "info");
  CHECK(r->msg == "Attempting to download the image");
  r = parse_log_record(R"(time="t" level=info msg="[hostagent] Waiting for the essential requirement 1 of 2: \"ssh\"")");
  REQUIRE(r);
  CHECK(r->msg == "[hostagent] Waiting for the essential requirement 1 of 2: \"ssh\"");
  r = parse_log_record("time=\"t\" level=warning msg=word\r");
  REQUIRE(r);
  CHECK((r->level == "warning" && r->msg == "word"));
  // A field value that looks like a key does not confuse the parser.
  r = parse_log_record(R"(time="t level=fatal" level=info msg="ok msg=no")");
  REQUIRE(r);
  CHECK((r->level == "info" && r->msg == "ok msg=no"));
  r = parse_log_record(R"({"level":"error","msg":"boom","time":"t"})");
  REQUIRE(r);
  CHECK((r->level == "error" && r->msg == "boom"));
  CHECK_FALSE(parse_log_record("ssh: connect to host 127.0.0.1 port 22: Connection refused"));
  CHECK_FALSE(parse_log_record("key=value without a message"));
  CHECK_FALSE(parse_log_record(""));
  CHECK_FALSE(parse_log_record(R"({"level":"info"})"));
}

namespace {

struct driver_fixture {
  dvm_test::temp_dir state;
  std::shared_ptr<dvm_test::fake_runner> runner = std::make_shared<dvm_test::fake_runner>();
  dvm::detail::lima_context context;
  std::vector<dvm::event> events;

  driver_fixture() {
    context.runner = runner;
    context.limactl = "/bin/true";
    context.scratch_dir = state.path() / "scratch";
    context.state_dir = state.path();
  }
  dvm::detail::lima_driver driver() {
    return dvm::detail::lima_driver(context, "app", [this](dvm::event e) { events.push_back(std::move(e)); });
  }
  std::vector<dvm::event> of(dvm::event_kind kind) const {
    std::vector<dvm::event> out;
    for (const auto& e : events) {
      if (e.kind == kind) out.push_back(e);
    }
    return out;
  }
};

}  // namespace

TEST_CASE("create and start relay Lima's info lines as lima_progress events, warnings after success") {
  driver_fixture f;
  f.runner->then_output(0, "",
                        "time=\"t\" level=info msg=\"Attempting to download the image\" arch=x86_64\n"
                        "time=\"t\" level=debug msg=\"not shown\"\n"
                        "time=\"t\" level=warning msg=\"Field `x` is deprecated\"\n"
                        "a line that is no record\n"
                        "time=\"t\" level=info msg=\"Run `limactl start dvm-app` to start the instance.\"\n");
  f.driver().create("dvm-app", "images: []\n");
  auto progress = f.of(dvm::event_kind::lima_progress);
  REQUIRE(progress.size() == 2);
  CHECK(progress[0].vm == "app");
  CHECK(progress[0].name == "create");
  CHECK(progress[0].message == "Attempting to download the image");
  CHECK(progress[1].message == "Run `limactl start dvm-app` to start the instance.");
  auto warnings = f.of(dvm::event_kind::warning);
  REQUIRE(warnings.size() == 1);
  CHECK(warnings[0].message == "limactl create: Field `x` is deprecated");
  // Progress while the call runs; its warnings once it has succeeded.
  std::vector<dvm::event_kind> kinds;
  for (const auto& e : f.events) kinds.push_back(e.kind);
  CHECK(kinds == std::vector<dvm::event_kind>{dvm::event_kind::limactl_started, dvm::event_kind::lima_progress,
                                              dvm::event_kind::lima_progress, dvm::event_kind::limactl_finished,
                                              dvm::event_kind::warning});

  f.events.clear();
  f.runner->then_output(0, "",
                        "time=\"t\" level=info msg=\"[hostagent] The essential requirement 1 of 2 is satisfied\"\n"
                        "time=\"t\" level=info msg=\"READY. Run `limactl shell dvm-app` to open the shell.\"");
  f.driver().start("dvm-app", "");
  progress = f.of(dvm::event_kind::lima_progress);
  REQUIRE(progress.size() == 2);
  CHECK(progress[1].name == "start");
  CHECK(progress[1].message == "READY. Run `limactl shell dvm-app` to open the shell.");  // no final newline
  CHECK(progress[0].duration <= progress[1].duration);
}

TEST_CASE("a failed start shows its warnings and errors once: in the error, not as events") {
  driver_fixture f;
  f.runner->then_output(1, "",
                        "time=\"t\" level=info msg=\"Starting the instance\"\n"
                        "time=\"t\" level=error msg=\"[hostagent] driver failed\"\n"
                        "time=\"t\" level=fatal msg=\"exiting, status={Running:false}\"\n");
  f.runner->then_output(0, "", "");  // the cleanup stop --force
  std::string message;
  try {
    f.driver().start("dvm-app", "");
  } catch (const dvm::error& e) {
    message = e.what();
  }
  CHECK(message.find("[hostagent] driver failed") != std::string::npos);
  CHECK(message.find("exiting, status") != std::string::npos);
  CHECK(f.of(dvm::event_kind::lima_progress).size() == 1);
  CHECK(f.of(dvm::event_kind::warning).empty());
}
