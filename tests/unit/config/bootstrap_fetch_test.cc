// The bootstrap's `fetch:` section: how plugin modules are fetched.
#include <gtest/gtest.h>

#include "config/bootstrap.h"
#include "temp_dir.h"

namespace wasmgate::config {
namespace {

using std::chrono::milliseconds;
using testing::TempDir;

TEST(BootstrapFetch, DefaultsWhenAbsent) {
  TempDir dir;
  Result<proxy::ServerConfig> r = parseBootstrap("workers: 1\n", "b.yaml", dir.path());
  ASSERT_TRUE(r.isOk()) << r.status().toString();
  EXPECT_EQ(r->fetch.timeout, milliseconds(10000));
  EXPECT_EQ(r->fetch.attempts, 3u);
  EXPECT_EQ(r->fetch.caFile, "");
  EXPECT_FALSE(r->fetch.insecureSkipVerify);
  EXPECT_EQ(r->fetch.cacheDir, "");
}

TEST(BootstrapFetch, ReadsEveryFieldAndResolvesPaths) {
  TempDir dir;
  dir.write("certs/ca.pem", "not checked here");
  Result<proxy::ServerConfig> r = parseBootstrap(R"(fetch:
  timeout: 2s500ms
  attempts: 5
  ca_file: certs/ca.pem
  insecure_skip_verify: true
  cache_dir: cache/../modules
)",
                                                 "b.yaml", dir.path());
  ASSERT_TRUE(r.isOk()) << r.status().toString();
  EXPECT_EQ(r->fetch.timeout, milliseconds(2500));
  EXPECT_EQ(r->fetch.attempts, 5u);
  EXPECT_EQ(r->fetch.caFile, dir / "certs/ca.pem");
  EXPECT_TRUE(r->fetch.insecureSkipVerify);
  EXPECT_EQ(r->fetch.cacheDir, dir / "modules");
  Result<proxy::ServerConfig> absolute =
      parseBootstrap("fetch: {cache_dir: /var/cache/wg}\n", "b.yaml", dir.path());
  ASSERT_TRUE(absolute.isOk()) << absolute.status().toString();
  EXPECT_EQ(absolute->fetch.cacheDir, "/var/cache/wg");
}

TEST(BootstrapFetch, ErrorsNameFileLineAndField) {
  TempDir dir;
  struct Case {
    std::string yaml;
    std::string message;
  };
  for (const Case& c : std::vector<Case>{
           {"fetch:\n  timout: 1s\n", "b.yaml:2: fetch.timout: unknown field"},
           {"fetch:\n  timeout: 0\n", "b.yaml:2: fetch.timeout: must be more than 0"},
           {"fetch:\n  attempts: 0\n", "b.yaml:2: fetch.attempts: "},
           {"fetch:\n  cache_dir: \"\"\n", "b.yaml:2: fetch.cache_dir: must not be empty"},
           {"fetch:\n  ca_file: missing.pem\n", "b.yaml:2: fetch.ca_file: " + dir / "missing.pem"},
           {"fetch:\n  insecure_skip_verify: maybe\n", "b.yaml:2: fetch.insecure_skip_verify: "},
       }) {
    Result<proxy::ServerConfig> r = parseBootstrap(c.yaml, "b.yaml", dir.path());
    ASSERT_FALSE(r.isOk()) << c.yaml;
    EXPECT_EQ(r.status().code(), StatusCode::kBadArgument) << c.yaml;
    EXPECT_EQ(r.status().message().rfind(c.message, 0), 0u) << r.status().message();
  }
}

}  // namespace
}  // namespace wasmgate::config
