#include "abi/pairs.h"

#include <algorithm>
#include <array>
#include <cstring>

#include "abi/limits.h"

namespace wasmgate::abi {
namespace {

// RFC 9110 5.6.2 tchar: letters, digits and !#$%&'*+-.^_`|~, as a table (one look-up a byte).
constexpr std::array<bool, 256> kTokenChar = [] {
  std::array<bool, 256> table{};
  for (int c = 'a'; c <= 'z'; ++c) table[c] = true;
  for (int c = 'A'; c <= 'Z'; ++c) table[c] = true;
  for (int c = '0'; c <= '9'; ++c) table[c] = true;
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) table[static_cast<unsigned char>(c)] = true;
  return table;
}();

void putU32(std::string& out, uint32_t v) {
  char bytes[4];
  std::memcpy(bytes, &v, 4);
  out.append(bytes, 4);
}

uint32_t getU32(std::string_view bytes, size_t offset) {
  uint32_t v;
  std::memcpy(&v, bytes.data() + offset, 4);
  return v;
}

bool sameName(std::string_view stored, std::string_view name) {
  return stored.size() == name.size() &&
         std::equal(stored.begin(), stored.end(), name.begin(), [](char a, char b) {
           return a == (b >= 'A' && b <= 'Z' ? static_cast<char>(b + 32) : b);
         });
}

}  // namespace

std::string serializePairs(const Headers& pairs) {
  std::string out;
  size_t size = 4 + pairs.size() * 8;
  for (const auto& [k, v] : pairs) size += k.size() + v.size() + 2;
  out.reserve(size);
  putU32(out, static_cast<uint32_t>(pairs.size()));
  for (const auto& [k, v] : pairs) {
    putU32(out, static_cast<uint32_t>(k.size()));
    putU32(out, static_cast<uint32_t>(v.size()));
  }
  for (const auto& [k, v] : pairs) {
    out.append(k).push_back('\0');
    out.append(v).push_back('\0');
  }
  return out;
}

std::optional<Headers> parsePairs(std::string_view bytes) {
  if (bytes.empty()) return Headers{};
  if (bytes.size() < 4 || bytes.size() > kMaxSerializedPairsBytes) return std::nullopt;
  uint32_t count = getU32(bytes, 0);
  if (count > kMaxSerializedPairs) return std::nullopt;
  size_t dataOffset = 4 + static_cast<size_t>(count) * 8;
  if (dataOffset > bytes.size()) return std::nullopt;
  Headers out;
  out.reserve(count);
  size_t pos = dataOffset;
  for (uint32_t i = 0; i < count; ++i) {
    size_t keyLen = getU32(bytes, 4 + i * 8);
    size_t valueLen = getU32(bytes, 8 + i * 8);
    if (keyLen + valueLen + 2 > bytes.size() - pos) return std::nullopt;
    if (bytes[pos + keyLen] != '\0' || bytes[pos + keyLen + 1 + valueLen] != '\0')
      return std::nullopt;
    out.emplace_back(std::string(bytes.substr(pos, keyLen)),
                     std::string(bytes.substr(pos + keyLen + 1, valueLen)));
    pos += keyLen + valueLen + 2;
  }
  if (pos != bytes.size()) return std::nullopt;
  return out;
}

bool validHeaderName(std::string_view name) {
  if (!name.empty() && name[0] == ':') name.remove_prefix(1);
  if (name.empty()) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return kTokenChar[static_cast<unsigned char>(c)]; });
}

bool validHeaderValue(std::string_view value) {
  return std::none_of(value.begin(), value.end(),
                      [](char c) { return c == '\r' || c == '\n' || c == '\0'; });
}

bool validHeaders(const Headers& headers) {
  return std::all_of(headers.begin(), headers.end(), [](const auto& h) {
    return validHeaderName(h.first) && validHeaderValue(h.second);
  });
}

std::string lowercase(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
  }
  return out;
}

const std::string* findHeader(const Headers& headers, std::string_view name) {
  for (const auto& [k, v] : headers) {
    if (sameName(k, name)) return &v;
  }
  return nullptr;
}

void addHeader(Headers& headers, std::string_view name, std::string_view value) {
  headers.emplace_back(lowercase(name), std::string(value));
}

void replaceHeader(Headers& headers, std::string_view name, std::string_view value) {
  auto first = std::find_if(headers.begin(), headers.end(),
                            [&](const auto& h) { return sameName(h.first, name); });
  if (first == headers.end()) {
    addHeader(headers, name, value);
    return;
  }
  first->second = std::string(value);
  headers.erase(std::remove_if(first + 1, headers.end(),
                               [&](const auto& h) { return sameName(h.first, name); }),
                headers.end());
}

void removeHeader(Headers& headers, std::string_view name) {
  headers.erase(std::remove_if(headers.begin(), headers.end(),
                               [&](const auto& h) { return sameName(h.first, name); }),
                headers.end());
}

uint32_t headersByteSize(const Headers& headers) {
  size_t size = 0;
  for (const auto& [k, v] : headers) size += k.size() + v.size();
  return static_cast<uint32_t>(std::min<size_t>(size, UINT32_MAX));
}

}  // namespace wasmgate::abi
