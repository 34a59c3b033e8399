// OCI references, manifests, module layers and auth challenges (no network).
#include <gtest/gtest.h>

#include <vector>

#include "fetch/digest.h"
#include "fetch/oci_client.h"
#include "fetch/oci_manifest.h"
#include "fetch/oci_reference.h"
#include "test_util.h"

namespace wasmgate::fetch {
namespace {

using testing::bytesOf;
using testing::fakeWasm;
using testing::textOf;

const std::string kHex(64, 'a');

TEST(OciReferenceTest, RegistryRepositoryTagAndDigest) {
  auto r = parseOciReference("oci://127.0.0.1:5000/plugins/add-header:v1");
  ASSERT_TRUE(r.isOk()) << r.status().toString();
  EXPECT_EQ(r->registry, "127.0.0.1:5000");
  EXPECT_EQ(r->repository, "plugins/add-header");
  EXPECT_EQ(r->tag, "v1");
  EXPECT_EQ(r->reference(), "v1");

  auto pinned = parseOciReference("oci://localhost:5000/p/x:v2@sha256:" + std::string(64, 'A'));
  ASSERT_TRUE(pinned.isOk()) << pinned.status().toString();
  EXPECT_EQ(pinned->digest, "sha256:" + kHex);
  EXPECT_EQ(pinned->reference(), "sha256:" + kHex);
  EXPECT_EQ(pinned->tag, "v2");

  auto untagged = parseOciReference("ghcr.io/org/plugin");
  ASSERT_TRUE(untagged.isOk());
  EXPECT_EQ(untagged->registry, "ghcr.io");
  EXPECT_EQ(untagged->tag, "latest");

  auto hub = parseOciReference("oci://alpine:3");
  ASSERT_TRUE(hub.isOk());
  EXPECT_EQ(hub->registry, "docker.io");
  EXPECT_EQ(hub->repository, "library/alpine");
  EXPECT_EQ(registryBaseUrl(*hub, {}), "https://registry-1.docker.io");
}

TEST(OciReferenceTest, RefusesMalformedReferences) {
  for (std::string bad :
       std::vector<std::string>{"oci://reg:5000/", "oci://reg:5000/UPPER:v1", "oci://reg:5000/a//b",
                                "oci://reg:5000/a:bad tag", "oci://reg:5000/a@sha256:abc",
                                "oci://reg:5000/a@md5:" + kHex}) {
    auto r = parseOciReference(bad);
    EXPECT_EQ(r.status().code(), StatusCode::kBadArgument) << bad;
  }
}

TEST(OciReferenceTest, PlainHttpForLoopbackAndListedRegistries) {
  auto ref = [](const char* url) { return *parseOciReference(url); };
  EXPECT_EQ(registryBaseUrl(ref("oci://127.0.0.1:5000/a"), {}), "http://127.0.0.1:5000");
  EXPECT_EQ(registryBaseUrl(ref("oci://localhost:5000/a"), {}), "http://localhost:5000");
  EXPECT_EQ(registryBaseUrl(ref("oci://[::1]:5000/a"), {}), "http://[::1]:5000");
  EXPECT_EQ(registryBaseUrl(ref("oci://reg.lan:5000/a"), {}), "https://reg.lan:5000");
  EXPECT_EQ(registryBaseUrl(ref("oci://reg.lan:5000/a"), {"reg.lan:5000"}), "http://reg.lan:5000");
  EXPECT_EQ(registryBaseUrl(ref("oci://reg.lan/a"), {"reg.lan"}), "http://reg.lan");
}

std::string layerJson(const std::string& type, const std::string& digest) {
  return R"({"mediaType":")" + type + R"(","digest":")" + digest + R"(","size":12})";
}

TEST(OciManifestTest, WasmArtifact) {
  std::string json = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
    "config":{"mediaType":"application/vnd.module.wasm.config.v1+json","digest":"sha256:)" +
                     kHex + R"(","size":2},"layers":[)" +
                     layerJson(std::string(kWasmLayerType), "sha256:" + std::string(64, 'b')) +
                     "]}";
  auto m = parseOciManifest(json, "");
  ASSERT_TRUE(m.isOk()) << m.status().toString();
  EXPECT_FALSE(m->isIndex);
  ASSERT_EQ(m->layers.size(), 1u);
  EXPECT_EQ(m->layers[0].size, 12u);
  auto layer = moduleLayer(*m);
  ASSERT_TRUE(layer.isOk());
  EXPECT_EQ(layer->digest, "sha256:" + std::string(64, 'b'));
}

TEST(OciManifestTest, DockerImageTakesTheLastLayerAndTheContentType) {
  std::string json =
      R"({"schemaVersion":2,"config":{"mediaType":"x","digest":"sha256:)" + kHex +
      R"("},"layers":[)" +
      layerJson("application/vnd.docker.image.rootfs.diff.tar.gzip", "sha256:" + kHex) + "," +
      layerJson("application/vnd.docker.image.rootfs.diff.tar.gzip",
                "sha256:" + std::string(64, 'c')) +
      "]}";
  auto m = parseOciManifest(json, std::string(kDockerManifestType) + "; charset=utf-8");
  ASSERT_TRUE(m.isOk()) << m.status().toString();
  EXPECT_EQ(m->mediaType, kDockerManifestType);
  EXPECT_EQ(moduleLayer(*m)->digest, "sha256:" + std::string(64, 'c'));
}

TEST(OciManifestTest, IndexPicksAWasmPlatformThenLinuxAmd64) {
  auto entry = [](char c, const char* os, const char* arch) {
    return R"({"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:)" +
           std::string(64, c) + R"(","platform":{"os":")" + os + R"(","architecture":")" + arch +
           "\"}}";
  };
  std::string json =
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[)" +
      entry('1', "linux", "arm64") + "," + entry('2', "linux", "amd64") + "]}";
  auto index = parseOciManifest(json, "");
  ASSERT_TRUE(index.isOk()) << index.status().toString();
  EXPECT_TRUE(index->isIndex);
  EXPECT_EQ(pickIndexEntry(*index)->digest, "sha256:" + std::string(64, '2'));
  json.insert(json.size() - 2, "," + entry('3', "wasip1", "wasm"));
  EXPECT_EQ(pickIndexEntry(*parseOciManifest(json, ""))->digest, "sha256:" + std::string(64, '3'));
}

TEST(OciManifestTest, RefusesMalformedManifests) {
  for (std::string bad :
       std::vector<std::string>{"not json", "[]", R"({"schemaVersion":1,"fsLayers":[]})",
                                R"({"schemaVersion":2,"mediaType":"text/plain","layers":[]})",
                                R"({"schemaVersion":2,"layers":{}})",
                                R"({"schemaVersion":2,"layers":[{"digest":"sha256:short"}]})"}) {
    auto m = parseOciManifest(bad, "");
    EXPECT_EQ(m.status().code(), StatusCode::kProtocolError) << bad;
  }
  auto empty = parseOciManifest(R"({"schemaVersion":2,"layers":[]})", "");
  ASSERT_TRUE(empty.isOk());
  EXPECT_FALSE(moduleLayer(*empty).isOk());
}

TEST(OciManifestTest, ModuleFromEveryLayerForm) {
  std::string module = fakeWasm("m");
  OciDescriptor wasm{std::string(kWasmLayerType), "sha256:" + kHex, 0, "", ""};
  OciDescriptor image{"application/vnd.oci.image.layer.v1.tar+gzip", "sha256:" + kHex, 0, "", ""};
  std::string tar = testing::tarEntry("plugin.wasm", module) + testing::tarEnd();
  EXPECT_EQ(textOf(*moduleFromLayer(wasm, bytesOf(module))), module);
  EXPECT_EQ(textOf(*moduleFromLayer(image, bytesOf(testing::gzipOf(tar)))), module);
  EXPECT_EQ(textOf(*moduleFromLayer(image, bytesOf(tar))), module);
  EXPECT_EQ(moduleFromLayer(wasm, bytesOf("not wasm")).status().code(), StatusCode::kProtocolError);
  auto noPlugin = moduleFromLayer(image, bytesOf(testing::tarEntry("x", "y") + testing::tarEnd()));
  EXPECT_EQ(noPlugin.status().code(), StatusCode::kNotFound);
}

TEST(AuthChallengeTest, BearerParams) {
  auto c = parseAuthChallenge(
      R"(Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull")");
  EXPECT_EQ(c[""], "bearer");
  EXPECT_EQ(c["realm"], "https://auth.example/token");
  EXPECT_EQ(c["service"], "registry.example");
  EXPECT_EQ(c["scope"], "repository:a/b:pull");
  auto basic = parseAuthChallenge(R"(Basic realm="x \"quoted\"", charset=UTF-8)");
  EXPECT_EQ(basic[""], "basic");
  EXPECT_EQ(basic["realm"], "x \"quoted\"");
  EXPECT_EQ(basic["charset"], "UTF-8");
}

TEST(DigestTest, NormalizesConfiguredSha256) {
  EXPECT_EQ(*normalizeSha256(""), "");
  EXPECT_EQ(*normalizeSha256(std::string(64, 'A')), kHex);
  EXPECT_EQ(*normalizeSha256("sha256:" + kHex), kHex);
  EXPECT_FALSE(normalizeSha256("abc").has_value());
  EXPECT_FALSE(normalizeSha256(std::string(64, 'g')).has_value());
  EXPECT_EQ(sha256Hex(std::string_view("")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

}  // namespace
}  // namespace wasmgate::fetch
