// What `wasmgate serve` runs: plain structs, filled by src/config from YAML (or by tests directly).
// The proxy layer knows nothing of YAML or of how plugin modules are fetched.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "abi/plugin_vm.h"

namespace wasmgate::proxy {

using std::chrono::milliseconds;

struct SocketAddress {
  std::string host;  // a numeric IPv4 or IPv6 address, or "localhost"
  uint16_t port = 0;
  std::string toString() const;  // "127.0.0.1:8080", "[::1]:8080"
};

struct ClusterConfig {
  std::string name;
  std::vector<SocketAddress> endpoints;  // round robin
  milliseconds connectTimeout{1000};
  enum class Protocol { kHttp1, kH2 } protocol = Protocol::kHttp1;  // kH2: cleartext HTTP/2 (gRPC)
  uint32_t maxIdleConnectionsPerWorker = 64;
};

struct DirectResponse {
  uint32_t status = 200;
  std::string body;
};

struct RouteConfig {
  std::string name;
  // Match: all given conditions must hold. An empty prefix with no path matches everything.
  std::string prefix;
  std::optional<std::string> path;       // exact path (without the query)
  std::optional<std::string> authority;  // Host, compared case-insensitively, port ignored
  // Action: a cluster or a direct response.
  std::string cluster;
  std::optional<DirectResponse> directResponse;
  milliseconds timeout{15000};  // whole upstream response; 0 disables
};

struct ListenerConfig {
  std::string name;
  enum class Type { kHttp, kTcp } type = Type::kHttp;
  SocketAddress address;
  std::vector<RouteConfig> routes;  // HTTP
  std::string cluster;              // TCP
  milliseconds idleTimeout{60000};
  milliseconds requestHeadersTimeout{10000};  // a slow client must send its head within this
};

// kFailReload: as kFailClose, but a new stream that meets a failed VM first rebuilds it at once
// (at most once per kMinReloadInterval per worker) instead of waiting for the background rebuild.
enum class FailStrategy { kFailClose, kFailOpen, kFailReload };
enum class PluginPhase { kUnspecified, kAuthn, kAuthz, kStats };
enum class PluginType { kHttp, kNetwork };

struct PluginConfig {
  std::string name;             // metadata.name, or the inline entry's name
  std::string url;              // file://, plain path, http(s)://, oci://
  std::string sha256;           // checked when not empty
  std::string imagePullPolicy;  // IfNotPresent (default) or Always
  PluginPhase phase = PluginPhase::kUnspecified;
  int32_t priority = 0;
  FailStrategy failStrategy = FailStrategy::kFailClose;
  std::string rootId;  // pluginName
  std::string vmId;
  std::string configuration;  // pluginConfig as JSON text
  std::vector<std::pair<std::string, std::string>> environment;
  PluginType type = PluginType::kHttp;
  std::vector<uint16_t> matchPorts;  // empty: every listener of the plugin's type
  bool logOnly = false;              // wasmgate extension: run, but apply nothing
  abi::VmLimits limits;
  std::optional<std::set<std::string, std::less<>>> allowedHostcalls;
  std::string source;  // "file.yaml:12", for messages
};

struct AdminConfig {
  bool enabled = true;
  SocketAddress address{"127.0.0.1", 9901};
};

// How plugin modules are fetched (src/fetch).
struct FetchConfig {
  milliseconds timeout{10000};  // one HTTP(S) or OCI request
  uint32_t attempts = 3;        // tries per module before giving up
  std::string caFile;           // extra CA bundle (PEM) trusted for https:// and TLS registries
  bool insecureSkipVerify = false;
  std::string cacheDir;  // modules cached by digest; default $XDG_CACHE_HOME/wasmgate
};

struct ServerConfig {
  AdminConfig admin;
  FetchConfig fetch;
  uint32_t workers = 0;  // 0: one per core
  std::vector<ListenerConfig> listeners;
  std::vector<ClusterConfig> clusters;
  std::vector<PluginConfig> plugins;  // inline plugins and those from plugin_dirs
  std::vector<std::string> pluginDirs;
  std::string baseDir;  // relative paths resolve against the bootstrap's folder
};

}  // namespace wasmgate::proxy
