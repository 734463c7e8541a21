// The config loader's readers for single TOML nodes: type errors, strings, name lists, keys in
// file order and unknown keys, each failing with the file, line, column and key path.
#include "config/loader_internal.hpp"

#include <dvm/error.hpp>

#include "config/suggest.hpp"

#include <algorithm>
#include <tuple>

namespace dvm::inline v0::config_detail {

void fail(const origin& at, const std::string& rule) {
  throw config_error(at.file ? *at.file : fs::path(), static_cast<int>(at.region.begin.line),
                     static_cast<int>(at.region.begin.column), at.key_path, rule);
}

void warn(const origin& at, const std::string& rule, vm_config& out) {
  out.warnings.push_back(at.key_path.empty() ? rule : at.key_path + ": " + rule);
  if (auto* sink = detail::problem_sink::open()) {
    sink->add(config_error(at.file ? *at.file : fs::path(), static_cast<int>(at.region.begin.line),
                           static_cast<int>(at.region.begin.column), at.key_path, rule),
              severity::warning);
  }
}

namespace {

std::string_view type_name(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a floating-point number";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
    default: return "nothing";
  }
}

}  // namespace

void wrong_type(const origin& at, const toml::node& node, std::string_view expected) {
  fail(at, "expected " + std::string(expected) + ", found " + std::string(type_name(node)));
}

std::string get_string(const origin& at, const toml::node& node) {
  const auto* s = node.as_string();
  if (s == nullptr) wrong_type(at, node, "a string");
  const std::string& text = s->get();
  if (text.find('\0') != std::string::npos) fail(at, "must not contain NUL characters");
  return text;
}

// Table entries in the order they appear in the file (toml++ keeps them sorted by name), so
// the first error reported is the first one in the file.
std::vector<std::pair<const toml::key*, const toml::node*>> in_file_order(const toml::table& t) {
  std::vector<std::pair<const toml::key*, const toml::node*>> out;
  for (const auto& [key, node] : t) out.emplace_back(&key, &node);
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    const auto& x = a.second->source().begin;
    const auto& y = b.second->source().begin;
    return std::tie(x.line, x.column) < std::tie(y.line, y.column);
  });
  return out;
}

// `parent` is the key path of the table holding the key ("" at the top level); the error's key
// path is the unknown key's own ("memroy", "defaults.cpu", "ports[0].prot").
void unknown_key(const fs::path& file, const toml::key& key, const std::string& parent,
                 std::span<const std::string_view> known, std::string_view where,
                 std::string extra) {
  std::string rule = "unknown key \"" + std::string(key.str()) + "\" in " + std::string(where);
  if (auto hint = suggest(key.str(), known)) rule += " (did you mean \"" + *hint + "\"?)";
  if (!extra.empty()) rule += "; " + extra;
  std::string path = parent.empty() ? std::string(key.str()) : parent + "." + std::string(key.str());
  throw config_error(file, static_cast<int>(key.source().begin.line),
                     static_cast<int>(key.source().begin.column), path, rule);
}

bool has_control_chars(std::string_view s) {
  return std::any_of(s.begin(), s.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

std::vector<raw_name> parse_name_list(const fs::path& file, const toml::node& node,
                                      const origin& at) {
  const auto* arr = node.as_array();
  if (arr == nullptr) wrong_type(at, node, "an array of strings");
  std::vector<raw_name> out;
  for (std::size_t i = 0; i < arr->size(); ++i) {
    const toml::node& el = *arr->get(i);
    origin sub = origin_of(file, el, at.key_path + "[" + std::to_string(i) + "]");
    out.push_back(raw_name{get_string(sub, el), sub});
  }
  return out;
}

}  // namespace dvm::v0::config_detail
