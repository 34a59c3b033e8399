// A small JSON reader for plugin configuration: objects, arrays, strings, numbers, booleans
// and null (RFC 8259). No exceptions, no iostreams, no Wasm imports: usable natively.
//
//   std::string error;
//   auto doc = wasmgate::json::parse(text, &error);
//   if (!doc) { logError("bad config: {}", error); return false; }
//   std::string_view name = (*doc)["name"].asString("default");
//   for (const auto& m : (*doc)["headers"].members()) use(m.key, m.value.asString());
//
// Missing members and out-of-range indexes yield a shared null value, so lookups chain.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace wasmgate::json {

enum class Type { Null, Bool, Number, String, Array, Object };

struct Member;

class Value {
 public:
  // Special members are defined below, once Member is complete.
  Value();
  Value(const Value&);
  Value(Value&&) noexcept;
  Value& operator=(const Value&);
  Value& operator=(Value&&) noexcept;
  ~Value();

  static Value makeBool(bool b) {
    Value v;
    v.type_ = Type::Bool;
    v.bool_ = b;
    return v;
  }
  static Value makeNumber(double d, std::optional<int64_t> exact = std::nullopt) {
    Value v;
    v.type_ = Type::Number;
    v.number_ = d;
    v.is_int_ = exact.has_value();
    if (exact) {
      v.int_ = *exact;
    } else if (d >= 9.2e18 || d <= -9.2e18 || d != d) {
      v.int_ = d > 0 ? INT64_MAX : INT64_MIN;  // NaN cannot come from the parser
    } else {
      v.int_ = static_cast<int64_t>(d);
    }
    return v;
  }
  static Value makeString(std::string s) {
    Value v;
    v.type_ = Type::String;
    v.string_ = std::move(s);
    return v;
  }
  static Value makeArray() {
    Value v;
    v.type_ = Type::Array;
    return v;
  }
  static Value makeObject() {
    Value v;
    v.type_ = Type::Object;
    return v;
  }

  Type type() const { return type_; }
  bool isNull() const { return type_ == Type::Null; }
  bool isBool() const { return type_ == Type::Bool; }
  bool isNumber() const { return type_ == Type::Number; }
  // A number written without fraction or exponent that fits in int64.
  bool isInt() const { return type_ == Type::Number && is_int_; }
  bool isString() const { return type_ == Type::String; }
  bool isArray() const { return type_ == Type::Array; }
  bool isObject() const { return type_ == Type::Object; }

  // Typed reads; the fallback is returned when the value has another type.
  bool asBool(bool fallback = false) const { return isBool() ? bool_ : fallback; }
  double asNumber(double fallback = 0) const { return isNumber() ? number_ : fallback; }
  int64_t asInt(int64_t fallback = 0) const { return isNumber() ? int_ : fallback; }
  std::string_view asString(std::string_view fallback = {}) const {
    return isString() ? std::string_view(string_) : fallback;
  }

  // Array elements (empty unless an array) and object members in document order
  // (empty unless an object).
  const std::vector<Value>& items() const { return items_; }
  const std::vector<Member>& members() const { return members_; }
  // Number of elements or members; 0 for scalars.
  size_t size() const;

  // Object member by key (the last one if repeated), or nullptr.
  const Value* find(std::string_view key) const;
  bool has(std::string_view key) const { return find(key) != nullptr; }
  const Value& operator[](std::string_view key) const;
  const Value& operator[](size_t index) const;

  // Builders, used by the parser.
  void append(Value v) { items_.push_back(std::move(v)); }
  void set(std::string key, Value v);

 private:
  static const Value& null();

  Type type_ = Type::Null;
  bool bool_ = false;
  bool is_int_ = false;
  double number_ = 0;
  int64_t int_ = 0;
  std::string string_;
  std::vector<Value> items_;
  std::vector<Member> members_;
};

struct Member {
  std::string key;
  Value value;
};

inline Value::Value() = default;
inline Value::Value(const Value&) = default;
inline Value::Value(Value&&) noexcept = default;
inline Value& Value::operator=(const Value&) = default;
inline Value& Value::operator=(Value&&) noexcept = default;
inline Value::~Value() = default;

inline size_t Value::size() const {
  if (type_ == Type::Array) return items_.size();
  if (type_ == Type::Object) return members_.size();
  return 0;
}

inline const Value& Value::null() {
  static const Value kNull;
  return kNull;
}

inline const Value* Value::find(std::string_view key) const {
  for (auto it = members_.rbegin(); it != members_.rend(); ++it) {
    if (it->key == key) return &it->value;
  }
  return nullptr;
}

inline const Value& Value::operator[](std::string_view key) const {
  const Value* v = find(key);
  return v != nullptr ? *v : null();
}

inline const Value& Value::operator[](size_t index) const {
  return index < items_.size() ? items_[index] : null();
}

inline void Value::set(std::string key, Value v) {
  members_.push_back(Member{std::move(key), std::move(v)});
}

namespace detail {

constexpr int kMaxDepth = 64;

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  std::optional<Value> parseDocument(std::string* error) {
    Value v;
    skipSpace();
    if (parseValue(v, 0)) {
      skipSpace();
      if (pos_ == text_.size()) return v;
      fail("unexpected trailing characters");
    }
    if (error != nullptr) {
      *error = message_;
      *error += " at offset ";
      appendDecimal(*error, pos_);
    }
    return std::nullopt;
  }

 private:
  static void appendDecimal(std::string& s, size_t v) {
    char buf[24];
    size_t n = 0;
    do {
      buf[n++] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v != 0);
    while (n > 0) s += buf[--n];
  }

  bool fail(const char* message) {
    if (message_.empty()) message_ = message;
    return false;
  }
  bool atEnd() const { return pos_ >= text_.size(); }
  char peek() const { return atEnd() ? '\0' : text_[pos_]; }
  void skipSpace() {
    while (!atEnd() && (peek() == ' ' || peek() == '\t' || peek() == '\n' || peek() == '\r')) {
      ++pos_;
    }
  }
  bool consume(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  bool parseValue(Value& out, int depth) {
    if (depth > kMaxDepth) return fail("nesting too deep");
    switch (peek()) {
      case '{':
        return parseObject(out, depth);
      case '[':
        return parseArray(out, depth);
      case '"': {
        std::string s;
        if (!parseString(s)) return false;
        out = Value::makeString(std::move(s));
        return true;
      }
      case 't':
        if (!consume("true")) return fail("invalid literal");
        out = Value::makeBool(true);
        return true;
      case 'f':
        if (!consume("false")) return fail("invalid literal");
        out = Value::makeBool(false);
        return true;
      case 'n':
        if (!consume("null")) return fail("invalid literal");
        out = Value();
        return true;
      default:
        if (peek() == '-' || (peek() >= '0' && peek() <= '9')) return parseNumber(out);
        return fail(atEnd() ? "unexpected end of input" : "unexpected character");
    }
  }

  bool parseObject(Value& out, int depth) {
    ++pos_;  // '{'
    out = Value::makeObject();
    skipSpace();
    if (peek() == '}') {
      ++pos_;
      return true;
    }
    while (true) {
      skipSpace();
      if (peek() != '"') return fail("expected a string key");
      std::string key;
      if (!parseString(key)) return false;
      skipSpace();
      if (peek() != ':') return fail("expected ':'");
      ++pos_;
      skipSpace();
      Value v;
      if (!parseValue(v, depth + 1)) return false;
      out.set(std::move(key), std::move(v));
      skipSpace();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() == '}') {
        ++pos_;
        return true;
      }
      return fail("expected ',' or '}'");
    }
  }

  bool parseArray(Value& out, int depth) {
    ++pos_;  // '['
    out = Value::makeArray();
    skipSpace();
    if (peek() == ']') {
      ++pos_;
      return true;
    }
    while (true) {
      skipSpace();
      Value v;
      if (!parseValue(v, depth + 1)) return false;
      out.append(std::move(v));
      skipSpace();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() == ']') {
        ++pos_;
        return true;
      }
      return fail("expected ',' or ']'");
    }
  }

  static int hexDigit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  bool parseHex4(uint32_t& out) {
    if (text_.size() - pos_ < 4) return fail("truncated \\u escape");
    out = 0;
    for (int i = 0; i < 4; ++i) {
      const int d = hexDigit(text_[pos_ + i]);
      if (d < 0) return fail("invalid \\u escape");
      out = out * 16 + static_cast<uint32_t>(d);
    }
    pos_ += 4;
    return true;
  }

  static void appendUtf8(std::string& s, uint32_t cp) {
    if (cp < 0x80) {
      s += static_cast<char>(cp);
    } else if (cp < 0x800) {
      s += static_cast<char>(0xC0 | (cp >> 6));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      s += static_cast<char>(0xE0 | (cp >> 12));
      s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      s += static_cast<char>(0xF0 | (cp >> 18));
      s += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  bool parseUnicodeEscape(std::string& out) {
    uint32_t cp = 0;
    if (!parseHex4(cp)) return false;
    if (cp >= 0xD800 && cp <= 0xDBFF) {  // high surrogate: a low one must follow
      uint32_t low = 0;
      if (!consume("\\u") || !parseHex4(low)) return fail("unpaired surrogate");
      if (low < 0xDC00 || low > 0xDFFF) return fail("unpaired surrogate");
      cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
    } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
      return fail("unpaired surrogate");
    }
    appendUtf8(out, cp);
    return true;
  }

  bool parseString(std::string& out) {
    ++pos_;  // opening quote
    while (true) {
      if (atEnd()) return fail("unterminated string");
      const char c = text_[pos_++];
      if (c == '"') return true;
      if (static_cast<unsigned char>(c) < 0x20) return fail("control character in string");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (atEnd()) return fail("unterminated string");
      switch (text_[pos_++]) {
        case '"':
          out += '"';
          break;
        case '\\':
          out += '\\';
          break;
        case '/':
          out += '/';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u':
          if (!parseUnicodeEscape(out)) return false;
          break;
        default:
          return fail("invalid escape");
      }
    }
  }

  bool digits(uint64_t& mantissa, int& dropped, bool& any) {
    any = false;
    while (!atEnd() && peek() >= '0' && peek() <= '9') {
      any = true;
      if (mantissa < (UINT64_MAX - 9) / 10) {
        mantissa = mantissa * 10 + static_cast<uint64_t>(peek() - '0');
      } else {
        ++dropped;  // beyond 19 digits: keep the magnitude only
      }
      ++pos_;
    }
    return any;
  }

  static double scale(double v, int exp10) {
    double p = 1;
    double base = 10;
    for (int e = exp10 < 0 ? -exp10 : exp10; e > 0; e >>= 1) {
      if (e & 1) p *= base;
      base *= base;
    }
    return exp10 < 0 ? v / p : v * p;
  }

  bool parseNumber(Value& out) {
    const bool negative = peek() == '-';
    if (negative) ++pos_;
    if (peek() == '0' && pos_ + 1 < text_.size() && text_[pos_ + 1] >= '0' &&
        text_[pos_ + 1] <= '9') {
      return fail("leading zero");
    }
    uint64_t mantissa = 0;
    int dropped = 0;
    bool any = false;
    if (!digits(mantissa, dropped, any)) return fail("invalid number");
    int exp10 = dropped;
    bool integral = dropped == 0;
    if (peek() == '.') {
      ++pos_;
      integral = false;
      const size_t start = pos_;
      int ignored = 0;
      if (!digits(mantissa, ignored, any)) return fail("invalid number");
      exp10 -= static_cast<int>(pos_ - start) - ignored;
    }
    if (peek() == 'e' || peek() == 'E') {
      ++pos_;
      integral = false;
      bool exp_negative = false;
      if (peek() == '+' || peek() == '-') exp_negative = text_[pos_++] == '-';
      int e = 0;
      if (atEnd() || peek() < '0' || peek() > '9') return fail("invalid number");
      while (!atEnd() && peek() >= '0' && peek() <= '9') {
        if (e < 100000) e = e * 10 + (peek() - '0');
        ++pos_;
      }
      exp10 += exp_negative ? -e : e;
    }
    double d = scale(static_cast<double>(mantissa), exp10);
    if (negative) d = -d;
    std::optional<int64_t> exact;
    if (integral && mantissa <= static_cast<uint64_t>(INT64_MAX)) {
      exact = negative ? -static_cast<int64_t>(mantissa) : static_cast<int64_t>(mantissa);
    }
    out = Value::makeNumber(d, exact);
    return true;
  }

  std::string_view text_;
  size_t pos_ = 0;
  std::string message_;
};

}  // namespace detail

// Parses a complete JSON document. On failure returns nullopt and, if `error` is given,
// writes a one-line reason with the byte offset ("expected ':' at offset 12").
inline std::optional<Value> parse(std::string_view text, std::string* error = nullptr) {
  return detail::Parser(text).parseDocument(error);
}

}  // namespace wasmgate::json
