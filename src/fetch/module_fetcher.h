// Brings plugin modules: local files (a plain path or file://), modules compiled into the binary
// (builtin://NAME), http(s):// URLs and OCI images (oci://host[:port]/repo[:tag][@sha256:...]).
// Remote modules are retried on transient failures, checked against the configured sha256 and
// cached on disk by digest (module_cache.h), so a restart with imagePullPolicy IfNotPresent needs
// no network.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"
#include "fetch/digest.h"
#include "fetch/fetch_options.h"
#include "fetch/module_cache.h"

namespace wasmgate::fetch {

inline constexpr std::string_view kPullIfNotPresent = "IfNotPresent";
inline constexpr std::string_view kPullAlways = "Always";

class ModuleFetcher {
 public:
  // Default options: the default cache folder, 10 s per request, 3 tries.
  ModuleFetcher() : ModuleFetcher(FetchOptions{}) {}
  explicit ModuleFetcher(FetchOptions options);

  // Modules served as builtin://NAME (the example plugin of the built-in configuration).
  void addBuiltin(std::string name, std::span<const uint8_t> bytes);

  // `sha256` (hex, or "sha256:<hex>"; checked when not empty) must match the module; for oci://
  // it may instead name the image (manifest) digest, as Istio checks it. `pullPolicy` is
  // "IfNotPresent" (or empty): a module cached for this URL (and sha256) is used without network;
  // or "Always": fetched again, and an error if that fails. Local and built-in modules are
  // read every time and never cached.
  Result<std::vector<uint8_t>> fetch(const std::string& url, const std::string& sha256,
                                     const std::string& pullPolicy = "") const;

  const FetchOptions& options() const { return options_; }

 private:
  struct Remote {
    std::vector<uint8_t> module;
    std::string manifestDigest;  // OCI only
  };
  Result<std::vector<uint8_t>> fetchLocal(const std::string& url) const;
  std::optional<std::vector<uint8_t>> fromCache(const std::string& url,
                                                const std::string& sha256) const;
  // Fetches, checks against `expected` (hex; empty: unchecked) and caches a remote module.
  Result<std::vector<uint8_t>> fetchAndCache(const std::string& url,
                                             const std::string& expected) const;
  Result<Remote> fetchRemote(const std::string& url) const;
  Result<Remote> fetchOnce(const std::string& url) const;

  FetchOptions options_;
  ModuleCache cache_;
  std::map<std::string, std::span<const uint8_t>> builtins_;
};

}  // namespace wasmgate::fetch
