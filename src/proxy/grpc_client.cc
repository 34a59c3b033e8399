#include "proxy/grpc_client.h"

#include <event2/buffer.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cstring>

#include "abi/pairs.h"

namespace wasmgate::proxy {
namespace {

constexpr size_t kMaxGrpcMessageBytes = 4 * 1024 * 1024;

nghttp2_nv header(const std::string& name, const std::string& value) {
  return nghttp2_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                    reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(),
                    value.size(), NGHTTP2_NV_FLAG_NONE};
}

void appendFramed(std::string& out, std::string_view message) {
  uint32_t length = static_cast<uint32_t>(message.size());
  char prefix[5] = {0, static_cast<char>(length >> 24), static_cast<char>(length >> 16),
                    static_cast<char>(length >> 8), static_cast<char>(length)};
  out.append(prefix, 5).append(message);
}

// gRPC's percent-encoding of grpc-message.
std::string percentDecode(std::string_view in) {
  std::string out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '%' && i + 2 < in.size()) {
      out.push_back(
          static_cast<char>(std::strtol(std::string(in.substr(i + 1, 2)).c_str(), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(in[i]);
    }
  }
  return out;
}

}  // namespace

struct GrpcClient::Call {
  uint32_t token;
  GrpcCallbacks* callbacks;
  bool stream;
  abi::GrpcCallRequest request;
  int32_t streamId = -1;
  std::string outgoing;   // framed bytes not yet handed to nghttp2
  bool localEnd = false;  // END_STREAM queued
  bool deferred = false;  // nghttp2 waits for more data
  std::string incoming;   // received bytes not yet split into messages
  abi::Headers headers;   // response headers, then trailers
  bool headersDone = false;
  bool finished = false;
  std::unique_ptr<Timer> timeout;
};

GrpcClient::GrpcClient(EventLoop& loop, const ClusterConfig& cluster)
    : loop_(loop), cluster_(cluster) {}

GrpcClient::~GrpcClient() {
  if (session_) nghttp2_session_del(session_);
  if (bev_) bufferevent_free(bev_);
}

void GrpcClient::connect() {
  if (bev_) return;
  bev_ = bufferevent_socket_new(loop_.base(), -1, BEV_OPT_CLOSE_ON_FREE);
  bufferevent_setcb(bev_, &GrpcClient::onRead, nullptr, &GrpcClient::onEvent, this);
  const SocketAddress& endpoint = cluster_.endpoints[nextEndpoint_++ % cluster_.endpoints.size()];
  std::string target = endpoint.host == "localhost" ? "127.0.0.1:" + std::to_string(endpoint.port)
                                                    : endpoint.toString();
  sockaddr_storage addr{};
  int len = sizeof(addr);
  timeval connectTimeout{static_cast<time_t>(cluster_.connectTimeout.count() / 1000),
                         static_cast<suseconds_t>(cluster_.connectTimeout.count() % 1000 * 1000)};
  bufferevent_set_timeouts(bev_, nullptr, &connectTimeout);
  if (evutil_parse_sockaddr_port(target.c_str(), reinterpret_cast<sockaddr*>(&addr), &len) != 0 ||
      bufferevent_socket_connect(bev_, reinterpret_cast<sockaddr*>(&addr), len) != 0) {
    loop_.defer([this] { fail("cannot connect to " + cluster_.name); });
    return;
  }
  bufferevent_enable(bev_, EV_READ | EV_WRITE);
  nghttp2_session_callbacks* callbacks;
  nghttp2_session_callbacks_new(&callbacks);
  nghttp2_session_callbacks_set_on_header_callback(callbacks, &GrpcClient::onHeader);
  nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, &GrpcClient::onFrameRecv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, &GrpcClient::onDataChunk);
  nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, &GrpcClient::onStreamClose);
  nghttp2_session_client_new(&session_, callbacks, this);
  nghttp2_session_callbacks_del(callbacks);
  nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, nullptr, 0);
}

void GrpcClient::start(uint32_t token, const abi::GrpcCallRequest& request, bool stream,
                       GrpcCallbacks& owner) {
  auto call = std::make_unique<Call>();
  call->token = token;
  call->callbacks = &owner;
  call->stream = stream;
  call->request = request;
  if (!stream) {
    appendFramed(call->outgoing, request.message);
    call->localEnd = true;
  }
  if (request.timeout.count() > 0) {
    call->timeout = std::make_unique<Timer>(loop_, [this, owner = &owner, token] {
      // Finishing destroys this timer: do it after its callback.
      loop_.defer([this, owner, token] {
        Call* c = find(owner, token);
        if (!c || c->finished) return;
        finishCall(c, kGrpcDeadlineExceeded, "deadline exceeded");
        flush();
        dispatch();
      });
    });
    call->timeout->arm(request.timeout);
  }
  Call& ref = *call;
  calls_[{&owner, token}] = std::move(call);
  connect();
  if (session_) {
    submit(ref);
    flush();
  }
}

void GrpcClient::submit(Call& call) {
  const abi::GrpcCallRequest& r = call.request;
  std::string path = "/" + r.service + "/" + r.method;
  std::vector<std::pair<std::string, std::string>> fields = {{":method", "POST"},
                                                             {":scheme", "http"},
                                                             {":path", path},
                                                             {":authority", cluster_.name},
                                                             {"content-type", "application/grpc"},
                                                             {"te", "trailers"}};
  if (r.timeout.count() > 0)
    fields.emplace_back("grpc-timeout", std::to_string(r.timeout.count()) + "m");
  for (const auto& [k, v] : r.initialMetadata) {
    if (!k.empty() && k[0] != ':') fields.emplace_back(abi::lowercase(k), v);
  }
  std::vector<nghttp2_nv> nva;
  for (const auto& [k, v] : fields) nva.push_back(header(k, v));
  nghttp2_data_provider provider{};
  provider.source.ptr = &call;
  provider.read_callback = &GrpcClient::readData;
  call.streamId =
      nghttp2_submit_request(session_, nullptr, nva.data(), nva.size(), &provider, &call);
  if (call.streamId < 0) {
    std::string why = nghttp2_strerror(call.streamId);
    loop_.defer([this, owner = call.callbacks, token = call.token, why] {
      if (Call* c = find(owner, token)) finishCall(c, kGrpcInternal, why);
      dispatch();
    });
  }
}

ssize_t GrpcClient::readData(nghttp2_session*, int32_t, uint8_t* buf, size_t length,
                             uint32_t* flags, nghttp2_data_source* source, void*) {
  auto* call = static_cast<Call*>(source->ptr);
  size_t n = std::min(length, call->outgoing.size());
  std::memcpy(buf, call->outgoing.data(), n);
  call->outgoing.erase(0, n);
  if (call->outgoing.empty()) {
    if (call->localEnd) {
      *flags |= NGHTTP2_DATA_FLAG_EOF;
    } else if (n == 0) {
      call->deferred = true;
      return NGHTTP2_ERR_DEFERRED;
    }
  }
  return static_cast<ssize_t>(n);
}

bool GrpcClient::send(GrpcCallbacks& owner, uint32_t token, std::string_view message,
                      bool endStream) {
  Call* call = find(&owner, token);
  if (!call || !call->stream || call->localEnd) return false;
  appendFramed(call->outgoing, message);
  call->localEnd = endStream;
  if (session_ && call->streamId > 0 && call->deferred) {
    call->deferred = false;
    nghttp2_session_resume_data(session_, call->streamId);
  }
  flush();
  return true;
}

bool GrpcClient::close(GrpcCallbacks& owner, uint32_t token) {
  Call* call = find(&owner, token);
  if (!call) return false;
  if (!call->stream) return cancel(owner, token);
  call->localEnd = true;
  if (session_ && call->streamId > 0 && call->deferred) {
    call->deferred = false;
    nghttp2_session_resume_data(session_, call->streamId);
  }
  flush();
  return true;
}

bool GrpcClient::cancel(GrpcCallbacks& owner, uint32_t token) {
  auto it = calls_.find({&owner, token});
  if (it == calls_.end()) return false;
  if (session_ && it->second->streamId > 0) {
    nghttp2_session_set_stream_user_data(session_, it->second->streamId,
                                         nullptr);  // no late events
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, it->second->streamId, NGHTTP2_CANCEL);
  }
  calls_.erase(it);
  flush();
  return true;
}

void GrpcClient::cancelAll(GrpcCallbacks& owner) {
  std::vector<uint32_t> tokens;
  for (auto& [key, call] : calls_) {
    if (key.first == &owner) tokens.push_back(key.second);
  }
  for (uint32_t token : tokens) cancel(owner, token);
  std::erase_if(events_, [&owner](const Event& e) { return e.callbacks == &owner; });
}

void GrpcClient::onEvent(bufferevent*, short what, void* self) {
  auto* client = static_cast<GrpcClient*>(self);
  if (what & BEV_EVENT_CONNECTED) {
    client->onConnected();
    return;
  }
  client->fail(what & BEV_EVENT_TIMEOUT ? "connect timeout"
                                        : "connection to " + client->cluster_.name + " lost");
}

void GrpcClient::onConnected() {
  connected_ = true;
  int one = 1;
  setsockopt(bufferevent_getfd(bev_), IPPROTO_TCP, TCP_NODELAY, &one,
             sizeof(one));  // no Nagle wait
  bufferevent_set_timeouts(bev_, nullptr, nullptr);
  for (auto& [key, call] : calls_) {
    if (call->streamId < 0 && !call->finished) submit(*call);
  }
  flush();
}

void GrpcClient::onRead(bufferevent*, void* self) {
  auto* client = static_cast<GrpcClient*>(self);
  evbuffer* in = bufferevent_get_input(client->bev_);
  size_t n = evbuffer_get_length(in);
  auto* data = evbuffer_pullup(in, static_cast<ssize_t>(n));
  ssize_t used = nghttp2_session_mem_recv(client->session_, data, n);
  if (used < 0) {
    client->fail(std::string("HTTP/2 error: ") + nghttp2_strerror(static_cast<int>(used)));
    return;
  }
  evbuffer_drain(in, n);
  client->flush();
  client->dispatch();
}

void GrpcClient::flush() {
  if (!session_ || !bev_) return;
  while (true) {
    const uint8_t* data = nullptr;
    ssize_t n = nghttp2_session_mem_send(session_, &data);
    if (n <= 0) break;
    bufferevent_write(bev_, data, static_cast<size_t>(n));
  }
}

// Every call still open ends with UNAVAILABLE; the next call reconnects.
void GrpcClient::fail(const std::string& why) {
  for (auto& [key, call] : calls_) {
    if (!call->finished)
      events_.push_back({call->callbacks, key.second, Event::kClose, {}, why, kGrpcUnavailable});
  }
  calls_.clear();
  if (session_) nghttp2_session_del(session_);
  if (bev_) {
    bufferevent_free(bev_);
  }
  session_ = nullptr;
  bev_ = nullptr;
  connected_ = false;
  dispatch();
}

GrpcClient::Call* GrpcClient::find(const GrpcCallbacks* owner, uint32_t token) {
  auto it = calls_.find({owner, token});
  return it == calls_.end() ? nullptr : it->second.get();
}

GrpcClient::Call* GrpcClient::byStream(int32_t streamId) {
  return session_ ? static_cast<Call*>(nghttp2_session_get_stream_user_data(session_, streamId))
                  : nullptr;
}

int GrpcClient::onHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                         size_t nameLen, const uint8_t* value, size_t valueLen, uint8_t,
                         void* self) {
  auto* client = static_cast<GrpcClient*>(self);
  Call* call = client->byStream(frame->hd.stream_id);
  if (!call) return 0;
  call->headers.emplace_back(std::string(reinterpret_cast<const char*>(name), nameLen),
                             std::string(reinterpret_cast<const char*>(value), valueLen));
  return 0;
}

int GrpcClient::onFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* self) {
  auto* client = static_cast<GrpcClient*>(self);
  if (frame->hd.type != NGHTTP2_HEADERS) return 0;
  Call* call = client->byStream(frame->hd.stream_id);
  if (!call || call->finished) return 0;
  bool end = frame->hd.flags & NGHTTP2_FLAG_END_STREAM;
  abi::Headers received = std::move(call->headers);
  call->headers.clear();
  const std::string* httpStatus = abi::findHeader(received, ":status");
  if (!call->headersDone && httpStatus && *httpStatus != "200") {
    client->finishCall(call, kGrpcUnavailable, "HTTP status " + *httpStatus);
    return 0;
  }
  abi::Headers metadata;
  for (auto& [k, v] : received) {
    if (!k.empty() && k[0] != ':') metadata.emplace_back(k, v);
  }
  if (!call->headersDone && !end) {
    call->headersDone = true;
    client->events_.push_back(
        {call->callbacks, call->token, Event::kInitial, std::move(metadata), {}, 0});
    return 0;
  }
  // Trailers (or a trailers-only response): the status of the call.
  call->headersDone = true;
  const std::string* status = abi::findHeader(metadata, "grpc-status");
  const std::string* message = abi::findHeader(metadata, "grpc-message");
  uint32_t code =
      status ? static_cast<uint32_t>(std::strtoul(status->c_str(), nullptr, 10)) : kGrpcUnknown;
  std::string text = message ? percentDecode(*message) : std::string();
  client->events_.push_back(
      {call->callbacks, call->token, Event::kTrailing, std::move(metadata), {}, 0});
  client->finishCall(call, code, std::move(text));
  return 0;
}

int GrpcClient::onDataChunk(nghttp2_session*, uint8_t, int32_t streamId, const uint8_t* data,
                            size_t len, void* self) {
  auto* client = static_cast<GrpcClient*>(self);
  Call* call = client->byStream(streamId);
  if (!call || call->finished) return 0;
  call->incoming.append(reinterpret_cast<const char*>(data), len);
  while (call->incoming.size() >= 5) {
    auto* p = reinterpret_cast<const uint8_t*>(call->incoming.data());
    uint32_t length =
        (uint32_t{p[1]} << 24) | (uint32_t{p[2]} << 16) | (uint32_t{p[3]} << 8) | p[4];
    if (p[0] != 0 || length > kMaxGrpcMessageBytes) {
      client->finishCall(call, kGrpcInternal,
                         p[0] != 0 ? "compressed messages are not supported" : "message too large");
      return 0;
    }
    if (call->incoming.size() < 5 + length) break;
    client->events_.push_back(
        {call->callbacks, call->token, Event::kMessage, {}, call->incoming.substr(5, length), 0});
    call->incoming.erase(0, 5 + length);
  }
  return 0;
}

int GrpcClient::onStreamClose(nghttp2_session*, int32_t streamId, uint32_t errorCode, void* self) {
  auto* client = static_cast<GrpcClient*>(self);
  Call* call = client->byStream(streamId);
  if (!call) return 0;
  client->finishCall(call, errorCode == NGHTTP2_NO_ERROR ? kGrpcInternal : kGrpcUnavailable,
                     "stream closed without a status");
  return 0;
}

// Queues the end of a call and forgets it. A successful unary call reports no close (its message
// said it all). `call` is gone afterwards.
void GrpcClient::finishCall(Call* call, uint32_t status, std::string message) {
  if (call->finished) return;
  call->finished = true;
  Event::Kind kind = call->stream || status != 0 ? Event::kClose : Event::kDone;
  events_.push_back({call->callbacks, call->token, kind, {}, std::move(message), status});
  if (session_ && call->streamId > 0) {
    nghttp2_session_set_stream_user_data(session_, call->streamId, nullptr);
    if (nghttp2_session_get_stream_remote_close(session_, call->streamId) == 0 ||
        nghttp2_session_get_stream_local_close(session_, call->streamId) == 0) {
      nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, call->streamId, NGHTTP2_CANCEL);
    }
  }
  calls_.erase({call->callbacks, call->token});
}

// Hands queued events to their owners outside nghttp2's callbacks (owners may call back in).
void GrpcClient::dispatch() {
  if (dispatching_) return;
  dispatching_ = true;
  while (!events_.empty()) {
    Event e = std::move(events_.front());
    events_.pop_front();
    switch (e.kind) {
      case Event::kInitial:
        e.callbacks->onGrpcInitialMetadata(e.token, e.metadata);
        break;
      case Event::kMessage:
        e.callbacks->onGrpcMessage(e.token, e.payload);
        break;
      case Event::kTrailing:
        e.callbacks->onGrpcTrailingMetadata(e.token, e.metadata);
        break;
      case Event::kClose:
        e.callbacks->onGrpcClose(e.token, e.status, e.payload);
        break;
      case Event::kDone:
        e.callbacks->onGrpcCallDone(e.token);
        break;
    }
    flush();
  }
  dispatching_ = false;
}

}  // namespace wasmgate::proxy
