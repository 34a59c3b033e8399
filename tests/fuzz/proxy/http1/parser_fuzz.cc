// Fuzzes the HTTP/1.1 head parser and the chunked decoder (src/proxy/http1/). The first input byte
// picks a split point; the rest is parsed as a request head, a response head and a chunked body,
// whole and in two pieces, and the answers must agree. Any disagreement aborts with a message.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "proxy/http1/chunked.h"
#include "proxy/http1/parser.h"

namespace wasmgate::proxy::http1 {
namespace {

void check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "parser_fuzz: invariant broken: %s\n", what);
  std::abort();
}

// An exact-size heap copy, so AddressSanitizer catches a read one past the end of a prefix.
class Copy {
 public:
  explicit Copy(std::string_view s) : size_(s.size()), data_(new char[s.size() + !s.size()]) {
    if (size_) std::memcpy(data_.get(), s.data(), size_);
  }
  std::string_view view() const { return {data_.get(), size_}; }

 private:
  size_t size_;
  std::unique_ptr<char[]> data_;
};

bool within(std::string_view inner, std::string_view outer) {
  return inner.empty() || (inner.data() >= outer.data() &&
                           inner.data() + inner.size() <= outer.data() + outer.size());
}

void checkHeaders(const HeaderList& headers, std::string_view buffer) {
  for (const Header& h : headers) {
    check(!h.name.empty() && within(h.name, buffer), "header name is a view into the buffer");
    check(within(h.value, buffer), "header value is a view into the buffer");
  }
}

// A prefix of the input answers "incomplete" or exactly what the whole input answers; once it
// holds the whole head it answers the same.
void checkPrefix(const ParseResult& whole, const ParseResult& prefix, size_t split) {
  check(prefix.isIncomplete() || prefix == whole, "prefix agrees with the whole");
  if (whole.isComplete()) {
    check(whole.consumed > 0, "a complete head has bytes");
    check((split < whole.consumed) == prefix.isIncomplete(), "prefix complete iff head inside");
  }
}

void fuzzRequest(std::string_view input, size_t split, const ParserLimits& limits) {
  RequestHead head;
  ParseResult whole = parseRequestHead(input, head, limits);
  if (whole.isComplete()) {
    check(whole.consumed <= input.size(), "consumed within input");
    check(within(head.method, input) && within(head.target, input), "line views in buffer");
    checkHeaders(head.headers, input);
    check(head.framing.kind != BodyFraming::Kind::kUntilClose, "requests never read to close");
    RequestHead exact;
    check(parseRequestHead(input.substr(0, whole.consumed), exact, limits) == whole,
          "the head alone parses the same");
  }
  Copy prefix(input.substr(0, split));
  RequestHead partial;
  checkPrefix(whole, parseRequestHead(prefix.view(), partial, limits), split);
}

void fuzzResponse(std::string_view input, size_t split, const ParserLimits& limits,
                  std::string_view method) {
  ResponseHead head;
  ParseResult whole = parseResponseHead(input, head, limits, method);
  if (whole.isComplete()) {
    check(whole.consumed <= input.size(), "consumed within input");
    check(head.status >= 100 && head.status <= 599, "status in range");
    check(within(head.reason, input), "reason view in buffer");
    checkHeaders(head.headers, input);
    bool untilClose = head.framing.kind == BodyFraming::Kind::kUntilClose;
    check(!(untilClose && head.keepAlive), "a body read to close ends the connection");
  }
  Copy prefix(input.substr(0, split));
  ResponseHead partial;
  checkPrefix(whole, parseResponseHead(prefix.view(), partial, limits, method), split);
}

struct Decoded {
  std::string body;
  ChunkedStatus status = ChunkedStatus::kNeedMore;
  ParseError error = ParseError::kNone;
  size_t trailers = 0;
  size_t leftover = 0;
};

// Feeds `first`, then appends `second`, keeping unconsumed bytes as a connection would.
Decoded decode(std::string_view first, std::string_view second, const ChunkedLimits& limits) {
  ChunkedDecoder decoder(limits);
  Decoded out;
  std::string buffer;
  for (std::string_view arrival : {first, second}) {
    buffer.append(arrival);
    while (out.status != ChunkedStatus::kDone) {
      Copy exact(buffer);
      ChunkedStep step = decoder.decode(exact.view());
      check(step.consumed <= buffer.size(), "decoder consumed within input");
      out.status = step.status;
      out.error = step.error;
      if (step.status == ChunkedStatus::kError) return out;
      check(within(step.data, exact.view()), "chunk data is a view into the buffer");
      out.body.append(step.data);
      if (step.status == ChunkedStatus::kDone) out.trailers = decoder.trailers().size();
      buffer.erase(0, step.consumed);
      if (step.status != ChunkedStatus::kData) break;
    }
  }
  check(decoder.bodyBytes() == out.body.size(), "bodyBytes counts delivered data");
  out.leftover = buffer.size();
  return out;
}

void fuzzChunked(std::string_view input, size_t split, const ChunkedLimits& limits) {
  Decoded whole = decode(input, {}, limits);
  Decoded parts = decode(input.substr(0, split), input.substr(split), limits);
  check(whole.status == parts.status, "split decode ends the same way");
  check(whole.error == parts.error, "split decode fails the same way");
  check(whole.body == parts.body, "split decode yields the same body");
  check(whole.trailers == parts.trailers, "split decode yields the same trailers");
  check(whole.leftover == parts.leftover, "split decode leaves the same bytes");
}

// Encoding the input as two chunks and decoding it gives the input back.
void fuzzRoundTrip(std::string_view input, size_t split) {
  std::string encoded;
  appendChunk(encoded, input.substr(0, split));
  appendChunk(encoded, input.substr(split));
  appendLastChunk(encoded);
  Decoded out = decode(encoded, {}, {});
  check(out.status == ChunkedStatus::kDone && out.leftover == 0, "encoded body decodes fully");
  check(out.body == input, "encoded body round-trips");
}

}  // namespace
}  // namespace wasmgate::proxy::http1

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace wasmgate::proxy::http1;
  if (size == 0) return 0;
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  size_t split = input.size() * data[0] / 255;
  constexpr std::string_view kMethods[] = {"GET", "HEAD", "CONNECT", ""};
  ParserLimits small{.maxHeaderBytes = 64 + static_cast<size_t>(data[0]), .maxHeaderCount = 4};
  ChunkedLimits smallChunked{.maxLineBytes = 16, .maxTrailerBytes = 32, .maxTrailerCount = 2};

  fuzzRequest(input, split, {});
  fuzzRequest(input, split, small);
  fuzzResponse(input, split, {}, kMethods[data[0] & 3]);
  fuzzResponse(input, split, small, kMethods[data[0] & 3]);
  fuzzChunked(input, split, {});
  fuzzChunked(input, split, smallChunked);
  fuzzRoundTrip(input, split);
  return 0;
}
