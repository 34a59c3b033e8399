#include "fetch/module_fetcher.h"

#include <openssl/sha.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

namespace wasmgate::fetch {

std::string sha256Hex(std::span<const uint8_t> bytes) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(bytes.data(), bytes.size(), digest);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : digest) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
  return out;
}

void ModuleFetcher::addBuiltin(std::string name, std::span<const uint8_t> bytes) {
  builtins_[std::move(name)] = bytes;
}

Result<std::vector<uint8_t>> ModuleFetcher::fetch(const std::string& url, const std::string& sha256) const {
  std::vector<uint8_t> bytes;
  if (url.starts_with("builtin://")) {
    auto it = builtins_.find(url.substr(10));
    if (it == builtins_.end()) return errorStatus(StatusCode::kNotFound, "no built-in module " + url);
    bytes.assign(it->second.begin(), it->second.end());
  } else if (url.starts_with("http://") || url.starts_with("https://") || url.starts_with("oci://")) {
    return errorStatus(StatusCode::kBadArgument, "cannot fetch " + url + ": only file paths and file:// URLs are supported");
  } else {
    std::string path = url.starts_with("file://") ? url.substr(7) : url;
    std::ifstream in(path, std::ios::binary);
    if (!in) return errorStatus(StatusCode::kNotFound, "cannot read " + path + ": " + std::strerror(errno));
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  if (!sha256.empty()) {
    std::string actual = sha256Hex(bytes);
    if (actual != sha256) {
      return errorStatus(StatusCode::kBadArgument, "sha256 mismatch for " + url + ": expected " + sha256 + ", got " + actual);
    }
  }
  return bytes;
}

}  // namespace wasmgate::fetch
