#include "config/yaml_reader.h"

#include <arpa/inet.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>

#include "config/limits.h"

namespace wasmgate::config::detail {
namespace {

constexpr std::string_view kStrTag = "tag:yaml.org,2002:str";
constexpr size_t kMaxDescribedScalar = 60;

int lineOf(const YAML::Node& node, int fallback) {
  if (!node.IsDefined()) return fallback;
  YAML::Mark mark = node.Mark();
  return mark.is_null() ? fallback : mark.line + 1;
}

// The value of a mapping entry: a null value has no place of its own, so it takes the key's line.
int valueLine(const YAML::Node& key, const YAML::Node& value) {
  int keyLine = lineOf(key, 0);
  return value.IsNull() ? keyLine : lineOf(value, keyLine);
}

bool matchesAny(std::string_view text, std::initializer_list<std::string_view> words) {
  for (std::string_view w : words) {
    if (text == w) return true;
  }
  return false;
}

int digitValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return 99;
}

// Go's strconv.ParseUint(s, 0, 64) without the sign: 0x, 0o, 0b prefixes, a leading 0 is octal.
std::optional<uint64_t> parseGoUnsigned(std::string_view s) {
  int base = 10;
  if (s.size() > 1 && s[0] == '0') {
    char p = static_cast<char>(s[1] | 0x20);
    if (p == 'x' || p == 'o' || p == 'b') {
      base = p == 'x' ? 16 : p == 'o' ? 8 : 2;
      s.remove_prefix(2);
    } else {
      base = 8;
      s.remove_prefix(1);
    }
  }
  if (s.empty()) return std::nullopt;
  uint64_t value = 0;
  for (char c : s) {
    int d = digitValue(c);
    if (d >= base) return std::nullopt;
    if (value > (UINT64_MAX - static_cast<uint64_t>(d)) / static_cast<uint64_t>(base)) {
      return std::nullopt;
    }
    value = value * static_cast<uint64_t>(base) + static_cast<uint64_t>(d);
  }
  return value;
}

// go-yaml's float pattern: [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
bool looksLikeYamlFloat(std::string_view s) {
  size_t i = 0;
  auto digits = [&] {
    size_t start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    return i > start;
  };
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  if (i < s.size() && s[i] == '.') {
    ++i;
    if (!digits()) return false;
  } else {
    if (!digits()) return false;
    if (i < s.size() && s[i] == '.') {
      ++i;
      digits();
    }
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (!digits()) return false;
  }
  return i == s.size();
}

std::optional<double> parseFloat(std::string_view s) {
  if (!s.empty() && s[0] == '+') s.remove_prefix(1);
  double value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return value;
}

// A plain scalar starting with a digit or a sign: integer, else float, else string.
void resolveNumber(std::string_view in, ScalarValue& out) {
  std::string plain;
  for (char c : in) {
    if (c != '_') plain += c;
  }
  std::string_view body = plain;
  bool negative = false;
  if (!body.empty() && (body[0] == '+' || body[0] == '-')) {
    negative = body[0] == '-';
    body.remove_prefix(1);
  }
  if (std::optional<uint64_t> u = parseGoUnsigned(body)) {
    constexpr uint64_t kMaxPositive = static_cast<uint64_t>(INT64_MAX);
    if (negative && *u <= kMaxPositive + 1) {
      out.kind = ScalarValue::Kind::kInt;
      out.integer = *u == kMaxPositive + 1 ? INT64_MIN : -static_cast<int64_t>(*u);
      out.number = static_cast<double>(out.integer);
      return;
    }
    if (!negative && *u <= kMaxPositive) {
      out.kind = ScalarValue::Kind::kInt;
      out.integer = static_cast<int64_t>(*u);
      out.number = static_cast<double>(out.integer);
      return;
    }
    if (!negative && plain[0] != '+') {  // ParseUint takes no sign
      out.kind = ScalarValue::Kind::kFloat;
      out.number = static_cast<double>(*u);
      return;
    }
  }
  if (looksLikeYamlFloat(plain)) {
    if (std::optional<double> d = parseFloat(plain)) {
      out.kind = ScalarValue::Kind::kFloat;
      out.number = *d;
    }
  }
}

}  // namespace

ScalarValue resolveScalar(const YAML::Node& node) {
  ScalarValue out;
  if (!node.IsDefined() || node.IsNull()) {
    out.kind = ScalarValue::Kind::kNull;
    return out;
  }
  out.text = node.Scalar();
  const std::string& tag = node.Tag();
  // "!" marks a quoted or block scalar; any tag other than a core one keeps the text as it is.
  bool resolvable = tag == "?" || (tag.rfind("tag:yaml.org,2002:", 0) == 0 && tag != kStrTag &&
                                   tag != "tag:yaml.org,2002:binary");
  if (!resolvable) return out;
  std::string_view s = out.text;
  if (matchesAny(s, {"y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"})) {
    out.kind = ScalarValue::Kind::kBool;
    out.boolean = true;
  } else if (matchesAny(
                 s, {"n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"})) {
    out.kind = ScalarValue::Kind::kBool;
  } else if (matchesAny(s, {"", "~", "null", "Null", "NULL"})) {
    out.kind = ScalarValue::Kind::kNull;
  } else if (matchesAny(s, {".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF", "+.inf", "+.Inf",
                            "+.INF", "-.inf", "-.Inf", "-.INF"})) {
    out.kind = ScalarValue::Kind::kFloat;
    out.number = s.find("nan") != s.npos || s.find("NaN") != s.npos || s.find("NAN") != s.npos
                     ? std::numeric_limits<double>::quiet_NaN()
                 : s[0] == '-' ? -std::numeric_limits<double>::infinity()
                               : std::numeric_limits<double>::infinity();
  } else if (s[0] == '.') {
    if (std::optional<double> d = parseFloat(s); d && looksLikeYamlFloat(s)) {
      out.kind = ScalarValue::Kind::kFloat;
      out.number = *d;
    }
  } else if ((s[0] >= '0' && s[0] <= '9') || s[0] == '+' || s[0] == '-') {
    resolveNumber(s, out);
  }
  return out;
}

std::optional<std::chrono::milliseconds> parseDuration(std::string_view text) {
  if (text == "0") return std::chrono::milliseconds(0);
  if (text.empty()) return std::nullopt;
  constexpr int64_t kMaxMs = int64_t{1} << 50;
  int64_t total = 0;
  size_t i = 0;
  while (i < text.size()) {
    size_t start = i;
    int64_t n = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      if (i - start >= 12) return std::nullopt;
      n = n * 10 + (text[i++] - '0');
    }
    if (i == start) return std::nullopt;
    int64_t unitMs = 0;
    std::string_view rest = text.substr(i);
    if (rest.rfind("ms", 0) == 0) {
      unitMs = 1, i += 2;
    } else if (rest.rfind("s", 0) == 0) {
      unitMs = 1000, i += 1;
    } else if (rest.rfind("m", 0) == 0) {
      unitMs = 60'000, i += 1;
    } else if (rest.rfind("h", 0) == 0) {
      unitMs = 3'600'000, i += 1;
    } else {
      return std::nullopt;
    }
    total += n * unitMs;
    if (total > kMaxMs) return std::nullopt;
  }
  return std::chrono::milliseconds(total);
}

std::optional<proxy::SocketAddress> parseAddress(std::string_view text) {
  std::string host;
  std::string_view portText;
  if (!text.empty() && text[0] == '[') {
    size_t close = text.find("]:");
    if (close == text.npos) return std::nullopt;
    host = std::string(text.substr(1, close - 1));
    portText = text.substr(close + 2);
    in6_addr v6;
    if (inet_pton(AF_INET6, host.c_str(), &v6) != 1) return std::nullopt;
  } else {
    size_t colon = text.rfind(':');
    if (colon == text.npos) return std::nullopt;
    host = std::string(text.substr(0, colon));
    portText = text.substr(colon + 1);
    in_addr v4;
    if (host != "localhost" && inet_pton(AF_INET, host.c_str(), &v4) != 1) return std::nullopt;
  }
  if (portText.empty() || portText.size() > 5) return std::nullopt;
  uint32_t port = 0;
  for (char c : portText) {
    if (c < '0' || c > '9') return std::nullopt;
    port = port * 10 + static_cast<uint32_t>(c - '0');
  }
  if (port > 65535) return std::nullopt;
  return proxy::SocketAddress{std::move(host), static_cast<uint16_t>(port)};
}

Status fieldError(std::string_view file, int line, std::string_view field, std::string_view what) {
  std::string msg(file);
  if (line > 0) msg += ":" + std::to_string(line);
  msg += ": ";
  if (!field.empty()) {
    msg += field;
    msg += ": ";
  }
  msg += what;
  return Status(StatusCode::kBadArgument, std::move(msg));
}

std::string childPath(std::string_view parent, std::string_view key) {
  if (parent.empty()) return std::string(key);
  std::string out(parent);
  out += '.';
  out += key;
  return out;
}

Field Field::root(const std::string& file, const YAML::Node& node) {
  return Field(file, node, "", lineOf(node, 1));
}

std::string Field::location() const {
  return *file_ + ":" + std::to_string(line_);
}

Status Field::error(std::string_view what) const {
  return fieldError(*file_, line_, path_, what);
}

std::string Field::describe() const {
  if (isNull()) return "null";
  if (node_.IsMap()) return "a mapping";
  if (node_.IsSequence()) return "a list";
  std::string text = node_.Scalar();
  if (text.size() > kMaxDescribedScalar) text = text.substr(0, kMaxDescribedScalar) + "...";
  return "\"" + text + "\"";
}

Result<std::string> Field::string() const {
  if (!node_.IsScalar()) return error("expected a string, got " + describe());
  return node_.Scalar();
}

Result<bool> Field::boolean() const {
  ScalarValue v = resolveScalar(node_);
  if (!node_.IsScalar() || v.kind != ScalarValue::Kind::kBool) {
    return error("expected true or false, got " + describe());
  }
  return v.boolean;
}

Result<int64_t> Field::integer(int64_t min, int64_t max) const {
  ScalarValue v = resolveScalar(node_);
  if (!node_.IsScalar() || v.kind != ScalarValue::Kind::kInt) {
    return error("expected an integer, got " + describe());
  }
  if (v.integer < min || v.integer > max) {
    return error("must be between " + std::to_string(min) + " and " + std::to_string(max) +
                 ", got " + std::to_string(v.integer));
  }
  return v.integer;
}

Result<std::chrono::milliseconds> Field::duration() const {
  std::optional<std::chrono::milliseconds> d;
  if (node_.IsScalar()) d = parseDuration(node_.Scalar());
  if (!d) return error("expected a duration such as 250ms, 1s or 2m, got " + describe());
  return *d;
}

Result<proxy::SocketAddress> Field::address(bool allowPortZero) const {
  if (!node_.IsScalar()) {
    return error("expected host:port, got " + describe() +
                 " (write an IPv6 address in quotes: \"[::1]:8080\")");
  }
  std::optional<proxy::SocketAddress> a = parseAddress(node_.Scalar());
  if (!a) {
    return error(describe() +
                 " is not host:port with an IPv4 address, an [IPv6] address or localhost");
  }
  if (a->port == 0 && !allowPortZero) return error("port 0 is not allowed here");
  return *a;
}

Result<std::vector<Field>> Field::list() const {
  if (!node_.IsSequence()) return error("expected a list, got " + describe());
  std::vector<Field> items;
  items.reserve(node_.size());
  size_t i = 0;
  for (const YAML::Node& item : node_) {
    int line = item.IsNull() ? line_ : lineOf(item, line_);
    items.emplace_back(*file_, item, path_ + "[" + std::to_string(i++) + "]", line);
  }
  return items;
}

Result<MapField> Field::map(std::initializer_list<std::string_view> knownKeys) const {
  std::span<const std::string_view> keys(knownKeys.begin(), knownKeys.size());
  return mapImpl(&keys);
}

Result<MapField> Field::map(std::span<const std::string_view> knownKeys) const {
  return mapImpl(&knownKeys);
}

Result<MapField> Field::anyMap() const {
  return mapImpl(nullptr);
}

Result<MapField> Field::mapImpl(const std::span<const std::string_view>* knownKeys) const {
  if (!node_.IsMap()) return error("expected a mapping, got " + describe());
  std::vector<MapField::Entry> entries;
  std::set<std::string, std::less<>> seen;
  for (auto it = node_.begin(); it != node_.end(); ++it) {
    // The iterator hands out a temporary pair: copy the (reference-counted) nodes out of it.
    YAML::Node key = it->first;
    YAML::Node value = it->second;
    Field keyField(*file_, key, path_, lineOf(key, line_));
    if (!key.IsScalar()) {
      return keyField.error("a key must be a string, got " + keyField.describe());
    }
    std::string name = key.Scalar();
    keyField = Field(*file_, key, childPath(path_, name), keyField.line());
    if (!seen.insert(name).second) return keyField.error("repeated key");
    if (knownKeys) {
      bool known = false;
      for (std::string_view k : *knownKeys) known = known || k == name;
      if (!known) return keyField.error("unknown field");
    }
    Field valueField(*file_, value, keyField.path(), valueLine(key, value));
    entries.push_back({std::move(name), std::move(keyField), std::move(valueField)});
  }
  return MapField(*this, std::move(entries));
}

const MapField::Entry* MapField::find(std::string_view key) const {
  for (const Entry& e : entries_) {
    if (e.key == key) return &e;
  }
  return nullptr;
}

std::optional<Field> MapField::get(std::string_view key) const {
  const Entry* e = find(key);
  if (!e || e->value.isNull()) return std::nullopt;
  return e->value;
}

Result<Field> MapField::require(std::string_view key) const {
  std::optional<Field> f = get(key);
  if (!f) {
    const Entry* e = find(key);
    int line = e ? e->keyField.line() : self_.line();
    return fieldError(self_.file(), line, childPath(self_.path(), key), "missing required field");
  }
  return *f;
}

Status MapField::readString(std::string_view key, std::string& out) const {
  std::optional<Field> f = get(key);
  if (!f) return Status::ok();
  Result<std::string> v = f->string();
  if (!v.isOk()) return v.status();
  out = std::move(*v);
  return Status::ok();
}

Status MapField::readBool(std::string_view key, bool& out) const {
  std::optional<Field> f = get(key);
  if (!f) return Status::ok();
  Result<bool> v = f->boolean();
  if (!v.isOk()) return v.status();
  out = *v;
  return Status::ok();
}

Status MapField::readDuration(std::string_view key, std::chrono::milliseconds& out) const {
  std::optional<Field> f = get(key);
  if (!f) return Status::ok();
  Result<std::chrono::milliseconds> v = f->duration();
  if (!v.isOk()) return v.status();
  out = *v;
  return Status::ok();
}

Result<std::vector<YAML::Node>> loadYamlDocuments(std::string_view text, const std::string& file) {
  try {
    return YAML::LoadAll(std::string(text));
  } catch (const YAML::Exception& e) {
    int line = e.mark.is_null() ? 0 : e.mark.line + 1;
    return fieldError(file, line, "", "invalid YAML: " + e.msg);
  } catch (const std::exception& e) {
    return fieldError(file, 0, "", std::string("invalid YAML: ") + e.what());
  }
}

Result<std::string> readConfigFile(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return Status(StatusCode::kBadArgument, path + ": is a folder, not a file");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    int err = errno;
    return Status(err == ENOENT ? StatusCode::kNotFound : StatusCode::kBadArgument,
                  path + ": cannot open: " + std::strerror(err));
  }
  std::string text;
  char buf[64 * 1024];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    text.append(buf, static_cast<size_t>(in.gcount()));
    if (text.size() > kMaxConfigFileBytes) {
      return Status(StatusCode::kBadArgument,
                    path + ": larger than " + std::to_string(kMaxConfigFileBytes) + " bytes");
    }
  }
  if (in.bad()) return Status(StatusCode::kBadArgument, path + ": cannot read");
  return text;
}

}  // namespace wasmgate::config::detail
