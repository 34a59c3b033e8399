#include "fetch/url.h"

#include <gtest/gtest.h>

namespace wasmgate::fetch {
namespace {

TEST(UrlTest, ParsesSchemesHostsPortsAndTargets) {
  auto u = parseUrl("HTTPS://Example.COM/a/b?x=1#frag");
  ASSERT_TRUE(u.isOk());
  EXPECT_EQ(u->scheme, "https");
  EXPECT_EQ(u->host, "example.com");
  EXPECT_EQ(u->port, 443);
  EXPECT_EQ(u->target, "/a/b?x=1");
  EXPECT_EQ(u->toString(), "https://example.com/a/b?x=1");

  auto v6 = parseUrl("http://[::1]:5000");
  ASSERT_TRUE(v6.isOk());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 5000);
  EXPECT_EQ(v6->target, "/");
  EXPECT_EQ(v6->authority(), "[::1]:5000");

  auto query = parseUrl("http://h?q");
  ASSERT_TRUE(query.isOk());
  EXPECT_EQ(query->target, "/?q");
}

TEST(UrlTest, RefusesBadUrls) {
  for (const char* bad : {"ftp://h/x", "h/x", "http://", "http://:80/", "http://h:0/",
                          "http://h:99999/", "http://user:pw@h/", "http://h/a b", "http://[::1/"}) {
    auto u = parseUrl(bad);
    EXPECT_FALSE(u.isOk()) << bad;
    EXPECT_EQ(u.status().code(), StatusCode::kBadArgument) << bad;
  }
}

TEST(UrlTest, ResolvesRedirectLocations) {
  auto base = parseUrl("http://reg:5000/v2/a/blobs/sha256:1?x=y");
  ASSERT_TRUE(base.isOk());
  auto resolve = [&](const char* loc) {
    auto r = resolveUrl(*base, loc);
    return r.isOk() ? r->toString() : "error: " + r.status().message();
  };
  EXPECT_EQ(resolve("https://store.example/obj?sig=1"), "https://store.example/obj?sig=1");
  EXPECT_EQ(resolve("//other:81/p"), "http://other:81/p");
  EXPECT_EQ(resolve("/abs/path"), "http://reg:5000/abs/path");
  EXPECT_EQ(resolve("rel"), "http://reg:5000/v2/a/blobs/rel");
  EXPECT_EQ(resolve("../../up?q=1"), "http://reg:5000/v2/up?q=1");
  EXPECT_EQ(resolve("?only=query"), "http://reg:5000/v2/a/blobs/sha256:1?only=query");
}

TEST(UrlTest, LoopbackAndLiterals) {
  EXPECT_TRUE(isLoopbackHost("127.0.0.1"));
  EXPECT_TRUE(isLoopbackHost("127.1.2.3"));
  EXPECT_TRUE(isLoopbackHost("localhost"));
  EXPECT_TRUE(isLoopbackHost("::1"));
  EXPECT_FALSE(isLoopbackHost("10.0.0.1"));
  EXPECT_FALSE(isLoopbackHost("registry.example"));
  EXPECT_TRUE(isIpLiteral("10.0.0.1"));
  EXPECT_TRUE(isIpLiteral("fe80::1"));
  EXPECT_FALSE(isIpLiteral("localhost"));
  EXPECT_EQ(urlEncode("repository:a/b:pull"), "repository%3Aa%2Fb%3Apull");
}

}  // namespace
}  // namespace wasmgate::fetch
