// Internal to src/abi: the pieces the hostcall table is assembled from.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "abi/plugin_vm.h"
#include "runtime/wasm_vm.h"

namespace wasmgate::abi {

void addProxyHostcalls(runtime::HostFunctionTable& table);  // hostcalls.cc
void addWasiHostcalls(runtime::HostFunctionTable& table);   // wasi.cc

// Resolves a property path (section 6) for the VM's effective context; nullopt is NotFound.
std::optional<std::string> resolveProperty(PluginVm& vm,
                                           std::string_view rawPath);  // properties.cc

// True when the plugin's capability list lets it call the hostcall running now; otherwise logs.
bool hostcallAllowed(PluginVm& vm);

}  // namespace wasmgate::abi
