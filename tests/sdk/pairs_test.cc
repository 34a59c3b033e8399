#include "wasmgate/pairs.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace wasmgate {
namespace {

using namespace std::string_literals;
using namespace std::string_view_literals;

// The example from the ABI reference: {"a": "1", "bb": "22"}.
const std::string kTwoPairs =
    "\x02\x00\x00\x00"
    "\x01\x00\x00\x00\x01\x00\x00\x00"
    "\x02\x00\x00\x00\x02\x00\x00\x00"
    "a\0001\000bb\00022\000"s;

TEST(PairsTest, SerializesTheDocumentedExample) {
  EXPECT_EQ(serializePairs({{"a", "1"}, {"bb", "22"}}), kTwoPairs);
  EXPECT_EQ(kTwoPairs.size(), 30u);
}

TEST(PairsTest, SerializesEmptyMapAsZeroCount) {
  EXPECT_EQ(serializePairs(HeaderViews{}), "\0\0\0\0"s);
}

TEST(PairsTest, SerializesOwningContainers) {
  HeaderPairs owned = {{"x", "y"}};
  std::map<std::string, std::string> sorted = {{"x", "y"}};
  EXPECT_EQ(serializePairs(owned), serializePairs({{"x", "y"}}));
  EXPECT_EQ(serializePairs(sorted), serializePairs({{"x", "y"}}));
}

TEST(PairsTest, KeepsRepeatedNamesEmptyValuesAndBinaryBytes) {
  const HeaderViews in = {
      {"set-cookie", "a=1"}, {"set-cookie", "b=2"}, {"empty", ""}, {"bin", "\0\xff"sv}};
  HeaderViews out;
  const std::string bytes = serializePairs(in);
  ASSERT_TRUE(parsePairs(bytes, out));
  EXPECT_EQ(out, in);
}

TEST(PairsTest, ParsesTheDocumentedExample) {
  HeaderViews out;
  ASSERT_TRUE(parsePairs(kTwoPairs, out));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0], HeaderView("a", "1"));
  EXPECT_EQ(out[1], HeaderView("bb", "22"));
  EXPECT_EQ(findPair(out, "bb"), "22");
  EXPECT_EQ(findPair(out, "missing"), std::nullopt);
}

TEST(PairsTest, ParsesIntoOwningStrings) {
  HeaderPairs out;
  ASSERT_TRUE(parsePairs(kTwoPairs, out));
  EXPECT_EQ(out, (HeaderPairs{{"a", "1"}, {"bb", "22"}}));
}

TEST(PairsTest, EmptyInputIsAnEmptyMap) {
  HeaderViews out = {{"stale", "entry"}};
  EXPECT_TRUE(parsePairs("", out));
  EXPECT_TRUE(out.empty());
  EXPECT_TRUE(parsePairs("\0\0\0\0"s, out));
  EXPECT_TRUE(out.empty());
}

TEST(PairsTest, RejectsTruncatedCount) {
  HeaderViews out;
  EXPECT_FALSE(parsePairs("\x01\x00"s, out));
}

TEST(PairsTest, RejectsCountLargerThanTheInput) {
  HeaderViews out;
  EXPECT_FALSE(parsePairs("\xff\xff\xff\xff\0\0\0\0\0\0\0\0\0\0"s, out));
  std::string bytes = kTwoPairs;
  bytes[0] = '\x03';
  EXPECT_FALSE(parsePairs(bytes, out));
  EXPECT_TRUE(out.empty());
}

TEST(PairsTest, RejectsLengthsRunningPastTheEnd) {
  std::string bytes = kTwoPairs;
  bytes[12] = '\x40';  // second key length 2 -> 64
  HeaderViews out;
  EXPECT_FALSE(parsePairs(bytes, out));
  bytes = kTwoPairs;
  bytes[8] = '\xff';  // first value length huge
  bytes[9] = '\xff';
  bytes[10] = '\xff';
  bytes[11] = '\xff';
  EXPECT_FALSE(parsePairs(bytes, out));
}

TEST(PairsTest, RejectsMissingTerminator) {
  std::string bytes = kTwoPairs;
  bytes[21] = 'x';  // the NUL after key "a"
  HeaderViews out;
  EXPECT_FALSE(parsePairs(bytes, out));
  EXPECT_TRUE(out.empty());
}

TEST(PairsTest, RejectsTrailingBytes) {
  HeaderViews out;
  EXPECT_FALSE(parsePairs(kTwoPairs + "x", out));
  EXPECT_FALSE(parsePairs("\0\0\0\0x"s, out));
}

TEST(PairsTest, ParsesListPropertyShape) {
  // Lists put each element in the key slot with an empty value.
  const std::string bytes = serializePairs({{"one", ""}, {"two", ""}});
  HeaderViews out;
  ASSERT_TRUE(parsePairs(bytes, out));
  EXPECT_EQ(out, (HeaderViews{{"one", ""}, {"two", ""}}));
}

}  // namespace
}  // namespace wasmgate
