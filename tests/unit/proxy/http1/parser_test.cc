#include "proxy/http1/parser.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "test_util.h"

namespace wasmgate::proxy::http1 {
namespace {

using namespace std::string_literals;
using testing::ExactBuffer;

enum class Kind { kRequest, kResponse };

ParseResult parse(Kind kind, std::string_view input, const ParserLimits& limits = {}) {
  if (kind == Kind::kRequest) {
    RequestHead head;
    return parseRequestHead(input, head, limits);
  }
  ResponseHead head;
  return parseResponseHead(input, head, limits);
}

// ---------------------------------------------------------------------------------------------
// Requests

TEST(Http1ParserTest, ParsesSimpleGet) {
  std::string_view input =
      "GET /index.html?x=1 HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n";
  RequestHead head;
  ParseResult r = parseRequestHead(input, head);
  ASSERT_TRUE(r.isComplete()) << r.reason();
  EXPECT_EQ(r.consumed, input.size());
  EXPECT_EQ(head.method, "GET");
  EXPECT_EQ(head.target, "/index.html?x=1");
  EXPECT_EQ(head.minorVersion, 1);
  ASSERT_EQ(head.headers.size(), 2u);
  EXPECT_EQ(head.headers[0].name, "Host");
  EXPECT_EQ(head.headers[0].value, "example.com");
  EXPECT_EQ(head.headers[1].name, "Accept");
  EXPECT_EQ(head.headers[1].value, "*/*");
  EXPECT_EQ(head.framing, BodyFraming::none());
  EXPECT_TRUE(head.keepAlive);
  EXPECT_FALSE(head.expectContinue);
}

TEST(Http1ParserTest, ViewsPointIntoTheBuffer) {
  ExactBuffer buffer(
      "POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nX-Empty:\r\n\r\nabc");
  RequestHead head;
  ASSERT_TRUE(parseRequestHead(buffer.view(), head).isComplete());
  EXPECT_TRUE(buffer.contains(head.method));
  EXPECT_TRUE(buffer.contains(head.target));
  for (const Header& h : head.headers) {
    EXPECT_TRUE(buffer.contains(h.name));
    EXPECT_TRUE(buffer.contains(h.value));
  }
}

TEST(Http1ParserTest, LeavesTheBodyUnconsumed) {
  std::string_view head = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n";
  std::string input = std::string(head) + "hello";
  RequestHead out;
  ParseResult r = parseRequestHead(input, out);
  ASSERT_TRUE(r.isComplete());
  EXPECT_EQ(r.consumed, head.size());
  EXPECT_EQ(out.framing, BodyFraming::contentLength(5));
}

TEST(Http1ParserTest, SkipsEmptyLinesBeforeTheRequestLine) {
  std::string_view input = "\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n";
  RequestHead head;
  ParseResult r = parseRequestHead(input, head);
  ASSERT_TRUE(r.isComplete()) << r.reason();
  EXPECT_EQ(r.consumed, input.size());
  EXPECT_EQ(head.method, "GET");
  RequestHead only;
  EXPECT_TRUE(parseRequestHead("\r\n", only).isIncomplete());
}

TEST(Http1ParserTest, HeaderValuesAreTrimmedOfOwsOnly) {
  std::string input =
      "GET / HTTP/1.1\r\nHost: h\r\nA:  \t two  words \t\r\nB:\r\nC: \t \r\n"
      "D: caf\xc3\xa9\r\nE:x\r\n\r\n";
  RequestHead head;
  ASSERT_TRUE(parseRequestHead(input, head).isComplete());
  ASSERT_EQ(head.headers.size(), 6u);
  EXPECT_EQ(head.headers[1].value, "two  words");
  EXPECT_EQ(head.headers[2].value, "");
  EXPECT_EQ(head.headers[3].value, "");
  EXPECT_EQ(head.headers[4].value, "caf\xc3\xa9");  // obs-text is kept as is
  EXPECT_EQ(head.headers[5].value, "x");
}

TEST(Http1ParserTest, AcceptsHttp10WithoutHost) {
  RequestHead head;
  ASSERT_TRUE(parseRequestHead("GET / HTTP/1.0\r\n\r\n", head).isComplete());
  EXPECT_EQ(head.minorVersion, 0);
  EXPECT_FALSE(head.keepAlive);
}

TEST(Http1ParserTest, AcceptsEveryRequestTargetForm) {
  struct Case {
    std::string_view method;
    std::string_view target;
  };
  for (Case c : std::vector<Case>{{"GET", "/"},
                                  {"GET", "//a/./b/../c;p?q=1&r=%2Fx%41"},
                                  {"GET", "/a?{\"json\":[1,2]}|x"},
                                  {"GET", "http://example.com:8080/x?y"},
                                  {"GET", "h2c+x.y-z:opaque"},
                                  {"CONNECT", "example.com:443"},
                                  {"CONNECT", "[::1]:8443"},
                                  {"OPTIONS", "*"},
                                  {"OPTIONS", "/"}}) {
    std::string input =
        std::string(c.method) + " " + std::string(c.target) + " HTTP/1.1\r\nHost: h\r\n\r\n";
    RequestHead head;
    ParseResult r = parseRequestHead(input, head);
    ASSERT_TRUE(r.isComplete()) << input << " " << r.reason();
    EXPECT_EQ(head.method, c.method);
    EXPECT_EQ(head.target, c.target);
  }
}

TEST(Http1ParserTest, RejectsBadRequestTargets) {
  struct Case {
    std::string_view method;
    std::string target;
  };
  for (const Case& c : std::vector<Case>{{"GET", "*"},
                                         {"POST", "*"},
                                         {"CONNECT", "/"},
                                         {"CONNECT", "example.com"},
                                         {"CONNECT", "example.com:"},
                                         {"CONNECT", ":443"},
                                         {"CONNECT", "example.com:44x"},
                                         {"CONNECT", "example.com:443/"},
                                         {"CONNECT", "user@example.com:443"},
                                         {"GET", "example.com/x"},
                                         {"GET", "1http://x/"},
                                         {"GET", "http//x"},
                                         {"GET", "/a#fragment"},
                                         {"GET", "/%zz"},
                                         {"GET", "/%4"},
                                         {"GET", "/%"},
                                         {"GET", "/a\x7f"},
                                         {"GET", "/caf\xc3\xa9"},
                                         {"GET", "/a\x01"s}}) {
    std::string input = std::string(c.method) + " " + c.target + " HTTP/1.1\r\nHost: h\r\n\r\n";
    RequestHead head;
    ParseResult r = parseRequestHead(input, head);
    EXPECT_EQ(r.reason(), "http1.invalid_uri") << c.method << " " << c.target;
  }
}

// ---------------------------------------------------------------------------------------------
// Responses

TEST(Http1ParserTest, ParsesSimpleResponse) {
  std::string_view input = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nServer: x\r\n\r\n";
  ResponseHead head;
  ParseResult r = parseResponseHead(input, head);
  ASSERT_TRUE(r.isComplete()) << r.reason();
  EXPECT_EQ(r.consumed, input.size());
  EXPECT_EQ(head.minorVersion, 1);
  EXPECT_EQ(head.status, 404);
  EXPECT_EQ(head.reason, "Not Found");
  EXPECT_EQ(head.headers.size(), 2u);
  EXPECT_EQ(head.framing, BodyFraming::contentLength(0));
  EXPECT_TRUE(head.keepAlive);
}

TEST(Http1ParserTest, ReasonPhraseMayBeEmptyOrMissing) {
  for (std::string_view line : {"HTTP/1.1 204\r\n\r\n", "HTTP/1.1 204 \r\n\r\n"}) {
    ResponseHead head;
    ASSERT_TRUE(parseResponseHead(line, head).isComplete()) << line;
    EXPECT_EQ(head.status, 204);
    EXPECT_EQ(head.reason, "");
  }
  ResponseHead head;
  ASSERT_TRUE(parseResponseHead("HTTP/1.0 200 Fine\tand \xe2\x9c\x93\r\n\r\n", head).isComplete());
  EXPECT_EQ(head.minorVersion, 0);
  EXPECT_EQ(head.reason, "Fine\tand \xe2\x9c\x93");
}

TEST(Http1ParserTest, StatusCodesOutside100To599AreRejected) {
  for (std::string_view line : {"HTTP/1.1 000 X\r\n\r\n", "HTTP/1.1 099 X\r\n\r\n",
                                "HTTP/1.1 600 X\r\n\r\n", "HTTP/1.1 999 X\r\n\r\n"}) {
    EXPECT_EQ(parse(Kind::kResponse, line).reason(), "http1.invalid_status") << line;
  }
  for (std::string_view line : {"HTTP/1.1 100 X\r\n\r\n", "HTTP/1.1 599 X\r\n\r\n"}) {
    EXPECT_TRUE(parse(Kind::kResponse, line).isComplete()) << line;
  }
}

// ---------------------------------------------------------------------------------------------
// Incremental parsing: a head arriving in pieces gives the same answer as the whole head.

struct Valid {
  Kind kind;
  std::string head;
};

std::vector<Valid> validMessages() {
  return {
      {Kind::kRequest, "GET / HTTP/1.1\r\nHost: a\r\n\r\n"},
      {Kind::kRequest,
       "\r\nPOST /submit?x=%20 HTTP/1.1\r\nHost: example.com\r\n"
       "Content-Length: 11\r\nContent-Type: text/plain\r\n"
       "Expect: 100-continue\r\n\r\n"},
      {Kind::kRequest,
       "PUT /u HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
       "X-Tab:\tv\t\r\nX-Empty:\r\n\r\n"},
      {Kind::kRequest, "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"},
      {Kind::kRequest, "OPTIONS * HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"},
      {Kind::kResponse, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"},
      {Kind::kResponse, "HTTP/1.1 204\r\nDate: x\r\n\r\n"},
      {Kind::kResponse, "HTTP/1.0 302 Found\r\nLocation: /x\r\nConnection: close\r\n\r\n"},
      {Kind::kResponse,
       "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
       "Set-Cookie: a=b; Path=/\r\n\r\n"},
  };
}

TEST(Http1ParserTest, EveryProperPrefixOfAValidHeadIsIncomplete) {
  for (const Valid& m : validMessages()) {
    for (size_t k = 0; k < m.head.size(); ++k) {
      ExactBuffer prefix(std::string_view(m.head).substr(0, k));
      ParseResult r = parse(m.kind, prefix.view());
      EXPECT_TRUE(r.isIncomplete()) << "prefix " << k << " of " << m.head << ": " << r.reason();
    }
  }
}

// The parsed fields as owned text, to compare heads parsed from different buffers.
std::string describe(const HeaderList& headers) {
  std::string out;
  for (const Header& h : headers) out += std::string(h.name) + "=" + std::string(h.value) + ";";
  return out;
}

std::string describe(Kind kind, std::string_view input) {
  if (kind == Kind::kRequest) {
    RequestHead h;
    ParseResult r = parseRequestHead(input, h);
    return std::string(r.reason()) + "|" + std::to_string(r.consumed) + "|" +
           std::string(h.method) + " " + std::string(h.target) + " " +
           std::to_string(h.minorVersion) + "|" + describe(h.headers) + "|" +
           std::to_string(static_cast<int>(h.framing.kind)) + "," +
           std::to_string(h.framing.length) + "," + std::to_string(h.keepAlive) +
           std::to_string(h.expectContinue);
  }
  ResponseHead h;
  ParseResult r = parseResponseHead(input, h);
  return std::string(r.reason()) + "|" + std::to_string(r.consumed) + "|" +
         std::to_string(h.minorVersion) + " " + std::to_string(h.status) + " " +
         std::string(h.reason) + "|" + describe(h.headers) + "|" +
         std::to_string(static_cast<int>(h.framing.kind)) + "," + std::to_string(h.framing.length) +
         "," + std::to_string(h.keepAlive);
}

TEST(Http1ParserTest, SplitHeadsParseLikeWholeHeads) {
  for (const Valid& m : validMessages()) {
    std::string input = m.head + "BODY";
    std::string expected = describe(m.kind, ExactBuffer(input).view());
    ASSERT_EQ(parse(m.kind, input).consumed, m.head.size()) << expected;
    // A reader that parses after the first arrival, then again once the rest is appended.
    for (size_t split = 0; split <= input.size(); ++split) {
      ExactBuffer first(std::string_view(input).substr(0, split));
      ParseResult early = parse(m.kind, first.view());
      if (split < m.head.size()) {
        EXPECT_TRUE(early.isIncomplete()) << split;
        ExactBuffer both(std::string(first.view()) + input.substr(split));
        EXPECT_EQ(describe(m.kind, both.view()), expected) << split;
      } else {
        EXPECT_EQ(describe(m.kind, first.view()), expected) << split;
      }
    }
  }
}

TEST(Http1ParserTest, ReparsingTheSameHeadObjectResetsIt) {
  RequestHead head;
  ASSERT_TRUE(parseRequestHead("GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n\r\n", head).isComplete());
  ASSERT_TRUE(parseRequestHead("GET / HTTP/1.0\r\n\r\n", head).isComplete());
  EXPECT_EQ(head.headers.size(), 0u);
  EXPECT_EQ(head.minorVersion, 0);
}

// ---------------------------------------------------------------------------------------------
// Rejections: each reason, and each prefix of a bad head is incomplete or the same rejection.

struct Invalid {
  Kind kind;
  std::string input;
  std::string_view reason;
};

std::vector<Invalid> invalidMessages() {
  const std::string ok = "GET / HTTP/1.1\r\nHost: a\r\n";
  return {
      {Kind::kRequest, "G@T / HTTP/1.1\r\nHost: a\r\n\r\n", "http1.invalid_method"},
      {Kind::kRequest, " GET / HTTP/1.1\r\nHost: a\r\n\r\n", "http1.invalid_method"},
      {Kind::kRequest, "GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", "http1.invalid_method"},
      {Kind::kRequest, "GET\r\n\r\n", "http1.invalid_method"},
      {Kind::kRequest, "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", "http1.invalid_uri"},
      {Kind::kRequest, "GET /a\x01 HTTP/1.1\r\nHost: a\r\n\r\n", "http1.invalid_uri"},
      {Kind::kRequest, "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", "http1.invalid_version"},
      {Kind::kRequest, "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", "http1.invalid_version"},
      {Kind::kRequest, "GET / HTTP/2.0\r\nHost: a\r\n\r\n", "http1.invalid_version"},
      {Kind::kRequest, "GET / http/1.1\r\nHost: a\r\n\r\n", "http1.invalid_version"},
      {Kind::kRequest, "GET / HTTP/1.x\r\nHost: a\r\n\r\n", "http1.invalid_version"},
      {Kind::kRequest, "GET / HTTP/1.10\r\nHost: a\r\n\r\n", "http1.invalid_version"},
      {Kind::kRequest, "GET / HTTP/1\r\nHost: a\r\n\r\n", "http1.invalid_version"},
      {Kind::kRequest, "GET /\r\n\r\n", "http1.invalid_uri"},
      {Kind::kRequest, ok + "Host : a\r\n\r\n", "http1.invalid_header_name"},
      {Kind::kRequest, ok + ": a\r\n\r\n", "http1.invalid_header_name"},
      {Kind::kRequest, ok + "NoColon\r\n\r\n", "http1.invalid_header_name"},
      {Kind::kRequest, ok + "Bad(Name): a\r\n\r\n", "http1.invalid_header_name"},
      {Kind::kRequest, ok + "Bad/Name: a\r\n\r\n", "http1.invalid_header_name"},
      {Kind::kRequest, ok + "X: a\0b\r\n\r\n"s, "http1.invalid_header_value"},
      {Kind::kRequest, ok + "X: a\x7f\r\n\r\n", "http1.invalid_header_value"},
      {Kind::kRequest,
       ok + "X: \x0b"
            "a\r\n\r\n",
       "http1.invalid_header_value"},
      {Kind::kRequest, ok + "X: 1\r\n 2\r\n\r\n", "http1.obs_fold"},
      {Kind::kRequest, ok + "X: 1\r\n\t2\r\n\r\n", "http1.obs_fold"},
      {Kind::kRequest, "GET / HTTP/1.1\r\n Host: a\r\n\r\n", "http1.obs_fold"},
      {Kind::kRequest, "GET / HTTP/1.1\rHost: a\r\n\r\n", "http1.bare_cr"},
      {Kind::kRequest, ok + "X: 1\rY: 2\r\n\r\n", "http1.bare_cr"},
      {Kind::kRequest, ok + "\r\r\n", "http1.bare_cr"},
      {Kind::kRequest, "\rGET / HTTP/1.1\r\nHost: a\r\n\r\n", "http1.bare_cr"},
      {Kind::kRequest, "GET / HTTP/1.1\nHost: a\n\n", "http1.bare_lf"},
      {Kind::kRequest, ok + "X: 1\nY: 2\r\n\r\n", "http1.bare_lf"},
      {Kind::kRequest, ok + "\n", "http1.bare_lf"},
      {Kind::kRequest, ok + "X\n", "http1.bare_lf"},
      {Kind::kRequest, "\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", "http1.bare_lf"},
      {Kind::kRequest, "GET / HTTP/1.1\r\n\r\n", "http1.missing_host"},
      {Kind::kRequest, ok + "host: b\r\n\r\n", "http1.multiple_host"},
      {Kind::kResponse, "HTTP/1.1 20 OK\r\n\r\n", "http1.invalid_status"},
      {Kind::kResponse, "HTTP/1.1 2000 OK\r\n\r\n", "http1.invalid_status"},
      {Kind::kResponse, "HTTP/1.1  200 OK\r\n\r\n", "http1.invalid_status"},
      {Kind::kResponse, "HTTP/1.1 2x0 OK\r\n\r\n", "http1.invalid_status"},
      {Kind::kResponse, "HTTP/1.1 200 O\x01K\r\n\r\n", "http1.invalid_status"},
      {Kind::kResponse, "HTTP/1.1\r\n\r\n", "http1.invalid_version"},
      {Kind::kResponse, "HTTP/1.1\t200 OK\r\n\r\n", "http1.invalid_version"},
      {Kind::kResponse, "ICY 200 OK\r\n\r\n", "http1.invalid_version"},
      {Kind::kResponse, "HTTP/3 200 OK\r\n\r\n", "http1.invalid_version"},
      {Kind::kResponse, "HTTP/1.1 200 OK\nServer: x\r\n\r\n", "http1.bare_lf"},
      {Kind::kResponse, "HTTP/1.1 200 OK\rServer: x\r\n\r\n", "http1.bare_cr"},
      {Kind::kResponse, "HTTP/1.1 200 OK\r\nServer : x\r\n\r\n", "http1.invalid_header_name"},
      {Kind::kResponse, "HTTP/1.1 200 OK\r\nA: b\r\n  c\r\n\r\n", "http1.obs_fold"},
  };
}

TEST(Http1ParserTest, RejectsEachMalformedHeadWithItsReason) {
  for (const Invalid& m : invalidMessages()) {
    ExactBuffer buffer(m.input);
    ParseResult r = parse(m.kind, buffer.view());
    EXPECT_TRUE(r.isError()) << m.input;
    EXPECT_EQ(r.reason(), m.reason) << m.input;
    EXPECT_EQ(r.consumed, 0u);
  }
}

TEST(Http1ParserTest, PrefixesOfMalformedHeadsAreIncompleteOrTheSameError) {
  for (const Invalid& m : invalidMessages()) {
    for (size_t k = 0; k < m.input.size(); ++k) {
      ExactBuffer prefix(std::string_view(m.input).substr(0, k));
      ParseResult r = parse(m.kind, prefix.view());
      EXPECT_FALSE(r.isComplete()) << k << " of " << m.input;
      if (r.isError()) {
        EXPECT_EQ(r.reason(), m.reason) << k << " of " << m.input;
      }
    }
  }
}

TEST(Http1ParserTest, ErrorsAreReportedBeforeTheHeadEnds) {
  EXPECT_EQ(parse(Kind::kRequest, "G{").reason(), "http1.invalid_method");
  EXPECT_EQ(parse(Kind::kRequest, "GET / HTTP/1.1\r\nX\x01").reason(), "http1.invalid_header_name");
  EXPECT_EQ(parse(Kind::kResponse, "HTTP/1.1 9").reason(), "");  // might still become valid
  EXPECT_TRUE(parse(Kind::kResponse, "HTTP/1.1 9").isIncomplete());
  EXPECT_EQ(parse(Kind::kResponse, "HTTP/1.1 99").reason(), "");
  EXPECT_EQ(parse(Kind::kResponse, "HTTP/1.1 990").reason(), "http1.invalid_status");
}

// ---------------------------------------------------------------------------------------------
// Limits

std::string requestOfSize(size_t size) {
  std::string head = "GET / HTTP/1.1\r\nHost: a\r\nX: ";
  std::string end = "\r\n\r\n";
  head.append(size - head.size() - end.size(), 'v');
  return head + end;
}

TEST(Http1ParserTest, HeadOfExactlyMaxHeaderBytesIsAccepted) {
  std::string input = requestOfSize(kMaxHeaderBytes);
  ASSERT_EQ(input.size(), kMaxHeaderBytes);
  ParseResult r = parse(Kind::kRequest, input);
  ASSERT_TRUE(r.isComplete()) << r.reason();
  EXPECT_EQ(r.consumed, kMaxHeaderBytes);
  EXPECT_TRUE(parse(Kind::kRequest, input.substr(0, kMaxHeaderBytes - 1)).isIncomplete());
}

TEST(Http1ParserTest, HeadLongerThanMaxHeaderBytesIsRejected) {
  std::string input = requestOfSize(kMaxHeaderBytes + 1);
  EXPECT_EQ(parse(Kind::kRequest, input).reason(), "http1.headers_too_large");
  // Also before the head ends, once the buffer holds more than the limit.
  std::string longer = requestOfSize(kMaxHeaderBytes + 100);
  EXPECT_TRUE(parse(Kind::kRequest, longer.substr(0, kMaxHeaderBytes)).isIncomplete());
  EXPECT_EQ(parse(Kind::kRequest, longer.substr(0, kMaxHeaderBytes + 1)).reason(),
            "http1.headers_too_large");
}

TEST(Http1ParserTest, HeaderBytesLimitIsConfigurable) {
  std::string_view input = "HTTP/1.1 200 OK\r\nA: b\r\n\r\n";  // 25 bytes
  EXPECT_TRUE(parse(Kind::kResponse, input, {.maxHeaderBytes = 25}).isComplete());
  EXPECT_EQ(parse(Kind::kResponse, input, {.maxHeaderBytes = 24}).reason(),
            "http1.headers_too_large");
  EXPECT_EQ(parse(Kind::kResponse, "HTTP/1.1 200 OK\r\n", {.maxHeaderBytes = 10}).reason(),
            "http1.headers_too_large");
  // An error inside the limit is named as such, not as too large.
  EXPECT_EQ(parse(Kind::kResponse, "HTTP/1.1 2x0 OK\r\n", {.maxHeaderBytes = 11}).reason(),
            "http1.invalid_status");
  // Empty lines before a request line count too.
  EXPECT_EQ(parse(Kind::kRequest, std::string(40, '\r') + "\n", {.maxHeaderBytes = 32}).reason(),
            "http1.bare_cr");
  std::string crlfs;
  for (int i = 0; i < 20; ++i) crlfs += "\r\n";
  EXPECT_EQ(parse(Kind::kRequest, crlfs, {.maxHeaderBytes = 32}).reason(),
            "http1.headers_too_large");
}

std::string requestWithHeaders(size_t count) {
  std::string input = "GET / HTTP/1.1\r\nHost: a\r\n";
  for (size_t i = 1; i < count; ++i) input += "X-" + std::to_string(i) + ": v\r\n";
  return input + "\r\n";
}

TEST(Http1ParserTest, HeaderCountIsLimited) {
  RequestHead head;
  ASSERT_TRUE(parseRequestHead(requestWithHeaders(kMaxHeaderCount), head).isComplete());
  EXPECT_EQ(head.headers.size(), kMaxHeaderCount);
  EXPECT_EQ(parseRequestHead(requestWithHeaders(kMaxHeaderCount + 1), head).reason(),
            "http1.too_many_headers");
  EXPECT_TRUE(parse(Kind::kRequest, requestWithHeaders(3), {.maxHeaderCount = 3}).isComplete());
  EXPECT_EQ(parse(Kind::kRequest, requestWithHeaders(4), {.maxHeaderCount = 3}).reason(),
            "http1.too_many_headers");
}

TEST(Http1ParserTest, HeaderCountLimitIsClampedToTheListCapacity) {
  ParserLimits limits{.maxHeaderCount = 10 * kMaxHeaderCount};
  EXPECT_EQ(parse(Kind::kRequest, requestWithHeaders(kMaxHeaderCount + 1), limits).reason(),
            "http1.too_many_headers");
}

TEST(Http1ParserTest, TooManyHeadersIsReportedWhenTheExtraLineStarts) {
  std::string input = requestWithHeaders(2);
  input.resize(input.size() - 2);  // drop the empty line
  EXPECT_TRUE(parse(Kind::kRequest, input, {.maxHeaderCount = 2}).isIncomplete());
  EXPECT_TRUE(parse(Kind::kRequest, input + "\r", {.maxHeaderCount = 2}).isIncomplete());
  EXPECT_EQ(parse(Kind::kRequest, input + "X", {.maxHeaderCount = 2}).reason(),
            "http1.too_many_headers");
}

// ---------------------------------------------------------------------------------------------
// Header blocks, helpers and reasons

TEST(Http1ParserTest, ParsesBareHeaderBlocks) {
  HeaderList list;
  ParseResult r = parseHeaderBlock("\r\nrest", list);
  ASSERT_TRUE(r.isComplete());
  EXPECT_EQ(r.consumed, 2u);
  EXPECT_TRUE(list.empty());
  r = parseHeaderBlock("A: 1\r\nb: 2\r\n\r\n", list);
  ASSERT_TRUE(r.isComplete());
  EXPECT_EQ(r.consumed, 14u);
  EXPECT_EQ(list.size(), 2u);
  EXPECT_TRUE(parseHeaderBlock("A: 1\r\n", list).isIncomplete());
  EXPECT_EQ(parseHeaderBlock("A: 1\r\nB: 2\r\n\r\n", list, {.maxHeaderCount = 1}).reason(),
            "http1.too_many_headers");
}

TEST(Http1ParserTest, HeaderListLooksUpNamesCaseInsensitively) {
  HeaderList list;
  EXPECT_TRUE(list.push({"Set-Cookie", "a"}));
  EXPECT_TRUE(list.push({"set-cookie", "b"}));
  EXPECT_TRUE(list.push({"X", ""}));
  EXPECT_EQ(list.find("SET-COOKIE"), "a");
  EXPECT_EQ(list.count("Set-cookie"), 2u);
  EXPECT_EQ(list.find("x"), "");
  EXPECT_FALSE(list.find("Set-Cookie2").has_value());
  EXPECT_EQ(list.count("Y"), 0u);
}

TEST(Http1ParserTest, HeaderListRefusesPushesWhenFull) {
  HeaderList list;
  for (size_t i = 0; i < HeaderList::kCapacity; ++i) ASSERT_TRUE(list.push({"a", "b"}));
  EXPECT_TRUE(list.full());
  EXPECT_FALSE(list.push({"c", "d"}));
  EXPECT_EQ(list.size(), HeaderList::kCapacity);
  list.clear();
  EXPECT_TRUE(list.empty());
}

TEST(Http1ParserTest, MayHoldCompleteHeadLooksForTheEmptyLine) {
  std::string_view input = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
  EXPECT_FALSE(mayHoldCompleteHead(input.substr(0, input.size() - 1)));
  EXPECT_TRUE(mayHoldCompleteHead(input));
  // The terminator may straddle the previous read.
  for (size_t previous = 0; previous < input.size(); ++previous) {
    EXPECT_TRUE(mayHoldCompleteHead(input, previous)) << previous;
  }
  EXPECT_FALSE(mayHoldCompleteHead("GET / HTTP/1.1\r\n\n\r\n"));
}

TEST(Http1ParserTest, EveryReasonIsDottedAndDistinct) {
  std::set<std::string_view> seen;
  for (int e = 1; e <= static_cast<int>(ParseError::kTooManyTrailers); ++e) {
    std::string_view reason = errorReason(static_cast<ParseError>(e));
    EXPECT_EQ(reason.substr(0, 6), "http1.") << e;
    EXPECT_EQ(reason.find_first_not_of("abcdefghijklmnopqrstuvwxyz_.1"), std::string_view::npos);
    EXPECT_TRUE(seen.insert(reason).second) << reason;
  }
  EXPECT_EQ(errorReason(ParseError::kNone), "");
}

TEST(Http1ParserTest, ResultsConvertToStatuses) {
  EXPECT_TRUE(ParseResult::complete(3).toStatus().isOk());
  EXPECT_TRUE(ParseResult::incomplete().toStatus().isOk());
  Status s = ParseResult::failure(ParseError::kObsFold).toStatus();
  EXPECT_EQ(s.code(), StatusCode::kProtocolError);
  EXPECT_EQ(s.message(), "http1.obs_fold");
}

}  // namespace
}  // namespace wasmgate::proxy::http1
