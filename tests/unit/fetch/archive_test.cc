#include "fetch/archive.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace wasmgate::fetch {
namespace {

using testing::bytesOf;
using testing::fakeWasm;
using testing::gzipOf;
using testing::tarEnd;
using testing::tarEntry;
using testing::textOf;

std::string extract(const std::string& tar, StatusCode* code = nullptr) {
  auto out = extractTarFile(bytesOf(tar), "plugin.wasm");
  if (code) *code = out.status().code();
  return out.isOk() ? textOf(*out) : "";
}

TEST(TarTest, FindsPluginWasmAmongOtherEntries) {
  std::string module = fakeWasm(std::string(700, 'x'));  // spans two blocks
  std::string tar = tarEntry("etc/", "", '5') + tarEntry("README", "hello") +
                    tarEntry("plugin.wasm", module) + tarEnd();
  EXPECT_EQ(extract(tar), module);
}

TEST(TarTest, MatchesBaseNameInFolders) {
  EXPECT_EQ(extract(tarEntry("./plugin.wasm", "a") + tarEnd()), "a");
  EXPECT_EQ(extract(tarEntry("dir/sub/plugin.wasm", "b") + tarEnd()), "b");
  EXPECT_EQ(extract(tarEntry("plugin.wasm", "c", '0', "some/prefix") + tarEnd()), "c");
}

TEST(TarTest, SkipsDirectoriesAndLinksOfThatName) {
  std::string tar = tarEntry("plugin.wasm/", "", '5') + tarEntry("plugin.wasm", "", '2') +
                    tarEntry("plugin.wasm", "real") + tarEnd();
  EXPECT_EQ(extract(tar), "real");
}

TEST(TarTest, GnuLongName) {
  std::string longName = std::string(150, 'd') + "/plugin.wasm";
  std::string tar = tarEntry("././@LongLink", longName + '\0', 'L') +
                    tarEntry(longName.substr(0, 99), "long") + tarEnd();
  EXPECT_EQ(extract(tar), "long");
}

TEST(TarTest, PaxPathRecord) {
  std::string record = "path=x/plugin.wasm\n";
  record = std::to_string(record.size() + 3) + " " + record;  // "22 path=...\n"
  std::string tar =
      tarEntry("PaxHeaders/x", record, 'x') + tarEntry("truncated-name", "pax") + tarEnd();
  EXPECT_EQ(extract(tar), "pax");
}

TEST(TarTest, MissingFileIsNotFound) {
  StatusCode code;
  extract(tarEntry("other.wasm", "x") + tarEnd(), &code);
  EXPECT_EQ(code, StatusCode::kNotFound);
  extract("", &code);
  EXPECT_EQ(code, StatusCode::kNotFound);
}

TEST(TarTest, CorruptArchivesAreProtocolErrors) {
  StatusCode code;
  std::string tar = tarEntry("plugin.wasm", "data") + tarEnd();
  tar[10] ^= 1;  // breaks the checksum
  extract(tar, &code);
  EXPECT_EQ(code, StatusCode::kProtocolError);
  std::string truncated = testing::tarHeader("plugin.wasm", 4096);  // data missing
  extract(truncated + std::string(512, 'z'), &code);
  EXPECT_EQ(code, StatusCode::kProtocolError);
  extract(std::string(1024, 'n'), &code);  // not a tar at all
  EXPECT_EQ(code, StatusCode::kProtocolError);
}

TEST(GzipTest, RoundTrip) {
  std::string data = fakeWasm(std::string(300000, 'q'));
  auto out = gunzip(bytesOf(gzipOf(data)));
  ASSERT_TRUE(out.isOk()) << out.status().toString();
  EXPECT_EQ(textOf(*out), data);
  EXPECT_TRUE(isGzip(bytesOf(gzipOf(data))));
  EXPECT_FALSE(isGzip(bytesOf(data)));
  EXPECT_TRUE(isWasm(bytesOf(data)));
}

TEST(GzipTest, ConcatenatedMembers) {
  auto out = gunzip(bytesOf(gzipOf("hello ") + gzipOf("world")));
  ASSERT_TRUE(out.isOk()) << out.status().toString();
  EXPECT_EQ(textOf(*out), "hello world");
}

TEST(GzipTest, TruncatedCorruptAndOversizedInput) {
  std::string gz = gzipOf(std::string(10000, 'a') + "tail");
  auto truncated = gunzip(bytesOf(gz.substr(0, gz.size() / 2)));
  EXPECT_EQ(truncated.status().code(), StatusCode::kProtocolError);
  EXPECT_NE(truncated.status().message().find("truncated"), std::string::npos);
  std::string corrupt = gz;
  corrupt[12] ^= 0x55;
  corrupt[13] ^= 0x55;
  EXPECT_FALSE(gunzip(bytesOf(corrupt)).isOk());
  auto capped = gunzip(bytesOf(gz), 1000);
  EXPECT_EQ(capped.status().code(), StatusCode::kProtocolError);
  EXPECT_NE(capped.status().message().find("1000"), std::string::npos);
}

TEST(GzipTest, TarGzLayer) {
  std::string module = fakeWasm("layer");
  auto tar = gunzip(bytesOf(gzipOf(tarEntry("plugin.wasm", module) + tarEnd())));
  ASSERT_TRUE(tar.isOk());
  auto out = extractTarFile(*tar, "plugin.wasm");
  ASSERT_TRUE(out.isOk());
  EXPECT_EQ(textOf(*out), module);
}

}  // namespace
}  // namespace wasmgate::fetch
