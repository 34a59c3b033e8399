#include "fetch/archive.h"

#include <zlib.h>

#include <algorithm>
#include <optional>
#include <string>

namespace wasmgate::fetch {
namespace {

constexpr size_t kBlock = 512;

Status corruptTar(std::string_view why) {
  return errorStatus(StatusCode::kProtocolError, "bad tar archive: " + std::string(why));
}

// A NUL-terminated (or full-width) text field of a header block.
std::string_view field(const uint8_t* block, size_t offset, size_t width) {
  const char* p = reinterpret_cast<const char*>(block + offset);
  return std::string_view(p, std::find(p, p + width, '\0') - p);
}

// An octal number field (NUL or space terminated), or base-256 when the high bit is set.
std::optional<uint64_t> numberField(const uint8_t* block, size_t offset, size_t width) {
  const uint8_t* p = block + offset;
  uint64_t value = 0;
  if (p[0] & 0x80) {
    for (size_t i = 1; i < width; ++i) {
      if (value >> 55) return std::nullopt;
      value = (value << 8) | p[i];
    }
    return (p[0] & 0x7f) ? std::nullopt : std::optional<uint64_t>(value);
  }
  size_t i = 0;
  while (i < width && p[i] == ' ') ++i;
  for (; i < width && p[i] >= '0' && p[i] <= '7'; ++i) {
    if (value >> 60) return std::nullopt;
    value = value * 8 + (p[i] - '0');
  }
  for (; i < width; ++i) {
    if (p[i] != ' ' && p[i] != '\0') return std::nullopt;
  }
  return value;
}

bool checksumMatches(const uint8_t* block) {
  auto stored = numberField(block, 148, 8);
  if (!stored) return false;
  uint64_t sum = 0;
  for (size_t i = 0; i < kBlock; ++i) sum += (i >= 148 && i < 156) ? ' ' : block[i];
  return sum == *stored;
}

// The "path" record of a pax extended header ("<len> path=<value>\n" records), if any.
std::optional<std::string> paxPath(std::string_view records) {
  while (!records.empty()) {
    size_t space = records.find(' ');
    size_t len = 0;
    for (size_t i = 0; i < space && space != records.npos; ++i) {
      if (records[i] < '0' || records[i] > '9') return std::nullopt;
      len = len * 10 + (records[i] - '0');
      if (len > records.size()) return std::nullopt;
    }
    if (space == records.npos || len <= space + 1 || len > records.size()) return std::nullopt;
    std::string_view record = records.substr(space + 1, len - space - 2);  // minus the '\n'
    if (record.starts_with("path=")) return std::string(record.substr(5));
    records.remove_prefix(len);
  }
  return std::nullopt;
}

std::string_view baseNameOf(std::string_view path) {
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  size_t slash = path.rfind('/');
  return slash == path.npos ? path : path.substr(slash + 1);
}

bool allZero(const uint8_t* block) {
  return std::all_of(block, block + kBlock, [](uint8_t b) { return b == 0; });
}

// The entry's path: a pending GNU long name or pax path, else ustar prefix + name.
std::string entryPath(const uint8_t* block, std::optional<std::string>& pending) {
  if (pending) {
    std::string out = std::move(*pending);
    pending.reset();
    return out;
  }
  std::string name(field(block, 0, 100));
  std::string_view magic = field(block, 257, 6);
  std::string_view prefix = magic.starts_with("ustar") ? field(block, 345, 155) : "";
  return prefix.empty() ? name : std::string(prefix) + "/" + name;
}

// Inflates every gzip member of zs's input into `out`: Z_STREAM_END when all is done, Z_MEM_ERROR
// past `maxOutput`, Z_BUF_ERROR when the input ends mid-stream, another zlib code when corrupt.
int inflateAll(z_stream& zs, std::vector<uint8_t>& out, size_t maxOutput) {
  while (true) {
    if (out.size() == maxOutput) return Z_MEM_ERROR;
    size_t old = out.size();
    size_t chunk = std::min<size_t>(maxOutput - old, 256 * 1024);
    out.resize(old + chunk);
    zs.next_out = out.data() + old;
    zs.avail_out = static_cast<uInt>(chunk);
    int rc = inflate(&zs, Z_NO_FLUSH);
    out.resize(old + chunk - zs.avail_out);
    bool anotherMember =
        zs.avail_in > 0 && zs.next_in[0] == 0x1f && zs.avail_in > 1 && zs.next_in[1] == 0x8b;
    if (rc == Z_STREAM_END && anotherMember) {
      rc = inflateReset(&zs);
      if (rc != Z_OK) return rc;
      continue;
    }
    if (rc == Z_STREAM_END || (rc != Z_OK && rc != Z_BUF_ERROR)) return rc;
    if (rc == Z_BUF_ERROR && zs.avail_out != 0) return rc;  // the input ran out mid-stream
  }
}

}  // namespace

bool isGzip(std::span<const uint8_t> data) {
  return data.size() >= 2 && data[0] == 0x1f && data[1] == 0x8b;
}

bool isWasm(std::span<const uint8_t> data) {
  return data.size() >= 4 && data[0] == 0 && data[1] == 'a' && data[2] == 's' && data[3] == 'm';
}

Result<std::vector<uint8_t>> gunzip(std::span<const uint8_t> data, size_t maxOutput) {
  z_stream zs{};
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) {
    return errorStatus(StatusCode::kInternal, "zlib: inflateInit2 failed");
  }
  zs.next_in = const_cast<Bytef*>(data.data());
  zs.avail_in = static_cast<uInt>(data.size());
  std::vector<uint8_t> out;
  int rc = inflateAll(zs, out, maxOutput);
  inflateEnd(&zs);
  if (rc == Z_STREAM_END) return out;
  if (rc == Z_MEM_ERROR) {
    return errorStatus(StatusCode::kProtocolError,
                       "gzip data expands past " + std::to_string(maxOutput) + " bytes");
  }
  return errorStatus(StatusCode::kProtocolError, rc == Z_BUF_ERROR || rc == Z_OK
                                                     ? "gzip data is truncated"
                                                     : "gzip data is corrupt");
}

Result<std::vector<uint8_t>> extractTarFile(std::span<const uint8_t> tar,
                                            std::string_view baseName) {
  std::optional<std::string> pendingPath;
  size_t offset = 0;
  while (offset + kBlock <= tar.size()) {
    const uint8_t* block = tar.data() + offset;
    if (allZero(block)) break;  // end-of-archive marker
    if (!checksumMatches(block))
      return corruptTar("header checksum mismatch at offset " + std::to_string(offset));
    auto size = numberField(block, 124, 12);
    if (!size) return corruptTar("bad size field at offset " + std::to_string(offset));
    size_t dataStart = offset + kBlock;
    if (*size > tar.size() - dataStart) return corruptTar("entry runs past the end of the archive");
    std::string_view data(reinterpret_cast<const char*>(tar.data() + dataStart), *size);
    char type = static_cast<char>(block[156]);
    if (type == 'L') {
      pendingPath = std::string(data.substr(0, data.find('\0')));
    } else if (type == 'x') {
      if (auto path = paxPath(data)) pendingPath = std::move(path);
    } else if (type == 'g') {
      // global pax header: nothing we need
    } else {
      std::string path = entryPath(block, pendingPath);
      bool regular = type == '0' || type == '\0' || type == '7';
      if (regular && baseNameOf(path) == baseName) {
        return std::vector<uint8_t>(tar.begin() + dataStart, tar.begin() + dataStart + *size);
      }
    }
    offset = dataStart + (*size + kBlock - 1) / kBlock * kBlock;
  }
  return errorStatus(StatusCode::kNotFound, "no " + std::string(baseName) + " in the tar archive");
}

}  // namespace wasmgate::fetch
