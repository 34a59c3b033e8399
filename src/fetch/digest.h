// sha256 digests as the fetch layer writes them: 64 lowercase hex characters, and the OCI form
// "sha256:<hex>".
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace wasmgate::fetch {

std::string sha256Hex(std::span<const uint8_t> bytes);
std::string sha256Hex(std::string_view bytes);

// True for exactly 64 hex characters (either case).
bool isSha256Hex(std::string_view text);

// The lowercase hex of a configured sha256: "<hex>" or "sha256:<hex>", either case. Empty input
// gives an empty string; anything else malformed gives nullopt.
std::optional<std::string> normalizeSha256(std::string_view text);

// The hex of an OCI digest "sha256:<hex>"; nullopt for other algorithms or malformed digests.
std::optional<std::string> ociDigestHex(std::string_view digest);

}  // namespace wasmgate::fetch
