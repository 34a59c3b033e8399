// The bootstrap file of `wasmgate serve -c bootstrap.yaml` (design.md, "Configuration contract"):
//
//   admin: {address: 127.0.0.1:9901}            # or {enabled: false}
//   workers: 2                                  # 0 or absent: one per core
//   listeners:
//     - name, type (http | tcp), address (host:port, "[::1]:port"),
//       routes: [{name, match: {prefix, path, authority}, cluster | direct_response: {status,
//                 body}, timeout}]              # http
//       cluster                                 # tcp
//       idle_timeout, request_headers_timeout
//   clusters: [{name, endpoints: [host:port], connect_timeout, protocol (http1 | h2),
//               max_idle_connections_per_worker}]
//   plugins: [inline WasmPlugin specs plus `name`]  # see wasm_plugin.h
//   plugin_dirs: [folders of WasmPlugin manifests]
//
// Durations: 250ms, 1s, 2m, 1h, 1m30s, 0. Relative paths resolve against baseDir (the bootstrap's
// folder). Every error is one line, "file:line: field: what is wrong", with code kBadArgument
// (kNotFound for a missing file or folder).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "proxy/server_config.h"

namespace wasmgate::config {

// Reads `path` and parses it with its folder as baseDir. Warnings (fields accepted but ignored)
// go to `warnings` when given.
Result<proxy::ServerConfig> loadBootstrap(const std::string& path,
                                          std::vector<std::string>* warnings = nullptr);

// Parses bootstrap text. The plugin_dirs are read from disk here: ServerConfig::plugins holds the
// inline plugins and every manifest of those folders, in Istio order (orderPlugins); plugin names
// are unique across all of them. ServerConfig::pluginDirs holds the folders as absolute paths.
Result<proxy::ServerConfig> parseBootstrap(std::string_view yamlText, const std::string& fileName,
                                           const std::string& baseDir,
                                           std::vector<std::string>* warnings = nullptr);

}  // namespace wasmgate::config
