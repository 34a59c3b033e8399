#include "wasmgate/json.h"

#include <gtest/gtest.h>

#include <string>

namespace wasmgate::json {
namespace {

Value parseOk(std::string_view text) {
  std::string error;
  auto v = parse(text, &error);
  EXPECT_TRUE(v.has_value()) << text << ": " << error;
  return v ? *v : Value();
}

std::string parseError(std::string_view text) {
  std::string error;
  auto v = parse(text, &error);
  EXPECT_FALSE(v.has_value()) << text;
  return error;
}

TEST(JsonTest, Scalars) {
  EXPECT_TRUE(parseOk("null").isNull());
  EXPECT_TRUE(parseOk("true").asBool());
  EXPECT_FALSE(parseOk("false").asBool(true));
  EXPECT_EQ(parseOk("\"hi\"").asString(), "hi");
  EXPECT_EQ(parseOk(" \t\r\n 42 \n").asInt(), 42);
}

TEST(JsonTest, Integers) {
  EXPECT_TRUE(parseOk("0").isInt());
  EXPECT_EQ(parseOk("-17").asInt(), -17);
  EXPECT_EQ(parseOk("9223372036854775807").asInt(), INT64_MAX);
  EXPECT_DOUBLE_EQ(parseOk("-17").asNumber(), -17.0);
}

TEST(JsonTest, Fractions) {
  Value v = parseOk("1.5");
  EXPECT_TRUE(v.isNumber());
  EXPECT_FALSE(v.isInt());
  EXPECT_DOUBLE_EQ(v.asNumber(), 1.5);
  EXPECT_EQ(v.asInt(), 1);
  EXPECT_DOUBLE_EQ(parseOk("-0.25").asNumber(), -0.25);
  EXPECT_DOUBLE_EQ(parseOk("1e3").asNumber(), 1000.0);
  EXPECT_DOUBLE_EQ(parseOk("2.5E-2").asNumber(), 0.025);
  EXPECT_DOUBLE_EQ(parseOk("1e+2").asNumber(), 100.0);
  EXPECT_FALSE(parseOk("1e3").isInt());
}

TEST(JsonTest, HugeNumbersDoNotOverflow) {
  Value v = parseOk("123456789012345678901234567890");
  EXPECT_FALSE(v.isInt());
  EXPECT_NEAR(v.asNumber() / 1.2345678901234568e29, 1.0, 1e-12);
  EXPECT_EQ(v.asInt(), INT64_MAX);
  EXPECT_EQ(parseOk("1e400").asInt(), INT64_MAX);
  EXPECT_DOUBLE_EQ(parseOk("1e-400").asNumber(), 0.0);
}

TEST(JsonTest, StringEscapes) {
  EXPECT_EQ(parseOk(R"("a\"b\\c\/d\b\f\n\r\t")").asString(), "a\"b\\c/d\b\f\n\r\t");
  EXPECT_EQ(parseOk(R"("\u0041\u00e9\u20ac")").asString(), "A\xc3\xa9\xe2\x82\xac");
  EXPECT_EQ(parseOk(R"("\ud83d\ude00")").asString(), "\xf0\x9f\x98\x80");
  EXPECT_EQ(parseOk("\"caf\xc3\xa9\"").asString(), "caf\xc3\xa9");  // raw UTF-8 kept
}

TEST(JsonTest, ObjectsKeepOrderAndLookUp) {
  Value v = parseOk(R"({"request_headers": {"x-a": "1", "x-b": "2"}, "n": 3, "on": true})");
  ASSERT_TRUE(v.isObject());
  EXPECT_EQ(v.size(), 3u);
  const Value& headers = v["request_headers"];
  ASSERT_EQ(headers.members().size(), 2u);
  EXPECT_EQ(headers.members()[0].key, "x-a");
  EXPECT_EQ(headers.members()[0].value.asString(), "1");
  EXPECT_EQ(headers.members()[1].key, "x-b");
  EXPECT_EQ(v["n"].asInt(), 3);
  EXPECT_TRUE(v["on"].asBool());
  EXPECT_TRUE(v.has("n"));
  EXPECT_FALSE(v.has("missing"));
  EXPECT_EQ(v.find("missing"), nullptr);
}

TEST(JsonTest, RepeatedKeyLastWins) {
  EXPECT_EQ(parseOk(R"({"a": 1, "a": 2})")["a"].asInt(), 2);
}

TEST(JsonTest, Arrays) {
  Value v = parseOk(R"([1, "two", [3], {"four": 4}, null])");
  ASSERT_TRUE(v.isArray());
  ASSERT_EQ(v.size(), 5u);
  EXPECT_EQ(v[0].asInt(), 1);
  EXPECT_EQ(v[1].asString(), "two");
  EXPECT_EQ(v[2][0].asInt(), 3);
  EXPECT_EQ(v[3]["four"].asInt(), 4);
  EXPECT_TRUE(v[4].isNull());
  EXPECT_TRUE(v[99].isNull());
  EXPECT_TRUE(parseOk("[]").items().empty());
  EXPECT_TRUE(parseOk("{}").members().empty());
}

TEST(JsonTest, MissingLookupsChainToNull) {
  Value v = parseOk(R"({"a": {"b": 1}})");
  EXPECT_TRUE(v["x"]["y"]["z"].isNull());
  EXPECT_EQ(v["x"]["y"].asString("fallback"), "fallback");
  EXPECT_EQ(v["a"]["b"].asString("not a string"), "not a string");
  EXPECT_EQ(v["a"].asInt(7), 7);
  EXPECT_TRUE(v["a"]["b"][0].isNull());
  EXPECT_TRUE(v[0].isNull());
}

TEST(JsonTest, ValuesCopyAndMove) {
  Value v = parseOk(R"({"list": [1, 2, {"k": "v"}]})");
  Value copy = v;
  Value moved = std::move(v);
  EXPECT_EQ(copy["list"][2]["k"].asString(), "v");
  EXPECT_EQ(moved["list"].size(), 3u);
}

TEST(JsonTest, ErrorsNameReasonAndOffset) {
  EXPECT_EQ(parseError(""), "unexpected end of input at offset 0");
  EXPECT_EQ(parseError("{\"a\": 1,}"), "expected a string key at offset 8");
  EXPECT_EQ(parseError("{\"a\" 1}"), "expected ':' at offset 5");
  EXPECT_EQ(parseError("[1 2]"), "expected ',' or ']' at offset 3");
  EXPECT_EQ(parseError("{} x"), "unexpected trailing characters at offset 3");
}

TEST(JsonTest, RejectsInvalidDocuments) {
  for (const char* bad :
       {"{",       "[",         "\"open",      "tru",         "nul",           "01",         "-",
        "1.",      ".5",        "1e",          "+1",          "'single'",      "{a: 1}",     "[1,]",
        "\"\\x\"", "\"\\u12\"", "\"\\ud800\"", "\"\\udc00\"", "\"tab\there\"", "{\"a\":1}}", "NaN",
        "Infinity"}) {
    std::string error;
    EXPECT_FALSE(parse(bad, &error).has_value()) << bad;
    EXPECT_FALSE(error.empty()) << bad;
  }
}

TEST(JsonTest, NoErrorStringNeeded) {
  EXPECT_FALSE(parse("[").has_value());
  EXPECT_TRUE(parse("[]").has_value());
}

TEST(JsonTest, LimitsNestingDepth) {
  std::string deep(200, '[');
  deep += std::string(200, ']');
  EXPECT_EQ(parseError(deep).rfind("nesting too deep", 0), 0u);
  std::string ok(60, '[');
  ok += std::string(60, ']');
  parseOk(ok);
}

}  // namespace
}  // namespace wasmgate::json
