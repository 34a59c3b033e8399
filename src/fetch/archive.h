// The two archive formats of an image layer: gzip (RFC 1952, via zlib) and tar (POSIX ustar,
// with GNU long names and pax path records), enough to take plugin.wasm out of a
// docker/OCI image layer as Istio does.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "fetch/limits.h"

namespace wasmgate::fetch {

// Starts with the gzip magic bytes 1f 8b.
bool isGzip(std::span<const uint8_t> data);
// Starts with the Wasm magic "\0asm".
bool isWasm(std::span<const uint8_t> data);

// Decompresses one gzip stream (or several concatenated members). More than `maxOutput` bytes
// of output, truncated or corrupt input: an error.
Result<std::vector<uint8_t>> gunzip(std::span<const uint8_t> data,
                                    size_t maxOutput = kMaxBodyBytes);

// The contents of the first regular file in the tar archive whose base name is `baseName`
// ("plugin.wasm" matches "plugin.wasm", "./plugin.wasm" and "dir/plugin.wasm").
// kNotFound when no entry matches; kProtocolError for a malformed archive.
Result<std::vector<uint8_t>> extractTarFile(std::span<const uint8_t> tar,
                                            std::string_view baseName);

}  // namespace wasmgate::fetch
