// A small std::format-like formatter. clang-14's libc++ has no usable <format>, so the SDK
// ships this one. Plain header, no Wasm imports.
//
//   wasmgate::format("{} took {} ms", name, 12)   -> "GET took 12 ms"
//   wasmgate::format("{1} before {0}", "a", "b")  -> "b before a"
//   wasmgate::format("{{literal}} {:x}", 255)     -> "{literal} ff"
//
// Placeholders: "{}" (next argument), "{N}" (argument N), with an optional ":x" (hex for
// integers). "{{" and "}}" are literal braces. Arguments: anything convertible to
// std::string_view, integers, enums (their value), bool ("true"/"false"), char,
// double/float (at most 6 decimals; scientific for very large or small magnitudes), and
// pointers (hex). A placeholder without a matching argument is written as-is.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <type_traits>

namespace wasmgate {

namespace detail {

struct FormatArg {
  enum class Kind { String, Signed, Unsigned, Double, Bool, Char, Pointer };
  Kind kind;
  std::string_view str;
  int64_t i = 0;
  uint64_t u = 0;
  double d = 0;
};

template <class T>
FormatArg makeFormatArg(const T& v) {
  using U = std::remove_cvref_t<T>;
  FormatArg a{FormatArg::Kind::String, {}};
  if constexpr (std::is_same_v<U, bool>) {
    a.kind = FormatArg::Kind::Bool;
    a.u = v ? 1 : 0;
  } else if constexpr (std::is_same_v<U, char>) {
    a.kind = FormatArg::Kind::Char;
    a.u = static_cast<unsigned char>(v);
  } else if constexpr (std::is_enum_v<U>) {
    a.kind = FormatArg::Kind::Signed;
    a.i = static_cast<int64_t>(v);
  } else if constexpr (std::is_integral_v<U> && std::is_signed_v<U>) {
    a.kind = FormatArg::Kind::Signed;
    a.i = v;
  } else if constexpr (std::is_integral_v<U>) {
    a.kind = FormatArg::Kind::Unsigned;
    a.u = v;
  } else if constexpr (std::is_floating_point_v<U>) {
    a.kind = FormatArg::Kind::Double;
    a.d = static_cast<double>(v);
  } else if constexpr (std::is_same_v<U, const char*> || std::is_same_v<U, char*>) {
    a.str = v != nullptr ? std::string_view(v) : std::string_view("(null)");
  } else if constexpr (std::is_convertible_v<const U&, std::string_view>) {
    a.str = std::string_view(v);
  } else if constexpr (std::is_pointer_v<U>) {
    a.kind = FormatArg::Kind::Pointer;
    a.u = reinterpret_cast<uintptr_t>(v);
  } else {
    static_assert(sizeof(U) == 0, "wasmgate::format: unsupported argument type");
  }
  return a;
}

inline void appendUnsigned(std::string& out, uint64_t v, unsigned base = 10) {
  char buf[24];
  size_t n = 0;
  do {
    const unsigned digit = static_cast<unsigned>(v % base);
    buf[n++] = static_cast<char>(digit < 10 ? '0' + digit : 'a' + digit - 10);
    v /= base;
  } while (v != 0);
  while (n > 0) out += buf[--n];
}

inline void appendSigned(std::string& out, int64_t v, unsigned base = 10) {
  if (v < 0) {
    out += '-';
    appendUnsigned(out, 0 - static_cast<uint64_t>(v), base);
  } else {
    appendUnsigned(out, static_cast<uint64_t>(v), base);
  }
}

// `v` >= 0 in fixed notation with up to 6 decimals, trailing zeros trimmed.
inline void appendFixed(std::string& out, double v) {
  auto whole = static_cast<uint64_t>(v);
  auto frac = static_cast<uint64_t>((v - static_cast<double>(whole)) * 1e6 + 0.5);
  if (frac >= 1000000) {
    ++whole;
    frac -= 1000000;
  }
  appendUnsigned(out, whole);
  if (frac == 0) return;
  char digits[6];
  for (int i = 5; i >= 0; --i) {
    digits[i] = static_cast<char>('0' + frac % 10);
    frac /= 10;
  }
  size_t len = 6;
  while (len > 0 && digits[len - 1] == '0') --len;
  out += '.';
  out.append(digits, len);
}

// Like %g, roughly: "1.5", "0.001", "3", and scientific ("1.5e20", "2e-7") for magnitudes
// from 1e15 up or below 1e-4. Good for logs, not for round-tripping.
inline void appendDouble(std::string& out, double v) {
  if (v != v) {
    out += "nan";
    return;
  }
  if (v < 0) {
    out += '-';
    v = -v;
  }
  if (v > std::numeric_limits<double>::max()) {
    out += "inf";
    return;
  }
  if (v == 0 || (v >= 1e-4 && v < 1e15)) {
    appendFixed(out, v);
    return;
  }
  int exp10 = 0;
  while (v >= 10) {
    v /= 10;
    ++exp10;
  }
  while (v < 1) {
    v *= 10;
    --exp10;
  }
  if (v >= 9.9999995) {  // would round up to "10"
    v /= 10;
    ++exp10;
  }
  appendFixed(out, v);
  out += 'e';
  appendSigned(out, exp10);
}

inline void appendArg(std::string& out, const FormatArg& a, bool hex) {
  const unsigned base = hex ? 16 : 10;
  switch (a.kind) {
    case FormatArg::Kind::String:
      out += a.str;
      break;
    case FormatArg::Kind::Signed:
      appendSigned(out, a.i, base);
      break;
    case FormatArg::Kind::Unsigned:
      appendUnsigned(out, a.u, base);
      break;
    case FormatArg::Kind::Double:
      appendDouble(out, a.d);
      break;
    case FormatArg::Kind::Bool:
      out += a.u ? "true" : "false";
      break;
    case FormatArg::Kind::Char:
      out += static_cast<char>(a.u);
      break;
    case FormatArg::Kind::Pointer:
      out += "0x";
      appendUnsigned(out, a.u, 16);
      break;
  }
}

// Formats `fmt` with `count` arguments; the non-template core of format().
inline std::string vformat(std::string_view fmt, const FormatArg* args, size_t count) {
  std::string out;
  out.reserve(fmt.size() + 16 * count);
  size_t next = 0;
  for (size_t i = 0; i < fmt.size(); ++i) {
    const char c = fmt[i];
    if (c == '}' && i + 1 < fmt.size() && fmt[i + 1] == '}') {
      out += '}';
      ++i;
      continue;
    }
    if (c != '{') {
      out += c;
      continue;
    }
    if (i + 1 < fmt.size() && fmt[i + 1] == '{') {
      out += '{';
      ++i;
      continue;
    }
    const size_t close = fmt.find('}', i);
    if (close == std::string_view::npos) {
      out += fmt.substr(i);
      break;
    }
    const std::string_view spec = fmt.substr(i + 1, close - i - 1);
    const size_t colon = spec.find(':');
    const std::string_view index_text = spec.substr(0, colon);
    const bool hex = colon != std::string_view::npos && spec.substr(colon + 1) == "x";
    size_t index = next;
    bool valid = true;
    if (index_text.empty()) {
      ++next;
    } else {
      index = 0;
      for (char d : index_text) {
        if (d < '0' || d > '9') valid = false;
        index = index * 10 + static_cast<size_t>(d - '0');
      }
    }
    if (valid && index < count) {
      appendArg(out, args[index], hex);
    } else {
      out += fmt.substr(i, close - i + 1);
    }
    i = close;
  }
  return out;
}

}  // namespace detail

template <class... Args>
std::string format(std::string_view fmt, const Args&... args) {
  if constexpr (sizeof...(Args) == 0) {
    return detail::vformat(fmt, nullptr, 0);
  } else {
    const detail::FormatArg list[] = {detail::makeFormatArg(args)...};
    return detail::vformat(fmt, list, sizeof...(Args));
  }
}

}  // namespace wasmgate
