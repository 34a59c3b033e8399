// The HTTP client against a real server on a loopback port.
#include "fetch/http_client.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "test_server.h"

namespace wasmgate::fetch {
namespace {

using testing::httpResponse;
using testing::TestRequest;
using testing::TestServer;

HttpClient client(int timeoutMs = 2000) {
  HttpClientOptions options;
  options.timeout = std::chrono::milliseconds(timeoutMs);
  return HttpClient(options);
}

TEST(HttpClientTest, ContentLengthBodyAndRequestHead) {
  TestRequest seen;
  TestServer server([&](const TestRequest& r) {
    seen = r;
    return httpResponse(200, "module bytes", "X-Extra: yes\r\n");
  });
  ASSERT_TRUE(server.ok());
  auto res = client().get(server.base() + "/m.wasm?v=1", {{"Accept", "application/wasm"}});
  ASSERT_TRUE(res.isOk()) << res.status().toString();
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "module bytes");
  ASSERT_NE(res->header("x-extra"), nullptr);
  EXPECT_EQ(*res->header("X-EXTRA"), "yes");
  EXPECT_EQ(seen.method, "GET");
  EXPECT_EQ(seen.target, "/m.wasm?v=1");
  EXPECT_EQ(seen.header("host"), "127.0.0.1:" + std::to_string(server.port()));
  EXPECT_EQ(seen.header("accept"), "application/wasm");
}

TEST(HttpClientTest, ChunkedBodyWithExtensionsAndTrailers) {
  TestServer server([](const TestRequest&) {
    return std::string(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        "5;ext=1\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n");
  });
  auto res = client().get(server.base() + "/");
  ASSERT_TRUE(res.isOk()) << res.status().toString();
  EXPECT_EQ(res->body, "hello 0123456789");
}

TEST(HttpClientTest, CloseDelimitedBodyAndInterimResponses) {
  TestServer server([](const TestRequest&) {
    return std::string(
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 200 OK\r\nServer: old\r\n\r\nuntil close");
  });
  auto res = client().get(server.base() + "/");
  ASSERT_TRUE(res.isOk()) << res.status().toString();
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "until close");
}

TEST(HttpClientTest, FollowsRedirectsAndDropsAuthorizationAcrossOrigins) {
  TestRequest storageSaw;
  TestServer storage([&](const TestRequest& r) {
    storageSaw = r;
    return httpResponse(200, "blob");
  });
  std::string storageUrl = storage.base() + "/obj?sig=abc";
  std::vector<std::string> authSeen;
  TestServer registry([&](const TestRequest& r) {
    authSeen.push_back(r.header("authorization"));
    if (r.target == "/start") return httpResponse(301, "", "Location: /v2/next\r\n");
    return httpResponse(307, "", "Location: " + storageUrl + "\r\n");
  });
  auto res = client().get(registry.base() + "/start", {{"Authorization", "Bearer t"}});
  ASSERT_TRUE(res.isOk()) << res.status().toString();
  EXPECT_EQ(res->body, "blob");
  EXPECT_EQ(res->url, storageUrl);
  EXPECT_EQ(authSeen, (std::vector<std::string>{"Bearer t", "Bearer t"}));  // same origin: kept
  EXPECT_EQ(storageSaw.header("authorization"), "");                        // other origin: dropped
  EXPECT_EQ(storageSaw.target, "/obj?sig=abc");
}

TEST(HttpClientTest, RedirectLoopsAreBounded) {
  TestServer server(
      [](const TestRequest&) { return httpResponse(302, "", "Location: /again\r\n"); });
  auto res = client().get(server.base() + "/");
  EXPECT_EQ(res.status().code(), StatusCode::kProtocolError);
  EXPECT_NE(res.status().message().find("redirects"), std::string::npos);
  EXPECT_EQ(server.requests(), kMaxRedirects + 1);
}

TEST(HttpClientTest, BodySizeCap) {
  TestServer server([](const TestRequest& r) {
    if (r.target == "/chunked") {
      return std::string("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n20\r\n") +
             std::string(32, 'x') + "\r\n0\r\n\r\n";
    }
    return r.target == "/close" ? "HTTP/1.0 200 OK\r\n\r\n" + std::string(100, 'x')
                                : httpResponse(200, std::string(100, 'x'));
  });
  HttpClient http = client();
  for (const char* path : {"/length", "/chunked", "/close"}) {
    auto res = http.get(server.base() + path, {}, 16);
    EXPECT_EQ(res.status().code(), StatusCode::kProtocolError) << path;
    EXPECT_NE(res.status().message().find("larger than 16"), std::string::npos) << path;
  }
  EXPECT_TRUE(http.get(server.base() + "/length", {}, 100).isOk());
}

TEST(HttpClientTest, MalformedResponsesAreProtocolErrors) {
  TestServer server([](const TestRequest& r) -> std::string {
    if (r.target == "/status") return "SPDY/9 200 OK\r\n\r\n";
    if (r.target == "/length")
      return "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello";
    if (r.target == "/chunk") return "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n";
    if (r.target == "/short") return "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nonly this";
    return "HTTP/1.1 200 OK\r\n" + std::string(kMaxHeaderBytes, 'h');
  });
  HttpClient http = client();
  for (const char* path : {"/status", "/length", "/chunk", "/short", "/huge-head"}) {
    auto res = http.get(server.base() + path);
    EXPECT_EQ(res.status().code(), StatusCode::kProtocolError)
        << path << ": " << res.status().toString();
  }
}

TEST(HttpClientTest, TimeoutBoundsASilentServer) {
  TestServer server([](const TestRequest&) {
    std::this_thread::sleep_for(std::chrono::milliseconds(600));
    return httpResponse(200, "late");
  });
  auto start = std::chrono::steady_clock::now();
  auto res = client(200).get(server.base() + "/");
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(res.status().code(), StatusCode::kDeadlineExceeded) << res.status().toString();
  EXPECT_LT(took, std::chrono::milliseconds(550));
}

TEST(HttpClientTest, RefusedConnectionIsUnavailable) {
  TestServer server([](const TestRequest&) { return httpResponse(200, ""); });
  std::string base = server.base();
  server.stop();
  auto res = client().get(base + "/");
  EXPECT_EQ(res.status().code(), StatusCode::kUnavailable) << res.status().toString();
}

TEST(HttpClientTest, HttpsToAPlainServerFailsTheHandshake) {
  TestServer server([](const TestRequest&) { return httpResponse(200, "plain"); });
  std::string url = "https://127.0.0.1:" + std::to_string(server.port()) + "/";
  auto res = client(300).get(url);
  EXPECT_FALSE(res.isOk());
}

TEST(HttpClientTest, StatusErrors) {
  HttpResponse r;
  r.status = 204;
  EXPECT_TRUE(httpStatusError(r, "GET x").isOk());
  r.status = 404;
  r.reason = "Not Found";
  EXPECT_EQ(httpStatusError(r, "GET x").code(), StatusCode::kNotFound);
  EXPECT_EQ(httpStatusError(r, "GET x").message(), "GET x: 404 Not Found");
  r.status = 503;
  EXPECT_EQ(httpStatusError(r, "GET x").code(), StatusCode::kUnavailable);
  r.status = 429;
  EXPECT_EQ(httpStatusError(r, "GET x").code(), StatusCode::kUnavailable);
  r.status = 403;
  EXPECT_EQ(httpStatusError(r, "GET x").code(), StatusCode::kProtocolError);
}

}  // namespace
}  // namespace wasmgate::fetch
