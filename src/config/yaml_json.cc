#include "config/yaml_json.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>

#include "config/limits.h"

namespace wasmgate::config::detail {
namespace {

// Appends s as a JSON string the way Go's encoding/json does (HTML-safe, invalid UTF-8 replaced).
void appendJsonString(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '"':
          out += "\\\"";
          break;
        case '\\':
          out += "\\\\";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        case '\b':
          out += "\\b";
          break;
        case '\f':
          out += "\\f";
          break;
        default:
          if (c < 0x20 || c == '<' || c == '>' || c == '&') {
            out += "\\u00";
            out += kHex[c >> 4];
            out += kHex[c & 0xf];
          } else {
            out += static_cast<char>(c);
          }
      }
      ++i;
      continue;
    }
    // A multi-byte sequence: copy it when it is valid UTF-8, else write U+FFFD for one byte.
    size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 0;
    uint32_t cp = len == 4 ? c & 0x07u : len == 3 ? c & 0x0fu : c & 0x1fu;
    bool valid = len != 0 && i + len <= s.size();
    for (size_t k = 1; valid && k < len; ++k) {
      auto cc = static_cast<unsigned char>(s[i + k]);
      valid = (cc & 0xc0) == 0x80;
      cp = (cp << 6) | (cc & 0x3fu);
    }
    static constexpr uint32_t kMinForLength[] = {0, 0, 0x80, 0x800, 0x10000};
    valid = valid && cp >= kMinForLength[len] && cp <= 0x10ffff && (cp < 0xd800 || cp > 0xdfff);
    if (!valid) {
      out += "\\ufffd";
      ++i;
    } else if (cp == 0x2028 || cp == 0x2029) {
      out += cp == 0x2028 ? "\\u2028" : "\\u2029";
      i += len;
    } else {
      out.append(s.substr(i, len));
      i += len;
    }
  }
  out += '"';
}

// A float64 as Go's encoding/json writes it: the shortest digits that read back as the same
// double, in plain notation unless the magnitude is below 1e-6 or at least 1e21
// (12345678901234567890 is "12345678901234567000"), and a short exponent ("1e-7", "1e+21").
void appendJsonNumber(std::string& out, double v) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  if (ec != std::errc()) return;
  std::string_view sci(buf, static_cast<size_t>(end - buf));  // "-1.2345e+19"
  double a = std::fabs(v);
  if (a != 0 && (a < 1e-6 || a >= 1e21)) {
    size_t n = sci.size();
    if (n >= 4 && sci[n - 4] == 'e' && sci[n - 3] == '-' && sci[n - 2] == '0') {
      out.append(sci.substr(0, n - 2));
      out += sci[n - 1];
    } else {
      out.append(sci);
    }
    return;
  }
  if (sci[0] == '-') {
    out += '-';
    sci.remove_prefix(1);
  }
  size_t e = sci.find('e');
  int exponent = std::atoi(std::string(sci.substr(e + 1)).c_str());
  std::string digits;
  for (char c : sci.substr(0, e)) {
    if (c != '.') digits += c;
  }
  if (exponent < 0) {
    out += "0.";
    out.append(static_cast<size_t>(-exponent - 1), '0');
    out += digits;
  } else if (static_cast<size_t>(exponent) + 1 >= digits.size()) {
    out += digits;
    out.append(static_cast<size_t>(exponent) + 1 - digits.size(), '0');
  } else {
    out.append(digits, 0, static_cast<size_t>(exponent) + 1);
    out += '.';
    out.append(digits, static_cast<size_t>(exponent) + 1);
  }
}

class JsonWriter {
 public:
  Status write(const Field& f) {
    if (out_.size() > kMaxPluginConfigJsonBytes) {
      return f.error("larger than " + std::to_string(kMaxPluginConfigJsonBytes) + " bytes as JSON");
    }
    if (f.node().IsMap()) return writeObject(f);
    if (f.node().IsSequence()) return writeArray(f);
    return writeScalar(f);
  }
  std::string take() { return std::move(out_); }

 private:
  Status writeScalar(const Field& f) {
    ScalarValue v = resolveScalar(f.node());
    switch (v.kind) {
      case ScalarValue::Kind::kNull:
        out_ += "null";
        break;
      case ScalarValue::Kind::kBool:
        out_ += v.boolean ? "true" : "false";
        break;
      case ScalarValue::Kind::kInt:
      case ScalarValue::Kind::kFloat:
        if (!std::isfinite(v.number)) return f.error(v.text + " cannot be written as JSON");
        appendJsonNumber(out_, v.number);
        break;
      case ScalarValue::Kind::kString:
        appendJsonString(out_, v.text);
        break;
    }
    return Status::ok();
  }

  Status writeArray(const Field& f) {
    Result<std::vector<Field>> items = f.list();
    if (!items.isOk()) return items.status();
    out_ += '[';
    for (size_t i = 0; i < items->size(); ++i) {
      if (i) out_ += ',';
      WASMGATE_RETURN_IF_ERROR(write((*items)[i]));
    }
    out_ += ']';
    return Status::ok();
  }

  // Keys are written as Kubernetes' YAML-to-JSON step writes them: a boolean key becomes
  // "true"/"false", an integer key its decimal value, any other scalar key its text.
  static Result<std::string> keyText(const MapField::Entry& e) {
    ScalarValue k = resolveScalar(e.keyField.node());
    switch (k.kind) {
      case ScalarValue::Kind::kNull:
        return e.keyField.error("a null key cannot be written as JSON");
      case ScalarValue::Kind::kBool:
        return std::string(k.boolean ? "true" : "false");
      case ScalarValue::Kind::kInt:
        return std::to_string(k.integer);
      default:
        return e.key;
    }
  }

  Status writeObject(const Field& f) {
    Result<MapField> map = f.anyMap();
    if (!map.isOk()) return map.status();
    std::vector<std::pair<std::string, const Field*>> members;
    for (const MapField::Entry& e : map->entries()) {
      Result<std::string> key = keyText(e);
      if (!key.isOk()) return key.status();
      members.emplace_back(std::move(*key), &e.value);
    }
    std::sort(members.begin(), members.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    for (size_t i = 1; i < members.size(); ++i) {
      if (members[i].first == members[i - 1].first) {
        return members[i].second->error("repeated key \"" + members[i].first + "\"");
      }
    }
    out_ += '{';
    for (size_t i = 0; i < members.size(); ++i) {
      if (i) out_ += ',';
      appendJsonString(out_, members[i].first);
      out_ += ':';
      WASMGATE_RETURN_IF_ERROR(write(*members[i].second));
    }
    out_ += '}';
    return Status::ok();
  }

  std::string out_;
};

}  // namespace

Result<std::string> yamlToJson(const Field& value) {
  JsonWriter w;
  WASMGATE_RETURN_IF_ERROR(w.write(value));
  std::string json = w.take();
  if (json.size() > kMaxPluginConfigJsonBytes) {
    return value.error("larger than " + std::to_string(kMaxPluginConfigJsonBytes) +
                       " bytes as JSON");
  }
  return json;
}

Result<std::string> pluginConfigJson(const Field& pluginConfig) {
  if (pluginConfig.isNull()) return std::string();
  if (!pluginConfig.isMap()) {
    return pluginConfig.error("expected a mapping, got " + pluginConfig.describe());
  }
  if (pluginConfig.node().size() == 0) return std::string();
  return yamlToJson(pluginConfig);
}

}  // namespace wasmgate::config::detail
