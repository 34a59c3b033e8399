// Every cap the data plane enforces, in one place. Exceeding one gives an error with a stable
// dotted reason (and, in the codec, a counter), never unbounded growth.
#pragma once

#include <cstddef>

namespace wasmgate::proxy {

// An HTTP/1.1 head: the request line or status line, the header lines and the empty line.
inline constexpr size_t kMaxHeaderBytes = 60 * 1024;
// Header lines in one head; also the fixed capacity of http1::HeaderList.
inline constexpr size_t kMaxHeaderCount = 100;

// One chunk-size line of a chunked body, extensions and CRLF included.
inline constexpr size_t kMaxChunkLineBytes = 4 * 1024;
// The trailer section of a chunked body: its bytes (the closing empty line included) and lines.
inline constexpr size_t kMaxTrailerBytes = 16 * 1024;
inline constexpr size_t kMaxTrailerCount = 32;

}  // namespace wasmgate::proxy

namespace wasmgate::proxy {

// Body bytes held for plugins that pause a stream (or before the request headers are decided):
// past this a request gets 413 and a response 500, as local replies.
inline constexpr size_t kMaxBufferedBodyBytes = 8 * 1024 * 1024;
// Response bytes waiting for a slow client before the upstream stops being read.
inline constexpr size_t kDownstreamHighWatermark = 1024 * 1024;
// The most one socket read or write moves per event-loop wake-up.
inline constexpr size_t kMaxSingleReadBytes = 256 * 1024;
// Request bytes waiting for a slow upstream before the client stops being read.
inline constexpr size_t kUpstreamHighWatermark = 1024 * 1024;

}  // namespace wasmgate::proxy
