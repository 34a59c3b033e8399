// One HTTP request and its response: the Wasm filter chain in both directions (pauses, resumes,
// local responses, fail strategies, log-only plugins), the router, and the upstream exchange.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "abi/host.h"
#include "proxy/header_batch.h"
#include "proxy/plugin_chain.h"
#include "proxy/upstream.h"

namespace wasmgate::proxy {

// What the stream needs of its downstream connection.
class DownstreamSink {
 public:
  virtual ~DownstreamSink() = default;
  virtual void sendResponseHeaders(const abi::Headers& headers, bool endOfStream) = 0;
  virtual void sendResponseData(std::string_view data, bool endOfStream) = 0;
  virtual void sendResponseTrailers(const abi::Headers& trailers) = 0;
  virtual void sendContinue() = 0;  // "100 Continue" for a client that expects it
  // The response cannot be completed: close the connection.
  virtual void resetStream(std::string_view details) = 0;
  virtual bool responseBuffered() const = 0;  // the client is slower than the upstream
  // Back-pressure on the request body: the upstream is slower than the client.
  virtual void pauseRequestBody(bool pause) = 0;
  virtual const std::string& peerAddress() const = 0;   // "ip:port"
  virtual const std::string& localAddress() const = 0;  // "ip:port"
  virtual uint64_t connectionId() const = 0;
  // Both directions are finished; the connection may read its next request.
  virtual void onStreamComplete(uint32_t status) = 0;
};

class Worker;

class HttpStream final : public UpstreamCallbacks, public Deletable, private BatchedHeadersClient {
 public:
  HttpStream(Worker& worker, const ListenerConfig& listener, DownstreamSink& sink,
             std::shared_ptr<WorkerChain> chain);
  ~HttpStream() override;

  // From the downstream codec.
  void onRequestHeaders(abi::Headers headers, bool endOfStream, bool expectContinue);
  void onRequestData(std::string_view data, bool endOfStream);
  void onRequestTrailers(abi::Headers trailers);
  void onDownstreamReset();     // the client went away: abandon everything
  void onDownstreamWritable();  // the client drained its buffer: read the upstream again

  // UpstreamCallbacks
  void onUpstreamHeaders(uint32_t status, abi::Headers headers, bool endOfStream) override;
  void onUpstreamData(std::string_view data, bool endOfStream) override;
  void onUpstreamTrailers(abi::Headers trailers) override;
  void onUpstreamError(uint32_t status, std::string_view details) override;
  void onUpstreamRequestDrained() override;

  bool complete() const { return complete_; }

  enum class Dir { kRequest, kResponse };
  // Called by a plugin's StreamHost (class Slot in the .cc).
  void resume(size_t slot, Dir dir);
  void closeFromPlugin(size_t slot);
  void localResponseFromPlugin(size_t slot, abi::LocalResponse response);
  std::optional<std::string> property(std::span<const std::string_view> path);
  abi::StreamData& data() { return data_; }

 private:
  struct Slot;
  struct DirState {
    bool headersDone = false;
    std::optional<size_t> headersPausedAt;  // position in chain order
    std::string pending;                    // body that arrived while headers were paused
    bool endSeen = false;                   // the last byte of this direction arrived
    std::optional<size_t> bodyStopAt;
    std::string bodyStopBuffer;
    bool bodyEndAtStop = false;
    std::optional<abi::Headers> trailers;
    bool finished = false;  // everything of this direction went out
  };

  size_t slotIndex(Dir dir, size_t position) const;
  DirState& state(Dir dir) { return dir == Dir::kRequest ? request_ : response_; }
  // Runs one callback of one slot, applying fail strategy and log-only; nullopt: skip this slot.
  template <typename R, typename F>
  std::optional<R> runSlot(size_t slot, F&& callback);
  // Before a callback: the slot's VM, its stream context made; nullptr when the slot is skipped
  // (its fail strategy applied).
  abi::PluginVm* enterSlot(size_t slot);
  // After it: what its result means for the chain (failure, log-only given the data `before`,
  // close, local response handled); nullopt: go past the slot.
  template <typename R>
  std::optional<R> leaveSlot(size_t slot, const Result<R>& result,
                             std::optional<abi::StreamData> before);
  std::nullopt_t slotFailed(Slot& slot, const Status& why);
  // Whether the slot's header callbacks go through the worker's HeaderBatcher.
  bool batchesHeaders(size_t slot) const;
  // BatchedHeadersClient
  void startBatchedHeaders() override;
  void finishBatchedHeaders(Result<abi::HeadersStatus> result, bool ran) override;
  void cancelBatchedHeaders();
  // Whether the slot's plugin, its stream context made, leaves `callback` to its SDK's
  // pass-through default: the chain then goes past it without a call.
  bool passesThrough(size_t slot, abi::Callback callback) const;
  void runHeaders(Dir dir, size_t from);
  void runBody(Dir dir, size_t from, std::string chunk, bool endOfStream);
  void runTrailers(Dir dir);
  void trailersArrived(Dir dir);
  void headersDone(Dir dir);
  void bodyOut(Dir dir, std::string_view chunk, bool endOfStream);
  void trailersOut(Dir dir);
  void route();
  void sendLocalReply(uint32_t status, std::string body, abi::Headers headers, std::string details);
  void finishIfDone();
  void end();
  bool ended() const { return complete_ || reset_; }
  uint32_t currentStatus() const;

  Worker& worker_;
  const ListenerConfig& listener_;
  DownstreamSink& sink_;
  std::shared_ptr<WorkerChain> chain_;
  std::vector<Slot> slots_;  // reserved once: elements never move
  abi::StreamData data_;
  DirState request_;
  DirState response_;
  std::unique_ptr<UpstreamRequest> upstream_;
  const RouteConfig* route_ = nullptr;
  std::string details_ = "via_upstream";
  bool inChain_ = false;
  std::optional<abi::LocalResponse> pendingLocal_;
  std::optional<Dir> resumeRequested_;
  std::optional<Dir> batchPending_;  // a header callback waits in the worker's HeaderBatcher
  bool closeRequested_ = false;
  bool localReplying_ = false;
  bool responseStarted_ = false;  // headers went downstream
  bool expectContinue_ = false;
  bool complete_ = false;
  bool reset_ = false;
  uint64_t generation_ = 0;  // bumped when a local reply restarts the response
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

}  // namespace wasmgate::proxy
