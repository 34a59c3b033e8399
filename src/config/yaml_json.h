// A WasmPlugin's pluginConfig as the JSON text Istio hands the plugin's on_configure.
// Internal to src/config.
#pragma once

#include <string>

#include "common/status.h"
#include "config/yaml_reader.h"

namespace wasmgate::config::detail {

// Istio keeps pluginConfig as a google.protobuf.Struct and passes the plugin
// protomarshal.ToJSON(Struct): compact, object keys sorted bytewise, every number a double
// written as Go's encoding/json writes a float64 (10, 1.5, 1e+21, 1e-7), strings escaped as Go
// escapes them (<, >, & and U+2028/9 as \u escapes). An empty or absent pluginConfig gives "".
// Scalars are typed as Kubernetes' YAML reader types them (see resolveScalar). Fails on a value
// JSON cannot hold (.inf, .nan), a non-scalar key, a repeated key, or output over
// kMaxPluginConfigJsonBytes.
Result<std::string> pluginConfigJson(const Field& pluginConfig);

// One YAML value as JSON, in the same form.
Result<std::string> yamlToJson(const Field& value);

}  // namespace wasmgate::config::detail
