// Every cap the ABI layer enforces on what a plugin hands the host.
#pragma once

#include <cstdint>

namespace wasmgate::abi {

inline constexpr uint32_t kMaxSerializedPairsBytes = 1024 * 1024;  // a serialized header map
inline constexpr uint32_t kMaxSerializedPairs = 1024;              // pairs in one map
inline constexpr uint32_t kMaxRandomGetBytes = 64 * 1024;          // WASI random_get
inline constexpr uint32_t kMaxLogMessageBytes = 64 * 1024;         // longer messages are cut
inline constexpr uint32_t kMaxSharedDataValueBytes = 1024 * 1024;  // one shared-data value
inline constexpr uint32_t kMaxSharedQueueItems = 10000;            // items waiting in one queue
inline constexpr uint32_t kMaxPropertyPathBytes = 4096;

}  // namespace wasmgate::abi
