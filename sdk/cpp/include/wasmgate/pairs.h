// The Proxy-Wasm serialized header map ("pairs") format:
//
//   u32 N | N x (u32 key_len, u32 value_len) | N x (key bytes, 0x00, value bytes, 0x00)
//
// all little-endian, no padding. Used for header maps, local-response headers, callout
// headers and metadata, and map/list properties. Plain header, no Wasm imports.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace wasmgate {

using HeaderView = std::pair<std::string_view, std::string_view>;
using HeaderViews = std::vector<HeaderView>;
using HeaderPairs = std::vector<std::pair<std::string, std::string>>;

namespace detail {

inline void putU32(char* out, uint32_t v) {
  const unsigned char b[4] = {static_cast<unsigned char>(v), static_cast<unsigned char>(v >> 8),
                              static_cast<unsigned char>(v >> 16),
                              static_cast<unsigned char>(v >> 24)};
  std::memcpy(out, b, 4);
}

inline uint32_t getU32(const char* in) {
  unsigned char b[4];
  std::memcpy(b, in, 4);
  return static_cast<uint32_t>(b[0]) | static_cast<uint32_t>(b[1]) << 8 |
         static_cast<uint32_t>(b[2]) << 16 | static_cast<uint32_t>(b[3]) << 24;
}

}  // namespace detail

// Serializes any range of pairs whose members convert to std::string_view
// (HeaderViews, HeaderPairs, std::map<std::string, std::string>, ...).
// An empty range gives a 4-byte count of zero.
template <class Range>
std::string serializePairs(const Range& pairs) {
  size_t count = 0;
  size_t size = 4;
  for (const auto& [key, value] : pairs) {
    size += 8 + std::string_view(key).size() + std::string_view(value).size() + 2;
    ++count;
  }
  std::string out(size, '\0');
  char* p = out.data();
  detail::putU32(p, static_cast<uint32_t>(count));
  char* sizes = p + 4;
  char* data = sizes + 8 * count;
  for (const auto& [key, value] : pairs) {
    const std::string_view k(key), v(value);
    detail::putU32(sizes, static_cast<uint32_t>(k.size()));
    detail::putU32(sizes + 4, static_cast<uint32_t>(v.size()));
    sizes += 8;
    std::memcpy(data, k.data(), k.size());
    data += k.size() + 1;  // the NUL is already there
    std::memcpy(data, v.data(), v.size());
    data += v.size() + 1;
  }
  return out;
}

inline std::string serializePairs(std::initializer_list<HeaderView> pairs) {
  return serializePairs<std::initializer_list<HeaderView>>(pairs);
}

// Parses a serialized map into views pointing into `data` (which must outlive them).
// Zero bytes is an empty map. Returns false, leaving `out` empty, on a truncated table,
// a length running past the end, a missing NUL terminator or trailing bytes.
inline bool parsePairs(std::string_view data, HeaderViews& out) {
  out.clear();
  if (data.empty()) return true;
  if (data.size() < 4) return false;
  const uint32_t count = detail::getU32(data.data());
  // Each pair needs at least 8 bytes of size table and 2 NULs.
  if (count > (data.size() - 4) / 10) return false;
  const char* sizes = data.data() + 4;
  size_t pos = 4 + size_t{8} * count;
  out.reserve(count);
  for (uint32_t i = 0; i < count; ++i) {
    const size_t key_len = detail::getU32(sizes + 8 * i);
    const size_t value_len = detail::getU32(sizes + 8 * i + 4);
    if (key_len >= data.size() - pos) break;  // key plus its NUL must fit
    const std::string_view key = data.substr(pos, key_len);
    pos += key_len;
    if (data[pos] != '\0') break;
    ++pos;
    if (value_len >= data.size() - pos) break;
    const std::string_view value = data.substr(pos, value_len);
    pos += value_len;
    if (data[pos] != '\0') break;
    ++pos;
    out.emplace_back(key, value);
  }
  if (out.size() != count || pos != data.size()) {
    out.clear();
    return false;
  }
  return true;
}

// Convenience: parses and copies into owning strings. Returns false on malformed input.
inline bool parsePairs(std::string_view data, HeaderPairs& out) {
  out.clear();
  HeaderViews views;
  if (!parsePairs(data, views)) return false;
  out.reserve(views.size());
  for (const auto& [k, v] : views) out.emplace_back(std::string(k), std::string(v));
  return true;
}

// First value of `key` in `pairs` (exact match: hosts lowercase header names), if any.
inline std::optional<std::string_view> findPair(const HeaderViews& pairs, std::string_view key) {
  for (const auto& [k, v] : pairs) {
    if (k == key) return v;
  }
  return std::nullopt;
}

}  // namespace wasmgate
