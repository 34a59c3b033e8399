// How plugin modules are fetched. Its own struct, so src/fetch knows nothing of the proxy's
// configuration; the CLI fills it from the bootstrap's `fetch:` section.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace wasmgate::fetch {

struct FetchOptions {
  // Bounds one HTTP(S) request (connect, TLS handshake, head and body), redirects included.
  std::chrono::milliseconds timeout{10000};
  // Tries per module; only transient failures (connect errors, timeouts, 429, 5xx) are retried.
  uint32_t attempts = 3;
  // Pause before the second try; doubles for each further one (capped by kMaxBackoffMs).
  std::chrono::milliseconds backoff{200};
  // Extra CA bundle (PEM) trusted beside the system store, for https:// and TLS registries.
  std::string caFile;
  // Accept any server certificate (tests and labs only).
  bool insecureSkipVerify = false;
  // Modules cached by digest; empty: $XDG_CACHE_HOME/wasmgate, else ~/.cache/wasmgate.
  std::string cacheDir;
  // Keep no on-disk cache at all.
  bool disableCache = false;
  // Registries ("host" or "host:port") spoken to over plain http. Loopback registries always are.
  std::vector<std::string> plainHttpRegistries;
};

}  // namespace wasmgate::fetch
