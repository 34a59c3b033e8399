#include "fetch/http_client.h"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace wasmgate::fetch {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

Status protocolError(const std::string& peer, std::string_view what) {
  return errorStatus(StatusCode::kProtocolError,
                     "bad HTTP response from " + peer + ": " + std::string(what));
}

// How the body of a response is delimited (RFC 9112 section 6.3).
enum class Framing { kNone, kLength, kChunked, kClose };

// Reads one response from a connection: buffered, capped, under one deadline.
class ResponseReader {
 public:
  ResponseReader(Connection& conn, const Deadline& deadline, size_t maxBody)
      : conn_(conn), deadline_(deadline), maxBody_(maxBody) {}

  // The status line and headers of the final response (1xx interim responses are skipped).
  Status readHead(HttpResponse& out);
  Status readBody(std::string_view method, HttpResponse& out);

 private:
  // Reads more bytes into the buffer; false once the peer closed.
  Result<bool> fill();
  // One line without its line ending; counts against `budget`.
  Result<std::string> line(size_t& budget, std::string_view what);
  Status parseStatusLine(std::string_view text, HttpResponse& out);
  Status parseHeaderLine(std::string_view text, HttpResponse& out);
  Result<Framing> framing(std::string_view method, const HttpResponse& res, size_t& length);
  Status exact(size_t n, std::string& out);
  Status toClose(std::string& out);
  Status chunked(std::string& out);
  Status tooLarge() const {
    return protocolError(conn_.peer(), "body larger than " + std::to_string(maxBody_) + " bytes");
  }

  Connection& conn_;
  const Deadline& deadline_;
  size_t maxBody_;
  std::string buf_;
  size_t pos_ = 0;
};

Result<bool> ResponseReader::fill() {
  if (pos_ > 0 && pos_ == buf_.size()) {
    buf_.clear();
    pos_ = 0;
  }
  auto n = conn_.read(buf_, 64 * 1024, deadline_);
  if (!n.isOk()) return n.status();
  return *n > 0;
}

Result<std::string> ResponseReader::line(size_t& budget, std::string_view what) {
  while (true) {
    size_t nl = buf_.find('\n', pos_);
    if (nl != std::string::npos && nl - pos_ + 1 <= budget) {
      std::string out = buf_.substr(pos_, nl - pos_);
      budget -= nl - pos_ + 1;
      pos_ = nl + 1;
      if (!out.empty() && out.back() == '\r') out.pop_back();
      return out;
    }
    if (buf_.size() - pos_ >= budget)
      return protocolError(conn_.peer(), std::string(what) + " too long");
    auto more = fill();
    if (!more.isOk()) return more.status();
    if (!*more) return protocolError(conn_.peer(), "connection closed in " + std::string(what));
  }
}

Status ResponseReader::parseStatusLine(std::string_view text, HttpResponse& out) {
  if (!text.starts_with("HTTP/1.") || text.size() < 12 || text[8] != ' ') {
    return protocolError(conn_.peer(), "bad status line");
  }
  int status = 0;
  auto [end, ec] = std::from_chars(text.data() + 9, text.data() + 12, status);
  if (ec != std::errc() || end != text.data() + 12 || status < 100) {
    return protocolError(conn_.peer(), "bad status code");
  }
  out.status = status;
  out.reason = std::string(trim(text.substr(12)));
  out.headers.clear();
  return Status::ok();
}

Status ResponseReader::parseHeaderLine(std::string_view text, HttpResponse& out) {
  size_t colon = text.find(':');
  if (colon == 0 || colon == text.npos || text.front() == ' ' || text.front() == '\t') {
    return protocolError(conn_.peer(), "bad header line");
  }
  if (out.headers.size() == kMaxHeaderCount) return protocolError(conn_.peer(), "too many headers");
  out.headers.push_back(
      {std::string(trim(text.substr(0, colon))), std::string(trim(text.substr(colon + 1)))});
  return Status::ok();
}

Status ResponseReader::readHead(HttpResponse& out) {
  size_t budget = kMaxHeaderBytes;
  do {
    auto status = line(budget, "response head");
    if (!status.isOk()) return status.status();
    WASMGATE_RETURN_IF_ERROR(parseStatusLine(*status, out));
    while (true) {
      auto header = line(budget, "response head");
      if (!header.isOk()) return header.status();
      if (header->empty()) break;
      WASMGATE_RETURN_IF_ERROR(parseHeaderLine(*header, out));
    }
  } while (out.status >= 100 && out.status < 200 && out.status != 101);
  return Status::ok();
}

Result<Framing> ResponseReader::framing(std::string_view method, const HttpResponse& res,
                                        size_t& length) {
  if (method == "HEAD" || res.status < 200 || res.status == 204 || res.status == 304) {
    return Framing::kNone;
  }
  if (const std::string* te = res.header("transfer-encoding")) {
    std::string_view codings = *te;
    std::string_view last = trim(codings.substr(codings.rfind(',') + 1));
    return iequals(last, "chunked") ? Framing::kChunked : Framing::kClose;
  }
  std::optional<size_t> declared;
  for (const HttpHeader& h : res.headers) {
    if (!iequals(h.name, "content-length")) continue;
    size_t value = 0;
    auto [end, ec] = std::from_chars(h.value.data(), h.value.data() + h.value.size(), value);
    if (h.value.empty() || ec != std::errc() || end != h.value.data() + h.value.size() ||
        (declared && *declared != value)) {
      return protocolError(conn_.peer(), "bad Content-Length");
    }
    declared = value;
  }
  if (!declared) return Framing::kClose;
  length = *declared;
  return Framing::kLength;
}

Status ResponseReader::exact(size_t n, std::string& out) {
  if (n > maxBody_ - out.size()) return tooLarge();
  while (buf_.size() - pos_ < n) {
    size_t have = buf_.size() - pos_;
    out.append(buf_, pos_, have);
    n -= have;
    pos_ = buf_.size();
    auto more = fill();
    if (!more.isOk()) return more.status();
    if (!*more) return protocolError(conn_.peer(), "connection closed in the body");
  }
  out.append(buf_, pos_, n);
  pos_ += n;
  return Status::ok();
}

Status ResponseReader::toClose(std::string& out) {
  while (true) {
    if (buf_.size() - pos_ > maxBody_ - out.size()) return tooLarge();
    out.append(buf_, pos_);
    pos_ = buf_.size();
    auto more = fill();
    if (!more.isOk()) return more.status();
    if (!*more) return Status::ok();
  }
}

Status ResponseReader::chunked(std::string& out) {
  while (true) {
    size_t budget = kMaxChunkLineBytes;
    auto sizeLine = line(budget, "chunk size line");
    if (!sizeLine.isOk()) return sizeLine.status();
    std::string_view hex = trim(std::string_view(*sizeLine).substr(0, sizeLine->find(';')));
    size_t size = 0;
    auto [end, ec] = std::from_chars(hex.data(), hex.data() + hex.size(), size, 16);
    if (hex.empty() || ec != std::errc() || end != hex.data() + hex.size()) {
      return protocolError(conn_.peer(), "bad chunk size");
    }
    if (size == 0) break;
    WASMGATE_RETURN_IF_ERROR(exact(size, out));
    budget = 2;
    auto crlf = line(budget, "chunk end");
    if (!crlf.isOk()) return crlf.status();
    if (!crlf->empty()) return protocolError(conn_.peer(), "chunk longer than its size");
  }
  size_t budget = kMaxHeaderBytes;
  while (true) {  // trailers, ignored
    auto trailer = line(budget, "trailer section");
    if (!trailer.isOk()) return trailer.status();
    if (trailer->empty()) return Status::ok();
  }
}

Status ResponseReader::readBody(std::string_view method, HttpResponse& out) {
  size_t length = 0;
  auto how = framing(method, out, length);
  if (!how.isOk()) return how.status();
  switch (*how) {
    case Framing::kNone:
      return Status::ok();
    case Framing::kLength:
      return exact(length, out.body);
    case Framing::kChunked:
      return chunked(out.body);
    case Framing::kClose:
      return toClose(out.body);
  }
  return Status::ok();
}

std::string requestHead(std::string_view method, const Url& url, const HttpHeaders& headers,
                        std::string_view body) {
  std::string head = std::string(method) + " " + url.target +
                     " HTTP/1.1\r\nHost: " + url.authority() +
                     "\r\nUser-Agent: wasmgate\r\nConnection: close\r\n";
  for (const HttpHeader& h : headers) head += h.name + ": " + h.value + "\r\n";
  if (!body.empty() || method == "POST" || method == "PUT") {
    head += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  return head + "\r\n";
}

bool isRedirect(int status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

}  // namespace

const std::string* HttpResponse::header(std::string_view name) const {
  for (const HttpHeader& h : headers) {
    if (iequals(h.name, name)) return &h.value;
  }
  return nullptr;
}

HttpClient::~HttpClient() = default;

Result<const TlsContext*> HttpClient::tlsContext() {
  if (!tls_) {
    auto created = TlsContext::create(options_.tls);
    if (!created.isOk()) return created.status();
    tls_ = std::move(*created);
  }
  return tls_.get();
}

Result<HttpResponse> HttpClient::send(std::string_view method, const Url& url,
                                      const HttpHeaders& headers, std::string_view body,
                                      size_t maxBody) {
  Deadline deadline(options_.timeout);
  const TlsContext* tls = nullptr;
  if (url.tls()) {
    auto ctx = tlsContext();
    if (!ctx.isOk()) return ctx.status();
    tls = *ctx;
  }
  auto conn = Connection::open(url.host, url.port, tls, deadline);
  if (!conn.isOk()) return conn.status();
  WASMGATE_RETURN_IF_ERROR((*conn)->writeAll(requestHead(method, url, headers, body), deadline));
  WASMGATE_RETURN_IF_ERROR((*conn)->writeAll(body, deadline));
  ResponseReader reader(**conn, deadline, std::min(maxBody, options_.maxBodyBytes));
  HttpResponse response;
  WASMGATE_RETURN_IF_ERROR(reader.readHead(response));
  WASMGATE_RETURN_IF_ERROR(reader.readBody(method, response));
  response.url = url.toString();
  return response;
}

Result<HttpResponse> HttpClient::get(std::string_view url, const HttpHeaders& headers) {
  return get(url, headers, options_.maxBodyBytes);
}

Result<HttpResponse> HttpClient::get(std::string_view url, const HttpHeaders& headers,
                                     size_t maxBody) {
  auto current = parseUrl(url);
  if (!current.isOk()) return current.status();
  HttpHeaders sent = headers;
  for (int hop = 0;; ++hop) {
    auto response = send("GET", *current, sent, {}, maxBody);
    if (!response.isOk()) return response.status();
    const std::string* location = response->header("location");
    if (!isRedirect(response->status) || location == nullptr) return response;
    if (hop == options_.maxRedirects) {
      return errorStatus(StatusCode::kProtocolError, "GET " + std::string(url) + ": more than " +
                                                         std::to_string(options_.maxRedirects) +
                                                         " redirects");
    }
    auto next = resolveUrl(*current, *location);
    if (!next.isOk()) return next.status();
    if (current->tls() && !next->tls()) {
      return errorStatus(StatusCode::kProtocolError,
                         "GET " + std::string(url) + ": redirect from https to http refused");
    }
    if (!next->sameOrigin(*current)) {
      std::erase_if(sent, [](const HttpHeader& h) { return iequals(h.name, "authorization"); });
    }
    current = std::move(next);
  }
}

Status httpStatusError(const HttpResponse& response, std::string_view what) {
  int s = response.status;
  if (s >= 200 && s < 300) return Status::ok();
  StatusCode code = s == 404                             ? StatusCode::kNotFound
                    : (s == 408 || s == 429 || s >= 500) ? StatusCode::kUnavailable
                                                         : StatusCode::kProtocolError;
  std::string message = std::string(what) + ": " + std::to_string(s);
  if (!response.reason.empty()) message += " " + response.reason;
  return errorStatus(code, message);
}

}  // namespace wasmgate::fetch
