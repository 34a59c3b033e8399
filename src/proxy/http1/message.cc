#include "proxy/http1/message.h"

#include <iterator>

#include "proxy/http1/syntax.h"

namespace wasmgate::proxy::http1 {
namespace {

struct ReasonEntry {
  ParseError error;
  std::string_view reason;
};

// In ParseError order (checked below), so a reason is found by index.
constexpr ReasonEntry kReasons[] = {
    {ParseError::kNone, ""},
    {ParseError::kInvalidMethod, "http1.invalid_method"},
    {ParseError::kInvalidUri, "http1.invalid_uri"},
    {ParseError::kInvalidVersion, "http1.invalid_version"},
    {ParseError::kInvalidStatus, "http1.invalid_status"},
    {ParseError::kHeadersTooLarge, "http1.headers_too_large"},
    {ParseError::kTooManyHeaders, "http1.too_many_headers"},
    {ParseError::kInvalidHeaderName, "http1.invalid_header_name"},
    {ParseError::kInvalidHeaderValue, "http1.invalid_header_value"},
    {ParseError::kObsFold, "http1.obs_fold"},
    {ParseError::kBareCr, "http1.bare_cr"},
    {ParseError::kBareLf, "http1.bare_lf"},
    {ParseError::kInvalidContentLength, "http1.invalid_content_length"},
    {ParseError::kMultipleContentLength, "http1.multiple_content_length"},
    {ParseError::kInvalidTransferEncoding, "http1.invalid_transfer_encoding"},
    {ParseError::kContentLengthWithTransferEncoding, "http1.content_length_with_transfer_encoding"},
    {ParseError::kMissingHost, "http1.missing_host"},
    {ParseError::kMultipleHost, "http1.multiple_host"},
    {ParseError::kInvalidChunkSize, "http1.invalid_chunk_size"},
    {ParseError::kChunkSizeOverflow, "http1.chunk_size_overflow"},
    {ParseError::kInvalidChunkExtension, "http1.invalid_chunk_extension"},
    {ParseError::kChunkLineTooLong, "http1.chunk_line_too_long"},
    {ParseError::kInvalidChunkTerminator, "http1.invalid_chunk_terminator"},
    {ParseError::kTrailersTooLarge, "http1.trailers_too_large"},
    {ParseError::kTooManyTrailers, "http1.too_many_trailers"},
};

constexpr bool reasonsInOrder() {
  for (size_t i = 0; i < std::size(kReasons); ++i) {
    if (static_cast<size_t>(kReasons[i].error) != i) return false;
  }
  return std::size(kReasons) == static_cast<size_t>(ParseError::kTooManyTrailers) + 1;
}
static_assert(reasonsInOrder(), "kReasons must list every ParseError in order");

}  // namespace

std::string_view errorReason(ParseError error) {
  size_t i = static_cast<size_t>(error);
  return i < std::size(kReasons) ? kReasons[i].reason : "http1.unknown";
}

bool HeaderList::push(Header header) {
  if (full()) return false;
  headers_[size_++] = header;
  return true;
}

std::optional<std::string_view> HeaderList::find(std::string_view name) const {
  for (const Header& h : *this) {
    if (syntax::equalsIgnoreCase(h.name, name)) return h.value;
  }
  return std::nullopt;
}

size_t HeaderList::count(std::string_view name) const {
  size_t n = 0;
  for (const Header& h : *this) {
    if (syntax::equalsIgnoreCase(h.name, name)) ++n;
  }
  return n;
}

}  // namespace wasmgate::proxy::http1
