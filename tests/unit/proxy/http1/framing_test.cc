#include "proxy/http1/framing.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "proxy/http1/parser.h"

namespace wasmgate::proxy::http1 {
namespace {

using namespace std::string_literals;

std::string request(std::string_view headers, std::string_view version = "HTTP/1.1") {
  return "POST /x " + std::string(version) + "\r\nHost: h\r\n" + std::string(headers) + "\r\n";
}

std::string response(std::string_view headers, int status = 200,
                     std::string_view version = "HTTP/1.1") {
  return std::string(version) + " " + std::to_string(status) + " X\r\n" + std::string(headers) +
         "\r\n";
}

// ---------------------------------------------------------------------------------------------
// Request framing

TEST(Http1FramingTest, RequestBodyFraming) {
  struct Case {
    std::string headers;
    BodyFraming framing;
  };
  for (const Case& c : std::vector<Case>{
           {"", BodyFraming::none()},
           {"Content-Length: 10\r\n", BodyFraming::contentLength(10)},
           {"content-length: 0\r\n", BodyFraming::contentLength(0)},
           {"Content-Length: 007\r\n", BodyFraming::contentLength(7)},
           {"Content-Length: 18446744073709551615\r\n",
            BodyFraming::contentLength(18446744073709551615ull)},
           {"Transfer-Encoding: chunked\r\n", BodyFraming::chunked()},
           {"transfer-encoding: CHUNKED\r\n", BodyFraming::chunked()},
           {"Transfer-Encoding:  chunked \t\r\n", BodyFraming::chunked()},
           {"Transfer-Encoding: , chunked,\r\n", BodyFraming::chunked()},
           {"Transfer-Encoding:\r\nTransfer-Encoding: chunked\r\n", BodyFraming::chunked()},
       }) {
    RequestHead head;
    ParseResult r = parseRequestHead(request(c.headers), head);
    ASSERT_TRUE(r.isComplete()) << c.headers << r.reason();
    EXPECT_EQ(head.framing, c.framing) << c.headers;
  }
}

TEST(Http1FramingTest, HasBodyIsFalseForNoneAndZeroLength) {
  EXPECT_FALSE(BodyFraming::none().hasBody());
  EXPECT_FALSE(BodyFraming::contentLength(0).hasBody());
  EXPECT_TRUE(BodyFraming::contentLength(1).hasBody());
  EXPECT_TRUE(BodyFraming::chunked().hasBody());
  EXPECT_TRUE(BodyFraming::untilClose().hasBody());
}

struct Rejected {
  std::string input;
  std::string_view reason;
};

// Request smuggling: every ambiguity in how long a request body is gets a 400.
std::vector<Rejected> smugglingRequests() {
  const std::string v10 = "HTTP/1.0";
  return {
      {request("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n"),
       "http1.content_length_with_transfer_encoding"},
      {request("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n"),
       "http1.content_length_with_transfer_encoding"},
      {request("Transfer-Encoding: chunked\r\nContent-Length: 0\r\n"),
       "http1.content_length_with_transfer_encoding"},
      {request("Content-Length: 5\r\nContent-Length: 5\r\n"), "http1.multiple_content_length"},
      {request("Content-Length: 5\r\nContent-Length: 6\r\n"), "http1.multiple_content_length"},
      {request("Content-Length: 5, 5\r\n"), "http1.multiple_content_length"},
      {request("Content-Length: 5,6\r\n"), "http1.multiple_content_length"},
      {request("Content-Length: 5,\r\n"), "http1.multiple_content_length"},
      {request("Content-Length:\r\n"), "http1.invalid_content_length"},
      {request("Content-Length: +5\r\n"), "http1.invalid_content_length"},
      {request("Content-Length: -1\r\n"), "http1.invalid_content_length"},
      {request("Content-Length: 0x5\r\n"), "http1.invalid_content_length"},
      {request("Content-Length: 5 5\r\n"), "http1.invalid_content_length"},
      {request("Content-Length: 5a\r\n"), "http1.invalid_content_length"},
      {request("Content-Length: 18446744073709551616\r\n"), "http1.invalid_content_length"},
      {request("Content-Length: 99999999999999999999999\r\n"), "http1.invalid_content_length"},
      {request("Transfer-Encoding: gzip\r\n"), "http1.invalid_transfer_encoding"},
      {request("Transfer-Encoding: gzip, chunked\r\n"), "http1.invalid_transfer_encoding"},
      {request("Transfer-Encoding: chunked, gzip\r\n"), "http1.invalid_transfer_encoding"},
      {request("Transfer-Encoding: chunked, chunked\r\n"), "http1.invalid_transfer_encoding"},
      {request("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"),
       "http1.invalid_transfer_encoding"},
      {request("Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n"),
       "http1.invalid_transfer_encoding"},
      {request("Transfer-Encoding: chunked;q=1\r\n"), "http1.invalid_transfer_encoding"},
      {request("Transfer-Encoding: xchunked\r\n"), "http1.invalid_transfer_encoding"},
      {request("Transfer-Encoding: \"chunked\"\r\n"), "http1.invalid_transfer_encoding"},
      {request("Transfer-Encoding:\r\n"), "http1.invalid_transfer_encoding"},
      {request("Transfer-Encoding: ,\r\n"), "http1.invalid_transfer_encoding"},
      {request("Transfer-Encoding: chunked\r\n", v10), "http1.invalid_transfer_encoding"},
      {request("Transfer-Encoding: chunked\r\nContent-Length: 3\r\n", v10),
       "http1.invalid_transfer_encoding"},
      // Syntax tricks that some parsers read as framing headers.
      {request("Transfer-Encoding : chunked\r\n"), "http1.invalid_header_name"},
      {request("Content-Length : 5\r\n"), "http1.invalid_header_name"},
      {request(" Transfer-Encoding: chunked\r\n"), "http1.obs_fold"},
      {request("Transfer-Encoding:\r\n chunked\r\n"), "http1.obs_fold"},
      {request("X: y\r\n Content-Length: 5\r\n"), "http1.obs_fold"},
      {request("Transfer-Encoding: \x0b"
               "chunked\r\n"),
       "http1.invalid_header_value"},
      {request("Transfer-Encoding: chunked\x00\r\n"s), "http1.invalid_header_value"},
      {request("Content-Length: 5\rX: 1\r\n"), "http1.bare_cr"},
      {request("Transfer-Encoding: chunked\nContent-Length: 5\r\n"), "http1.bare_lf"},
      {request("Host: other\r\n"), "http1.multiple_host"},
  };
}

TEST(Http1FramingTest, RejectsAmbiguousRequestFraming) {
  for (const Rejected& c : smugglingRequests()) {
    RequestHead head;
    EXPECT_EQ(parseRequestHead(c.input, head).reason(), c.reason) << c.input;
  }
}

TEST(Http1FramingTest, Http10RequestWithoutTransferEncodingIsFine) {
  RequestHead head;
  ASSERT_TRUE(parseRequestHead(request("Content-Length: 3\r\n", "HTTP/1.0"), head).isComplete());
  EXPECT_EQ(head.framing, BodyFraming::contentLength(3));
}

// ---------------------------------------------------------------------------------------------
// Response framing

TEST(Http1FramingTest, ResponseBodyFraming) {
  struct Case {
    std::string input;
    std::string_view method;
    BodyFraming framing;
    bool keepAlive;
  };
  for (const Case& c : std::vector<Case>{
           {response("Content-Length: 5\r\n"), "GET", BodyFraming::contentLength(5), true},
           {response("Transfer-Encoding: chunked\r\n"), "GET", BodyFraming::chunked(), true},
           {response(""), "GET", BodyFraming::untilClose(), false},
           {response("", 200, "HTTP/1.0"), "GET", BodyFraming::untilClose(), false},
           {response("Content-Length: 5\r\n"), "HEAD", BodyFraming::none(), true},
           {response("Transfer-Encoding: chunked\r\n"), "HEAD", BodyFraming::none(), true},
           {response(""), "HEAD", BodyFraming::none(), true},
           {response("", 100), "POST", BodyFraming::none(), true},
           {response("Connection: upgrade\r\nUpgrade: websocket\r\n", 101), "GET",
            BodyFraming::none(), true},
           {response("", 103), "GET", BodyFraming::none(), true},
           {response("Content-Length: 5\r\n", 204), "GET", BodyFraming::none(), true},
           {response("Content-Length: 5\r\n", 304), "GET", BodyFraming::none(), true},
           {response("", 200), "CONNECT", BodyFraming::none(), true},
           {response("Content-Length: 3\r\n", 407), "CONNECT", BodyFraming::contentLength(3), true},
           {response("", 205), "GET", BodyFraming::untilClose(), false},
           // Transfer-Encoding wins over Content-Length; the connection is not reused.
           {response("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n"), "GET",
            BodyFraming::chunked(), false},
           {response("Content-Length: 5\r\nConnection: keep-alive\r\n", 200, "HTTP/1.0"), "GET",
            BodyFraming::contentLength(5), true},
           {response("Content-Length: 5\r\n", 200, "HTTP/1.0"), "GET",
            BodyFraming::contentLength(5), false},
           {response("Content-Length: 5\r\nConnection: close\r\n"), "GET",
            BodyFraming::contentLength(5), false},
       }) {
    ResponseHead head;
    ParseResult r = parseResponseHead(c.input, head, {}, c.method);
    ASSERT_TRUE(r.isComplete()) << c.input << r.reason();
    EXPECT_EQ(head.framing, c.framing) << c.method << " " << c.input;
    EXPECT_EQ(head.keepAlive, c.keepAlive) << c.method << " " << c.input;
  }
}

TEST(Http1FramingTest, RejectsAmbiguousResponseFraming) {
  for (const Rejected& c : std::vector<Rejected>{
           {response("Content-Length: 5\r\nContent-Length: 5\r\n"),
            "http1.multiple_content_length"},
           {response("Content-Length: 1, 2\r\n"), "http1.multiple_content_length"},
           {response("Content-Length: five\r\n"), "http1.invalid_content_length"},
           {response("Transfer-Encoding: gzip\r\n"), "http1.invalid_transfer_encoding"},
           {response("Transfer-Encoding: chunked, chunked\r\n"), "http1.invalid_transfer_encoding"},
           {response("Transfer-Encoding: chunked\r\n", 200, "HTTP/1.0"),
            "http1.invalid_transfer_encoding"},
           {response("Content-Length : 5\r\n"), "http1.invalid_header_name"},
       }) {
    ResponseHead head;
    EXPECT_EQ(parseResponseHead(c.input, head).reason(), c.reason) << c.input;
  }
}

// ---------------------------------------------------------------------------------------------
// Connection reuse and 100-continue

HeaderList headers(std::initializer_list<Header> list) {
  HeaderList out;
  for (const Header& h : list) EXPECT_TRUE(out.push(h));
  return out;
}

TEST(Http1FramingTest, KeepAliveFollowsVersionAndConnection) {
  struct Case {
    int minor;
    HeaderList headers;
    bool keepAlive;
  };
  for (const Case& c : std::vector<Case>{
           {1, headers({}), true},
           {1, headers({{"Connection", "close"}}), false},
           {1, headers({{"connection", "CLOSE"}}), false},
           {1, headers({{"Connection", "keep-alive, close"}}), false},
           {1, headers({{"Connection", "foo"}, {"Connection", " close "}}), false},
           {1, headers({{"Connection", "closed"}}), true},
           {1, headers({{"Connection", "upgrade"}}), true},
           {1, headers({{"X-Connection", "close"}}), true},
           {0, headers({}), false},
           {0, headers({{"Connection", "keep-alive"}}), true},
           {0, headers({{"Connection", "Keep-Alive"}}), true},
           {0, headers({{"Connection", "x,,keep-alive"}}), true},
           {0, headers({{"Connection", "keep-alive, close"}}), false},
           {0, headers({{"Keep-Alive", "timeout=5"}}), false},
       }) {
    EXPECT_EQ(wantsKeepAlive(c.minor, c.headers), c.keepAlive)
        << c.minor << " " << (c.headers.empty() ? "" : c.headers[0].value);
  }
}

TEST(Http1FramingTest, HasConnectionOptionMatchesWholeListElements) {
  HeaderList h = headers({{"Connection", "Upgrade, HTTP2-Settings"}});
  EXPECT_TRUE(hasConnectionOption(h, "upgrade"));
  EXPECT_TRUE(hasConnectionOption(h, "http2-settings"));
  EXPECT_FALSE(hasConnectionOption(h, "http2"));
  EXPECT_FALSE(hasConnectionOption(headers({}), "close"));
}

TEST(Http1FramingTest, DetectsExpectContinue) {
  struct Case {
    std::string input;
    bool expectContinue;
  };
  for (const Case& c : std::vector<Case>{
           {request("Expect: 100-continue\r\nContent-Length: 5\r\n"), true},
           {request("expect: 100-Continue\r\nContent-Length: 5\r\n"), true},
           {request("Expect: 100-continue\r\nContent-Length: 5\r\n", "HTTP/1.0"), false},
           {request("Expect: 100-continue-x\r\n"), false},
           {request("Expect: 200-ok\r\n"), false},
           {request("Content-Length: 5\r\n"), false},
       }) {
    RequestHead head;
    ASSERT_TRUE(parseRequestHead(c.input, head).isComplete()) << c.input;
    EXPECT_EQ(head.expectContinue, c.expectContinue) << c.input;
  }
  EXPECT_TRUE(hasExpectContinue(headers({{"Expect", "100-continue"}})));
}

TEST(Http1FramingTest, AnalyzeCanBeCalledOnHandBuiltHeads) {
  RequestHead req;
  req.minorVersion = 1;
  req.headers = headers({{"Host", "h"}, {"Content-Length", "12"}});
  EXPECT_EQ(analyzeRequest(req), ParseError::kNone);
  EXPECT_EQ(req.framing, BodyFraming::contentLength(12));
  ResponseHead resp;
  resp.status = 200;
  resp.headers = headers({{"Transfer-Encoding", "chunked"}});
  EXPECT_EQ(analyzeResponse(resp, "GET"), ParseError::kNone);
  EXPECT_EQ(resp.framing, BodyFraming::chunked());
}

}  // namespace
}  // namespace wasmgate::proxy::http1
