#include "proxy/http1/framing.h"

#include <cstdint>
#include <limits>
#include <optional>

#include "proxy/http1/syntax.h"

namespace wasmgate::proxy::http1 {
namespace {

using syntax::equalsIgnoreCase;

// 1*DIGIT that fits in 64 bits.
ParseError parseLength(std::string_view value, uint64_t& length) {
  if (value.find(',') != std::string_view::npos) return ParseError::kMultipleContentLength;
  if (value.empty()) return ParseError::kInvalidContentLength;
  length = 0;
  for (char c : value) {
    if (!syntax::isDigit(static_cast<unsigned char>(c))) return ParseError::kInvalidContentLength;
    uint64_t digit = static_cast<uint64_t>(c - '0');
    if (length > (std::numeric_limits<uint64_t>::max() - digit) / 10) {
      return ParseError::kInvalidContentLength;
    }
    length = length * 10 + digit;
  }
  return ParseError::kNone;
}

// The single Content-Length, if any.
ParseError readContentLength(const HeaderList& headers, std::optional<uint64_t>& length) {
  length.reset();
  for (const Header& h : headers) {
    if (!equalsIgnoreCase(h.name, "content-length")) continue;
    if (length) return ParseError::kMultipleContentLength;
    uint64_t value = 0;
    if (ParseError e = parseLength(h.value, value); e != ParseError::kNone) return e;
    length = value;
  }
  return ParseError::kNone;
}

// Whether Transfer-Encoding is present; when present it must be exactly one "chunked".
ParseError readTransferEncoding(const HeaderList& headers, bool& chunked) {
  size_t lines = 0;
  size_t codings = 0;
  bool allChunked = true;
  for (const Header& h : headers) {
    if (!equalsIgnoreCase(h.name, "transfer-encoding")) continue;
    ++lines;
    syntax::forEachListElement(h.value, [&](std::string_view coding) {
      ++codings;
      allChunked = allChunked && equalsIgnoreCase(coding, "chunked");
      return true;
    });
  }
  chunked = lines > 0;
  if (chunked && (codings != 1 || !allChunked)) return ParseError::kInvalidTransferEncoding;
  return ParseError::kNone;
}

// Content-Length and Transfer-Encoding, checked alone and together.
struct FramingHeaders {
  std::optional<uint64_t> length;
  bool chunked = false;
};

ParseError readFramingHeaders(const HeaderList& headers, int minorVersion, FramingHeaders& out) {
  if (ParseError e = readContentLength(headers, out.length); e != ParseError::kNone) return e;
  if (ParseError e = readTransferEncoding(headers, out.chunked); e != ParseError::kNone) return e;
  // RFC 9112 6.1: Transfer-Encoding in HTTP/1.0 means the framing is faulty.
  if (out.chunked && minorVersion == 0) return ParseError::kInvalidTransferEncoding;
  return ParseError::kNone;
}

ParseError checkHost(const RequestHead& head) {
  size_t hosts = head.headers.count("host");
  if (hosts > 1) return ParseError::kMultipleHost;
  if (hosts == 0 && head.minorVersion >= 1) return ParseError::kMissingHost;
  return ParseError::kNone;
}

// RFC 9112 6.3 rules 1 and 2.
bool responseHasNoBody(int status, std::string_view requestMethod) {
  if (requestMethod == "HEAD") return true;
  if (status < 200 || status == 204 || status == 304) return true;
  return requestMethod == "CONNECT" && status < 300;
}

}  // namespace

ParseError analyzeRequest(RequestHead& head) {
  if (ParseError e = checkHost(head); e != ParseError::kNone) return e;
  FramingHeaders f;
  if (ParseError e = readFramingHeaders(head.headers, head.minorVersion, f);
      e != ParseError::kNone) {
    return e;
  }
  if (f.chunked && f.length) return ParseError::kContentLengthWithTransferEncoding;
  if (f.chunked) {
    head.framing = BodyFraming::chunked();
  } else if (f.length) {
    head.framing = BodyFraming::contentLength(*f.length);
  } else {
    head.framing = BodyFraming::none();
  }
  head.keepAlive = wantsKeepAlive(head.minorVersion, head.headers);
  head.expectContinue = head.minorVersion >= 1 && hasExpectContinue(head.headers);
  return ParseError::kNone;
}

ParseError analyzeResponse(ResponseHead& head, std::string_view requestMethod) {
  FramingHeaders f;
  if (ParseError e = readFramingHeaders(head.headers, head.minorVersion, f);
      e != ParseError::kNone) {
    return e;
  }
  // With both headers Transfer-Encoding wins, but such a peer is not trusted with another message.
  head.keepAlive = wantsKeepAlive(head.minorVersion, head.headers) && !(f.chunked && f.length);
  if (responseHasNoBody(head.status, requestMethod)) {
    head.framing = BodyFraming::none();
  } else if (f.chunked) {
    head.framing = BodyFraming::chunked();
  } else if (f.length) {
    head.framing = BodyFraming::contentLength(*f.length);
  } else {
    head.framing = BodyFraming::untilClose();
    head.keepAlive = false;
  }
  return ParseError::kNone;
}

bool hasConnectionOption(const HeaderList& headers, std::string_view option) {
  for (const Header& h : headers) {
    if (!equalsIgnoreCase(h.name, "connection")) continue;
    bool found = !syntax::forEachListElement(
        h.value, [&](std::string_view element) { return !equalsIgnoreCase(element, option); });
    if (found) return true;
  }
  return false;
}

bool wantsKeepAlive(int minorVersion, const HeaderList& headers) {
  if (hasConnectionOption(headers, "close")) return false;
  return minorVersion >= 1 || hasConnectionOption(headers, "keep-alive");
}

bool hasExpectContinue(const HeaderList& headers) {
  for (const Header& h : headers) {
    if (equalsIgnoreCase(h.name, "expect") && equalsIgnoreCase(h.value, "100-continue")) {
      return true;
    }
  }
  return false;
}

}  // namespace wasmgate::proxy::http1
