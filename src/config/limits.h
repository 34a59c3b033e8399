// Every cap the configuration layer enforces on what it reads.
#pragma once

#include <cstddef>
#include <cstdint>

namespace wasmgate::config {

inline constexpr size_t kMaxConfigFileBytes = 16 * 1024 * 1024;        // one YAML file
inline constexpr size_t kMaxPluginConfigJsonBytes = 16 * 1024 * 1024;  // pluginConfig as JSON
inline constexpr size_t kMaxPluginDirFiles = 4096;                     // manifests in one folder
inline constexpr uint32_t kMaxWorkers = 1024;
inline constexpr uint32_t kMaxPluginMemoryMb = 4096;  // wasm32 can address no more
inline constexpr uint32_t kMaxPluginCpuDeadlineMs = 600'000;

}  // namespace wasmgate::config
