#include "output.hpp"

#include "style.hpp"

#include <boost/json/serialize.hpp>

#include <algorithm>
#include <chrono>
#include <ctime>
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

json::object error_json(const dvm::error& e) { return json::object{{"error", to_json(e)}}; }

json::object vm_json(const dvm::vm_status& s) {
  json::object out{{"schema", json_schema}};
  for (auto& [k, v] : to_json(s)) out[k] = std::move(v);
  return out;
}

std::string recipe_state_text(const dvm::recipe_state& r) {
  std::string when;
  if (r.last_run) {
    std::time_t seconds = std::chrono::system_clock::to_time_t(*r.last_run);
    std::tm utc{};
    char text[32] = "";
    if (::gmtime_r(&seconds, &utc) != nullptr) std::strftime(text, sizeof text, "%Y-%m-%d %H:%M UTC", &utc);
    when = text;
  }
  using f = dvm::recipe_freshness;
  std::string why;
  switch (r.freshness) {
    case f::unknown: why = "not known: the VM does not run"; break;
    case f::never_ran: why = "never ran here"; break;
    case f::changed: why = "changed since its last run" + (when.empty() ? std::string() : ", " + when); break;
    case f::current: why = "unchanged since " + when; break;
    case f::current_unless_secrets_changed: why = "unchanged since " + when + ", unless a secret's value changed"; break;
  }
  if (r.always) return "runs (always; " + why + ")";
  if (r.freshness == f::unknown) return "runs if changed (" + why + ")";
  if (!r.will_run() && r.every_sync) return "skipped but for its dvm_every_sync (" + why + ")";
  return std::string(r.will_run() ? "runs" : "skipped") + " (" + why + ")";
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
