// Every cap the fetch layer enforces, in one place. Exceeding one is an error, never unbounded
// growth: a registry or web server cannot make wasmgate hold more than these.
#pragma once

#include <cstddef>

namespace wasmgate::fetch {

// One HTTP response body (a module, a manifest, an image layer), and a decompressed layer.
inline constexpr size_t kMaxBodyBytes = 256 * 1024 * 1024;
// An OCI manifest or index, and a token answer.
inline constexpr size_t kMaxManifestBytes = 4 * 1024 * 1024;
// An HTTP/1.1 response head: status line, header lines and the empty line.
inline constexpr size_t kMaxHeaderBytes = 64 * 1024;
inline constexpr size_t kMaxHeaderCount = 100;
// One chunk-size line of a chunked body.
inline constexpr size_t kMaxChunkLineBytes = 4 * 1024;
// Redirects followed by one GET (registries redirect blob downloads to storage).
inline constexpr int kMaxRedirects = 5;
// Retry backoff doubles from FetchOptions::backoff up to this.
inline constexpr long kMaxBackoffMs = 5000;

}  // namespace wasmgate::fetch
