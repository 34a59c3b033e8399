// A client connection speaking HTTP/1.1: the server side of the codec (heads, bodies in
// content-length and chunked framing, keep-alive, pipelining one request at a time, 100-continue,
// limits and timeouts), feeding one HttpStream per request.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "proxy/event_loop.h"
#include "proxy/http1/chunked.h"
#include "proxy/http1/message.h"
#include "proxy/http_stream.h"
#include "proxy/http_util.h"
#include "proxy/stream_socket.h"

namespace wasmgate::proxy {

struct ListenerStats;
class Worker;

class DownstreamConnection final : public DownstreamSink,
                                   public Deletable,
                                   private StreamSocket::Handler {
 public:
  DownstreamConnection(Worker& worker, const ListenerConfig& listener, ListenerStats& stats,
                       evutil_socket_t fd, std::string peer, std::string local, uint64_t id);
  ~DownstreamConnection() override;

  // DownstreamSink
  void sendResponseHeaders(const abi::Headers& headers, bool endOfStream) override;
  void sendResponseData(std::string_view data, bool endOfStream) override;
  void sendResponseTrailers(const abi::Headers& trailers) override;
  void sendContinue() override;
  void resetStream(std::string_view details) override;
  bool responseBuffered() const override;
  void pauseRequestBody(bool pause) override;
  const std::string& peerAddress() const override { return peer_; }
  const std::string& localAddress() const override { return local_; }
  uint64_t connectionId() const override { return id_; }
  void onStreamComplete(uint32_t status) override;

 private:
  enum class State { kHead, kBody, kAwaitResponse, kClosing, kClosed };
  // StreamSocket::Handler
  void onReadable() override { process(); }
  void onWritable() override;
  void onEndOfStream() override { close(); }
  void onError(SocketError) override { close(); }

  void waitForHead(milliseconds timeout);  // the next head must be complete within `timeout`
  void onHeadTimer();
  void process();
  bool readHead();
  bool readBody();
  void rejectRequest(uint32_t status, std::string_view reason);
  void closeAfterFlush();
  void close();
  abi::Headers requestHeaders(const http1::RequestHead& head);

  Worker& worker_;
  const ListenerConfig& listener_;
  ListenerStats& stats_;
  StreamSocket socket_;
  std::string peer_;
  std::string local_;
  uint64_t id_;
  State state_ = State::kHead;
  std::unique_ptr<HttpStream> stream_;
  http1::BodyFraming requestFraming_;
  uint64_t remaining_ = 0;
  http1::ChunkedDecoder chunked_;
  bool keepAlive_ = true;
  bool headRequest_ = false;
  int minorVersion_ = 1;
  bool requestComplete_ = false;
  ResponseFraming responseFraming_ = ResponseFraming::kNone;
  // A client must send its whole head in time; idle keep-alive connections end too.
  Timer headTimer_;
  std::chrono::steady_clock::time_point headDeadline_;
  std::optional<std::chrono::steady_clock::time_point> headTimerDue_;  // while armed
  bool processing_ = false;
  bool requestBodyPaused_ = false;  // the upstream has more request bytes than it has read
};

}  // namespace wasmgate::proxy
