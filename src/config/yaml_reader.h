// Strict reading of yaml-cpp nodes for src/config: every value is checked for its type, every
// mapping for unknown and repeated keys, and every failure is one line naming file, line and field:
// "bootstrap.yaml:12: listeners[0].routes[1].cluster: unknown cluster \"x\"".
// Internal to src/config; nothing here throws (yaml-cpp is only asked for what cannot throw).
#pragma once

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "proxy/server_config.h"

namespace wasmgate::config::detail {

// A scalar typed as Kubernetes' YAML reader (go-yaml v2) types it: YAML 1.1 booleans
// (true/yes/on/y ...), null (~, null, empty), Go integer syntax (0x, 0o, 0b, a leading 0 is
// octal, '_' separators), floats; anything else, and every quoted scalar, is a string.
struct ScalarValue {
  enum class Kind { kNull, kBool, kInt, kFloat, kString };
  Kind kind = Kind::kString;
  bool boolean = false;
  int64_t integer = 0;  // kInt
  double number = 0;    // kInt and kFloat
  std::string text;     // the scalar as written
};
ScalarValue resolveScalar(const YAML::Node& node);

// "0", or a sequence of <digits><unit> with unit ms, s, m or h: 250ms, 1s, 2m, 1m30s.
std::optional<std::chrono::milliseconds> parseDuration(std::string_view text);
// "127.0.0.1:80", "[::1]:80", "localhost:80". The host comes back without brackets.
std::optional<proxy::SocketAddress> parseAddress(std::string_view text);

// "file:line: field: what" as a kBadArgument status (line 0 leaves ":line" out).
Status fieldError(std::string_view file, int line, std::string_view field, std::string_view what);

template <typename E>
struct EnumName {
  std::string_view name;
  E value;
};

class MapField;

// A YAML value and where it is: file, 1-based line and dotted field path ("a.b[2].c").
class Field {
 public:
  Field(const std::string& file, YAML::Node node, std::string path, int line)
      : file_(&file), node_(std::move(node)), path_(std::move(path)), line_(line) {}
  // The document root: path "", line of the node.
  static Field root(const std::string& file, const YAML::Node& node);

  const YAML::Node& node() const { return node_; }
  const std::string& file() const { return *file_; }
  const std::string& path() const { return path_; }
  int line() const { return line_; }
  std::string location() const;  // "file:line"
  bool isNull() const { return !node_.IsDefined() || node_.IsNull(); }
  bool isMap() const { return node_.IsMap(); }

  // "file:line: path: what".
  Status error(std::string_view what) const;

  Result<std::string> string() const;                       // any scalar, as written
  Result<bool> boolean() const;                             // a plain boolean
  Result<int64_t> integer(int64_t min, int64_t max) const;  // a plain integer in [min, max]
  Result<std::chrono::milliseconds> duration() const;
  Result<proxy::SocketAddress> address(bool allowPortZero) const;
  Result<std::vector<Field>> list() const;  // items are "path[i]"
  // A mapping whose keys are all among knownKeys; each key once.
  Result<MapField> map(std::initializer_list<std::string_view> knownKeys) const;
  Result<MapField> map(std::span<const std::string_view> knownKeys) const;
  // A mapping with any keys, each once (for free-form maps such as pluginConfig).
  Result<MapField> anyMap() const;

  template <typename E>
  Result<E> enumValue(std::span<const EnumName<E>> names) const {
    Result<std::string> text = string();
    if (!text.isOk()) return text.status();
    for (const EnumName<E>& n : names) {
      if (n.name == *text) return n.value;
    }
    std::string allowed;
    for (const EnumName<E>& n : names) {
      if (!allowed.empty()) allowed += ", ";
      allowed += n.name;
    }
    return error("\"" + *text + "\" is not one of " + allowed);
  }

  // What the value is, for "expected X, got Y" messages: "a mapping", "\"abc\"".
  std::string describe() const;

 private:
  Result<MapField> mapImpl(const std::span<const std::string_view>* knownKeys) const;

  const std::string* file_;
  YAML::Node node_;
  std::string path_;
  int line_;
};

// A mapping whose keys were checked. Lookups return the value under a key; a null value counts
// as absent, as in Kubernetes.
class MapField {
 public:
  struct Entry {
    std::string key;
    Field keyField;  // for messages about the key itself
    Field value;
  };

  MapField(Field self, std::vector<Entry> entries)
      : self_(std::move(self)), entries_(std::move(entries)) {}

  const Field& self() const { return self_; }
  const std::vector<Entry>& entries() const { return entries_; }
  const Entry* find(std::string_view key) const;  // present, even if null
  std::optional<Field> get(std::string_view key) const;
  Result<Field> require(std::string_view key) const;  // "path.key: missing required field"

  // Optional typed fields: absent or null leaves `out` as it is.
  Status readString(std::string_view key, std::string& out) const;
  Status readBool(std::string_view key, bool& out) const;
  Status readDuration(std::string_view key, std::chrono::milliseconds& out) const;
  template <typename Int>
  Status readInt(std::string_view key, Int& out, int64_t min, int64_t max) const {
    std::optional<Field> f = get(key);
    if (!f) return Status::ok();
    Result<int64_t> v = f->integer(min, max);
    if (!v.isOk()) return v.status();
    out = static_cast<Int>(*v);
    return Status::ok();
  }
  template <typename E>
  Status readEnum(std::string_view key, E& out, std::span<const EnumName<E>> names) const {
    std::optional<Field> f = get(key);
    if (!f) return Status::ok();
    Result<E> v = f->enumValue(names);
    if (!v.isOk()) return v.status();
    out = *v;
    return Status::ok();
  }

 private:
  Field self_;
  std::vector<Entry> entries_;
};

// "a" + "b" -> "a.b"; "" + "b" -> "b".
std::string childPath(std::string_view parent, std::string_view key);

// Every document of a YAML stream; a syntax error becomes "file:line: invalid YAML: what".
Result<std::vector<YAML::Node>> loadYamlDocuments(std::string_view text, const std::string& file);

// A whole file, refused past kMaxConfigFileBytes; a missing file is kNotFound.
Result<std::string> readConfigFile(const std::string& path);

}  // namespace wasmgate::config::detail
