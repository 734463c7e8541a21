#include "output.hpp"

#include "style.hpp"

#include <boost/json/serialize.hpp>

#include <algorithm>
#include <cstdio>
#include <iostream>

#include <unistd.h>

namespace dvm_cli {

namespace json = boost::json;

namespace {

class text_formatter final : public formatter {
 public:
  using formatter::result;
  void result(json::value, const text_writer& text) const override { text(std::cout, std::cerr); }
  void progress(const text_writer& text) const override { text(std::cout, std::cerr); }
  void error(const dvm::error& e) const override {
    std::cerr << paint(STDERR_FILENO, colour::red, "dvm: error:") << ' ' << e.what() << '\n';
  }
  bool machine_readable() const noexcept override { return false; }
};

class json_formatter final : public formatter {
 public:
  using formatter::result;
  void result(json::value document, const text_writer&) const override {
    if (auto* object = document.if_object()) {
      json::object out;
      out["schema"] = json_schema;
      for (auto& [k, v] : *object) out[k] = std::move(v);
      document = std::move(out);
    }
    std::cout << json::serialize(document) << '\n' << std::flush;
  }
  void progress(const text_writer&) const override {}
  void error(const dvm::error& e) const override { result(error_json(e)); }
  bool machine_readable() const noexcept override { return true; }
};

}  // namespace

const formatter& formatter_for(bool json) {
  static const text_formatter text;
  static const json_formatter machine;
  if (json) return machine;
  return text;
}

json::object error_json(const dvm::error& e) {
  json::object err{{"code", std::string(dvm::errc_name(e.code()))},
                   {"message", e.what()},
                   {"exit_code", e.exit_code()}};
  if (const auto* c = dynamic_cast<const dvm::config_error*>(&e)) {
    err["file"] = c->file().string();
    err["line"] = c->line();
    err["column"] = c->column();
    err["key"] = c->key_path();
    err["rule"] = c->rule();
  }
  if (const auto* l = dynamic_cast<const dvm::lima_error*>(&e)) {
    err["subcommand"] = l->subcommand();
    err["limactl_exit"] = l->exit_status();
  }
  if (const auto* u = dynamic_cast<const dvm::unsaved_work_error*>(&e)) {
    err["unsaved_work"] = to_json(u->report());
  }
  return json::object{{"error", std::move(err)}};
}

json::array to_json(const std::vector<dvm::port_forward>& ports) {
  json::array out;
  for (const auto& p : ports) {
    out.push_back(json::object{{"host_ip", p.host_ip},
                               {"host_port", p.host_port},
                               {"guest_port", p.guest_port},
                               {"proto", p.proto}});
  }
  return out;
}

json::object vm_json(const dvm::vm_status& s) {
  json::array recipes;
  for (const auto& r : s.recipes) recipes.emplace_back(r);
  json::array recreate;
  for (const auto& r : s.recreate_to_apply) recreate.emplace_back(r);
  return json::object{{"schema", json_schema},
                      {"name", s.name},
                      {"instance", s.instance},
                      {"state", s.state},
                      {"configured", s.configured},
                      {"ssh_address", s.ssh_address},
                      {"cpus", s.cpus},
                      {"memory_bytes", s.memory_bytes},
                      {"disk_bytes", s.disk_bytes},
                      {"arch", s.arch},
                      {"vm_type", s.vm_type},
                      {"dir", s.dir},
                      {"code_dir", s.code_dir},
                      {"recipes", std::move(recipes)},
                      {"recreate_to_apply", std::move(recreate)},
                      {"ports", to_json(s.ports)}};
}

json::object to_json(const dvm::sync_result& r) {
  json::array recipes;
  for (const auto& t : r.recipes) {
    recipes.push_back(json::object{{"name", t.name}, {"duration_ms", t.duration.count()}, {"ok", t.ok}});
  }
  json::array reconciled;
  for (const auto& c : r.reconciled) reconciled.emplace_back(c);
  return json::object{{"vm", r.vm},
                      {"created", r.created},
                      {"started", r.started},
                      {"reconciled", std::move(reconciled)},
                      {"recipes", std::move(recipes)},
                      {"limactl_calls", r.limactl_calls},
                      {"duration_ms", r.duration.count()}};
}

json::object to_json(const dvm::plan_result& p) {
  json::array calls;
  for (const auto& c : p.calls) {
    json::array argv;
    for (const auto& a : c.argv) argv.emplace_back(a);
    calls.push_back(json::object{{"argv", std::move(argv)}, {"stdin", c.stdin_text}});
  }
  json::array secrets;
  for (const auto& s : p.secrets) secrets.emplace_back(s);
  json::array warnings;
  for (const auto& w : p.warnings) warnings.emplace_back(w);
  return json::object{{"vm", p.vm},
                      {"instance", p.instance},
                      {"lima_yaml", p.lima_yaml},
                      {"limactl_calls", std::move(calls)},
                      {"guest_program", p.guest_program},
                      {"secrets", std::move(secrets)},
                      {"warnings", std::move(warnings)}};
}

json::object to_json(const dvm::dirty_report& r) {
  json::array repos;
  for (const auto& repo : r.repositories) {
    json::array reasons;
    for (const auto& reason : repo.reasons) reasons.emplace_back(reason);
    repos.push_back(json::object{{"path", repo.path}, {"reasons", std::move(reasons)}});
  }
  json::array loose;
  for (const auto& f : r.loose_files) loose.emplace_back(f);
  json::array problems;
  for (const auto& p : r.problems) {
    problems.push_back(json::object{{"kind", p.kind}, {"path", p.path}, {"message", p.message}});
  }
  return json::object{{"clean", r.clean()},
                      {"repositories", std::move(repos)},
                      {"loose_files", std::move(loose)},
                      {"loose_file_count", r.loose_file_count},
                      {"problems", std::move(problems)},
                      {"incomplete", r.incomplete},
                      {"incomplete_reason", r.incomplete_reason}};
}

std::string human_size(std::uint64_t bytes) {
  if (bytes == 0) return "-";
  static constexpr const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024 && unit < 4) {
    value /= 1024;
    ++unit;
  }
  char buffer[32];
  if (value == static_cast<double>(static_cast<std::uint64_t>(value))) {
    std::snprintf(buffer, sizeof buffer, "%llu%s", static_cast<unsigned long long>(value), units[unit]);
  } else {
    std::snprintf(buffer, sizeof buffer, "%.1f%s", value, units[unit]);
  }
  return buffer;
}

std::string table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> widths;
  for (const auto& row : rows) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (std::size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 2, ' ');
    }
    out += line + "\n";
  }
  return out;
}

}  // namespace dvm_cli
