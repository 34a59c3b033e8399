// Brings plugin modules: from local files (file:// or a plain path) and from modules compiled
// into the binary (builtin://NAME), checked against the configured sha256.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"

namespace wasmgate::fetch {

class ModuleFetcher {
 public:
  // Modules served as builtin://NAME (the example plugin of the built-in configuration).
  void addBuiltin(std::string name, std::span<const uint8_t> bytes);
  // `sha256` (lowercase hex) is checked when not empty.
  Result<std::vector<uint8_t>> fetch(const std::string& url, const std::string& sha256) const;

 private:
  std::map<std::string, std::span<const uint8_t>> builtins_;
};

std::string sha256Hex(std::span<const uint8_t> bytes);

}  // namespace wasmgate::fetch
