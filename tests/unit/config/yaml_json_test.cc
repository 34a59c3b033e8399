// pluginConfig reaches on_configure as the JSON text Istio produces (protomarshal.ToJSON of a
// google.protobuf.Struct): compact, keys sorted, numbers as doubles, Go's string escaping.
#include "config/yaml_json.h"

#include <gtest/gtest.h>

namespace wasmgate::config::detail {
namespace {

const std::string kFile = "p.yaml";

Result<std::string> convert(const std::string& yaml) {
  YAML::Node root = YAML::Load(yaml);
  return pluginConfigJson(Field(kFile, root["pluginConfig"], "spec.pluginConfig", 1));
}

std::string json(const std::string& yaml) {
  Result<std::string> r = convert(yaml);
  EXPECT_TRUE(r.isOk()) << r.status().toString();
  return r.isOk() ? *r : "";
}

TEST(PluginConfigJson, SortsKeysAndWritesCompactJson) {
  EXPECT_EQ(json("pluginConfig:\n"
                 "  openid_server: authn\n"
                 "  openid_realm: ingress\n"
                 "  nested: {b: [1, two, {z: 1, a: 2}], a: null}\n"),
            R"({"nested":{"a":null,"b":[1,"two",{"a":2,"z":1}]},"openid_realm":"ingress",)"
            R"("openid_server":"authn"})");
}

TEST(PluginConfigJson, EmptyOrAbsentIsEmptyText) {
  EXPECT_EQ(json("pluginConfig: {}"), "");
  EXPECT_EQ(json("pluginConfig:"), "");
  EXPECT_EQ(json("other: 1"), "");
}

TEST(PluginConfigJson, NumbersAreDoublesWrittenAsGoWritesThem) {
  EXPECT_EQ(json("pluginConfig: {a: 10, b: 1.5, c: -0.25, d: 1e21, e: 1e20, f: 0.0000001, "
                 "g: 0x10, h: 0777, i: 1_000, j: 1.0, k: 12345678901234567890}"),
            R"({"a":10,"b":1.5,"c":-0.25,"d":1e+21,"e":100000000000000000000,"f":1e-7,)"
            R"("g":16,"h":511,"i":1000,"j":1,"k":12345678901234567000})");
}

TEST(PluginConfigJson, SmallAndFractionalNumbers) {
  EXPECT_EQ(json("pluginConfig: {a: 0.000001, b: 0.00000123, c: 123.456, d: -0.0, e: 0, "
                 "f: 1e-300, g: -2.5e21, h: 100, i: 0.1}"),
            R"({"a":0.000001,"b":0.00000123,"c":123.456,"d":-0,"e":0,"f":1e-300,"g":-2.5e+21,)"
            R"("h":100,"i":0.1})");
}

TEST(PluginConfigJson, ScalarsAreTypedAsKubernetesTypesThem) {
  EXPECT_EQ(json("pluginConfig: {a: yes, b: off, c: ~, d: '10', e: \"true\", f: 2024-01-02, "
                 "g: !!str 5}"),
            R"({"a":true,"b":false,"c":null,"d":"10","e":"true","f":"2024-01-02","g":"5"})");
}

TEST(PluginConfigJson, KeysAreStrings) {
  EXPECT_EQ(json("pluginConfig: {1: a, true: b, x: c}"), R"({"1":"a","true":"b","x":"c"})");
}

TEST(PluginConfigJson, StringsAreEscapedAsGoEscapesThem) {
  EXPECT_EQ(json("pluginConfig: {s: \"<a href='x'>&</a>\"}"),
            R"({"s":"\u003ca href='x'\u003e\u0026\u003c/a\u003e"})");
  EXPECT_EQ(json("pluginConfig: {s: \"q\\\"b\\\\n\\n\\t\\r\\b\\f\\x01\\x7f\"}"),
            "{\"s\":\"q\\\"b\\\\n\\n\\t\\r\\b\\f\\u0001\x7f\"}");
  EXPECT_EQ(json("pluginConfig: {s: \"h\xc3\xa9llo \xe2\x80\xa8 \xf0\x9f\x98\x80\"}"),
            "{\"s\":\"h\xc3\xa9llo \\u2028 \xf0\x9f\x98\x80\"}");
}

TEST(PluginConfigJson, BlockScalarsKeepTheirText) {
  EXPECT_EQ(json("pluginConfig:\n  script: |\n    line one\n    line two\n"),
            R"({"script":"line one\nline two\n"})");
}

TEST(PluginConfigJson, RefusesWhatJsonCannotHold) {
  Result<std::string> r = convert("pluginConfig: {a: .inf}");
  ASSERT_FALSE(r.isOk());
  EXPECT_EQ(r.status().message(), "p.yaml:1: spec.pluginConfig.a: .inf cannot be written as JSON");
  r = convert("pluginConfig: [1, 2]");
  ASSERT_FALSE(r.isOk());
  EXPECT_EQ(r.status().message(), "p.yaml:1: spec.pluginConfig: expected a mapping, got a list");
  r = convert("pluginConfig: {a: 1, a: 2}");
  ASSERT_FALSE(r.isOk());
  EXPECT_EQ(r.status().message(), "p.yaml:1: spec.pluginConfig.a: repeated key");
  r = convert("pluginConfig: {? [1]: x}");
  ASSERT_FALSE(r.isOk());
  EXPECT_EQ(r.status().message(),
            "p.yaml:1: spec.pluginConfig: a key must be a string, got a list");
}

TEST(PluginConfigJson, AliasExpansionIsCapped) {
  // Each level doubles the size: 2^30 leaves would be far past the cap.
  std::string yaml = "a0: &a0 [xxxxxxxxxxxxxxxx, xxxxxxxxxxxxxxxx]\n";
  for (int i = 1; i <= 30; ++i) {
    yaml += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [*a" + std::to_string(i - 1) +
            ", *a" + std::to_string(i - 1) + "]\n";
  }
  yaml += "pluginConfig: {bomb: *a30}\n";
  Result<std::string> r = convert(yaml);
  ASSERT_FALSE(r.isOk());
  EXPECT_NE(r.status().message().find("bytes as JSON"), std::string::npos);
}

}  // namespace
}  // namespace wasmgate::config::detail
