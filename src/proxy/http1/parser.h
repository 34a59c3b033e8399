// The HTTP/1.1 head parser (RFC 9112), in the picohttpparser mould: it keeps no state between
// calls and copies nothing. Call it with everything received so far; it answers complete (with
// the bytes the head used), incomplete (call again with more) or an error with a stable dotted
// reason. On success every view in the head points into `buffer`.
//
// Strict where request smuggling lives: no obs-fold, no whitespace before ':', no bare CR or LF,
// token-only names, no control characters in values, one Content-Length at most, Transfer-Encoding
// only as a single "chunked", and for requests never both (see framing.h).
#pragma once

#include <cstddef>
#include <string_view>

#include "common/status.h"
#include "proxy/http1/message.h"
#include "proxy/limits.h"

namespace wasmgate::proxy::http1 {

struct ParserLimits {
  size_t maxHeaderBytes = kMaxHeaderBytes;  // the whole head, start line and empty line included
  size_t maxHeaderCount = kMaxHeaderCount;  // clamped to HeaderList::kCapacity
};

struct [[nodiscard]] ParseResult {
  ParseStatus status = ParseStatus::kIncomplete;
  ParseError error = ParseError::kNone;  // kError only
  size_t consumed = 0;                   // kComplete only: bytes of the head

  static ParseResult complete(size_t consumed) { return {ParseStatus::kComplete, {}, consumed}; }
  static ParseResult incomplete() { return {}; }
  static ParseResult failure(ParseError error) { return {ParseStatus::kError, error, 0}; }

  bool isComplete() const { return status == ParseStatus::kComplete; }
  bool isIncomplete() const { return status == ParseStatus::kIncomplete; }
  bool isError() const { return status == ParseStatus::kError; }
  std::string_view reason() const { return errorReason(error); }
  // Ok unless isError(); then kProtocolError with the dotted reason as the message.
  Status toStatus() const;
  bool operator==(const ParseResult&) const = default;
};

// A request head. Empty lines before the request line are skipped (RFC 9112 section 2.2) and
// count in `consumed`. On success also fills out.framing, out.keepAlive and out.expectContinue.
ParseResult parseRequestHead(std::string_view buffer, RequestHead& out,
                             const ParserLimits& limits = {});

// A response head. `requestMethod` is the method of the request it answers: a response to HEAD
// has no body, nor has a 2xx response to CONNECT. On success also fills framing and keepAlive.
ParseResult parseResponseHead(std::string_view buffer, ResponseHead& out,
                              const ParserLimits& limits = {}, std::string_view requestMethod = {});

// A bare header section (field lines and the empty line), as in the trailers of a chunked body.
ParseResult parseHeaderBlock(std::string_view buffer, HeaderList& out,
                             const ParserLimits& limits = {});

// Cheap test before parsing: false when `buffer` cannot hold a complete head yet because no
// CRLFCRLF arrived since `previousSize` bytes were seen. A codec that uses it to skip parses must
// still parse once buffer.size() exceeds maxHeaderBytes, to report http1.headers_too_large.
bool mayHoldCompleteHead(std::string_view buffer, size_t previousSize = 0);

}  // namespace wasmgate::proxy::http1
