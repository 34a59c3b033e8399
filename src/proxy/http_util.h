// Conversions between the wire's HTTP/1.1 heads and the header lists plugins see, where HTTP/2
// style pseudo-headers (:method, :path, :authority, :scheme, :status) come first.
#pragma once

#include <array>
#include <string>
#include <string_view>

#include "abi/abi_types.h"
#include "proxy/http1/message.h"

namespace wasmgate::proxy {

// connection, keep-alive, proxy-connection, transfer-encoding, te, trailer, upgrade.
bool isHopByHop(std::string_view lowercaseName);

// The options of a message's Connection headers, gathered once rather than for every header name.
class ConnectionOptions {
 public:
  explicit ConnectionOptions(const http1::HeaderList& headers);
  // True when `lowercaseName` is listed in a Connection header (RFC 9110 7.6.1: such headers are
  // hop-by-hop too).
  bool nominates(std::string_view lowercaseName) const;

 private:
  static constexpr size_t kMaxKept = 8;
  const http1::HeaderList& headers_;
  std::array<std::string_view, kMaxKept> options_{};
  size_t count_ = 0;
  bool tooMany_ = false;  // then each question goes back to the headers
};

// Lowercased names, hop-by-hop headers (fixed and Connection-nominated) dropped; a non-empty
// `pseudoValue` goes first as `pseudoName`.
abi::Headers toAbiHeaders(const http1::HeaderList& headers, std::string_view pseudoValue,
                          std::string_view pseudoName);

// Appends to `out` the request line and headers for an upstream: Host from :authority, no
// pseudo-headers, and "transfer-encoding: chunked" when `chunked`.
void appendRequestHead(std::string& out, const abi::Headers& headers, bool chunked);

enum class ResponseFraming { kNone, kContentLength, kChunked, kClose };
// Appends to `out` the status line and headers for a client; the framing header is the caller's
// to include.
void appendResponseHead(std::string& out, const abi::Headers& headers, ResponseFraming framing);

std::string_view reasonPhrase(uint32_t status);

}  // namespace wasmgate::proxy
