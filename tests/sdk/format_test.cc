#include "wasmgate/format.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

namespace wasmgate {
namespace {

enum class Color { Red = 2 };

TEST(FormatTest, SequentialPlaceholders) {
  EXPECT_EQ(format("{} took {} ms", "GET", 12), "GET took 12 ms");
  EXPECT_EQ(format("no placeholders"), "no placeholders");
  EXPECT_EQ(format(""), "");
}

TEST(FormatTest, StringLikeArguments) {
  const std::string s = "str";
  const std::string_view sv = "view";
  const char* null_text = nullptr;
  EXPECT_EQ(format("{} {} {} {}", s, sv, "literal", null_text), "str view literal (null)");
}

TEST(FormatTest, Integers) {
  EXPECT_EQ(format("{} {} {}", 0, -42, 42u), "0 -42 42");
  EXPECT_EQ(format("{} {}", INT64_MIN, UINT64_MAX), "-9223372036854775808 18446744073709551615");
  EXPECT_EQ(format("{:x} {:x}", 255, -255), "ff -ff");
  EXPECT_EQ(format("{}", Color::Red), "2");
}

TEST(FormatTest, BoolCharAndPointer) {
  EXPECT_EQ(format("{} {}", true, false), "true false");
  EXPECT_EQ(format("[{}]", 'x'), "[x]");
  int x = 0;
  EXPECT_EQ(format("{}", static_cast<void*>(&x)).rfind("0x", 0), 0u);
}

TEST(FormatTest, Doubles) {
  EXPECT_EQ(format("{}", 1.5), "1.5");
  EXPECT_EQ(format("{}", 3.0), "3");
  EXPECT_EQ(format("{}", -0.001), "-0.001");
  EXPECT_EQ(format("{}", 0.1234567), "0.123457");
  EXPECT_EQ(format("{}", 0.9999999), "1");
  EXPECT_EQ(format("{}", 2.5f), "2.5");
  EXPECT_EQ(format("{}", 123456.0), "123456");
  EXPECT_EQ(format("{}", 1e20), "1e20");
  EXPECT_EQ(format("{}", -2.5e300), "-2.5e300");
  EXPECT_EQ(format("{}", 2e-7), "2e-7");
  EXPECT_EQ(format("{}", 9.99999999e20), "1e21");
  EXPECT_EQ(format("{}", 0.0), "0");
  EXPECT_EQ(format("{} {}", 0.0 / 0.0, -1.0 / 0.0), "nan -inf");
}

TEST(FormatTest, PositionalPlaceholders) {
  EXPECT_EQ(format("{1} before {0}", "a", "b"), "b before a");
  EXPECT_EQ(format("{0}{0}", "ab"), "abab");
}

TEST(FormatTest, EscapedBraces) {
  EXPECT_EQ(format("{{literal}} {}", 1), "{literal} 1");
  EXPECT_EQ(format("{{}}"), "{}");
}

TEST(FormatTest, UnmatchedPlaceholdersStayVerbatim) {
  EXPECT_EQ(format("{} {}", 1), "1 {}");
  EXPECT_EQ(format("{5}", 1), "{5}");
  EXPECT_EQ(format("{name}", 1), "{name}");
  EXPECT_EQ(format("open { brace", 1), "open { brace");
  EXPECT_EQ(format("lone } brace"), "lone } brace");
}

}  // namespace
}  // namespace wasmgate
