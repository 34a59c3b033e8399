#include "fetch/digest.h"

#include <algorithm>
#include <cctype>

#include "common/sha256.h"

namespace wasmgate::fetch {

std::string sha256Hex(std::span<const uint8_t> bytes) {
  return wasmgate::sha256Hex(bytes);
}

std::string sha256Hex(std::string_view bytes) {
  return sha256Hex(std::span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
}

bool isSha256Hex(std::string_view text) {
  return text.size() == 64 &&
         std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isxdigit(c); });
}

std::optional<std::string> normalizeSha256(std::string_view text) {
  if (text.empty()) return std::string();
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower.starts_with("sha256:")) lower.erase(0, 7);
  if (!isSha256Hex(lower)) return std::nullopt;
  return lower;
}

std::optional<std::string> ociDigestHex(std::string_view digest) {
  if (!digest.starts_with("sha256:")) return std::nullopt;
  std::string_view hex = digest.substr(7);
  if (!isSha256Hex(hex)) return std::nullopt;
  std::string out(hex);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

}  // namespace wasmgate::fetch
