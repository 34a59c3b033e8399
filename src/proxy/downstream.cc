#include "proxy/downstream.h"

#include <event2/buffer.h>

#include <random>

#include "abi/pairs.h"
#include "proxy/http1/parser.h"
#include "proxy/limits.h"
#include "proxy/worker.h"

namespace wasmgate::proxy {
namespace {

// splitmix64: two multiplications per 64 bits, seeded once per thread. Request ids need to be
// unique, not unpredictable; a Mersenne Twister per nibble showed in profiles.
uint64_t nextRandom() {
  thread_local uint64_t state = [] {
    std::random_device device;
    return (uint64_t{device()} << 32) ^ device();
  }();
  uint64_t z = (state += 0x9e3779b97f4a7c15);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
  z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
  return z ^ (z >> 31);
}

// A random (version 4) UUID: xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx, y one of 8, 9, a, b.
std::string newRequestId() {
  static constexpr char kHex[] = "0123456789abcdef";
  uint64_t high = (nextRandom() & ~0xf000ull) | 0x4000ull;
  uint64_t low = (nextRandom() & ~(3ull << 62)) | (2ull << 62);
  std::string id(36, '-');
  size_t bit = 128;
  for (size_t i = 0; i < id.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) continue;
    bit -= 4;
    uint64_t word = bit >= 64 ? high : low;
    id[i] = kHex[(word >> (bit % 64)) & 15];
  }
  return id;
}

std::string hostOf(const std::string& address) {
  std::string host = address.substr(0, address.rfind(':'));
  if (host.size() > 1 && host.front() == '[') host = host.substr(1, host.size() - 2);
  return host;
}

}  // namespace

DownstreamConnection::DownstreamConnection(Worker& worker, const ListenerConfig& listener,
                                           ListenerStats& stats, evutil_socket_t fd,
                                           std::string peer, std::string local, uint64_t id)
    : worker_(worker),
      listener_(listener),
      stats_(stats),
      socket_(worker.loop(), *this, fd),
      peer_(std::move(peer)),
      local_(std::move(local)),
      id_(id),
      headTimer_(worker.loop(), [this] { onHeadTimer(); }) {
  socket_.setWriteLowWatermark(kDownstreamHighWatermark / 2);
  waitForHead(listener_.requestHeadersTimeout);
  ++stats_.downstreamCx;
  ++stats_.activeCx;
}

// A request only moves the deadline; the timer is armed again when it fires before it, not on
// every request.
void DownstreamConnection::waitForHead(milliseconds timeout) {
  headDeadline_ = std::chrono::steady_clock::now() + timeout;
  if (headTimerDue_ && *headTimerDue_ <= headDeadline_) return;
  headTimer_.arm(timeout);
  headTimerDue_ = headDeadline_;
}

void DownstreamConnection::onHeadTimer() {
  headTimerDue_.reset();
  if (state_ != State::kHead) return;  // a request is under way; its end waits for the next head
  auto now = std::chrono::steady_clock::now();
  if (now < headDeadline_) {
    headTimer_.arm(std::chrono::ceil<milliseconds>(headDeadline_ - now));
    headTimerDue_ = headDeadline_;
    return;
  }
  bool midHead = evbuffer_get_length(socket_.input()) > 0;
  if (midHead) {
    rejectRequest(408, "http1.request_headers_timeout");  // slow client: free the worker
  } else {
    close();  // idle keep-alive connection
  }
}

DownstreamConnection::~DownstreamConnection() {
  --stats_.activeCx;
}

void DownstreamConnection::onWritable() {
  if (state_ == State::kClosing && socket_.outputLength() == 0) {
    close();
    return;
  }
  if (stream_) stream_->onDownstreamWritable();
}

void DownstreamConnection::process() {
  if (processing_) return;  // a stream callback re-entered; the outer loop continues
  processing_ = true;
  bool progress = true;
  while (progress && (state_ == State::kHead || state_ == State::kBody)) {
    progress = state_ == State::kHead ? readHead() : readBody();
  }
  processing_ = false;
  if (state_ == State::kAwaitResponse && evbuffer_get_length(socket_.input()) > kMaxHeaderBytes) {
    socket_.pauseReading();  // pipelined requests wait; stop reading more
  }
}

abi::Headers DownstreamConnection::requestHeaders(const http1::RequestHead& head) {
  abi::Headers out;
  out.reserve(head.headers.size() + 8);  // 6 added here, and room for plugins to add some
  out.emplace_back(":method", std::string(head.method));
  auto host = head.headers.find("host");
  std::string authority = host ? std::string(*host) : std::string();
  std::string_view target = head.target;
  // Absolute form (RFC 9112 3.2.2): the target's authority replaces Host.
  for (std::string_view scheme : {"http://", "https://"}) {
    if (target.size() < scheme.size() || abi::lowercase(target.substr(0, scheme.size())) != scheme)
      continue;
    std::string_view rest = target.substr(scheme.size());
    size_t slash = rest.find_first_of("/?");
    authority = std::string(rest.substr(0, slash));
    target = slash == std::string_view::npos ? std::string_view("/") : rest.substr(slash);
    break;
  }
  std::string path(target);
  if (!path.empty() && path[0] == '?') path.insert(0, "/");
  out.emplace_back(":path", std::move(path));
  out.emplace_back(":authority", std::move(authority));
  out.emplace_back(":scheme", "http");
  std::string forwardedFor;
  bool hasRequestId = false;
  ConnectionOptions connection(head.headers);
  for (const http1::Header& h : head.headers) {
    std::string name = abi::lowercase(h.name);
    if (isHopByHop(name) || name == "host" || name == "expect") continue;
    if (connection.nominates(name)) continue;
    if (name == "x-forwarded-for") {
      forwardedFor.append(forwardedFor.empty() ? "" : ", ").append(h.value);
      continue;
    }
    if (name == "x-request-id") hasRequestId = true;
    out.emplace_back(std::move(name), std::string(h.value));
  }
  forwardedFor.append(forwardedFor.empty() ? "" : ", ").append(hostOf(peer_));
  out.emplace_back("x-forwarded-for", std::move(forwardedFor));
  if (!hasRequestId) out.emplace_back("x-request-id", newRequestId());
  return out;
}

bool DownstreamConnection::readHead() {
  evbuffer* in = socket_.input();
  size_t available = evbuffer_get_length(in);
  if (available == 0) return false;
  size_t window = std::min(available, kMaxHeaderBytes + 1);
  std::string_view bytes(
      reinterpret_cast<const char*>(evbuffer_pullup(in, static_cast<ssize_t>(window))), window);
  http1::RequestHead head;
  http1::ParseResult parsed = http1::parseRequestHead(bytes, head);
  if (parsed.isIncomplete()) {
    if (window > kMaxHeaderBytes) rejectRequest(431, "http1.headers_too_large");
    return false;
  }
  if (parsed.isError()) {
    bool tooLarge = parsed.error == http1::ParseError::kHeadersTooLarge ||
                    parsed.error == http1::ParseError::kTooManyHeaders;
    rejectRequest(tooLarge ? 431 : 400, parsed.reason());
    return false;
  }
  requestFraming_ = head.framing;
  remaining_ = requestFraming_.length;
  chunked_.reset();
  keepAlive_ = head.keepAlive;
  headRequest_ = head.method == "HEAD";
  minorVersion_ = head.minorVersion;
  requestComplete_ = !requestFraming_.hasBody();
  bool expectContinue = head.expectContinue;
  abi::Headers headers = requestHeaders(head);
  evbuffer_drain(in, parsed.consumed);
  ++stats_.downstreamRq;
  state_ = requestComplete_ ? State::kAwaitResponse : State::kBody;
  stream_ = std::make_unique<HttpStream>(worker_, listener_, *this, worker_.chain());
  stream_->onRequestHeaders(std::move(headers), requestComplete_, expectContinue);
  return state_ == State::kBody || state_ == State::kHead;
}

bool DownstreamConnection::readBody() {
  evbuffer* in = socket_.input();
  size_t available = evbuffer_get_length(in);
  if (available == 0) return false;
  if (requestFraming_.kind == http1::BodyFraming::Kind::kContentLength) {
    size_t take = static_cast<size_t>(std::min<uint64_t>(remaining_, available));
    remaining_ -= take;
    std::string chunk = takeBytes(in, take);
    if (remaining_ == 0) {
      requestComplete_ = true;
      state_ = State::kAwaitResponse;
    }
    if (stream_) stream_->onRequestData(chunk, remaining_ == 0);
    return state_ == State::kBody;
  }
  std::string_view bytes(reinterpret_cast<const char*>(evbuffer_pullup(in, -1)), available);
  http1::ChunkedStep step = chunked_.decode(bytes);
  if (step.status == http1::ChunkedStatus::kError) {
    rejectRequest(400, step.reason());
    return false;
  }
  std::string data(step.data);
  abi::Headers trailers;
  if (step.status == http1::ChunkedStatus::kDone)
    trailers = toAbiHeaders(chunked_.trailers(), "", "");
  evbuffer_drain(in, step.consumed);
  if (step.status == http1::ChunkedStatus::kDone) {
    requestComplete_ = true;
    state_ = State::kAwaitResponse;
  }
  if (!stream_) return state_ == State::kBody;
  if (step.status == http1::ChunkedStatus::kData) {
    stream_->onRequestData(data, false);
  } else if (step.status == http1::ChunkedStatus::kDone) {
    if (trailers.empty()) {
      stream_->onRequestData({}, true);
    } else {
      stream_->onRequestTrailers(std::move(trailers));
    }
  }
  return step.status != http1::ChunkedStatus::kNeedMore && state_ == State::kBody;
}

void DownstreamConnection::rejectRequest(uint32_t status, std::string_view reason) {
  ++stats_.downstreamRqRejected;
  if (stream_) {
    stream_->onDownstreamReset();
    worker_.loop().deferDelete(std::move(stream_));
  }
  std::string body = std::string(reasonPhrase(status)) + ": " + std::string(reason) + "\n";
  std::string response =
      "HTTP/1.1 " + std::to_string(status) + " " + std::string(reasonPhrase(status)) +
      "\r\ncontent-type: text/plain\r\ncontent-length: " + std::to_string(body.size()) +
      "\r\nconnection: close\r\n\r\n" + body;
  socket_.write(response);
  worker_.log(abi::LogLevel::kDebug, "rejected request from " + peer_ + ": " + std::string(reason));
  closeAfterFlush();
}

void DownstreamConnection::sendResponseHeaders(const abi::Headers& headers, bool endOfStream) {
  if (state_ == State::kClosing || state_ == State::kClosed) return;
  const std::string* statusText = abi::findHeader(headers, ":status");
  uint32_t status =
      statusText ? static_cast<uint32_t>(std::strtoul(statusText->c_str(), nullptr, 10)) : 200;
  bool noBody = headRequest_ || status == 204 || status == 304 || status < 200;
  if (noBody) {
    responseFraming_ = headRequest_ ? ResponseFraming::kContentLength : ResponseFraming::kNone;
  } else if (endOfStream) {
    responseFraming_ = ResponseFraming::kContentLength;
  } else if (abi::findHeader(headers, "content-length")) {
    responseFraming_ = ResponseFraming::kContentLength;
  } else if (minorVersion_ >= 1) {
    responseFraming_ = ResponseFraming::kChunked;
  } else {
    responseFraming_ = ResponseFraming::kClose;
    keepAlive_ = false;
  }
  if (!requestComplete_) keepAlive_ = false;  // the rest of the request body is never read
  // Built in a per-thread buffer that keeps its capacity, and copied out at once.
  thread_local std::string head;
  head.clear();
  if (endOfStream && !noBody) {
    abi::Headers withoutBody = headers;  // copied only here: most responses keep their headers
    abi::replaceHeader(withoutBody, "content-length", "0");
    appendResponseHead(head, withoutBody, responseFraming_);
  } else {
    appendResponseHead(head, headers, responseFraming_);
  }
  if (!keepAlive_ && responseFraming_ != ResponseFraming::kClose) {
    head.insert(head.size() - 2, "connection: close\r\n");
  } else if (keepAlive_ && minorVersion_ == 0) {
    head.insert(head.size() - 2, "connection: keep-alive\r\n");  // HTTP/1.0 closes unless told
  }
  if (noBody) responseFraming_ = ResponseFraming::kNone;
  if (endOfStream) {
    socket_.write(head);
  } else {
    evbuffer_add(socket_.output(), head.data(), head.size());
    socket_.flushSoon();  // a body sent in this same callback leaves with the head
  }
}

void DownstreamConnection::sendResponseData(std::string_view data, bool endOfStream) {
  if (state_ == State::kClosing || state_ == State::kClosed) return;
  evbuffer* out = socket_.output();
  if (responseFraming_ == ResponseFraming::kChunked) {
    std::string framed;
    if (!data.empty()) http1::appendChunk(framed, data);
    if (endOfStream) http1::appendLastChunk(framed);
    evbuffer_add(out, framed.data(), framed.size());
  } else if (responseFraming_ != ResponseFraming::kNone) {
    evbuffer_add(out, data.data(), data.size());
  }
  socket_.flush();
}

void DownstreamConnection::sendResponseTrailers(const abi::Headers& trailers) {
  if (responseFraming_ != ResponseFraming::kChunked) return;  // trailers need chunked framing
  std::string framed = "0\r\n";
  for (const auto& [k, v] : trailers) framed.append(k).append(": ").append(v).append("\r\n");
  framed.append("\r\n");
  socket_.write(framed);
}

void DownstreamConnection::sendContinue() {
  static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
  socket_.write(kContinue);
}

void DownstreamConnection::resetStream(std::string_view details) {
  worker_.log(abi::LogLevel::kDebug,
              "connection " + std::to_string(id_) + " reset: " + std::string(details));
  if (stream_) worker_.loop().deferDelete(std::move(stream_));
  close();
}

bool DownstreamConnection::responseBuffered() const {
  return socket_.outputLength() > kDownstreamHighWatermark;
}

void DownstreamConnection::pauseRequestBody(bool pause) {
  if (pause == requestBodyPaused_ || state_ == State::kClosing || state_ == State::kClosed) return;
  requestBodyPaused_ = pause;
  if (pause) {
    socket_.pauseReading();
  } else {
    socket_.resumeReading();
  }
}

void DownstreamConnection::onStreamComplete(uint32_t status) {
  stats_.countStatus(status);
  if (stream_) worker_.loop().deferDelete(std::move(stream_));
  if (!keepAlive_ || !requestComplete_ || responseFraming_ == ResponseFraming::kClose) {
    closeAfterFlush();
    return;
  }
  state_ = State::kHead;
  waitForHead(listener_.idleTimeout);
  requestBodyPaused_ = false;
  socket_.resumeReading();
  // A pipelined request may be waiting; read it on a fresh stack.
  if (evbuffer_get_length(socket_.input()) > 0) {
    worker_.loop().defer([this] {
      if (state_ == State::kHead) process();
    });
  }
}

void DownstreamConnection::closeAfterFlush() {
  if (state_ == State::kClosed) return;
  state_ = State::kClosing;
  headTimer_.cancel();
  headTimerDue_.reset();
  socket_.pauseReading();
  if (socket_.outputLength() == 0) close();
}

void DownstreamConnection::close() {
  if (state_ == State::kClosed) return;
  state_ = State::kClosed;
  headTimer_.cancel();
  headTimerDue_.reset();
  if (stream_) {
    stream_->onDownstreamReset();
    worker_.loop().deferDelete(std::move(stream_));
  }
  socket_.flush();  // a head held back by flushSoon leaves as it would have without the hold
  socket_.close();
  worker_.removeConnection(this);
}

}  // namespace wasmgate::proxy
