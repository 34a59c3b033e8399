// The serialized header-map format: u32 count, then (u32 key length, u32 value length) per pair,
// then each key and value followed by a NUL. Little-endian, no padding.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "abi/abi_types.h"

namespace wasmgate::abi {

std::string serializePairs(const Headers& pairs);
// nullopt for anything malformed: truncated, a missing NUL, trailing bytes, over the limits.
// Zero bytes are an empty map.
std::optional<Headers> parsePairs(std::string_view bytes);

// Header-map operations with the ABI's rules: names compared case-insensitively and stored
// lowercase; get returns the first value; replace collapses to one entry; remove removes all.
std::string lowercase(std::string_view s);
// What may reach the wire: a name of token characters (a leading ':' for pseudo-headers) and a
// value without CR, LF or NUL (RFC 9110 5.1 and 5.5, RFC 9113 8.2.1).
bool validHeaderName(std::string_view name);
bool validHeaderValue(std::string_view value);
bool validHeaders(const Headers& headers);
const std::string* findHeader(const Headers& headers, std::string_view name);
void addHeader(Headers& headers, std::string_view name, std::string_view value);
void replaceHeader(Headers& headers, std::string_view name, std::string_view value);
void removeHeader(Headers& headers, std::string_view name);
// Sum of name and value lengths, as Envoy reports proxy_get_header_map_size.
uint32_t headersByteSize(const Headers& headers);

}  // namespace wasmgate::abi
