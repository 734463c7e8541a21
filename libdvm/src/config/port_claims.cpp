#include "config/port_claims.hpp"

#include <dvm/error.hpp>

#include <algorithm>
#include <sstream>

namespace dvm::inline v0::detail {

namespace {

std::string binding(const port_forward& rule) {
  return rule.host_ip + ":" + std::to_string(rule.host_port) + "/" + rule.proto;
}

std::string claim_text(const port_claim& c) {
  return "ports[" + std::to_string(c.index) + "] of VM " + c.vm + " (" + c.file.string() + ", " +
         to_string(c.rule) + ")";
}

bool port_taken(std::uint16_t port, const std::string& proto, const std::vector<port_claim>& taken) {
  return std::any_of(taken.begin(), taken.end(), [&](const port_claim& c) {
    return c.rule.host_port == port && c.rule.proto == proto;
  });
}

// Replaces "://127.0.0.1:<from>" by "://127.0.0.1:<to>" where the port is not followed by a digit.
void replace_url_port(std::string& line, std::uint16_t from, std::uint16_t to) {
  const std::string needle = "://127.0.0.1:" + std::to_string(from);
  const std::string replacement = "://127.0.0.1:" + std::to_string(to);
  for (std::size_t at = line.find(needle); at != std::string::npos; at = line.find(needle, at)) {
    std::size_t end = at + needle.size();
    if (end < line.size() && line[end] >= '0' && line[end] <= '9') {
      at = end;
      continue;
    }
    line.replace(at, needle.size(), replacement);
    at += replacement.size();
  }
}

}  // namespace

std::vector<port_claim> claims_of(const vm_config& vm) {
  std::vector<port_claim> out;
  for (std::size_t i = 0; i < vm.ports.size(); ++i) out.push_back({vm.name, vm.file, i, vm.ports[i]});
  return out;
}

std::vector<port_claim> other_vms_claims(const config_store& store, std::string_view except) {
  std::vector<port_claim> out;
  for (const auto& name : store.vm_names()) {
    if (name == except) continue;
    try {
      auto claims = claims_of(store.load(name));
      out.insert(out.end(), claims.begin(), claims.end());
    } catch (const error&) {
      // Not loadable now: its own sync or doctor run names the problem.
    }
  }
  return out;
}

std::vector<port_clash> find_port_clashes(const std::vector<port_claim>& ours,
                                          const std::vector<port_claim>& theirs) {
  std::vector<port_clash> out;
  for (const auto& a : ours) {
    for (const auto& b : theirs) {
      if (a.vm != b.vm && host_bindings_conflict(a.rule, b.rule)) out.push_back({a, b});
    }
  }
  return out;
}

std::string describe(const port_clash& clash) {
  // The narrower address is the one both bind (0.0.0.0 includes the other).
  const port_forward& shared = clash.ours.rule.host_ip == "0.0.0.0" ? clash.theirs.rule : clash.ours.rule;
  return "host port " + binding(shared) + ": " + claim_text(clash.ours) + " and " + claim_text(clash.theirs) +
         " both bind it";
}

std::uint16_t free_host_port(const port_forward& rule, const std::vector<port_claim>& taken) {
  for (unsigned port = rule.host_port; port <= 65535; ++port) {
    if (!port_taken(static_cast<std::uint16_t>(port), rule.proto, taken)) return static_cast<std::uint16_t>(port);
  }
  return 0;
}

spread_ports_result spread_template_ports(std::string text, const std::vector<port_claim>& others,
                                          const std::filesystem::path& file) {
  // The rule strings of the `ports = [...]` line: where each is, and what it binds.
  struct rule_at {
    std::size_t line;
    std::size_t begin;  // of the text between the quotes
    std::string text;
    port_forward rule;
  };
  std::vector<std::string> lines;
  {
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) lines.push_back(std::move(line));
  }
  std::vector<rule_at> rules;
  for (std::size_t l = 0; l < lines.size(); ++l) {
    if (!lines[l].starts_with("ports = [")) continue;
    for (std::size_t open = lines[l].find('"'); open != std::string::npos;) {
      std::size_t close = lines[l].find('"', open + 1);
      if (close == std::string::npos) break;
      std::string rule_text = lines[l].substr(open + 1, close - open - 1);
      try {
        rules.push_back({l, open + 1, rule_text, parse_port_forward(rule_text, "0.0.0.0")});
      } catch (const error&) {
        // Not a port rule string: left as it is; the loader names it.
      }
      open = lines[l].find('"', close + 1);
    }
  }

  spread_ports_result out;
  std::vector<std::pair<std::uint16_t, std::uint16_t>> moved;  // from, to
  // Replaced from the last rule back, so that the positions of the earlier ones stay valid.
  for (std::size_t i = rules.size(); i-- > 0;) {
    rule_at& r = rules[i];
    auto owner = std::find_if(others.begin(), others.end(), [&](const port_claim& c) {
      return c.rule.host_port == r.rule.host_port && c.rule.proto == r.rule.proto;
    });
    if (owner == others.end()) continue;
    // Free of the other VMs' ports and of this file's own rules.
    std::vector<port_claim> taken = others;
    for (const auto& own : rules) taken.push_back({"", file, 0, own.rule});
    std::uint16_t port = free_host_port(r.rule, taken);
    if (port == 0) continue;
    // The rule keeps its form: only the host port field changes.
    std::size_t guest_colon = r.text.rfind(':');
    std::size_t host_colon = r.text.rfind(':', guest_colon - 1);
    std::size_t host_start = host_colon == std::string::npos ? 0 : host_colon + 1;
    std::string new_text = r.text.substr(0, host_start) + std::to_string(port) + r.text.substr(guest_colon);
    lines[r.line].replace(r.begin, r.text.size(), new_text);
    out.notes.insert(out.notes.begin(),
                     "host port " + std::to_string(r.rule.host_port) + "/" + r.rule.proto +
                         " is already forwarded by VM " + owner->vm + " (" + owner->file.string() + "): ports[" +
                         std::to_string(i) + "] of " + file.string() + " is \"" + new_text + "\" instead of \"" +
                         r.text + "\"");
    moved.emplace_back(r.rule.host_port, port);
    r.rule.host_port = port;
  }
  for (auto& line : lines) {
    if (!line.starts_with("#")) continue;
    for (const auto& [from, to] : moved) replace_url_port(line, from, to);
  }
  for (const auto& line : lines) out.text += line + "\n";
  if (!text.empty() && text.back() != '\n' && !out.text.empty()) out.text.pop_back();
  return out;
}

}  // namespace dvm::v0::detail
