// SHA-256 as wasmgate writes digests: 64 lowercase hex characters.
#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace wasmgate {

std::string sha256Hex(std::span<const uint8_t> bytes);

}  // namespace wasmgate
