// The chunked transfer coding (RFC 9112 section 7.1): an incremental, zero-copy decoder and the
// helpers that encode it.
//
// The decoder keeps only its position in the coding (which state, bytes left in the chunk). Each
// decode() call looks at the unconsumed front of the caller's buffer and returns one step: a span
// of body bytes (a view into the input), "need more", "done" (trailers parsed) or an error with
// a stable dotted reason. The caller drops `consumed` bytes and keeps the rest; a chunk-size line
// or trailer section that has not fully arrived is left unconsumed, bounded by ChunkedLimits.
//
//   while (true) {
//     ChunkedStep step = decoder.decode(buffer);
//     buffer.remove_prefix(step.consumed);
//     if (step.status == ChunkedStatus::kData) { deliver(step.data); continue; }
//     break;  // kNeedMore: read more; kDone: decoder.trailers(); kError: step.reason()
//   }
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "proxy/http1/message.h"
#include "proxy/limits.h"

namespace wasmgate::proxy::http1 {

struct ChunkedLimits {
  size_t maxLineBytes = kMaxChunkLineBytes;   // one chunk-size line, extensions and CRLF
  size_t maxTrailerBytes = kMaxTrailerBytes;  // the trailer section and its empty line
  size_t maxTrailerCount = kMaxTrailerCount;  // clamped to HeaderList::kCapacity
};

enum class ChunkedStatus : uint8_t {
  kData,      // `data` holds body bytes
  kNeedMore,  // everything usable was consumed; call again with more input
  kDone,      // the last chunk and the trailers were consumed; trailers() holds them
  kError,     // `error` says why; every later call repeats it
};

struct [[nodiscard]] ChunkedStep {
  ChunkedStatus status = ChunkedStatus::kNeedMore;
  size_t consumed = 0;                   // bytes of the input this step used
  std::string_view data;                 // kData: a view into the input
  ParseError error = ParseError::kNone;  // kError only

  std::string_view reason() const { return errorReason(error); }
};

class ChunkedDecoder {
 public:
  explicit ChunkedDecoder(const ChunkedLimits& limits = {}) : limits_(limits) {}

  ChunkedStep decode(std::string_view input);

  bool done() const { return state_ == State::kDone; }
  bool failed() const { return state_ == State::kFailed; }
  // After kDone: the trailer fields, viewing the input of the call that returned kDone.
  const HeaderList& trailers() const { return trailers_; }
  uint64_t bodyBytes() const { return bodyBytes_; }  // decoded so far
  void reset();

 private:
  enum class State : uint8_t { kSizeLine, kData, kDataEnd, kTrailers, kDone, kFailed };

  // Each handles the state at input[pos]: the step to report, or nullopt after advancing `pos`
  // and moving to the next state.
  std::optional<ChunkedStep> onSizeLine(std::string_view input, size_t& pos);
  std::optional<ChunkedStep> onData(std::string_view input, size_t& pos);
  std::optional<ChunkedStep> onDataEnd(std::string_view input, size_t& pos);
  std::optional<ChunkedStep> onTrailers(std::string_view input, size_t& pos);
  ChunkedStep failWith(ParseError error);

  ChunkedLimits limits_;
  State state_ = State::kSizeLine;
  ParseError error_ = ParseError::kNone;
  uint64_t remaining_ = 0;  // bytes left in the current chunk
  uint64_t bodyBytes_ = 0;
  HeaderList trailers_;
};

// The line that opens a chunk of `size` bytes: lowercase hex and CRLF, e.g. "1a\r\n".
struct ChunkSizeLine {
  std::array<char, 18> bytes{};  // 16 hex digits and CRLF at most
  size_t length = 0;

  std::string_view view() const { return {bytes.data(), length}; }
};
ChunkSizeLine chunkSizeLine(uint64_t size);

inline constexpr std::string_view kChunkDataEnd = "\r\n";
inline constexpr std::string_view kLastChunk = "0\r\n\r\n";  // the end of a body without trailers

// Appends one chunk holding `data`; nothing for empty data (an empty chunk would end the body).
void appendChunk(std::string& out, std::string_view data);
// Appends the last chunk, the trailer fields and the closing empty line.
void appendLastChunk(std::string& out, std::span<const Header> trailers = {});

}  // namespace wasmgate::proxy::http1
