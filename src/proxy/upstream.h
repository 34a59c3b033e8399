// Upstream HTTP/1.1: per-worker clusters with round-robin endpoints and pools of idle keep-alive
// connections, and one request/response exchange on a pooled connection.
#pragma once

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "abi/abi_types.h"
#include "proxy/event_loop.h"
#include "proxy/http1/chunked.h"
#include "proxy/http1/message.h"
#include "proxy/server_config.h"

namespace wasmgate::proxy {

class UpstreamConnection;

// What an exchange reports. After onUpstreamError or a final end-of-stream nothing more arrives.
class UpstreamCallbacks {
 public:
  virtual ~UpstreamCallbacks() = default;
  virtual void onUpstreamHeaders(uint32_t status, abi::Headers headers, bool endOfStream) = 0;
  virtual void onUpstreamData(std::string_view data, bool endOfStream) = 0;
  virtual void onUpstreamTrailers(abi::Headers trailers) = 0;
  // `status` is what a proxy answers for it: 503 connect failure, 502 reset/bad response, 504
  // timeout.
  virtual void onUpstreamError(uint32_t status, std::string_view details) = 0;
  // The request bytes waiting for the upstream went down to half of kUpstreamHighWatermark.
  virtual void onUpstreamRequestDrained() {}
};

class Cluster {
 public:
  Cluster(EventLoop& loop, ClusterConfig config);
  ~Cluster();
  const ClusterConfig& config() const { return config_; }
  EventLoop& loop() { return loop_; }
  // The next endpoint in round-robin order (TCP proxying connects without the HTTP pool).
  const SocketAddress& nextEndpoint() {
    return config_.endpoints[next_++ % config_.endpoints.size()];
  }

  // A connection to the next endpoint: an idle pooled one, or a new one being connected.
  std::unique_ptr<UpstreamConnection> acquire();
  void release(std::unique_ptr<UpstreamConnection> connection);  // back to the idle pool
  void dropIdle(UpstreamConnection* connection);                 // the peer closed an idle one

 private:
  EventLoop& loop_;
  ClusterConfig config_;
  size_t next_ = 0;
  std::deque<std::unique_ptr<UpstreamConnection>> idle_;
};

// One request and its response on a connection taken from a cluster.
class UpstreamRequest : public Deletable {
 public:
  UpstreamRequest(Cluster& cluster, UpstreamCallbacks& callbacks, milliseconds timeout);
  ~UpstreamRequest() override;

  // `headers` carries :method, :path and :authority; hop-by-hop headers are dropped. With a body
  // to follow and no content-length, the body is sent chunked.
  void sendHeaders(const abi::Headers& headers, bool endOfStream);
  void sendData(std::string_view data, bool endOfStream);
  void sendTrailers(const abi::Headers& trailers);
  // Stop reading the response while the downstream cannot take more (back-pressure).
  void readDisable(bool disable);
  // More than kUpstreamHighWatermark request bytes wait for the upstream to read them: the
  // client should stop being read until onUpstreamRequestDrained.
  bool requestBuffered() const;
  std::string upstreamAddress() const;

  // Called by the connection.
  void onConnected();
  void onWritable();
  void onResponseTimeout();
  void onReadable();
  void onClosed(bool beforeAnyResponse);

 private:
  bool processResponse();
  void fail(uint32_t status, std::string_view details);
  void finish();

  Cluster& cluster_;
  UpstreamCallbacks& callbacks_;
  std::unique_ptr<UpstreamConnection> connection_;
  std::string method_;
  bool chunkedRequest_ = false;
  bool requestComplete_ = false;
  bool headersReceived_ = false;
  bool done_ = false;
  http1::BodyFraming framing_;
  uint64_t remaining_ = 0;
  http1::ChunkedDecoder chunked_;
  bool keepAlive_ = false;
};

}  // namespace wasmgate::proxy
