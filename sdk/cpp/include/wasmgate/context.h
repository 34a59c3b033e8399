// Context classes a plugin derives from:
//
//   RootContext    one per plugin (root id) per VM: configuration, timers, queues, and the
//                  place callout responses arrive.
//   HttpContext    one per HTTP request/response pair.
//   StreamContext  one per TCP connection.
//
// Every callback is a virtual method with a pass-through default. Callouts (HTTP, gRPC)
// take lambdas; when a callout was started from a stream context, the SDK switches the
// host's effective context back to that stream before running the lambda, so the lambda
// can modify and resume the stream (and it is dropped if the stream is gone by then).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "wasmgate/api.h"
#include "wasmgate/id_table.h"

namespace wasmgate {

class RootContext;
class HttpContext;
class StreamContext;

// ---------------------------------------------------------------------------------------
// Callout results.

struct HttpCallResponse {
  uint32_t token = 0;
  // The host could not complete the call (unreachable cluster, reset, timeout): no status,
  // headers, body or trailers.
  bool failed = false;
  uint32_t status = 0;  // the :status response header, 0 if absent or failed
  HeaderMap headers;
  Buffer body;
  HeaderMap trailers;

  std::optional<std::string_view> header(std::string_view name) const { return headers.get(name); }
};
using HttpCallCallback = std::function<void(HttpCallResponse&)>;

struct GrpcCallResponse {
  uint32_t token = 0;
  GrpcStatus status = GrpcStatus::Ok;
  std::string status_message;  // set when status is not Ok
  Buffer message;              // the serialized response message when status is Ok
  HeaderMap initial_metadata;
};
using GrpcCallCallback = std::function<void(GrpcCallResponse&)>;

// Handlers of a streaming gRPC call; any may be left empty.
struct GrpcStreamHandlers {
  std::function<void(uint32_t token, HeaderMap& metadata)> on_initial_metadata;
  std::function<void(uint32_t token, Buffer& message)> on_message;
  std::function<void(uint32_t token, HeaderMap& metadata)> on_trailing_metadata;
  std::function<void(uint32_t token, GrpcStatus status, std::string_view message)> on_close;
};

// ---------------------------------------------------------------------------------------

class ContextBase {
 public:
  ContextBase(uint32_t id, RootContext* root) : id_(id), root_(root) {}
  virtual ~ContextBase() = default;
  ContextBase(const ContextBase&) = delete;
  ContextBase& operator=(const ContextBase&) = delete;

  uint32_t id() const { return id_; }
  // The root context this context belongs to (itself for a root context).
  RootContext* root() const { return root_; }

  // The host is finished with the context. A root context may return false to finish
  // later with RootContext::done(); the result is ignored for streams.
  virtual bool onDone() { return true; }
  // Final logging point; request/response headers and trailers are still readable.
  virtual void onLog() {}
  // The context is about to be destroyed.
  virtual void onDelete() {}

  // Callouts; responses run `callback` with this context as the effective context.
  // Headers must include :method, :path and :authority. timeout_ms 0 = host default.
  WasmResult httpCall(std::string_view cluster, const HeaderViews& headers, std::string_view body,
                      uint32_t timeout_ms, HttpCallCallback callback,
                      const HeaderViews& trailers = {}, uint32_t* token = nullptr);
  WasmResult grpcCall(std::string_view cluster, std::string_view service, std::string_view method,
                      const HeaderViews& metadata, std::string_view message, uint32_t timeout_ms,
                      GrpcCallCallback callback, uint32_t* token = nullptr);
  WasmResult grpcStream(std::string_view cluster, std::string_view service, std::string_view method,
                        const HeaderViews& metadata, GrpcStreamHandlers handlers, uint32_t* token);

  // For the SDK's dispatcher (no RTTI needed).
  virtual RootContext* asRoot() { return nullptr; }
  virtual HttpContext* asHttp() { return nullptr; }
  virtual StreamContext* asStream() { return nullptr; }

 private:
  uint32_t id_;
  RootContext* root_;
};

namespace detail {

using RootFactory = std::unique_ptr<RootContext> (*)(uint32_t id, std::string_view root_id);
using StreamFactory = std::unique_ptr<ContextBase> (*)(uint32_t id, RootContext* root);

// Every live context of this VM, by id.
inline IdTable<ContextBase>& contexts() {
  static IdTable<ContextBase> all;
  return all;
}

inline ContextBase* findContext(uint32_t id) {
  return contexts().find(id);
}

struct Dispatcher;

}  // namespace detail

class RootContext : public ContextBase {
 public:
  RootContext(uint32_t id, std::string_view root_id) : ContextBase(id, this), root_id_(root_id) {}

  std::string_view rootId() const { return root_id_; }

  // proxy_on_vm_start: false means the VM failed to start. The VM configuration is
  // readable with vmConfiguration().
  virtual bool onVmStart(size_t /*vm_configuration_size*/) { return true; }
  // Dry-run check of a configuration (Envoy extension): false = invalid.
  virtual bool validateConfiguration(size_t /*configuration_size*/) { return true; }
  // proxy_on_configure: false rejects the configuration. Read it with configuration().
  virtual bool onConfigure(size_t /*configuration_size*/) { return true; }
  // Every period set with setTickPeriodMilliseconds().
  virtual void onTick() {}
  // An item arrived on a queue this root context registered.
  virtual void onQueueReady(uint32_t /*token*/) {}
  // The host called into the plugin; arguments in BufferType::ForeignFunctionArguments.
  virtual void onForeignFunction(uint32_t /*function_id*/, size_t /*arguments_size*/) {}

  // The plugin configuration (inside onConfigure / validateConfiguration).
  Buffer configuration() const {
    auto b = getBufferBytes(BufferType::PluginConfiguration, 0, config_size_);
    return b ? std::move(*b) : Buffer();
  }
  // The VM configuration (inside onVmStart).
  Buffer vmConfiguration() const {
    auto b = getBufferBytes(BufferType::VmConfiguration, 0, vm_config_size_);
    return b ? std::move(*b) : Buffer();
  }
  // Finish after onDone() returned false.
  WasmResult done() { return proxy_done(); }

  // gRPC stream control by token: send() a message (end_stream half-closes), close() a
  // stream locally (replies may still arrive; for a unary call it cancels), cancel() a call
  // or stream (no further callbacks).
  WasmResult grpcSend(uint32_t token, std::string_view message, bool end_stream = false) {
    return proxy_grpc_send(token, message.data(), message.size(), end_stream ? 1 : 0);
  }
  WasmResult grpcClose(uint32_t token) {
    forgetCallout(token, /*keep_streams=*/true);
    return proxy_grpc_close(token);
  }
  WasmResult grpcCancel(uint32_t token) {
    forgetCallout(token, /*keep_streams=*/false);
    return proxy_grpc_cancel(token);
  }

  RootContext* asRoot() override { return this; }

 private:
  friend class ContextBase;
  friend struct detail::Dispatcher;

  enum class CalloutKind { Http, GrpcCall, GrpcStream };
  struct Callout {
    CalloutKind kind = CalloutKind::Http;
    uint32_t token = 0;
    uint32_t origin = 0;  // context that started it
    HttpCallCallback http;
    GrpcCallCallback grpc;
    GrpcStreamHandlers stream;
    HeaderMap initial_metadata;  // unary gRPC: kept until the response
  };

  Callout* findCallout(uint32_t token) {
    for (Callout& c : callouts_) {
      if (c.token == token) return &c;
    }
    return nullptr;
  }
  std::optional<Callout> takeCallout(uint32_t token) {
    for (auto it = callouts_.begin(); it != callouts_.end(); ++it) {
      if (it->token == token) {
        Callout c = std::move(*it);
        callouts_.erase(it);
        return c;
      }
    }
    return std::nullopt;
  }
  void forgetCallout(uint32_t token, bool keep_streams) {
    Callout* c = findCallout(token);
    if (c != nullptr && !(keep_streams && c->kind == CalloutKind::GrpcStream)) takeCallout(token);
  }
  // Makes `origin` the effective context; false if it no longer exists.
  bool enterOrigin(uint32_t origin) {
    if (origin == id()) return true;
    if (detail::findContext(origin) == nullptr) return false;
    proxy_set_effective_context(origin);
    return true;
  }

  void onHttpCallResponse(uint32_t token, uint32_t headers, size_t body_size, uint32_t trailers);
  void onGrpcInitialMetadata(uint32_t token, uint32_t elements);
  void onGrpcReceive(uint32_t token, size_t message_size);
  void onGrpcTrailingMetadata(uint32_t token, uint32_t elements);
  void onGrpcClose(uint32_t token, uint32_t status_code);

  std::string root_id_;
  uint32_t config_size_ = 0;
  uint32_t vm_config_size_ = 0;
  detail::StreamFactory stream_factory_ = nullptr;
  std::vector<Callout> callouts_;
};

class HttpContext : public ContextBase {
 public:
  HttpContext(uint32_t id, RootContext* root) : ContextBase(id, root) {}

  // Request and response callbacks. Headers: return a Stop status to pause until
  // continueRequest()/continueResponse(). Bodies: StopIterationAndBuffer keeps buffering
  // and the next call reports the whole body so far.
  virtual FilterHeadersStatus onRequestHeaders(uint32_t /*headers*/, bool /*end_of_stream*/) {
    return FilterHeadersStatus::Continue;
  }
  virtual FilterDataStatus onRequestBody(size_t /*body_size*/, bool /*end_of_stream*/) {
    return FilterDataStatus::Continue;
  }
  virtual FilterTrailersStatus onRequestTrailers(uint32_t /*trailers*/) {
    return FilterTrailersStatus::Continue;
  }
  virtual FilterMetadataStatus onRequestMetadata(uint32_t /*elements*/) {
    return FilterMetadataStatus::Continue;
  }
  virtual FilterHeadersStatus onResponseHeaders(uint32_t /*headers*/, bool /*end_of_stream*/) {
    return FilterHeadersStatus::Continue;
  }
  virtual FilterDataStatus onResponseBody(size_t /*body_size*/, bool /*end_of_stream*/) {
    return FilterDataStatus::Continue;
  }
  virtual FilterTrailersStatus onResponseTrailers(uint32_t /*trailers*/) {
    return FilterTrailersStatus::Continue;
  }
  virtual FilterMetadataStatus onResponseMetadata(uint32_t /*elements*/) {
    return FilterMetadataStatus::Continue;
  }

  // The body buffered so far (size as reported to the last body callback).
  Buffer requestBody() const { return readBuffer(BufferType::RequestBody, request_body_size_); }
  Buffer responseBody() const { return readBuffer(BufferType::ResponseBody, response_body_size_); }
  // Replaces the whole buffered body.
  WasmResult setRequestBody(std::string_view body) {
    return replaceBuffer(BufferType::RequestBody, request_body_size_, body);
  }
  WasmResult setResponseBody(std::string_view body) {
    return replaceBuffer(BufferType::ResponseBody, response_body_size_, body);
  }

  HttpContext* asHttp() override { return this; }

 protected:
  static Buffer readBuffer(BufferType type, size_t size) {
    if (size == 0) return Buffer();
    auto b = getBufferBytes(type, 0, static_cast<uint32_t>(size));
    return b ? std::move(*b) : Buffer();
  }
  static WasmResult replaceBuffer(BufferType type, size_t& size, std::string_view data) {
    const WasmResult r = setBufferBytes(type, 0, static_cast<uint32_t>(size), data);
    if (r == WasmResult::Ok) size = data.size();
    return r;
  }

 private:
  friend struct detail::Dispatcher;
  size_t request_body_size_ = 0;
  size_t response_body_size_ = 0;
};

class StreamContext : public ContextBase {
 public:
  StreamContext(uint32_t id, RootContext* root) : ContextBase(id, root) {}

  virtual FilterStatus onNewConnection() { return FilterStatus::Continue; }
  // Bytes from the client (to be forwarded upstream) / from the upstream.
  virtual FilterStatus onDownstreamData(size_t /*data_size*/, bool /*end_of_stream*/) {
    return FilterStatus::Continue;
  }
  virtual FilterStatus onUpstreamData(size_t /*data_size*/, bool /*end_of_stream*/) {
    return FilterStatus::Continue;
  }
  virtual void onDownstreamConnectionClose(PeerType /*peer*/) {}
  virtual void onUpstreamConnectionClose(PeerType /*peer*/) {}

  Buffer downstreamData() const { return read(BufferType::DownstreamData, downstream_size_); }
  Buffer upstreamData() const { return read(BufferType::UpstreamData, upstream_size_); }
  WasmResult setDownstreamData(std::string_view data) {
    return replace(BufferType::DownstreamData, downstream_size_, data);
  }
  WasmResult setUpstreamData(std::string_view data) {
    return replace(BufferType::UpstreamData, upstream_size_, data);
  }
  WasmResult continueDownstream() { return continueStream(StreamType::Downstream); }
  WasmResult closeDownstream() { return closeStream(StreamType::Downstream); }
  WasmResult closeUpstream() { return closeStream(StreamType::Upstream); }

  StreamContext* asStream() override { return this; }

 private:
  friend struct detail::Dispatcher;
  static Buffer read(BufferType type, size_t size) {
    if (size == 0) return Buffer();
    auto b = getBufferBytes(type, 0, static_cast<uint32_t>(size));
    return b ? std::move(*b) : Buffer();
  }
  static WasmResult replace(BufferType type, size_t& size, std::string_view data) {
    const WasmResult r = setBufferBytes(type, 0, static_cast<uint32_t>(size), data);
    if (r == WasmResult::Ok) size = data.size();
    return r;
  }
  size_t downstream_size_ = 0;
  size_t upstream_size_ = 0;
};

// ---------------------------------------------------------------------------------------
// Callout implementation.

inline WasmResult ContextBase::httpCall(std::string_view cluster, const HeaderViews& headers,
                                        std::string_view body, uint32_t timeout_ms,
                                        HttpCallCallback callback, const HeaderViews& trailers,
                                        uint32_t* token) {
  const std::string h = serializePairs(headers);
  const std::string t = serializePairs(trailers);
  uint32_t tok = 0;
  const WasmResult r =
      proxy_http_call(cluster.data(), cluster.size(), h.data(), h.size(), body.data(), body.size(),
                      t.data(), t.size(), timeout_ms, &tok);
  if (r != WasmResult::Ok) return r;
  RootContext::Callout c;
  c.kind = RootContext::CalloutKind::Http;
  c.token = tok;
  c.origin = id_;
  c.http = std::move(callback);
  root_->callouts_.push_back(std::move(c));
  if (token != nullptr) *token = tok;
  return r;
}

inline WasmResult ContextBase::grpcCall(std::string_view cluster, std::string_view service,
                                        std::string_view method, const HeaderViews& metadata,
                                        std::string_view message, uint32_t timeout_ms,
                                        GrpcCallCallback callback, uint32_t* token) {
  const std::string md = serializePairs(metadata);
  uint32_t tok = 0;
  const WasmResult r = proxy_grpc_call(cluster.data(), cluster.size(), service.data(),
                                       service.size(), method.data(), method.size(), md.data(),
                                       md.size(), message.data(), message.size(), timeout_ms, &tok);
  if (r != WasmResult::Ok) return r;
  RootContext::Callout c;
  c.kind = RootContext::CalloutKind::GrpcCall;
  c.token = tok;
  c.origin = id_;
  c.grpc = std::move(callback);
  root_->callouts_.push_back(std::move(c));
  if (token != nullptr) *token = tok;
  return r;
}

inline WasmResult ContextBase::grpcStream(std::string_view cluster, std::string_view service,
                                          std::string_view method, const HeaderViews& metadata,
                                          GrpcStreamHandlers handlers, uint32_t* token) {
  const std::string md = serializePairs(metadata);
  uint32_t tok = 0;
  const WasmResult r =
      proxy_grpc_stream(cluster.data(), cluster.size(), service.data(), service.size(),
                        method.data(), method.size(), md.data(), md.size(), &tok);
  if (r != WasmResult::Ok) return r;
  RootContext::Callout c;
  c.kind = RootContext::CalloutKind::GrpcStream;
  c.token = tok;
  c.origin = id_;
  c.stream = std::move(handlers);
  root_->callouts_.push_back(std::move(c));
  if (token != nullptr) *token = tok;
  return r;
}

namespace detail {
inline uint32_t parseStatus(std::optional<std::string_view> text) {
  if (!text || text->empty() || text->size() > 3) return 0;
  uint32_t status = 0;
  for (char c : *text) {
    if (c < '0' || c > '9') return 0;
    status = status * 10 + static_cast<uint32_t>(c - '0');
  }
  return status;
}
}  // namespace detail

inline void RootContext::onHttpCallResponse(uint32_t token, uint32_t headers, size_t body_size,
                                            uint32_t trailers) {
  std::optional<Callout> c = takeCallout(token);
  if (!c || c->kind != CalloutKind::Http) return;
  // Read the response while the root context is still the effective one.
  HttpCallResponse response;
  response.token = token;
  response.failed = headers == 0 && body_size == 0 && trailers == 0;
  if (headers != 0) response.headers = getHeaderMapPairs(HeaderMapType::HttpCallResponseHeaders);
  if (body_size != 0) {
    auto body =
        getBufferBytes(BufferType::HttpCallResponseBody, 0, static_cast<uint32_t>(body_size));
    if (body) response.body = std::move(*body);
  }
  if (trailers != 0) {
    response.trailers = getHeaderMapPairs(HeaderMapType::HttpCallResponseTrailers);
  }
  response.status = detail::parseStatus(response.headers.get(":status"));
  if (!enterOrigin(c->origin) || !c->http) return;
  c->http(response);
}

inline void RootContext::onGrpcInitialMetadata(uint32_t token, uint32_t elements) {
  Callout* c = findCallout(token);
  if (c == nullptr) return;
  HeaderMap md;
  if (elements != 0) md = getHeaderMapPairs(HeaderMapType::GrpcInitialMetadata);
  if (c->kind == CalloutKind::GrpcCall) {
    c->initial_metadata = std::move(md);
    return;
  }
  auto handler = c->stream.on_initial_metadata;
  if (handler && enterOrigin(c->origin)) handler(token, md);
}

inline void RootContext::onGrpcReceive(uint32_t token, size_t message_size) {
  Callout* found = findCallout(token);
  if (found == nullptr) return;
  Buffer message;
  if (message_size != 0) {
    auto b = getBufferBytes(BufferType::GrpcReceiveBuffer, 0, static_cast<uint32_t>(message_size));
    if (b) message = std::move(*b);
  }
  if (found->kind == CalloutKind::GrpcStream) {
    auto handler = found->stream.on_message;
    if (handler && enterOrigin(found->origin)) handler(token, message);
    return;
  }
  std::optional<Callout> c = takeCallout(token);  // a unary call is complete
  GrpcCallResponse response;
  response.token = token;
  response.message = std::move(message);
  response.initial_metadata = std::move(c->initial_metadata);
  if (c->grpc && enterOrigin(c->origin)) c->grpc(response);
}

inline void RootContext::onGrpcTrailingMetadata(uint32_t token, uint32_t elements) {
  Callout* c = findCallout(token);
  if (c == nullptr || c->kind != CalloutKind::GrpcStream) return;
  HeaderMap md;
  if (elements != 0) md = getHeaderMapPairs(HeaderMapType::GrpcTrailingMetadata);
  auto handler = c->stream.on_trailing_metadata;
  if (handler && enterOrigin(c->origin)) handler(token, md);
}

inline void RootContext::onGrpcClose(uint32_t token, uint32_t status_code) {
  std::optional<Callout> c = takeCallout(token);
  if (!c || c->kind == CalloutKind::Http) return;
  uint32_t code = status_code;
  const char* msg = nullptr;
  size_t msg_len = 0;
  Buffer message;
  if (proxy_get_status(&code, &msg, &msg_len) == WasmResult::Ok) message = Buffer(msg, msg_len);
  const auto status = static_cast<GrpcStatus>(static_cast<int32_t>(status_code));
  if (!enterOrigin(c->origin)) return;
  if (c->kind == CalloutKind::GrpcStream) {
    if (c->stream.on_close) c->stream.on_close(token, status, message.view());
    return;
  }
  GrpcCallResponse response;
  response.token = token;
  response.status = status == GrpcStatus::Ok ? GrpcStatus::Unknown : status;
  response.status_message = message.toString();
  response.initial_metadata = std::move(c->initial_metadata);
  if (c->grpc) c->grpc(response);
}

}  // namespace wasmgate
