// The fetcher end to end against loopback servers: local files, http(s), a fake OCI registry,
// sha256 checks, retries, the on-disk cache and the pull policies.
#include "fetch/module_fetcher.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>

#include "fetch/oci_manifest.h"
#include "test_server.h"
#include "test_util.h"

namespace wasmgate::fetch {
namespace {

using testing::bytesOf;
using testing::fakeWasm;
using testing::httpResponse;
using testing::TempDir;
using testing::TestRequest;
using testing::TestServer;
using testing::textOf;

FetchOptions optionsIn(const TempDir& dir) {
  FetchOptions o;
  o.timeout = std::chrono::milliseconds(2000);
  o.backoff = std::chrono::milliseconds(10);
  o.cacheDir = dir.path() + "/cache";
  return o;
}

std::string hexOf(const std::string& s) {
  return sha256Hex(std::string_view(s));
}

// Serves a fixed set of paths.
class StaticServer {
 public:
  StaticServer() : server_([this](const TestRequest& r) { return answer(r); }) {}
  void set(const std::string& path, std::string response) {
    std::lock_guard lock(mu_);
    responses_[path] = std::move(response);
  }
  TestServer& server() { return server_; }
  std::string url(const std::string& path) const { return server_.base() + path; }

 private:
  std::string answer(const TestRequest& r) {
    std::lock_guard lock(mu_);
    auto it = responses_.find(r.target);
    return it == responses_.end() ? httpResponse(404, "no") : it->second;
  }
  std::mutex mu_;
  std::map<std::string, std::string> responses_;
  TestServer server_;
};

TEST(ModuleFetcherTest, LocalFilesAndBuiltins) {
  TempDir dir;
  std::string module = fakeWasm("local");
  std::ofstream(dir.path() + "/m.wasm", std::ios::binary) << module;
  ModuleFetcher fetcher(optionsIn(dir));
  static const uint8_t kBuiltin[] = {0, 'a', 's', 'm'};
  fetcher.addBuiltin("b", kBuiltin);
  EXPECT_EQ(textOf(*fetcher.fetch(dir.path() + "/m.wasm", "")), module);
  EXPECT_EQ(textOf(*fetcher.fetch("file://" + dir.path() + "/m.wasm", hexOf(module))), module);
  EXPECT_EQ(fetcher.fetch("builtin://b", "")->size(), 4u);
  EXPECT_EQ(fetcher.fetch("builtin://none", "").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(fetcher.fetch(dir.path() + "/missing.wasm", "").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(fetcher.fetch("ftp://h/x.wasm", "").status().code(), StatusCode::kBadArgument);
  EXPECT_EQ(fetcher.fetch(dir.path() + "/m.wasm", "xyz").status().code(), StatusCode::kBadArgument);
  EXPECT_EQ(fetcher.fetch(dir.path() + "/m.wasm", "", "Sometimes").status().code(),
            StatusCode::kBadArgument);
}

TEST(ModuleFetcherTest, Sha256MismatchIsRefusedAndNotCached) {
  TempDir dir;
  StaticServer web;
  std::string module = fakeWasm("web");
  web.set("/m.wasm", httpResponse(200, module));
  ModuleFetcher fetcher(optionsIn(dir));
  auto wrong = fetcher.fetch(web.url("/m.wasm"), std::string(64, '0'));
  EXPECT_EQ(wrong.status().code(), StatusCode::kBadArgument);
  EXPECT_NE(wrong.status().message().find("sha256 mismatch"), std::string::npos);
  EXPECT_NE(wrong.status().message().find(hexOf(module)), std::string::npos);
  EXPECT_FALSE(
      std::filesystem::exists(dir.path() + "/cache/modules/sha256/" + hexOf(module) + ".wasm"));
  auto right = fetcher.fetch(web.url("/m.wasm"), "sha256:" + hexOf(module));
  ASSERT_TRUE(right.isOk()) << right.status().toString();
  EXPECT_TRUE(
      std::filesystem::exists(dir.path() + "/cache/modules/sha256/" + hexOf(module) + ".wasm"));
  std::string local = dir.path() + "/l.wasm";
  std::ofstream(local, std::ios::binary) << module;
  EXPECT_EQ(fetcher.fetch(local, std::string(64, '0')).status().code(), StatusCode::kBadArgument);
}

TEST(ModuleFetcherTest, IfNotPresentUsesTheCacheAcrossRestartsWithoutNetwork) {
  TempDir dir;
  std::string module = fakeWasm("cached");
  std::string url;
  {
    StaticServer web;
    web.set("/m.wasm", httpResponse(200, module));
    url = web.url("/m.wasm");
    ASSERT_TRUE(ModuleFetcher(optionsIn(dir)).fetch(url, "", "IfNotPresent").isOk());
    EXPECT_EQ(web.server().requests(), 1);
    ModuleFetcher again(optionsIn(dir));
    EXPECT_EQ(textOf(*again.fetch(url, hexOf(module), "IfNotPresent")), module);
    EXPECT_EQ(web.server().requests(), 1);  // served from the cache
  }
  // The server is gone: a new fetcher (a restart) still has the module.
  ModuleFetcher restarted(optionsIn(dir));
  auto cached = restarted.fetch(url, "", "");
  ASSERT_TRUE(cached.isOk()) << cached.status().toString();
  EXPECT_EQ(textOf(*cached), module);
  // Always goes to the network, and fails without falling back to the cache.
  auto always = restarted.fetch(url, "", "Always");
  EXPECT_EQ(always.status().code(), StatusCode::kUnavailable);
  // A different sha256 than the cached module's is a miss, so the fetch fails.
  EXPECT_FALSE(restarted.fetch(url, std::string(64, '1'), "IfNotPresent").isOk());
}

TEST(ModuleFetcherTest, AlwaysRefetchesAndUpdatesTheCache) {
  TempDir dir;
  StaticServer web;
  web.set("/m.wasm", httpResponse(200, fakeWasm("v1")));
  ModuleFetcher fetcher(optionsIn(dir));
  EXPECT_EQ(textOf(*fetcher.fetch(web.url("/m.wasm"), "", "Always")), fakeWasm("v1"));
  web.set("/m.wasm", httpResponse(200, fakeWasm("v2")));
  EXPECT_EQ(textOf(*fetcher.fetch(web.url("/m.wasm"), "", "IfNotPresent")), fakeWasm("v1"));
  EXPECT_EQ(textOf(*fetcher.fetch(web.url("/m.wasm"), "", "Always")), fakeWasm("v2"));
  EXPECT_EQ(textOf(*fetcher.fetch(web.url("/m.wasm"), "", "IfNotPresent")), fakeWasm("v2"));
  EXPECT_EQ(web.server().requests(), 2);
}

TEST(ModuleFetcherTest, CorruptCacheEntriesAreRemovedAndRefetched) {
  TempDir dir;
  StaticServer web;
  std::string module = fakeWasm("intact");
  web.set("/m.wasm", httpResponse(200, module));
  ModuleFetcher fetcher(optionsIn(dir));
  ASSERT_TRUE(fetcher.fetch(web.url("/m.wasm"), "").isOk());
  std::string path = dir.path() + "/cache/modules/sha256/" + hexOf(module) + ".wasm";
  std::ofstream(path, std::ios::binary | std::ios::trunc) << "tampered";
  EXPECT_EQ(textOf(*fetcher.fetch(web.url("/m.wasm"), "")), module);
  EXPECT_EQ(web.server().requests(), 2);
  EXPECT_EQ(textOf(*fetcher.fetch(web.url("/m.wasm"), "")), module);
  EXPECT_EQ(web.server().requests(), 2);
}

TEST(ModuleFetcherTest, TransientFailuresAreRetriedOthersAreNot) {
  TempDir dir;
  std::atomic<int> calls{0};
  TestServer flaky([&](const TestRequest& r) {
    if (r.target == "/missing") return httpResponse(404, "");
    return ++calls < 3 ? httpResponse(503, "busy") : httpResponse(200, fakeWasm("third"));
  });
  FetchOptions o = optionsIn(dir);
  o.attempts = 3;
  ModuleFetcher fetcher(o);
  auto ok = fetcher.fetch(flaky.base() + "/m.wasm", "", "Always");
  ASSERT_TRUE(ok.isOk()) << ok.status().toString();
  EXPECT_EQ(calls, 3);
  auto missing = fetcher.fetch(flaky.base() + "/missing", "", "Always");
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(flaky.requests(), 4);  // a 404 is not retried
  calls = -10;
  auto exhausted = fetcher.fetch(flaky.base() + "/m.wasm", "", "Always");
  EXPECT_EQ(exhausted.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(exhausted.status().message().find("after 3 tries"), std::string::npos);
  EXPECT_EQ(flaky.requests(), 7);
}

TEST(ModuleFetcherTest, CacheCanBeDisabled) {
  TempDir dir;
  StaticServer web;
  web.set("/m.wasm", httpResponse(200, fakeWasm("x")));
  FetchOptions o = optionsIn(dir);
  o.disableCache = true;
  ModuleFetcher fetcher(o);
  ASSERT_TRUE(fetcher.fetch(web.url("/m.wasm"), "").isOk());
  ASSERT_TRUE(fetcher.fetch(web.url("/m.wasm"), "").isOk());
  EXPECT_EQ(web.server().requests(), 2);
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/cache"));
}

TEST(ModuleCacheTest, StoreLookupLoadAndDefaults) {
  TempDir dir;
  ModuleCache cache(dir.path() + "/c");
  EXPECT_FALSE(cache.lookup("http://h/m").has_value());
  std::string module = fakeWasm("c");
  ASSERT_TRUE(cache.store("http://h/m", bytesOf(module), std::string(64, 'e')).isOk());
  auto ref = cache.lookup("http://h/m");
  ASSERT_TRUE(ref.has_value());
  EXPECT_EQ(ref->moduleDigest, hexOf(module));
  EXPECT_EQ(ref->manifestDigest, std::string(64, 'e'));
  EXPECT_EQ(textOf(*cache.load(ref->moduleDigest)), module);
  EXPECT_FALSE(cache.lookup("http://h/other").has_value());
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir.path())) {
    EXPECT_EQ(entry.path().filename().string().find(".tmp."), std::string::npos) << entry.path();
  }
  EXPECT_FALSE(ModuleCache("").enabled());
  EXPECT_TRUE(ModuleCache("").store("u", bytesOf(module), "").isOk());
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  const char* home = std::getenv("HOME");
  std::string savedXdg = xdg ? xdg : "", savedHome = home ? home : "";
  setenv("XDG_CACHE_HOME", "/xdg", 1);
  EXPECT_EQ(ModuleCache::defaultDir(), "/xdg/wasmgate");
  unsetenv("XDG_CACHE_HOME");
  setenv("HOME", "/home/u", 1);
  EXPECT_EQ(ModuleCache::defaultDir(), "/home/u/.cache/wasmgate");
  if (xdg) setenv("XDG_CACHE_HOME", savedXdg.c_str(), 1);
  if (home)
    setenv("HOME", savedHome.c_str(), 1);
  else
    unsetenv("HOME");
}

TEST(ModuleCacheTest, UnwritableFolderIsAnErrorNotACrash) {
  TempDir dir;
  std::ofstream(dir.path() + "/file") << "x";
  ModuleCache cache(dir.path() + "/file/sub");
  EXPECT_FALSE(cache.store("u", bytesOf("m"), "").isOk());
  EXPECT_FALSE(cache.lookup("u").has_value());
}

}  // namespace
}  // namespace wasmgate::fetch
