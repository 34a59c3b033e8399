// gRPC callouts: unary calls and streams over cleartext HTTP/2 (h2c) to a cluster, with nghttp2
// on the worker's event loop. One connection per cluster per worker, streams multiplexed on it.
#pragma once

#include <event2/bufferevent.h>
#include <nghttp2/nghttp2.h>

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "abi/abi_types.h"
#include "abi/host.h"
#include "proxy/event_loop.h"
#include "proxy/server_config.h"

namespace wasmgate::proxy {

// gRPC status codes the client itself reports.
inline constexpr uint32_t kGrpcCancelled = 1;
inline constexpr uint32_t kGrpcUnknown = 2;
inline constexpr uint32_t kGrpcDeadlineExceeded = 4;
inline constexpr uint32_t kGrpcInternal = 13;
inline constexpr uint32_t kGrpcUnavailable = 14;

// Where a call's events go; always from the event loop, never from inside a plugin callback.
class GrpcCallbacks {
 public:
  virtual ~GrpcCallbacks() = default;
  virtual void onGrpcInitialMetadata(uint32_t token, const abi::Headers& metadata) = 0;
  virtual void onGrpcMessage(uint32_t token, std::string_view message) = 0;
  virtual void onGrpcTrailingMetadata(uint32_t token, const abi::Headers& metadata) = 0;
  // The call or stream ended with `status`; for a unary call only when it failed.
  virtual void onGrpcClose(uint32_t token, uint32_t status, std::string_view message) = 0;
  // A unary call succeeded and is over (it has no close event).
  virtual void onGrpcCallDone(uint32_t token) = 0;
};

class GrpcClient {
 public:
  GrpcClient(EventLoop& loop, const ClusterConfig& cluster);
  ~GrpcClient();

  // Starts a unary call (`stream` false: the message is sent and the request half-closed) or a
  // stream. Failures to connect arrive later as onGrpcClose(UNAVAILABLE).
  // Calls are known by their owner and its token: every plugin VM numbers its own tokens.
  void start(uint32_t token, const abi::GrpcCallRequest& request, bool stream,
             GrpcCallbacks& owner);
  bool send(GrpcCallbacks& owner, uint32_t token, std::string_view message, bool endStream);
  bool close(GrpcCallbacks& owner, uint32_t token);   // half-close a stream; cancels a unary call
  bool cancel(GrpcCallbacks& owner, uint32_t token);  // reset; no further events
  void cancelAll(GrpcCallbacks& owner);

 private:
  struct Call;
  struct Event {
    GrpcCallbacks* callbacks;
    uint32_t token;
    enum Kind { kInitial, kMessage, kTrailing, kClose, kDone } kind;
    abi::Headers metadata;
    std::string payload;  // message, or the close message
    uint32_t status = 0;
  };
  void connect();
  void onConnected();
  void fail(const std::string& why);
  void flush();
  void dispatch();
  void finishCall(Call* call, uint32_t status, std::string message);
  void submit(Call& call);
  using CallKey = std::pair<const GrpcCallbacks*, uint32_t>;
  Call* find(const GrpcCallbacks* owner, uint32_t token);
  Call* byStream(int32_t streamId);

  static void onRead(bufferevent*, void* self);
  static void onEvent(bufferevent*, short what, void* self);
  static ssize_t readData(nghttp2_session*, int32_t streamId, uint8_t* buf, size_t length,
                          uint32_t* flags, nghttp2_data_source*, void* self);
  static int onHeader(nghttp2_session*, const nghttp2_frame*, const uint8_t* name, size_t nameLen,
                      const uint8_t* value, size_t valueLen, uint8_t flags, void* self);
  static int onFrameRecv(nghttp2_session*, const nghttp2_frame*, void* self);
  static int onDataChunk(nghttp2_session*, uint8_t flags, int32_t streamId, const uint8_t* data,
                         size_t len, void* self);
  static int onStreamClose(nghttp2_session*, int32_t streamId, uint32_t errorCode, void* self);

  EventLoop& loop_;
  ClusterConfig cluster_;
  size_t nextEndpoint_ = 0;
  bufferevent* bev_ = nullptr;
  nghttp2_session* session_ = nullptr;
  bool connected_ = false;
  std::map<CallKey, std::unique_ptr<Call>> calls_;
  std::deque<Event> events_;
  bool dispatching_ = false;
};

}  // namespace wasmgate::proxy
