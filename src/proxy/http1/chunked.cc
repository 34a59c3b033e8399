#include "proxy/http1/chunked.h"

#include <algorithm>
#include <limits>

#include "proxy/http1/parser.h"
#include "proxy/http1/syntax.h"

namespace wasmgate::proxy::http1 {
namespace {

using syntax::fail;
using syntax::kMore;
using syntax::kOk;
using syntax::Reader;
using syntax::Step;

// chunk-size = 1*HEXDIG, in 64 bits.
Step parseChunkSize(Reader& r, uint64_t& size) {
  std::string_view digits = r.takeWhile(syntax::isHexDigit);
  if (r.atEnd()) return kMore;
  if (digits.empty()) return fail(syntax::unexpected(r.peek(), ParseError::kInvalidChunkSize));
  size = 0;
  for (char c : digits) {
    if (size > std::numeric_limits<uint64_t>::max() >> 4) {
      return fail(ParseError::kChunkSizeOverflow);
    }
    size = (size << 4) | static_cast<uint64_t>(syntax::hexValue(static_cast<unsigned char>(c)));
  }
  unsigned char next = r.peek();
  if (next == '\r' || next == '\n' || next == ';' || syntax::isOws(next)) return kOk;
  return fail(ParseError::kInvalidChunkSize);
}

// quoted-string, the reader at its opening DQUOTE.
Step parseQuotedString(Reader& r) {
  r.advance();
  while (!r.atEnd()) {
    unsigned char c = r.peek();
    r.advance();
    if (c == '"') return kOk;
    if (c == '\\') {
      if (r.atEnd()) return kMore;
      if (!syntax::isTextChar(r.peek())) return fail(ParseError::kInvalidChunkExtension);
      r.advance();
    } else if (!syntax::isTextChar(c)) {
      return fail(syntax::unexpected(c, ParseError::kInvalidChunkExtension));
    }
  }
  return kMore;
}

// After ";": BWS chunk-ext-name [ BWS "=" BWS ( token / quoted-string ) ].
Step parseExtension(Reader& r) {
  r.takeWhile(syntax::isOws);
  if (r.takeWhile(syntax::isTchar).empty()) {
    return r.atEnd() ? kMore
                     : fail(syntax::unexpected(r.peek(), ParseError::kInvalidChunkExtension));
  }
  size_t afterName = r.pos();
  r.takeWhile(syntax::isOws);
  if (r.atEnd()) return kMore;
  if (r.peek() != '=') {
    r.seek(afterName);  // the BWS belongs to the next extension
    return kOk;
  }
  r.advance();
  r.takeWhile(syntax::isOws);
  if (r.atEnd()) return kMore;
  if (r.peek() == '"') return parseQuotedString(r);
  if (r.takeWhile(syntax::isTchar).empty()) {
    return fail(syntax::unexpected(r.peek(), ParseError::kInvalidChunkExtension));
  }
  return kOk;
}

// *( BWS ";" extension ), up to the CR that ends the line; no whitespace before that CR.
Step parseExtensions(Reader& r) {
  while (true) {
    size_t start = r.pos();
    r.takeWhile(syntax::isOws);
    if (r.atEnd()) return kMore;
    unsigned char c = r.peek();
    if (c == '\r' || c == '\n') {
      return r.pos() == start ? kOk : fail(ParseError::kInvalidChunkExtension);
    }
    if (c != ';') return fail(ParseError::kInvalidChunkExtension);
    r.advance();
    if (Step s = parseExtension(r); !s.ok()) return s;
  }
}

Step parseSizeLine(Reader& r, uint64_t& size) {
  if (Step s = parseChunkSize(r, size); !s.ok()) return s;
  if (Step s = parseExtensions(r); !s.ok()) return s;
  return syntax::expectCrlf(r, ParseError::kInvalidChunkExtension);
}

ParseError trailerError(ParseError error) {
  if (error == ParseError::kHeadersTooLarge) return ParseError::kTrailersTooLarge;
  if (error == ParseError::kTooManyHeaders) return ParseError::kTooManyTrailers;
  return error;
}

ChunkedStep needMore(size_t consumed) {
  return {ChunkedStatus::kNeedMore, consumed, {}, {}};
}

}  // namespace

ChunkedStep ChunkedDecoder::decode(std::string_view input) {
  size_t pos = 0;
  while (true) {
    std::optional<ChunkedStep> step;
    switch (state_) {
      case State::kSizeLine:
        step = onSizeLine(input, pos);
        break;
      case State::kData:
        step = onData(input, pos);
        break;
      case State::kDataEnd:
        step = onDataEnd(input, pos);
        break;
      case State::kTrailers:
        step = onTrailers(input, pos);
        break;
      case State::kDone:
        return {ChunkedStatus::kDone, pos, {}, {}};
      case State::kFailed:
        return {ChunkedStatus::kError, 0, {}, error_};
    }
    if (step) return *step;
  }
}

void ChunkedDecoder::reset() {
  state_ = State::kSizeLine;
  error_ = ParseError::kNone;
  remaining_ = 0;
  bodyBytes_ = 0;
  trailers_.clear();
}

std::optional<ChunkedStep> ChunkedDecoder::onSizeLine(std::string_view input, size_t& pos) {
  // Parsing within maxLineBytes keeps a split line's answer the same as the whole line's.
  std::string_view rest = input.substr(pos);
  Reader r(rest.substr(0, limits_.maxLineBytes));
  uint64_t size = 0;
  Step s = parseSizeLine(r, size);
  if (s.status == ParseStatus::kError) return failWith(s.error);
  if (s.status == ParseStatus::kIncomplete) {
    if (rest.size() > limits_.maxLineBytes) return failWith(ParseError::kChunkLineTooLong);
    return needMore(pos);
  }
  pos += r.pos();
  remaining_ = size;
  state_ = size == 0 ? State::kTrailers : State::kData;
  return std::nullopt;
}

std::optional<ChunkedStep> ChunkedDecoder::onData(std::string_view input, size_t& pos) {
  if (pos == input.size()) return needMore(pos);
  size_t n = static_cast<size_t>(std::min<uint64_t>(remaining_, input.size() - pos));
  std::string_view data = input.substr(pos, n);
  pos += n;
  remaining_ -= n;
  bodyBytes_ += n;
  if (remaining_ == 0) state_ = State::kDataEnd;
  return ChunkedStep{ChunkedStatus::kData, pos, data, {}};
}

std::optional<ChunkedStep> ChunkedDecoder::onDataEnd(std::string_view input, size_t& pos) {
  Reader r(input.substr(pos));
  Step s = syntax::expectCrlf(r, ParseError::kInvalidChunkTerminator);
  if (s.status == ParseStatus::kError) return failWith(s.error);
  if (s.status == ParseStatus::kIncomplete) return needMore(pos);
  pos += r.pos();
  state_ = State::kSizeLine;
  return std::nullopt;
}

std::optional<ChunkedStep> ChunkedDecoder::onTrailers(std::string_view input, size_t& pos) {
  ParserLimits limits{limits_.maxTrailerBytes, limits_.maxTrailerCount};
  ParseResult result = parseHeaderBlock(input.substr(pos), trailers_, limits);
  if (result.isError()) return failWith(trailerError(result.error));
  if (result.isIncomplete()) return needMore(pos);
  pos += result.consumed;
  state_ = State::kDone;
  return std::nullopt;
}

ChunkedStep ChunkedDecoder::failWith(ParseError error) {
  state_ = State::kFailed;
  error_ = error;
  return {ChunkedStatus::kError, 0, {}, error};
}

ChunkSizeLine chunkSizeLine(uint64_t size) {
  constexpr char kHex[] = "0123456789abcdef";
  ChunkSizeLine line;
  int shift = 60;
  while (shift > 0 && ((size >> shift) & 0xf) == 0) shift -= 4;
  for (; shift >= 0; shift -= 4) line.bytes[line.length++] = kHex[(size >> shift) & 0xf];
  line.bytes[line.length++] = '\r';
  line.bytes[line.length++] = '\n';
  return line;
}

void appendChunk(std::string& out, std::string_view data) {
  if (data.empty()) return;
  out.append(chunkSizeLine(data.size()).view());
  out.append(data);
  out.append(kChunkDataEnd);
}

void appendLastChunk(std::string& out, std::span<const Header> trailers) {
  out.append("0\r\n");
  for (const Header& h : trailers) {
    out.append(h.name);
    out.append(": ");
    out.append(h.value);
    out.append("\r\n");
  }
  out.append("\r\n");
}

}  // namespace wasmgate::proxy::http1
