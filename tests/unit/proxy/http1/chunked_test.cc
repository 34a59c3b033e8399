#include "proxy/http1/chunked.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "test_util.h"

namespace wasmgate::proxy::http1 {
namespace {

using namespace std::string_literals;
using testing::ExactBuffer;

// What a reader saw after feeding some input to a decoder: owned copies of everything.
struct Outcome {
  std::string body;
  ChunkedStatus status = ChunkedStatus::kNeedMore;
  std::string_view reason;
  std::vector<std::pair<std::string, std::string>> trailers;
  std::string leftover;  // bytes after the body, still in the reader's buffer

  bool operator==(const Outcome&) const = default;
};

// Feeds `input` in pieces cut at `splits`, the way a connection would: the unconsumed bytes stay
// in the buffer and the next arrival is appended to them. Each decode() sees an exact-size copy.
Outcome decodeInPieces(std::string_view input, std::vector<size_t> splits,
                       const ChunkedLimits& limits = {}) {
  ChunkedDecoder decoder(limits);
  Outcome out;
  std::string buffer;
  splits.push_back(input.size());
  size_t fed = 0;
  for (size_t cut : splits) {
    buffer.append(input.substr(fed, cut - fed));
    fed = cut;
    while (true) {
      ExactBuffer exact(buffer);
      ChunkedStep step = decoder.decode(exact.view());
      out.status = step.status;
      if (step.status == ChunkedStatus::kError) {
        out.reason = step.reason();
        return out;
      }
      if (step.status == ChunkedStatus::kData) {
        EXPECT_TRUE(exact.contains(step.data));
        EXPECT_FALSE(step.data.empty());
        out.body.append(step.data);
      }
      if (step.status == ChunkedStatus::kDone) {
        for (const Header& h : decoder.trailers()) out.trailers.emplace_back(h.name, h.value);
      }
      buffer.erase(0, step.consumed);
      if (step.status != ChunkedStatus::kData) break;
    }
    if (out.status == ChunkedStatus::kDone) break;
  }
  out.leftover = buffer + std::string(input.substr(fed));
  EXPECT_EQ(decoder.bodyBytes(), out.body.size());
  return out;
}

Outcome decodeWhole(std::string_view input, const ChunkedLimits& limits = {}) {
  return decodeInPieces(input, {}, limits);
}

TEST(Http1ChunkedTest, DecodesASimpleBody) {
  Outcome out = decodeWhole("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
  EXPECT_EQ(out.status, ChunkedStatus::kDone);
  EXPECT_EQ(out.body, "hello world");
  EXPECT_TRUE(out.trailers.empty());
  EXPECT_EQ(out.leftover, "");
}

TEST(Http1ChunkedTest, StepsReportDataAsViewsAndConsumedBytes) {
  std::string_view input = "3\r\nabc\r\n0\r\n\r\nNEXT";
  ChunkedDecoder decoder;
  ChunkedStep step = decoder.decode(input);
  ASSERT_EQ(step.status, ChunkedStatus::kData);
  EXPECT_EQ(step.data, "abc");
  EXPECT_EQ(step.data.data(), input.data() + 3);
  EXPECT_EQ(step.consumed, 6u);
  input.remove_prefix(step.consumed);
  step = decoder.decode(input);
  ASSERT_EQ(step.status, ChunkedStatus::kDone);
  EXPECT_EQ(step.consumed, 7u);
  EXPECT_TRUE(decoder.done());
  input.remove_prefix(step.consumed);
  EXPECT_EQ(input, "NEXT");
  // Done is final and consumes nothing more: the rest is the next message.
  step = decoder.decode(input);
  EXPECT_EQ(step.status, ChunkedStatus::kDone);
  EXPECT_EQ(step.consumed, 0u);
}

TEST(Http1ChunkedTest, PartialChunksAreDeliveredAsTheyArrive) {
  ChunkedDecoder decoder;
  ChunkedStep step = decoder.decode("a\r\n0123");
  ASSERT_EQ(step.status, ChunkedStatus::kData);
  EXPECT_EQ(step.data, "0123");
  EXPECT_EQ(step.consumed, 7u);
  step = decoder.decode("");
  EXPECT_EQ(step.status, ChunkedStatus::kNeedMore);
  step = decoder.decode("456789\r");
  ASSERT_EQ(step.status, ChunkedStatus::kData);
  EXPECT_EQ(step.data, "456789");
  step = decoder.decode("\r");  // the caller kept the CR it was not asked to drop
  EXPECT_EQ(step.status, ChunkedStatus::kNeedMore);
  EXPECT_EQ(step.consumed, 0u);
  EXPECT_EQ(decoder.bodyBytes(), 10u);
}

TEST(Http1ChunkedTest, HexSizesInEitherCaseWithLeadingZeros) {
  std::string input =
      "A\r\n0123456789\r\nb\r\nabcdefghijk\r\n"s + std::string(30, '0') + "1\r\nz\r\n0000\r\n\r\n";
  Outcome out = decodeWhole(input);
  EXPECT_EQ(out.status, ChunkedStatus::kDone);
  EXPECT_EQ(out.body, "0123456789abcdefghijkz");
}

TEST(Http1ChunkedTest, ParsesTrailers) {
  Outcome out = decodeWhole("1\r\nx\r\n0\r\nX-Checksum: abc \r\nx-other:\t1\r\n\r\nrest");
  ASSERT_EQ(out.status, ChunkedStatus::kDone);
  ASSERT_EQ(out.trailers.size(), 2u);
  EXPECT_EQ(out.trailers[0], std::make_pair("X-Checksum"s, "abc"s));
  EXPECT_EQ(out.trailers[1], std::make_pair("x-other"s, "1"s));
  EXPECT_EQ(out.leftover, "rest");
}

TEST(Http1ChunkedTest, AcceptsValidExtensions) {
  for (std::string_view line :
       {"5;a\r\n", "5;a=b\r\n", "5;a=b;c;d=e\r\n", "5 ;a\r\n", "5\t; a = b ;c\r\n", "5;a=\"\"\r\n",
        "5;a=\"q \\\" ;\\\\ s\"\r\n", "5;a=\"caf\xc3\xa9\"\r\n", "5;a ;b\r\n"}) {
    Outcome out = decodeWhole(std::string(line) + "hello\r\n0\r\n\r\n");
    EXPECT_EQ(out.status, ChunkedStatus::kDone) << line << " " << out.reason;
    EXPECT_EQ(out.body, "hello") << line;
  }
}

std::vector<std::string> validBodies() {
  return {
      "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
      "1;ext=\"v;x\"\r\na\r\n10\r\n0123456789abcdef\r\n0\r\nT: 1\r\nU: two\r\n\r\nNEXT",
      "0\r\n\r\n",
      "3 ; a = b\r\nxyz\r\n0;last\r\n\r\n",
  };
}

TEST(Http1ChunkedTest, EverySplitDecodesLikeTheWhole) {
  for (const std::string& input : validBodies()) {
    Outcome whole = decodeWhole(input);
    ASSERT_EQ(whole.status, ChunkedStatus::kDone) << input << whole.reason;
    for (size_t split = 0; split <= input.size(); ++split) {
      EXPECT_EQ(decodeInPieces(input, {split}), whole) << input << " split " << split;
    }
  }
}

TEST(Http1ChunkedTest, EveryPairOfSplitsDecodesLikeTheWhole) {
  std::string input = validBodies()[1];
  Outcome whole = decodeWhole(input);
  for (size_t a = 0; a <= input.size(); ++a) {
    for (size_t b = a; b <= input.size(); ++b) {
      ASSERT_EQ(decodeInPieces(input, {a, b}), whole) << a << " " << b;
    }
  }
}

TEST(Http1ChunkedTest, ByteByByteDecodesLikeTheWhole) {
  for (const std::string& input : validBodies()) {
    std::vector<size_t> splits;
    for (size_t i = 1; i < input.size(); ++i) splits.push_back(i);
    EXPECT_EQ(decodeInPieces(input, splits), decodeWhole(input)) << input;
  }
}

TEST(Http1ChunkedTest, LargestChunkSizeIsAcceptedAndOneMoreOverflows) {
  ChunkedDecoder decoder;
  ChunkedStep step = decoder.decode("ffffffffffffffff\r\nabc");
  ASSERT_EQ(step.status, ChunkedStatus::kData);
  EXPECT_EQ(step.data, "abc");
  EXPECT_EQ(decodeWhole("10000000000000000\r\n").reason, "http1.chunk_size_overflow");
  EXPECT_EQ(decodeWhole("00000000000000000fffffffffffffffff\r\n").reason,
            "http1.chunk_size_overflow");
}

struct Invalid {
  std::string input;
  std::string_view reason;
};

std::vector<Invalid> invalidBodies() {
  return {
      {"\r\n", "http1.invalid_chunk_size"},
      {"g\r\n", "http1.invalid_chunk_size"},
      {"5g\r\nhello\r\n", "http1.invalid_chunk_size"},
      {"-5\r\n", "http1.invalid_chunk_size"},
      {"+5\r\n", "http1.invalid_chunk_size"},
      {"0x5\r\n", "http1.invalid_chunk_size"},
      {" 5\r\n", "http1.invalid_chunk_size"},
      {"5 \r\nhello\r\n0\r\n\r\n", "http1.invalid_chunk_extension"},
      {"5;\r\n", "http1.invalid_chunk_extension"},
      {"5;=b\r\n", "http1.invalid_chunk_extension"},
      {"5;a=\r\n", "http1.invalid_chunk_extension"},
      {"5;a=b \r\n", "http1.invalid_chunk_extension"},
      {"5;a=b c\r\n", "http1.invalid_chunk_extension"},
      {"5;a b\r\n", "http1.invalid_chunk_extension"},
      {"5;a=\"x\r\n", "http1.invalid_chunk_extension"},
      {"5;a=\"x\x01\"\r\n", "http1.invalid_chunk_extension"},
      {"5;a=\"x\\\x01\"\r\n", "http1.invalid_chunk_extension"},
      {"5;a\x01\r\n", "http1.invalid_chunk_extension"},
      {"5;a=(b)\r\n", "http1.invalid_chunk_extension"},
      {"5\nhello\r\n", "http1.bare_lf"},
      {"5;a=b\nhello\r\n", "http1.bare_lf"},
      {"5;a=\"x\n", "http1.bare_lf"},
      {"5\rhello\r\n", "http1.bare_cr"},
      {"5\r\nhelloX\r\n", "http1.invalid_chunk_terminator"},
      {"5\r\nhello\n0\r\n\r\n", "http1.bare_lf"},
      {"5\r\nhello\rX", "http1.bare_cr"},
      {"0\r\nBad Name: x\r\n\r\n", "http1.invalid_header_name"},
      {"0\r\nX: 1\r\n folded\r\n\r\n", "http1.obs_fold"},
      {"0\r\nX: a\0b\r\n\r\n"s, "http1.invalid_header_value"},
      {"0\r\n\n", "http1.bare_lf"},
      {"0\r\nX: 1\r\r\n", "http1.bare_cr"},
  };
}

TEST(Http1ChunkedTest, RejectsEachMalformedBodyWithItsReason) {
  for (const Invalid& c : invalidBodies()) {
    EXPECT_EQ(decodeWhole(c.input).reason, c.reason) << c.input;
  }
}

TEST(Http1ChunkedTest, SplitMalformedBodiesFailTheSameWay) {
  for (const Invalid& c : invalidBodies()) {
    Outcome whole = decodeWhole(c.input);
    for (size_t split = 0; split <= c.input.size(); ++split) {
      EXPECT_EQ(decodeInPieces(c.input, {split}), whole) << c.input << " split " << split;
    }
  }
}

TEST(Http1ChunkedTest, ErrorsAreSticky) {
  ChunkedDecoder decoder;
  ChunkedStep step = decoder.decode("zz\r\n");
  ASSERT_EQ(step.status, ChunkedStatus::kError);
  EXPECT_TRUE(decoder.failed());
  step = decoder.decode("5\r\nhello\r\n");
  EXPECT_EQ(step.status, ChunkedStatus::kError);
  EXPECT_EQ(step.reason(), "http1.invalid_chunk_size");
  EXPECT_EQ(step.consumed, 0u);
  decoder.reset();
  EXPECT_FALSE(decoder.failed());
  EXPECT_EQ(decoder.decode("5\r\nhello\r\n").status, ChunkedStatus::kData);
}

TEST(Http1ChunkedTest, ChunkLineLengthIsLimited) {
  ChunkedLimits limits{.maxLineBytes = 8};
  EXPECT_EQ(decodeWhole("5;a=bc\r\nhello\r\n0\r\n\r\n", limits).status, ChunkedStatus::kDone);
  EXPECT_EQ(decodeWhole("5;a=bcd\r\nhello\r\n", limits).reason, "http1.chunk_line_too_long");
  EXPECT_EQ(decodeWhole("5;a=bcd", limits).reason, "");  // 7 bytes: may still end in time
  EXPECT_EQ(decodeWhole("5;a=bcde", limits).reason, "");
  EXPECT_EQ(decodeWhole("5;a=bcdef", limits).reason, "http1.chunk_line_too_long");
  std::string longZeros(kMaxChunkLineBytes, '0');
  EXPECT_EQ(decodeWhole(longZeros + "5\r\n").reason, "http1.chunk_line_too_long");
  EXPECT_EQ(decodeWhole(longZeros).reason, "");
  EXPECT_EQ(decodeWhole(longZeros + "0").reason, "http1.chunk_line_too_long");
}

TEST(Http1ChunkedTest, TrailersAreLimited) {
  ChunkedLimits bytes{.maxTrailerBytes = 16};
  EXPECT_EQ(decodeWhole("0\r\nA: 012345678\r\n\r\n", bytes).status, ChunkedStatus::kDone);
  EXPECT_EQ(decodeWhole("0\r\nA: 0123456789\r\n\r\n", bytes).reason, "http1.trailers_too_large");
  EXPECT_EQ(decodeWhole("0\r\nA: 01234567890123456789", bytes).reason, "http1.trailers_too_large");
  ChunkedLimits count{.maxTrailerCount = 2};
  EXPECT_EQ(decodeWhole("0\r\nA: 1\r\nB: 2\r\n\r\n", count).status, ChunkedStatus::kDone);
  EXPECT_EQ(decodeWhole("0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", count).reason,
            "http1.too_many_trailers");
  std::string many = "0\r\n";
  for (size_t i = 0; i <= kMaxTrailerCount; ++i) many += "T" + std::to_string(i) + ": v\r\n";
  EXPECT_EQ(decodeWhole(many + "\r\n").reason, "http1.too_many_trailers");
  std::string big = "0\r\nT: " + std::string(kMaxTrailerBytes, 'v') + "\r\n\r\n";
  EXPECT_EQ(decodeWhole(big).reason, "http1.trailers_too_large");
}

// ---------------------------------------------------------------------------------------------
// Encoding

TEST(Http1ChunkedTest, ChunkSizeLinesAreLowercaseHex) {
  EXPECT_EQ(chunkSizeLine(0).view(), "0\r\n");
  EXPECT_EQ(chunkSizeLine(1).view(), "1\r\n");
  EXPECT_EQ(chunkSizeLine(15).view(), "f\r\n");
  EXPECT_EQ(chunkSizeLine(16).view(), "10\r\n");
  EXPECT_EQ(chunkSizeLine(0xabc).view(), "abc\r\n");
  EXPECT_EQ(chunkSizeLine(0x1000000000000000ull).view(), "1000000000000000\r\n");
  EXPECT_EQ(chunkSizeLine(std::numeric_limits<uint64_t>::max()).view(), "ffffffffffffffff\r\n");
}

TEST(Http1ChunkedTest, AppendsChunksAndTheLastChunk) {
  std::string out;
  appendChunk(out, "");
  EXPECT_EQ(out, "");
  appendChunk(out, "hello");
  EXPECT_EQ(out, "5\r\nhello\r\n");
  appendLastChunk(out);
  EXPECT_EQ(out, "5\r\nhello\r\n0\r\n\r\n");
  std::string withTrailers;
  Header trailers[] = {{"X-A", "1"}, {"X-B", ""}};
  appendLastChunk(withTrailers, trailers);
  EXPECT_EQ(withTrailers, "0\r\nX-A: 1\r\nX-B: \r\n\r\n");
  EXPECT_EQ(kLastChunk, "0\r\n\r\n");
}

TEST(Http1ChunkedTest, EncodedBodiesDecodeToTheSameBytes) {
  std::mt19937 rng(7);
  for (int round = 0; round < 50; ++round) {
    std::string body;
    std::string encoded;
    int chunks = static_cast<int>(rng() % 6);
    for (int i = 0; i < chunks; ++i) {
      std::string piece(rng() % 300, '\0');
      for (char& c : piece) c = static_cast<char>(rng());
      body += piece;
      appendChunk(encoded, piece);
    }
    HeaderList trailers;
    ASSERT_TRUE(trailers.push({"X-Round", "r"}));
    appendLastChunk(encoded, trailers);
    size_t split = encoded.empty() ? 0 : rng() % encoded.size();
    Outcome out = decodeInPieces(encoded, {split});
    ASSERT_EQ(out.status, ChunkedStatus::kDone) << out.reason;
    EXPECT_EQ(out.body, body);
    ASSERT_EQ(out.trailers.size(), 1u);
    EXPECT_EQ(out.trailers[0].first, "X-Round");
  }
}

}  // namespace
}  // namespace wasmgate::proxy::http1
