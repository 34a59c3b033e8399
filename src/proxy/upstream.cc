#include "proxy/upstream.h"

#include <event2/buffer.h>

#include <algorithm>
#include <chrono>

#include "abi/pairs.h"
#include "proxy/http1/parser.h"
#include "proxy/http_util.h"
#include "proxy/limits.h"
#include "proxy/stream_socket.h"

namespace wasmgate::proxy {

// One TCP connection to an endpoint: owned by an UpstreamRequest while in use, by its Cluster's
// idle pool between requests.
class UpstreamConnection : public Deletable, private StreamSocket::Handler {
 public:
  UpstreamConnection(Cluster& cluster, const SocketAddress& endpoint)
      : cluster_(cluster),
        address_(endpoint.toString()),
        socket_(cluster.loop(), *this),
        responseTimer_(cluster.loop(), [this] { onResponseTimer(); }) {
    connectFailed_ = !socket_.connect(endpoint, cluster.config().connectTimeout);
    socket_.setWriteLowWatermark(kUpstreamHighWatermark / 2);
  }

  StreamSocket& socket() { return socket_; }
  const std::string& address() const { return address_; }
  bool connectFailed() const { return connectFailed_; }
  // `owner` gets its whole response within `responseTimeout` (0: no limit).
  void attach(UpstreamRequest* owner, milliseconds responseTimeout) {
    owner_ = owner;
    socket_.resumeReading();
    if (responseTimeout.count() > 0) {
      responseDeadline_ = std::chrono::steady_clock::now() + responseTimeout;
      // The timer lives as long as the connection, and a request only moves the deadline: it is
      // armed again when it fires before it, not for every request.
      if (!responseTimerDue_ || *responseTimerDue_ > *responseDeadline_) {
        responseTimer_.arm(responseTimeout);
        responseTimerDue_ = responseDeadline_;
      }
    }
  }
  void detach() {
    owner_ = nullptr;
    responseDeadline_.reset();
    socket_.resumeReading();  // an idle connection still notices the peer closing
  }

 private:
  void onResponseTimer() {
    responseTimerDue_.reset();
    if (!owner_ || !responseDeadline_) return;
    auto now = std::chrono::steady_clock::now();
    if (now < *responseDeadline_) {
      responseTimer_.arm(std::chrono::ceil<milliseconds>(*responseDeadline_ - now));
      responseTimerDue_ = responseDeadline_;
      return;
    }
    owner_->onResponseTimeout();
  }

  // StreamSocket::Handler
  void onConnected() override {
    connected_ = true;
    if (owner_) owner_->onConnected();
  }
  void onWritable() override {
    if (owner_) owner_->onWritable();
  }
  void onReadable() override {
    if (owner_) {
      owner_->onReadable();
    } else {
      cluster_.dropIdle(this);  // nothing may arrive on an idle connection
    }
  }
  void onEndOfStream() override { closed(); }
  void onError(SocketError) override { closed(); }
  void closed() {
    UpstreamRequest* owner = owner_;
    if (!owner) {
      cluster_.dropIdle(this);
      return;
    }
    owner_ = nullptr;
    responseDeadline_.reset();
    owner->onClosed(!connected_);
  }

  Cluster& cluster_;
  std::string address_;
  StreamSocket socket_;
  UpstreamRequest* owner_ = nullptr;
  Timer responseTimer_;
  std::optional<std::chrono::steady_clock::time_point> responseDeadline_;  // of owner_
  std::optional<std::chrono::steady_clock::time_point> responseTimerDue_;  // while armed
  bool connected_ = false;
  bool connectFailed_ = false;
};

Cluster::Cluster(EventLoop& loop, ClusterConfig config) : loop_(loop), config_(std::move(config)) {}

Cluster::~Cluster() = default;

std::unique_ptr<UpstreamConnection> Cluster::acquire() {
  if (!idle_.empty()) {
    auto c = std::move(idle_.back());
    idle_.pop_back();
    return c;
  }
  return std::make_unique<UpstreamConnection>(*this, nextEndpoint());
}

void Cluster::release(std::unique_ptr<UpstreamConnection> connection) {
  connection->detach();
  if (idle_.size() >= config_.maxIdleConnectionsPerWorker) {
    loop_.deferDelete(std::move(connection));
    return;
  }
  idle_.push_back(std::move(connection));
}

void Cluster::dropIdle(UpstreamConnection* connection) {
  auto it = std::find_if(idle_.begin(), idle_.end(),
                         [&](const auto& c) { return c.get() == connection; });
  if (it == idle_.end()) return;
  loop_.deferDelete(std::move(*it));
  idle_.erase(it);
}

UpstreamRequest::UpstreamRequest(Cluster& cluster, UpstreamCallbacks& callbacks,
                                 milliseconds timeout)
    : cluster_(cluster), callbacks_(callbacks) {
  connection_ = cluster_.acquire();
  connection_->attach(this, timeout);
  if (connection_->connectFailed()) {
    cluster_.loop().defer([this] { fail(503, "upstream_connect_error"); });
  }
}

UpstreamRequest::~UpstreamRequest() {
  if (connection_) {
    connection_->detach();
    cluster_.loop().deferDelete(std::move(connection_));  // mid-exchange: never reused
  }
}

std::string UpstreamRequest::upstreamAddress() const {
  return connection_ ? connection_->address() : "";
}

void UpstreamRequest::sendHeaders(const abi::Headers& headers, bool endOfStream) {
  const std::string* method = abi::findHeader(headers, ":method");
  method_ = method ? *method : "GET";
  chunkedRequest_ = !endOfStream && !abi::findHeader(headers, "content-length");
  // Built in a per-thread buffer that keeps its capacity, and copied out at once.
  thread_local std::string head;
  head.clear();
  appendRequestHead(head, headers, chunkedRequest_);
  StreamSocket& socket = connection_->socket();
  if (endOfStream) {
    requestComplete_ = true;
    socket.write(head);
  } else {
    evbuffer_add(socket.output(), head.data(), head.size());
    socket.flushSoon();  // a body sent in this same callback leaves with the head
  }
}

void UpstreamRequest::sendData(std::string_view data, bool endOfStream) {
  if (!connection_ || done_) return;
  StreamSocket& socket = connection_->socket();
  if (chunkedRequest_) {
    std::string framed;
    if (!data.empty()) http1::appendChunk(framed, data);
    if (endOfStream) http1::appendLastChunk(framed);
    evbuffer_add(socket.output(), framed.data(), framed.size());
  } else {
    evbuffer_add(socket.output(), data.data(), data.size());
  }
  socket.flush();
  if (endOfStream) requestComplete_ = true;
}

void UpstreamRequest::sendTrailers(const abi::Headers& trailers) {
  if (!connection_ || done_) return;
  std::string framed;
  if (chunkedRequest_) {
    framed = "0\r\n";
    for (const auto& [k, v] : trailers) framed.append(k).append(": ").append(v).append("\r\n");
    framed.append("\r\n");
  }
  connection_->socket().write(framed);  // trailers need chunking
  requestComplete_ = true;
}

void UpstreamRequest::readDisable(bool disable) {
  if (!connection_) return;
  if (disable) {
    connection_->socket().pauseReading();
  } else {
    connection_->socket().resumeReading();
  }
}

void UpstreamRequest::onConnected() {}

bool UpstreamRequest::requestBuffered() const {
  return connection_ && !done_ && connection_->socket().outputLength() > kUpstreamHighWatermark;
}

void UpstreamRequest::onWritable() {
  if (!done_) callbacks_.onUpstreamRequestDrained();
}

void UpstreamRequest::onResponseTimeout() {
  fail(504, "upstream_response_timeout");
}

void UpstreamRequest::onReadable() {
  while (!done_ && processResponse()) {
  }
}

// Handles what the input holds; true if it made progress and may make more.
bool UpstreamRequest::processResponse() {
  evbuffer* in = connection_->socket().input();
  size_t available = evbuffer_get_length(in);
  if (available == 0) return false;
  if (!headersReceived_) {
    size_t window = std::min(available, http1::ParserLimits{}.maxHeaderBytes + 1);
    std::string_view bytes(
        reinterpret_cast<const char*>(evbuffer_pullup(in, static_cast<ssize_t>(window))), window);
    http1::ResponseHead head;
    http1::ParseResult parsed = http1::parseResponseHead(bytes, head, {}, method_);
    if (parsed.isIncomplete()) {
      if (window > http1::ParserLimits{}.maxHeaderBytes) fail(502, "upstream_headers_too_large");
      return false;
    }
    if (parsed.isError()) {
      fail(502, "upstream_malformed_response." + std::string(parsed.reason()));
      return false;
    }
    if (head.status >= 100 && head.status < 200) {  // interim responses are not forwarded
      evbuffer_drain(in, parsed.consumed);
      return true;
    }
    headersReceived_ = true;
    framing_ = head.framing;
    remaining_ = framing_.length;
    keepAlive_ = head.keepAlive;
    abi::Headers headers = toAbiHeaders(head.headers, std::to_string(head.status), ":status");
    evbuffer_drain(in, parsed.consumed);
    bool endOfStream = !framing_.hasBody();
    callbacks_.onUpstreamHeaders(static_cast<uint32_t>(head.status), std::move(headers),
                                 endOfStream);
    if (endOfStream) finish();
    return true;
  }
  switch (framing_.kind) {
    case http1::BodyFraming::Kind::kContentLength: {
      size_t take = static_cast<size_t>(std::min<uint64_t>(remaining_, available));
      remaining_ -= take;
      std::string chunk = takeBytes(in, take);
      callbacks_.onUpstreamData(chunk, remaining_ == 0);
      if (remaining_ == 0) finish();
      return !done_;
    }
    case http1::BodyFraming::Kind::kChunked: {
      std::string_view bytes(reinterpret_cast<const char*>(evbuffer_pullup(in, -1)), available);
      http1::ChunkedStep step = chunked_.decode(bytes);
      if (step.status == http1::ChunkedStatus::kError) {
        fail(502, "upstream_malformed_body." + std::string(step.reason()));
        return false;
      }
      std::string data(step.data);
      abi::Headers trailers;
      if (step.status == http1::ChunkedStatus::kDone)
        trailers = toAbiHeaders(chunked_.trailers(), "", "");
      evbuffer_drain(in, step.consumed);
      if (step.status == http1::ChunkedStatus::kData) {
        callbacks_.onUpstreamData(data, false);
      } else if (step.status == http1::ChunkedStatus::kDone) {
        if (trailers.empty()) {
          callbacks_.onUpstreamData({}, true);
        } else {
          callbacks_.onUpstreamTrailers(std::move(trailers));
        }
        finish();
      }
      return step.status != http1::ChunkedStatus::kNeedMore && !done_;
    }
    default: {
      std::string chunk = takeBytes(in, available);
      callbacks_.onUpstreamData(chunk, false);
      return false;
    }
  }
}

void UpstreamRequest::onClosed(bool beforeConnect) {
  if (done_) return;
  if (beforeConnect) {
    fail(503, "upstream_connect_error");
    return;
  }
  if (headersReceived_ && framing_.kind == http1::BodyFraming::Kind::kUntilClose) {
    onReadable();  // whatever arrived with the close
    done_ = true;
    cluster_.loop().deferDelete(std::move(connection_));
    callbacks_.onUpstreamData({}, true);
    return;
  }
  fail(502, headersReceived_ ? "upstream_reset_after_response_started"
                             : "upstream_reset_before_response_started");
}

void UpstreamRequest::fail(uint32_t status, std::string_view details) {
  if (done_) return;
  done_ = true;
  if (connection_) {
    connection_->detach();
    cluster_.loop().deferDelete(std::move(connection_));
  }
  callbacks_.onUpstreamError(status, details);
}

void UpstreamRequest::finish() {
  done_ = true;
  if (!connection_) return;
  bool reusable =
      keepAlive_ && requestComplete_ && evbuffer_get_length(connection_->socket().input()) == 0;
  if (reusable) {
    cluster_.release(std::move(connection_));
  } else {
    connection_->detach();
    cluster_.loop().deferDelete(std::move(connection_));
  }
}

}  // namespace wasmgate::proxy
