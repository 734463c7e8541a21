// The YAML emitter: a document built from the input (mappings, sequences of scalars or mappings,
// flow sequences, any strings as keys and values, a header) is emitted, and
//   - the document is valid UTF-8 made of YAML printable characters only, with no line break
//     other than \n (so a YAML 1.1 parser such as Lima's cannot see another structure);
//   - yaml-cpp reads back exactly the tree: same keys in the same order, every string as a
//     non-plain scalar with the same text (bytes that are not UTF-8 come back as U+0080..U+00FF,
//     the only thing a YAML document can carry for them), integers, booleans and nulls as such;
//   - quote() alone round-trips the same way.
#include "fuzz_target.hpp"
#include "utf8.hpp"

#include "lima/yaml.hpp"

#include <yaml-cpp/yaml.h>

#include <cstring>

namespace {

namespace y = dvm::detail::yaml;

struct input {
  const std::uint8_t* p;
  std::size_t n;
  std::uint8_t byte() {
    if (n == 0) return 0;
    --n;
    return *p++;
  }
  std::string text() {
    std::size_t len = byte();
    len = len < 0xf0 ? len % 24 : (len - 0xf0) * 64;  // mostly short, sometimes long
    len = std::min(len, n);
    std::string s(reinterpret_cast<const char*>(p), len);
    p += len;
    n -= len;
    return s;
  }
  std::int64_t integer() {
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | byte();
    return static_cast<std::int64_t>(v);
  }
};

y::node scalar(input& in) {
  switch (in.byte() % 5) {
    case 0: return y::node();
    case 1: return y::node(in.byte() % 2 == 1);
    case 2: return y::node(in.integer());
    default: return y::node(in.text());
  }
}

std::string key(input& in) {
  static constexpr const char* ids[] = {"base", "cpus", "portForwards", "script", "null", "true", "x1", "_"};
  std::uint8_t b = in.byte();
  return b < 0x80 ? std::string(ids[b % 8]) : in.text();
}

y::node value(input& in, int depth);

y::node mapping(input& in, int depth) {
  y::mapping m;
  std::size_t count = in.byte() % 5;
  for (std::size_t i = 0; i < count && in.n > 0; ++i) m.emplace_back(key(in), value(in, depth + 1));
  return y::node(std::move(m));
}

y::node value(input& in, int depth) {
  std::uint8_t kind = in.byte() % 8;
  if (depth >= 4 || kind < 4) return scalar(in);
  if (kind < 6) return mapping(in, depth);
  // Sequences hold scalars or mappings (dvm never nests sequences); flow ones scalars only.
  bool flow = kind == 7;
  y::sequence s;
  std::size_t count = in.byte() % 5;
  for (std::size_t i = 0; i < count && in.n > 0; ++i) {
    s.push_back(flow || in.byte() % 2 == 0 ? scalar(in) : mapping(in, depth + 1));
  }
  y::node out(std::move(s));
  out.flow = flow;
  return out;
}

bool yaml_printable(char32_t c) {
  return c == 0x9 || c == 0xa || (c >= 0x20 && c <= 0x7e) ||
         (c >= 0xa0 && c <= 0xd7ff && c != 0x2028 && c != 0x2029) ||
         (c >= 0xe000 && c <= 0xfffd && c != 0xfeff) || (c >= 0x10000 && c <= 0x10ffff);
}

void check_document_text(std::string_view doc) {
  char32_t cp = 0;
  for (std::size_t i = 0; i < doc.size();) {
    std::size_t n = dvm_fuzz::utf8_sequence(doc, i, cp);
    DVM_FUZZ_CHECK_MSG(n > 0, "not UTF-8 at offset " + std::to_string(i));
    DVM_FUZZ_CHECK_MSG(yaml_printable(cp), "code point " + std::to_string(cp) + " at offset " + std::to_string(i));
    i += n;
  }
}

void check_same(const y::node& want, const YAML::Node& got, const std::string& path) {
  DVM_FUZZ_CHECK_MSG(got.IsDefined(), path);
  if (const auto* m = std::get_if<y::mapping>(&want.value)) {
    DVM_FUZZ_CHECK_MSG(got.IsMap() && got.size() == m->size(), path);
    std::size_t i = 0;
    for (auto it = got.begin(); it != got.end(); ++it, ++i) {
      const auto& [k, v] = (*m)[i];
      DVM_FUZZ_CHECK_MSG(it->first.IsScalar() && it->first.Scalar() == dvm_fuzz::latin1_fallback(k),
                         path + " key " + std::to_string(i) + " " + y::quote(k) + " read as " +
                             (it->first.IsScalar() ? y::quote(it->first.Scalar()) : "a collection"));
      // A key written plain is one that reads as a string everywhere.
      static constexpr std::string_view special[] = {
          "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "true", "True", "TRUE",
          "false", "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF", "null", "Null", "NULL", "~", ""};
      if (it->first.Tag() == "?") {
        for (std::string_view word : special) DVM_FUZZ_CHECK_MSG(k != word, path + " plain key " + k);
      }
      check_same(v, it->second, path + "." + k);
    }
  } else if (const auto* s = std::get_if<y::sequence>(&want.value)) {
    DVM_FUZZ_CHECK_MSG(got.IsSequence() && got.size() == s->size(), path);
    for (std::size_t i = 0; i < s->size(); ++i) check_same((*s)[i], got[i], path + "[" + std::to_string(i) + "]");
  } else if (std::holds_alternative<std::nullptr_t>(want.value)) {
    DVM_FUZZ_CHECK_MSG(got.IsNull(), path);
  } else if (const bool* b = std::get_if<bool>(&want.value)) {
    DVM_FUZZ_CHECK_MSG(got.IsScalar() && got.Tag() == "?" && got.as<bool>() == *b, path);
  } else if (const auto* i = std::get_if<std::int64_t>(&want.value)) {
    DVM_FUZZ_CHECK_MSG(got.IsScalar() && got.Tag() == "?" && got.as<std::int64_t>() == *i, path);
  } else {
    const std::string& text = std::get<std::string>(want.value);
    // Non-plain ("!"): a string never reads as a number, a boolean or null.
    DVM_FUZZ_CHECK_MSG(got.IsScalar() && got.Tag() == "!", path);
    DVM_FUZZ_CHECK_MSG(got.Scalar() == dvm_fuzz::latin1_fallback(text), path);
  }
}

YAML::Node load(const std::string& doc) {
  try {
    return YAML::Load(doc);
  } catch (const YAML::Exception& e) {
    dvm_fuzz::broken(std::string("yaml-cpp cannot read the emitted document: ") + e.what() + "\n" + doc);
  }
}

}  // namespace

DVM_FUZZ_TARGET(yaml_emit) {
  input in{data, size};
  std::string header = in.text();

  // quote() alone.
  std::string word = in.text();
  std::string quoted = y::quote(word);
  check_document_text(quoted);
  YAML::Node q = load("k: " + quoted + "\n");
  DVM_FUZZ_CHECK(q["k"].Tag() == "!");
  DVM_FUZZ_CHECK(q["k"].Scalar() == dvm_fuzz::latin1_fallback(word));

  y::node root = mapping(in, 0);
  std::string doc = y::emit(root, header);
  DVM_FUZZ_CHECK(!doc.empty() && doc.back() == '\n');
  check_document_text(doc);
  YAML::Node back = load(doc);
  check_same(root, back, "$");
  return 0;
}
