// The one reader of a WasmPlugin spec, shared by Istio manifests (the `spec:` of a document) and
// the bootstrap's inline `plugins:` entries. Internal to src/config.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "config/yaml_reader.h"
#include "proxy/server_config.h"

namespace wasmgate::config::detail {

// Warnings gathered while reading; each kind (say, "spec.selector is ignored") is reported once,
// at its first place, with how many more places had it.
class Warnings {
 public:
  void add(const std::string& kind, std::string message);
  std::vector<std::string> lines() const;

 private:
  struct Entry {
    std::string message;
    size_t more = 0;
  };
  std::vector<Entry> entries_;
  std::map<std::string, size_t, std::less<>> index_;
};

// Plugin names seen so far, across every file of one load.
class PluginNames {
 public:
  // Fails at nameField when the name is taken: "plugin \"x\" is already defined at a.yaml:3".
  Status claim(const Field& nameField, const std::string& name, const std::string& source);

 private:
  std::map<std::string, std::string, std::less<>> sources_;
};

struct SpecContext {
  const std::string& baseDir;  // relative file paths in `url` resolve against it
  Warnings& warnings;
  PluginNames& names;
};

// Reads one spec. `metadataName` is the manifest's metadata.name field; when null the spec is an
// inline bootstrap entry, which carries its own `name`. PluginConfig::source is `source` when
// given, else the spec's "file:line".
Result<proxy::PluginConfig> parsePluginSpec(const Field& spec, const Field* metadataName,
                                            const std::string& source, SpecContext& ctx);

// The manifests of one file appended to `out` (implemented in wasm_plugin.cc).
Status parseManifestsInto(std::string_view yamlText, const std::string& fileName, SpecContext& ctx,
                          std::vector<proxy::PluginConfig>& out);
// The manifests of one folder appended to `out`; relative paths resolve against the folder.
Status loadPluginDirInto(const std::string& dir, Warnings& warnings, PluginNames& names,
                         std::vector<proxy::PluginConfig>& out);

// The module URL as the fetch layer takes it: http(s)://, oci:// and builtin:// (a module compiled
// into wasmgate) unchanged; file:// and plain
// paths as file://<absolute path> (relative ones against baseDir); a scheme-less reference that
// does not look like a path (no leading /, ./ or ../, no .wasm suffix) is an OCI image, as Istio
// defaults to oci://.
Result<std::string> resolvePluginUrl(const Field& url, const std::string& baseDir);

// Istio's default pull policy: Always for an OCI image tagged latest (or untagged), else
// IfNotPresent; an explicit policy wins.
std::string effectivePullPolicy(const std::string& url, const std::string& explicitPolicy);

// A plugin name: 1 to 253 of [A-Za-z0-9._-].
bool validPluginName(std::string_view name);

}  // namespace wasmgate::config::detail
