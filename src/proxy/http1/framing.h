// Message framing, connection reuse and 100-continue, decided from a parsed head. The parser
// calls these once the head is complete; they are public so the codec and tests can use them.
//
// Decisions (RFC 9112 section 6):
// - Content-Length must be 1*DIGIT and fit in 64 bits; a second Content-Length line or a list
//   ("5, 5"), even of equal values, is rejected.
// - Transfer-Encoding must be exactly one "chunked" (case-insensitive, empty list elements
//   ignored), over all its lines. Other codings, "chunked" twice, or any Transfer-Encoding in an
//   HTTP/1.0 message are rejected: the proxy forwards only what it can re-frame.
// - Requests with both Content-Length and Transfer-Encoding are rejected (the RFC allows this).
//   Responses with both are framed by Transfer-Encoding, as the RFC requires; the codec must drop
//   the Content-Length when forwarding, and the upstream connection is not reused.
// - A request without Transfer-Encoding or Content-Length has no body. A response to HEAD, a 1xx,
//   204 or 304 response, and a 2xx response to CONNECT have no body; any other response without
//   either header is read until the upstream closes (and so is not reusable).
// - HTTP/1.1 requests need exactly one Host; HTTP/1.0 requests at most one.
#pragma once

#include <string_view>

#include "proxy/http1/message.h"

namespace wasmgate::proxy::http1 {

// Fills head.framing, head.keepAlive and head.expectContinue; kNone or the rejection.
ParseError analyzeRequest(RequestHead& head);

// Fills head.framing and head.keepAlive; kNone or the rejection.
ParseError analyzeResponse(ResponseHead& head, std::string_view requestMethod);

// True when any Connection line lists `option` (case-insensitive).
bool hasConnectionOption(const HeaderList& headers, std::string_view option);

// HTTP/1.1 is persistent unless "Connection: close"; HTTP/1.0 only with "Connection: keep-alive".
bool wantsKeepAlive(int minorVersion, const HeaderList& headers);

// True when an Expect line is "100-continue" (case-insensitive). Callers ignore it for HTTP/1.0.
bool hasExpectContinue(const HeaderList& headers);

}  // namespace wasmgate::proxy::http1
