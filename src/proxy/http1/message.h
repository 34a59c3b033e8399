// The values the HTTP/1.1 parser produces: header views, request and response heads, body framing
// and the stable dotted reasons of every rejection. Views point into the caller's read buffer and
// stay valid while that buffer does; nothing here owns or copies message bytes.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "proxy/limits.h"

namespace wasmgate::proxy::http1 {

// Why a message was rejected. Each value has a stable dotted reason (errorReason) that goes into
// access logs and that tests assert on.
enum class ParseError : uint8_t {
  kNone = 0,
  // Syntax of the head.
  kInvalidMethod,       // http1.invalid_method: not a token, or not followed by one SP
  kInvalidUri,          // http1.invalid_uri: bad character, bad %-escape or wrong target form
  kInvalidVersion,      // http1.invalid_version: not HTTP/1.<digit>
  kInvalidStatus,       // http1.invalid_status: not 3 digits in 100..599, or a bad reason phrase
  kHeadersTooLarge,     // http1.headers_too_large: head longer than ParserLimits::maxHeaderBytes
  kTooManyHeaders,      // http1.too_many_headers: more than ParserLimits::maxHeaderCount lines
  kInvalidHeaderName,   // http1.invalid_header_name: empty, non-token, or whitespace before ':'
  kInvalidHeaderValue,  // http1.invalid_header_value: a control character (NUL, DEL, ...)
  kObsFold,             // http1.obs_fold: a header line starting with SP or HTAB
  kBareCr,              // http1.bare_cr: CR not followed by LF
  kBareLf,              // http1.bare_lf: LF not preceded by CR
  // Framing (request smuggling defences).
  kInvalidContentLength,     // http1.invalid_content_length: not 1*DIGIT, or overflows
  kMultipleContentLength,    // http1.multiple_content_length: two lines or a list
  kInvalidTransferEncoding,  // http1.invalid_transfer_encoding: anything but one "chunked"
  kContentLengthWithTransferEncoding,  // http1.content_length_with_transfer_encoding (requests)
  kMissingHost,                        // http1.missing_host: HTTP/1.1 request without Host
  kMultipleHost,                       // http1.multiple_host: more than one Host line
  // Chunked bodies.
  kInvalidChunkSize,        // http1.invalid_chunk_size: no hex digits, or a stray character
  kChunkSizeOverflow,       // http1.chunk_size_overflow: does not fit in 64 bits
  kInvalidChunkExtension,   // http1.invalid_chunk_extension
  kChunkLineTooLong,        // http1.chunk_line_too_long: longer than ChunkedLimits::maxLineBytes
  kInvalidChunkTerminator,  // http1.invalid_chunk_terminator: chunk data not followed by CRLF
  kTrailersTooLarge,        // http1.trailers_too_large
  kTooManyTrailers,         // http1.too_many_trailers
};

// "http1.invalid_method", ...; empty for kNone.
std::string_view errorReason(ParseError error);

enum class ParseStatus : uint8_t { kComplete, kIncomplete, kError };

struct Header {
  std::string_view name;   // a token, as received (compare case-insensitively)
  std::string_view value;  // leading and trailing SP/HTAB removed
};

// Header views in a fixed inline array: parsing never allocates.
class HeaderList {
 public:
  static constexpr size_t kCapacity = kMaxHeaderCount;

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  bool full() const { return size_ == kCapacity; }
  const Header& operator[](size_t i) const { return headers_[i]; }
  const Header* data() const { return headers_.data(); }
  const Header* begin() const { return headers_.data(); }
  const Header* end() const { return headers_.data() + size_; }

  // False (and nothing added) when full.
  bool push(Header header);
  void clear() { size_ = 0; }

  // The first value of `name` (case-insensitive), or nullopt.
  std::optional<std::string_view> find(std::string_view name) const;
  size_t count(std::string_view name) const;

 private:
  std::array<Header, kCapacity> headers_{};
  size_t size_ = 0;
};

// How the body after a head is delimited (RFC 9112 section 6.3).
struct BodyFraming {
  enum class Kind : uint8_t {
    kNone,           // no body
    kContentLength,  // exactly `length` bytes
    kChunked,        // chunked transfer coding: use ChunkedDecoder
    kUntilClose,     // responses only: everything until the upstream closes
  };
  Kind kind = Kind::kNone;
  uint64_t length = 0;  // kContentLength only

  static BodyFraming none() { return {}; }
  static BodyFraming contentLength(uint64_t n) { return {Kind::kContentLength, n}; }
  static BodyFraming chunked() { return {Kind::kChunked, 0}; }
  static BodyFraming untilClose() { return {Kind::kUntilClose, 0}; }

  bool hasBody() const { return kind != Kind::kNone && !(kind == Kind::kContentLength && !length); }
  bool operator==(const BodyFraming&) const = default;
};

struct RequestHead {
  std::string_view method;  // a token, case-sensitive ("GET")
  std::string_view target;  // origin-, absolute-, authority- (CONNECT) or asterisk-form (OPTIONS)
  int minorVersion = 1;     // HTTP/1.<minorVersion>
  HeaderList headers;
  // Derived from the headers by the parser (see framing.h).
  BodyFraming framing;
  bool keepAlive = false;       // the client allows the connection to be reused
  bool expectContinue = false;  // HTTP/1.1 with "Expect: 100-continue"
};

struct ResponseHead {
  int minorVersion = 1;
  int status = 0;           // 100..599
  std::string_view reason;  // may be empty
  HeaderList headers;
  // Derived from the headers, the status and the request method by the parser (see framing.h).
  BodyFraming framing;
  bool keepAlive = false;  // the upstream connection may be reused after this response
};

}  // namespace wasmgate::proxy::http1
