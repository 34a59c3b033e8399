// Istio WasmPlugin manifests (extensions.istio.io/v1alpha1 or v1beta1, kind WasmPlugin), read as
// written for Istio, into the proxy's PluginConfig.
//
// spec fields: url (required), sha256, imagePullPolicy, phase, priority, failStrategy,
// pluginName, pluginConfig (handed to on_configure as Istio's JSON text), vmConfig.env, match,
// type; wasmgate's extensions: logOnly, limits {memory_mb, cpu_deadline_ms},
// allowed_hostcalls, vm_id. selector, targetRef, targetRefs, imagePullSecret and
// verificationKey are accepted and reported as ignored. Anything else is refused with
// "file:line: field: what is wrong".
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "proxy/server_config.h"

namespace wasmgate::config {

struct PluginSet {
  std::vector<proxy::PluginConfig> plugins;  // in file and document order (see orderPlugins)
  std::vector<std::string> warnings;         // one line each, "file:line: field: ..."
};

// One or several `---`-separated manifests; empty documents are skipped. Plugin names
// (metadata.name) must be unique. Relative file paths in `url` resolve against baseDir.
Result<PluginSet> parseWasmPluginManifests(std::string_view yamlText, const std::string& fileName,
                                           const std::string& baseDir);

// Every *.yaml and *.yml file of `dir` (not those starting with '.'), sorted by name; relative
// paths resolve against `dir`. One bad file refuses the whole set; names are unique across files.
Result<PluginSet> loadPluginDir(const std::string& dir);

// Several folders, in order, names unique across all of them.
Result<PluginSet> loadPluginDirs(std::span<const std::string> dirs);

// Istio's order: phase AUTHN, then AUTHZ, then STATS, then unspecified; within a phase higher
// priority first; ties by name.
std::vector<proxy::PluginConfig> orderPlugins(std::vector<proxy::PluginConfig> plugins);

}  // namespace wasmgate::config
