#include "proxy/http1/parser.h"

#include <algorithm>
#include <string>

#include "proxy/http1/framing.h"
#include "proxy/http1/syntax.h"

namespace wasmgate::proxy::http1 {
namespace {

using syntax::fail;
using syntax::kMore;
using syntax::kOk;
using syntax::Reader;
using syntax::Step;

// RFC 9112 section 2.2: a server ignores empty lines received before the request line.
Step skipEmptyLines(Reader& r) {
  while (!r.atEnd() && (r.peek() == '\r' || r.peek() == '\n')) {
    if (Step s = syntax::expectCrlf(r, ParseError::kInvalidMethod); !s.ok()) return s;
  }
  return kOk;
}

Step parseMethod(Reader& r, std::string_view& method) {
  method = r.takeWhile(syntax::isTchar);
  if (r.atEnd()) return kMore;
  if (method.empty() || r.peek() != ' ') {
    return fail(syntax::unexpected(r.peek(), ParseError::kInvalidMethod));
  }
  r.advance();
  return kOk;
}

bool validPercentEscapes(std::string_view target) {
  for (size_t i = 0; i < target.size(); ++i) {
    if (target[i] != '%') continue;
    if (i + 2 >= target.size()) return false;
    if (!syntax::isHexDigit(static_cast<unsigned char>(target[i + 1])) ||
        !syntax::isHexDigit(static_cast<unsigned char>(target[i + 2]))) {
      return false;
    }
    i += 2;
  }
  return true;
}

// authority-form, "host:port", is for CONNECT only.
bool validAuthorityForm(std::string_view target) {
  if (target.find_first_of("/?@") != std::string_view::npos) return false;
  size_t colon = target.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == target.size()) return false;
  std::string_view port = target.substr(colon + 1);
  return std::all_of(port.begin(), port.end(),
                     [](char c) { return syntax::isDigit(static_cast<unsigned char>(c)); });
}

// absolute-form: scheme ":" ... (RFC 3986 section 3.1).
bool validAbsoluteForm(std::string_view target) {
  if (target.empty() || !syntax::isAlpha(static_cast<unsigned char>(target[0]))) return false;
  for (size_t i = 1; i < target.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(target[i]);
    if (c == ':') return true;
    if (!syntax::isAlpha(c) && !syntax::isDigit(c) && c != '+' && c != '-' && c != '.') {
      return false;
    }
  }
  return false;
}

// RFC 9112 section 3.2: which request-target forms each method may use.
bool validTargetForm(std::string_view method, std::string_view target) {
  if (method == "CONNECT") return validAuthorityForm(target);
  if (target == "*") return method == "OPTIONS";
  if (target[0] == '/') return true;
  return validAbsoluteForm(target);
}

Step parseTarget(Reader& r, std::string_view method, std::string_view& target) {
  target = r.takeWhile(syntax::isTargetChar);
  if (r.atEnd()) return kMore;
  if (target.empty() || r.peek() != ' ') {
    return fail(syntax::unexpected(r.peek(), ParseError::kInvalidUri));
  }
  r.advance();
  if (!validPercentEscapes(target) || !validTargetForm(method, target)) {
    return fail(ParseError::kInvalidUri);
  }
  return kOk;
}

// "HTTP/1." DIGIT; the name is case-sensitive and only major version 1 is spoken here.
Step parseVersion(Reader& r, int& minorVersion) {
  constexpr std::string_view kPrefix = "HTTP/1.";
  for (char expected : kPrefix) {
    if (r.atEnd()) return kMore;
    if (r.peek() != static_cast<unsigned char>(expected)) {
      return fail(syntax::unexpected(r.peek(), ParseError::kInvalidVersion));
    }
    r.advance();
  }
  if (r.atEnd()) return kMore;
  if (!syntax::isDigit(r.peek())) {
    return fail(syntax::unexpected(r.peek(), ParseError::kInvalidVersion));
  }
  minorVersion = r.peek() - '0';
  r.advance();
  return kOk;
}

Step parseRequestLine(Reader& r, RequestHead& out) {
  if (Step s = skipEmptyLines(r); !s.ok()) return s;
  if (Step s = parseMethod(r, out.method); !s.ok()) return s;
  if (Step s = parseTarget(r, out.method, out.target); !s.ok()) return s;
  if (Step s = parseVersion(r, out.minorVersion); !s.ok()) return s;
  return syntax::expectCrlf(r, ParseError::kInvalidVersion);
}

// status-code: 3DIGIT, and only the classes RFC 9110 defines (100..599).
Step parseStatusCode(Reader& r, int& status) {
  status = 0;
  for (int i = 0; i < 3; ++i) {
    if (r.atEnd()) return kMore;
    if (!syntax::isDigit(r.peek())) {
      return fail(syntax::unexpected(r.peek(), ParseError::kInvalidStatus));
    }
    status = status * 10 + (r.peek() - '0');
    r.advance();
  }
  return status >= 100 && status <= 599 ? kOk : fail(ParseError::kInvalidStatus);
}

// HTTP-version SP status-code [ SP reason-phrase ] CRLF. A missing SP before an empty reason is
// tolerated: servers omit it and it cannot change framing.
Step parseStatusLine(Reader& r, ResponseHead& out) {
  if (Step s = parseVersion(r, out.minorVersion); !s.ok()) return s;
  if (r.atEnd()) return kMore;
  if (r.peek() != ' ') return fail(syntax::unexpected(r.peek(), ParseError::kInvalidVersion));
  r.advance();
  if (Step s = parseStatusCode(r, out.status); !s.ok()) return s;
  if (r.atEnd()) return kMore;
  if (r.peek() == ' ') {
    r.advance();
    out.reason = r.takeWhile(syntax::isTextChar);
  }
  return syntax::expectCrlf(r, ParseError::kInvalidStatus);
}

// field-name ":" OWS field-value OWS CRLF, with no whitespace before the colon.
Step parseHeaderLine(Reader& r, HeaderList& out) {
  std::string_view name = r.takeWhile(syntax::isTchar);
  if (r.atEnd()) return kMore;
  if (name.empty() || r.peek() != ':') {
    return fail(syntax::unexpected(r.peek(), ParseError::kInvalidHeaderName));
  }
  r.advance();
  r.takeWhile(syntax::isOws);
  std::string_view value = r.takeWhile(syntax::isTextChar);
  if (Step s = syntax::expectCrlf(r, ParseError::kInvalidHeaderValue); !s.ok()) return s;
  out.push({name, syntax::trimOws(value)});
  return kOk;
}

Step parseHeaderLines(Reader& r, HeaderList& out, size_t maxCount) {
  while (true) {
    if (r.atEnd()) return kMore;
    unsigned char c = r.peek();
    if (c == '\r' || c == '\n') return syntax::expectCrlf(r, ParseError::kInvalidHeaderName);
    // obs-fold, or whitespace between the start line and the first field (RFC 9112 2.2, 5.2).
    if (syntax::isOws(c)) return fail(ParseError::kObsFold);
    if (out.size() >= maxCount) return fail(ParseError::kTooManyHeaders);
    if (Step s = parseHeaderLine(r, out); !s.ok()) return s;
  }
}

size_t headerCountLimit(const ParserLimits& limits) {
  return std::min(limits.maxHeaderCount, HeaderList::kCapacity);
}

// Parses the head within the first maxHeaderBytes of `buffer`, so the answer for a prefix never
// contradicts the answer for the whole buffer.
template <typename ParseFn>
ParseResult parseBounded(std::string_view buffer, const ParserLimits& limits, ParseFn parse) {
  Reader r(buffer.substr(0, limits.maxHeaderBytes));
  Step s = parse(r);
  if (s.status == ParseStatus::kError) return ParseResult::failure(s.error);
  if (s.status == ParseStatus::kIncomplete) {
    return buffer.size() > limits.maxHeaderBytes
               ? ParseResult::failure(ParseError::kHeadersTooLarge)
               : ParseResult::incomplete();
  }
  return ParseResult::complete(r.pos());
}

void resetHead(RequestHead& out) {
  out.method = {};
  out.target = {};
  out.minorVersion = 1;
  out.headers.clear();
  out.framing = {};
  out.keepAlive = false;
  out.expectContinue = false;
}

void resetHead(ResponseHead& out) {
  out.minorVersion = 1;
  out.status = 0;
  out.reason = {};
  out.headers.clear();
  out.framing = {};
  out.keepAlive = false;
}

}  // namespace

Status ParseResult::toStatus() const {
  if (!isError()) return Status::ok();
  return Status(StatusCode::kProtocolError, std::string(reason()));
}

ParseResult parseRequestHead(std::string_view buffer, RequestHead& out,
                             const ParserLimits& limits) {
  resetHead(out);
  ParseResult result = parseBounded(buffer, limits, [&](Reader& r) {
    if (Step s = parseRequestLine(r, out); !s.ok()) return s;
    return parseHeaderLines(r, out.headers, headerCountLimit(limits));
  });
  if (!result.isComplete()) return result;
  ParseError error = analyzeRequest(out);
  return error == ParseError::kNone ? result : ParseResult::failure(error);
}

ParseResult parseResponseHead(std::string_view buffer, ResponseHead& out,
                              const ParserLimits& limits, std::string_view requestMethod) {
  resetHead(out);
  ParseResult result = parseBounded(buffer, limits, [&](Reader& r) {
    if (Step s = parseStatusLine(r, out); !s.ok()) return s;
    return parseHeaderLines(r, out.headers, headerCountLimit(limits));
  });
  if (!result.isComplete()) return result;
  ParseError error = analyzeResponse(out, requestMethod);
  return error == ParseError::kNone ? result : ParseResult::failure(error);
}

ParseResult parseHeaderBlock(std::string_view buffer, HeaderList& out, const ParserLimits& limits) {
  out.clear();
  return parseBounded(buffer, limits, [&](Reader& r) {
    return parseHeaderLines(r, out, headerCountLimit(limits));
  });
}

bool mayHoldCompleteHead(std::string_view buffer, size_t previousSize) {
  size_t from = previousSize > 3 ? previousSize - 3 : 0;
  return buffer.find("\r\n\r\n", from) != std::string_view::npos;
}

}  // namespace wasmgate::proxy::http1
