// Internal to src/proxy/http1: character classes of RFC 9110/9112, a bounds-checked reader and the
// step type the parsers return. Every step either advances, reports "incomplete" only when it ran
// out of input, or names an error; so a prefix of a message never yields an error the whole
// message would not.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "proxy/http1/message.h"

namespace wasmgate::proxy::http1::syntax {

enum CharClass : uint8_t {
  kTchar = 1 << 0,       // token characters
  kVchar = 1 << 1,       // visible ASCII, 0x21..0x7e
  kObsText = 1 << 2,     // 0x80..0xff
  kOws = 1 << 3,         // SP and HTAB
  kHexDigit = 1 << 4,    // 0-9 A-F a-f
  kDigit = 1 << 5,       // 0-9
  kTargetChar = 1 << 6,  // request-target: visible ASCII except '#'
  kAlpha = 1 << 7,       // A-Z a-z
};

constexpr std::array<uint8_t, 256> makeCharTable() {
  std::array<uint8_t, 256> t{};
  constexpr std::string_view kTokenPunct = "!#$%&'*+-.^_`|~";
  for (int c = 0; c < 256; ++c) {
    bool digit = c >= '0' && c <= '9';
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    bool vchar = c >= 0x21 && c <= 0x7e;
    uint8_t v = 0;
    if (digit || alpha || kTokenPunct.find(static_cast<char>(c)) != std::string_view::npos) {
      v |= kTchar;
    }
    if (vchar) v |= kVchar;
    if (vchar && c != '#') v |= kTargetChar;
    if (c >= 0x80) v |= kObsText;
    if (c == ' ' || c == '\t') v |= kOws;
    if (digit || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')) v |= kHexDigit;
    if (digit) v |= kDigit;
    if (alpha) v |= kAlpha;
    t[static_cast<size_t>(c)] = v;
  }
  return t;
}
inline constexpr std::array<uint8_t, 256> kCharTable = makeCharTable();

constexpr bool is(unsigned char c, uint8_t classes) {
  return (kCharTable[c] & classes) != 0;
}
constexpr bool isTchar(unsigned char c) {
  return is(c, kTchar);
}
constexpr bool isOws(unsigned char c) {
  return is(c, kOws);
}
constexpr bool isDigit(unsigned char c) {
  return is(c, kDigit);
}
constexpr bool isHexDigit(unsigned char c) {
  return is(c, kHexDigit);
}
constexpr bool isAlpha(unsigned char c) {
  return is(c, kAlpha);
}
constexpr bool isTargetChar(unsigned char c) {
  return is(c, kTargetChar);
}
// field-value, reason-phrase and quoted-pair characters: VCHAR, obs-text, SP, HTAB.
constexpr bool isTextChar(unsigned char c) {
  return is(c, kVchar | kObsText | kOws);
}

constexpr int hexValue(unsigned char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return c - 'A' + 10;
}

constexpr char toLower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
}

constexpr bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (toLower(a[i]) != toLower(b[i])) return false;
  }
  return true;
}

constexpr std::string_view trimOws(std::string_view s) {
  while (!s.empty() && isOws(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && isOws(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// Calls fn(element) for each non-empty element of a comma-separated list (RFC 9110 5.6.1),
// trimmed of OWS. Stops early, returning false, when fn returns false.
template <typename Fn>
constexpr bool forEachListElement(std::string_view list, Fn&& fn) {
  while (true) {
    size_t comma = list.find(',');
    std::string_view element = trimOws(list.substr(0, comma));
    if (!element.empty() && !fn(element)) return false;
    if (comma == std::string_view::npos) return true;
    list.remove_prefix(comma + 1);
  }
}

// Reads forward through a buffer; never past its end.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}

  bool atEnd() const { return pos_ >= in_.size(); }
  unsigned char peek() const { return static_cast<unsigned char>(in_[pos_]); }  // !atEnd()
  size_t pos() const { return pos_; }
  void advance() { ++pos_; }
  void seek(size_t pos) { pos_ = pos; }

  template <typename Pred>
  std::string_view takeWhile(Pred pred) {
    size_t start = pos_;
    while (pos_ < in_.size() && pred(static_cast<unsigned char>(in_[pos_]))) ++pos_;
    return in_.substr(start, pos_ - start);
  }

 private:
  std::string_view in_;
  size_t pos_ = 0;
};

// The outcome of one parsing step.
struct Step {
  ParseStatus status = ParseStatus::kComplete;
  ParseError error = ParseError::kNone;

  bool ok() const { return status == ParseStatus::kComplete; }
};
inline constexpr Step kOk{};
inline constexpr Step kMore{ParseStatus::kIncomplete, ParseError::kNone};
constexpr Step fail(ParseError error) {
  return {ParseStatus::kError, error};
}

// The error for an unexpected byte: a bare LF is always called so, anything else is `other`.
constexpr ParseError unexpected(unsigned char c, ParseError other) {
  return c == '\n' ? ParseError::kBareLf : other;
}

// CRLF at the reader. `other` names the error when the next byte is neither CR nor LF.
inline Step expectCrlf(Reader& r, ParseError other) {
  if (r.atEnd()) return kMore;
  if (r.peek() != '\r') return fail(unexpected(r.peek(), other));
  r.advance();
  if (r.atEnd()) return kMore;
  if (r.peek() != '\n') return fail(ParseError::kBareCr);
  r.advance();
  return kOk;
}

}  // namespace wasmgate::proxy::http1::syntax
