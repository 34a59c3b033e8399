// The on-disk module cache, kept across restarts:
//   <dir>/modules/sha256/<hex>.wasm   a module, named by its sha256
//   <dir>/urls/<sha256 of URL>.ref    what a URL gave last: its module digest and, for OCI, the
//                                     image (manifest) digest
// Every file is written to a temporary name in the same folder and renamed into place, so a
// reader (another wasmgate, a crash mid-write) never sees half a file. A module read back is
// checked against its name; a corrupt one is removed and counts as absent.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"

namespace wasmgate::fetch {

struct CachedRef {
  std::string moduleDigest;    // hex sha256 of the module
  std::string manifestDigest;  // hex sha256 of the OCI manifest; empty for http(s)
};

class ModuleCache {
 public:
  // An empty `dir` disables the cache: lookups miss, stores do nothing.
  explicit ModuleCache(std::string dir) : dir_(std::move(dir)) {}

  // $XDG_CACHE_HOME/wasmgate, else $HOME/.cache/wasmgate, else "" (no cache).
  static std::string defaultDir();

  bool enabled() const { return !dir_.empty(); }
  const std::string& dir() const { return dir_; }

  std::optional<CachedRef> lookup(const std::string& url) const;
  std::optional<std::vector<uint8_t>> load(const std::string& moduleDigest) const;
  // Stores the module under its digest, then records it as what `url` gave.
  Status store(const std::string& url, std::span<const uint8_t> module,
               const std::string& manifestDigest) const;

 private:
  std::string modulePath(const std::string& digest) const;
  std::string refPath(const std::string& url) const;

  std::string dir_;
};

// Writes `bytes` to `path` through a temporary file in the same folder and rename(2), creating
// the folder if needed.
Status writeFileAtomic(const std::string& path, std::span<const uint8_t> bytes);

// The whole file, at most `maxBytes` (kNotFound when it does not exist).
Result<std::vector<uint8_t>> readFile(const std::string& path, size_t maxBytes);

}  // namespace wasmgate::fetch
