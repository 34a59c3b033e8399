// Helpers for the fetch tests: a temporary folder, tar and gzip builders.
#pragma once

#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

namespace wasmgate::fetch::testing {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "wasmgate-fetch-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data()) ? tmpl : std::string();
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline std::vector<uint8_t> bytesOf(const std::string& s) {
  return {s.begin(), s.end()};
}
inline std::string textOf(const std::vector<uint8_t>& v) {
  return {v.begin(), v.end()};
}

// A small fake Wasm module: the magic, the version and some payload.
inline std::string fakeWasm(const std::string& payload) {
  return std::string("\0asm\1\0\0\0", 8) + payload;
}

// One ustar header block for `name` (`type` '0' file, 'L' GNU long name, 'x' pax, '5' dir).
inline std::string tarHeader(const std::string& name, size_t size, char type = '0',
                             const std::string& prefix = "") {
  std::string h(512, '\0');
  std::memcpy(h.data(), name.data(), std::min<size_t>(name.size(), 100));
  std::snprintf(h.data() + 100, 8, "%07o", 0644);
  std::snprintf(h.data() + 108, 8, "%07o", 0);
  std::snprintf(h.data() + 116, 8, "%07o", 0);
  std::snprintf(h.data() + 124, 12, "%011zo", size);
  std::snprintf(h.data() + 136, 12, "%011o", 0);
  h[156] = type;
  std::memcpy(h.data() + 257,
              "ustar\0"
              "00",
              8);
  std::memcpy(h.data() + 345, prefix.data(), std::min<size_t>(prefix.size(), 155));
  std::memset(h.data() + 148, ' ', 8);
  unsigned sum = 0;
  for (unsigned char c : h) sum += c;
  std::snprintf(h.data() + 148, 8, "%06o", sum);
  return h;
}

// An entry: header plus data padded to 512 bytes.
inline std::string tarEntry(const std::string& name, const std::string& data, char type = '0',
                            const std::string& prefix = "") {
  std::string out = tarHeader(name, data.size(), type, prefix) + data;
  out.append((512 - data.size() % 512) % 512, '\0');
  return out;
}

inline std::string tarEnd() {
  return std::string(1024, '\0');
}

inline std::string gzipOf(const std::string& data) {
  z_stream zs{};
  deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&zs, data.size()) + 64, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

}  // namespace wasmgate::fetch::testing
