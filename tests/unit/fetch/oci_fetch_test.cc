// oci:// through ModuleFetcher against a fake registry on a loopback port (plain http, as for
// every loopback registry): both module forms, indexes, digests, anonymous bearer tokens,
// redirected blobs and the cache.
#include <gtest/gtest.h>

#include <map>
#include <mutex>

#include "fetch/module_fetcher.h"
#include "fetch/oci_manifest.h"
#include "test_server.h"
#include "test_util.h"

namespace wasmgate::fetch {
namespace {

using testing::fakeWasm;
using testing::gzipOf;
using testing::httpResponse;
using testing::TempDir;
using testing::TestRequest;
using testing::TestServer;
using testing::textOf;

std::string hexOf(const std::string& s) {
  return sha256Hex(std::string_view(s));
}

// The registry side of the distribution API: GET manifests and blobs of one repository.
class FakeRegistry {
 public:
  FakeRegistry() : server_([this](const TestRequest& r) { return answer(r); }) {}

  // Stores a blob and returns its digest.
  std::string blob(const std::string& data) {
    std::lock_guard lock(mu_);
    std::string digest = "sha256:" + hexOf(data);
    blobs_[digest] = data;
    return digest;
  }
  // Stores a manifest under `tag` and its digest; returns the digest.
  std::string manifest(const std::string& tag, const std::string& json, std::string_view type) {
    std::lock_guard lock(mu_);
    std::string digest = "sha256:" + hexOf(json);
    manifests_[tag] = manifests_[digest] = {json, std::string(type)};
    return digest;
  }
  std::string artifact(const std::string& tag, const std::string& module) {
    std::string config = blob("{}");
    std::string layer = blob(module);
    return manifest(tag,
                    manifestJson(kOciManifestType, kWasmConfigType, config,
                                 {{std::string(kWasmLayerType), layer}}),
                    kOciManifestType);
  }
  std::string image(const std::string& tag, const std::string& module) {
    std::string config = blob(R"({"architecture":"amd64","os":"linux"})");
    std::string base = blob(gzipOf(testing::tarEntry("etc/hostname", "x") + testing::tarEnd()));
    std::string layer = blob(gzipOf(testing::tarEntry("plugin.wasm", module) + testing::tarEnd()));
    const std::string type = "application/vnd.docker.image.rootfs.diff.tar.gzip";
    return manifest(
        tag,
        manifestJson(kDockerManifestType, "application/vnd.docker.container.image.v1+json", config,
                     {{type, base}, {type, layer}}),
        kDockerManifestType);
  }
  static std::string manifestJson(std::string_view type, std::string_view configType,
                                  const std::string& config,
                                  const std::vector<std::pair<std::string, std::string>>& layers) {
    std::string json = R"({"schemaVersion":2,"mediaType":")" + std::string(type) +
                       R"(","config":{"mediaType":")" + std::string(configType) +
                       R"(","digest":")" + config + R"(","size":2},"layers":[)";
    for (size_t i = 0; i < layers.size(); ++i) {
      json += (i ? "," : "") + std::string(R"({"mediaType":")") + layers[i].first +
              R"(","digest":")" + layers[i].second + R"(","size":1})";
    }
    return json + "]}";
  }

  void requireToken(bool on) {
    std::lock_guard lock(mu_);
    requireToken_ = on;
  }
  void redirectBlobsTo(std::string base) {
    std::lock_guard lock(mu_);
    redirect_ = std::move(base);
  }
  void tamperBlob(const std::string& digest, const std::string& data) {
    std::lock_guard lock(mu_);
    blobs_[digest] = data;
  }
  std::string host() const { return "127.0.0.1:" + std::to_string(server_.port()); }
  std::string url(const std::string& ref) const {
    return "oci://" + host() + "/plugins/demo" + ref;
  }
  TestServer& server() { return server_; }

 private:
  std::string answer(const TestRequest& r) {
    std::lock_guard lock(mu_);
    if (r.target.starts_with("/token?")) return httpResponse(200, R"({"token":"tok123"})");
    if (requireToken_ && r.header("authorization") != "Bearer tok123") {
      return httpResponse(
          401, "",
          "WWW-Authenticate: Bearer realm=\"" + server_.base() +
              "/token\",service=\"fake\",scope=\"repository:plugins/demo:pull\"\r\n");
    }
    const std::string prefix = "/v2/plugins/demo/";
    if (r.target.starts_with(prefix + "manifests/")) {
      auto it = manifests_.find(r.target.substr(prefix.size() + 10));
      if (it == manifests_.end()) return httpResponse(404, R"({"errors":[]})");
      return httpResponse(200, it->second.first, "Content-Type: " + it->second.second + "\r\n");
    }
    if (r.target.starts_with(prefix + "blobs/")) {
      std::string digest = r.target.substr(prefix.size() + 6);
      if (!redirect_.empty())
        return httpResponse(307, "", "Location: " + redirect_ + "/" + digest + "\r\n");
      auto it = blobs_.find(digest);
      return it == blobs_.end() ? httpResponse(404, "") : httpResponse(200, it->second);
    }
    return httpResponse(404, "");
  }

  std::mutex mu_;
  std::map<std::string, std::string> blobs_;
  std::map<std::string, std::pair<std::string, std::string>> manifests_;
  bool requireToken_ = false;
  std::string redirect_;
  TestServer server_;
};

FetchOptions optionsIn(const TempDir& dir) {
  FetchOptions o;
  o.timeout = std::chrono::milliseconds(2000);
  o.backoff = std::chrono::milliseconds(10);
  o.cacheDir = dir.path() + "/cache";
  return o;
}

TEST(OciFetchTest, WasmArtifactByTag) {
  TempDir dir;
  FakeRegistry reg;
  std::string module = fakeWasm("artifact");
  std::string digest = reg.artifact("v1", module);
  ModuleFetcher fetcher(optionsIn(dir));
  auto out = fetcher.fetch(reg.url(":v1"), hexOf(module), "Always");
  ASSERT_TRUE(out.isOk()) << out.status().toString();
  EXPECT_EQ(textOf(*out), module);
  // Istio's reading of sha256 for images: the manifest digest is accepted as well.
  auto byImageDigest = fetcher.fetch(reg.url(":v1"), digest, "Always");
  ASSERT_TRUE(byImageDigest.isOk()) << byImageDigest.status().toString();
  auto wrong = fetcher.fetch(reg.url(":v1"), std::string(64, '0'), "Always");
  EXPECT_EQ(wrong.status().code(), StatusCode::kBadArgument);
  EXPECT_NE(wrong.status().message().find("image sha256"), std::string::npos);
  EXPECT_EQ(fetcher.fetch(reg.url(":v9"), "", "Always").status().code(), StatusCode::kNotFound);
}

TEST(OciFetchTest, DockerImageWithPluginWasmInTheLastLayer) {
  TempDir dir;
  FakeRegistry reg;
  std::string module = fakeWasm("image");
  reg.image("v2", module);
  auto out = ModuleFetcher(optionsIn(dir)).fetch(reg.url(":v2"), hexOf(module), "Always");
  ASSERT_TRUE(out.isOk()) << out.status().toString();
  EXPECT_EQ(textOf(*out), module);
}

TEST(OciFetchTest, PinnedDigestAndIndexes) {
  TempDir dir;
  FakeRegistry reg;
  std::string module = fakeWasm("indexed");
  std::string inner = reg.artifact("inner", module);
  std::string index =
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[)"
      R"({"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" +
      inner + R"(","size":1,"platform":{"os":"wasip1","architecture":"wasm"}}]})";
  std::string indexDigest = reg.manifest("multi", index, kOciIndexType);
  ModuleFetcher fetcher(optionsIn(dir));
  EXPECT_EQ(textOf(*fetcher.fetch(reg.url(":multi"), "", "Always")), module);
  EXPECT_EQ(textOf(*fetcher.fetch(reg.url("@" + indexDigest), "", "Always")), module);
  EXPECT_EQ(textOf(*fetcher.fetch(reg.url(":ignored@" + inner), "", "Always")), module);
  // The registry answers a digest with a different manifest: refused.
  reg.manifest("sha256:" + std::string(64, 'f'), index, kOciIndexType);
  auto lying = fetcher.fetch(reg.url("@sha256:" + std::string(64, 'f')), "", "Always");
  EXPECT_EQ(lying.status().code(), StatusCode::kProtocolError);
}

TEST(OciFetchTest, BlobDigestIsVerified) {
  TempDir dir;
  FakeRegistry reg;
  std::string module = fakeWasm("genuine");
  reg.artifact("v1", module);
  reg.tamperBlob("sha256:" + hexOf(module), fakeWasm("evil"));
  auto out = ModuleFetcher(optionsIn(dir)).fetch(reg.url(":v1"), "", "Always");
  EXPECT_EQ(out.status().code(), StatusCode::kProtocolError);
  EXPECT_NE(out.status().message().find("digest"), std::string::npos);
}

TEST(OciFetchTest, AnonymousBearerTokenAndRedirectedBlobs) {
  TempDir dir;
  FakeRegistry reg;
  std::string module = fakeWasm("behind auth");
  reg.artifact("v1", module);
  reg.requireToken(true);
  TestServer storage([&](const TestRequest& r) {
    EXPECT_EQ(r.header("authorization"), "");  // the token stays with the registry
    return httpResponse(200, module);
  });
  reg.redirectBlobsTo(storage.base() + "/storage");
  auto out = ModuleFetcher(optionsIn(dir)).fetch(reg.url(":v1"), hexOf(module), "Always");
  ASSERT_TRUE(out.isOk()) << out.status().toString();
  EXPECT_EQ(textOf(*out), module);
  EXPECT_EQ(storage.requests(), 1);
}

TEST(OciFetchTest, IfNotPresentReusesTheCachedImage) {
  TempDir dir;
  std::string module = fakeWasm("cache me");
  std::string url, digest;
  {
    FakeRegistry reg;
    digest = reg.artifact("v1", module);
    url = reg.url(":v1");
    ASSERT_TRUE(ModuleFetcher(optionsIn(dir)).fetch(url, "", "IfNotPresent").isOk());
  }
  ModuleFetcher offline(optionsIn(dir));
  EXPECT_EQ(textOf(*offline.fetch(url, digest, "IfNotPresent")), module);
  EXPECT_EQ(textOf(*offline.fetch(url, hexOf(module), "IfNotPresent")), module);
  EXPECT_FALSE(offline.fetch(url, "", "Always").isOk());
}

}  // namespace
}  // namespace wasmgate::fetch
