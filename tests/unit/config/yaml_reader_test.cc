#include "config/yaml_reader.h"

#include <gtest/gtest.h>

namespace wasmgate::config::detail {
namespace {

using std::chrono::milliseconds;

TEST(ParseDuration, AcceptsUnitsAndSums) {
  EXPECT_EQ(parseDuration("250ms"), milliseconds(250));
  EXPECT_EQ(parseDuration("1s"), milliseconds(1000));
  EXPECT_EQ(parseDuration("2m"), milliseconds(120'000));
  EXPECT_EQ(parseDuration("1h"), milliseconds(3'600'000));
  EXPECT_EQ(parseDuration("1m30s"), milliseconds(90'000));
  EXPECT_EQ(parseDuration("0"), milliseconds(0));
  EXPECT_EQ(parseDuration("0s"), milliseconds(0));
}

TEST(ParseDuration, RefusesOtherForms) {
  for (const char* bad :
       {"", "5", "1.5s", "-1s", "1d", "s", "1 s", "1S", "ms", "1sms", "9999999999999h"}) {
    EXPECT_FALSE(parseDuration(bad).has_value()) << bad;
  }
}

TEST(ParseAddress, AcceptsIpv4Ipv6AndLocalhost) {
  std::optional<proxy::SocketAddress> a = parseAddress("127.0.0.1:8080");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 8080);
  a = parseAddress("[::1]:9901");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "::1");
  EXPECT_EQ(a->port, 9901);
  a = parseAddress("localhost:0");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "localhost");
  EXPECT_EQ(a->port, 0);
}

TEST(ParseAddress, RefusesOtherForms) {
  for (const char* bad : {"127.0.0.1", ":80", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1",
                          "::1:80", "[::1]80", "[::1]:", "[127.0.0.1]:80", "example.com:80",
                          "1.2.3:80", "127.0.0.1:8o", "127.0.0.1:123456"}) {
    EXPECT_FALSE(parseAddress(bad).has_value()) << bad;
  }
}

ScalarValue resolve(const std::string& yaml) {
  return resolveScalar(YAML::Load(yaml));
}

TEST(ResolveScalar, TypesPlainScalarsAsKubernetesDoes) {
  EXPECT_EQ(resolve("yes").kind, ScalarValue::Kind::kBool);
  EXPECT_TRUE(resolve("On").boolean);
  EXPECT_FALSE(resolve("off").boolean);
  EXPECT_EQ(resolve("~").kind, ScalarValue::Kind::kNull);
  EXPECT_EQ(resolve("null").kind, ScalarValue::Kind::kNull);
  EXPECT_EQ(resolve("42").integer, 42);
  EXPECT_EQ(resolve("-42").integer, -42);
  EXPECT_EQ(resolve("0x1F").integer, 31);
  EXPECT_EQ(resolve("0o17").integer, 15);
  EXPECT_EQ(resolve("017").integer, 15);  // a leading 0 is octal, as in Go
  EXPECT_EQ(resolve("0b101").integer, 5);
  EXPECT_EQ(resolve("1_000").integer, 1000);
  EXPECT_EQ(resolve("-9223372036854775808").integer, INT64_MIN);
  EXPECT_EQ(resolve("08").kind, ScalarValue::Kind::kFloat);
  EXPECT_EQ(resolve("08").number, 8);
  EXPECT_EQ(resolve("1.5").number, 1.5);
  EXPECT_EQ(resolve(".5").number, 0.5);
  EXPECT_EQ(resolve("1e3").number, 1000);
  EXPECT_EQ(resolve("18446744073709551615").kind, ScalarValue::Kind::kFloat);
  EXPECT_EQ(resolve("1.2.3").kind, ScalarValue::Kind::kString);
  EXPECT_EQ(resolve("2024-01-02").kind, ScalarValue::Kind::kString);
  EXPECT_EQ(resolve("0x").kind, ScalarValue::Kind::kString);
  EXPECT_EQ(resolve("abc").kind, ScalarValue::Kind::kString);
}

TEST(ResolveScalar, QuotedAndStrTaggedScalarsStayStrings) {
  EXPECT_EQ(resolve("'42'").kind, ScalarValue::Kind::kString);
  EXPECT_EQ(resolve("\"true\"").kind, ScalarValue::Kind::kString);
  EXPECT_EQ(resolve("!!str 42").kind, ScalarValue::Kind::kString);
  EXPECT_EQ(resolve("!!int 42").integer, 42);
  ScalarValue block = resolve("|\n  yes\n");
  EXPECT_EQ(block.kind, ScalarValue::Kind::kString);
  EXPECT_EQ(block.text, "yes\n");
}

TEST(FieldError, FormatsFileLineFieldAndWhat) {
  EXPECT_EQ(fieldError("a.yaml", 3, "x.y", "bad").message(), "a.yaml:3: x.y: bad");
  EXPECT_EQ(fieldError("a.yaml", 0, "", "empty").message(), "a.yaml: empty");
  EXPECT_EQ(fieldError("a.yaml", 3, "x", "bad").code(), StatusCode::kBadArgument);
}

}  // namespace
}  // namespace wasmgate::config::detail
