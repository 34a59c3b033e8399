#include "proxy/http_stream.h"

#include <cstring>

#include "abi/pairs.h"
#include "proxy/limits.h"
#include "proxy/worker.h"

namespace wasmgate::proxy {
namespace {

bool isStop(abi::HeadersStatus s) {
  return s == abi::HeadersStatus::kStopAllAndBuffer ||
         s == abi::HeadersStatus::kStopAllAndWatermark;
}
bool isStop(abi::DataStatus s) {
  return s != abi::DataStatus::kContinue;
}
bool isStop(abi::FilterStatus s) {
  return s == abi::FilterStatus::kStop;
}

std::string encodeInt(int64_t v) {
  std::string out(8, '\0');
  std::memcpy(out.data(), &v, 8);
  return out;
}

std::string hostOf(const std::string& address) {
  return address.substr(0, address.rfind(':'));
}
int64_t portOf(const std::string& address) {
  size_t colon = address.rfind(':');
  return colon == std::string::npos ? 0 : std::strtoll(address.c_str() + colon + 1, nullptr, 10);
}

}  // namespace

// One plugin's view of the stream: the StreamHost its stream context talks to.
struct HttpStream::Slot final : abi::StreamHost {
  Slot(HttpStream& s, size_t i, WorkerPlugin& p) : stream(s), index(i), plugin(p) {}
  abi::StreamData& data() override { return stream.data(); }
  void continueStream(abi::StreamType type) override {
    if (type == abi::StreamType::kHttpRequest) stream.resume(index, Dir::kRequest);
    if (type == abi::StreamType::kHttpResponse) stream.resume(index, Dir::kResponse);
  }
  void closeStream(abi::StreamType) override { stream.closeFromPlugin(index); }
  void sendLocalResponse(abi::LocalResponse response) override {
    stream.localResponseFromPlugin(index, std::move(response));
  }
  std::optional<std::string> property(std::span<const std::string_view> path) override {
    return stream.property(path);
  }

  HttpStream& stream;
  size_t index;
  WorkerPlugin& plugin;
  abi::PluginVm* vm = nullptr;  // the VM the context lives in
  uint64_t vmGeneration = 0;    // ... and its generation: a rebuilt VM knows nothing of it
  uint32_t context = 0;
  bool skipped = false;
};

HttpStream::HttpStream(Worker& worker, const ListenerConfig& listener, DownstreamSink& sink,
                       std::shared_ptr<WorkerChain> chain)
    : worker_(worker), listener_(listener), sink_(sink), chain_(std::move(chain)) {
  slots_.reserve(chain_->http.size());  // never reallocated: VMs keep pointers to the slots
  for (size_t i = 0; i < chain_->http.size(); ++i) {
    const PluginConfig& config = chain_->http[i]->plugin().config;
    if (!config.matchPorts.empty() && std::find(config.matchPorts.begin(), config.matchPorts.end(),
                                                listener.address.port) == config.matchPorts.end()) {
      continue;
    }
    slots_.emplace_back(*this, slots_.size(), *chain_->http[i]);
  }
}

HttpStream::~HttpStream() {
  cancelBatchedHeaders();
}

size_t HttpStream::slotIndex(Dir dir, size_t position) const {
  return dir == Dir::kRequest ? position : slots_.size() - 1 - position;
}

bool HttpStream::passesThrough(size_t index, abi::Callback callback) const {
  const Slot& slot = slots_[index];
  // The plugin's module says so, whether the VM of the stream's context still runs or not: a
  // stream whose context died with a failed VM still goes past what the plugin never does.
  return slot.vm != nullptr && !slot.plugin.callsStreamCallback(callback);
}

std::nullopt_t HttpStream::slotFailed(Slot& slot, const Status& why) {
  slot.skipped = true;
  const PluginConfig& config = slot.plugin.plugin().config;
  PluginStats& stats = slot.plugin.plugin().stats;
  if (config.failStrategy == FailStrategy::kFailOpen) {
    ++stats.failOpen;
    return std::nullopt;
  }
  ++stats.failClosed;
  sendLocalReply(503, "plugin " + config.name + " failed\n", {},
                 "plugin." + std::string(statusCodeName(why.code())));
  return std::nullopt;
}

abi::PluginVm* HttpStream::enterSlot(size_t index) {
  Slot& slot = slots_[index];
  if (slot.skipped) return nullptr;
  WorkerPlugin& plugin = slot.plugin;
  abi::PluginVm* vm = slot.vm ? plugin.vm() : plugin.vmForNewStream();
  if (!vm) return slotFailed(slot, errorStatus(StatusCode::kUnavailable, "vm down")), nullptr;
  if (!slot.vm) {
    auto context = vm->createStream(slot);
    if (!context.isOk()) {
      plugin.onVmFailure(context.status());
      return slotFailed(slot, context.status()), nullptr;
    }
    slot.vm = vm;
    slot.vmGeneration = plugin.generation();
    slot.context = *context;
    ++plugin.plugin().stats.streams;
  } else if (slot.vmGeneration != plugin.generation()) {
    // The context died with the old VM.
    return slotFailed(slot, errorStatus(StatusCode::kUnavailable, "vm rebuilt")), nullptr;
  }
  inChain_ = true;
  resumeRequested_.reset();
  return vm;
}

template <typename R>
std::optional<R> HttpStream::leaveSlot(size_t index, const Result<R>& result,
                                       std::optional<abi::StreamData> before) {
  Slot& slot = slots_[index];
  WorkerPlugin& plugin = slot.plugin;
  inChain_ = false;
  if (!result.isOk()) return slotFailed(slot, result.status());
  if (before) {  // log-only: report what the plugin did, then undo it
    bool changed = before->requestHeaders != data_.requestHeaders ||
                   before->responseHeaders != data_.responseHeaders ||
                   before->requestBody != data_.requestBody ||
                   before->responseBody != data_.responseBody ||
                   before->requestTrailers != data_.requestTrailers ||
                   before->responseTrailers != data_.responseTrailers;
    bool wouldStop = isStop(*result);
    if (changed || wouldStop || pendingLocal_) {
      ++plugin.plugin().stats.logOnlyActions;
      plugin.log(
          abi::LogLevel::kInfo,
          std::string("log-only: would have ") +
              (pendingLocal_ ? "sent a local response " + std::to_string(pendingLocal_->status)
               : wouldStop   ? "paused the stream"
                             : "changed headers or body"));
    }
    data_ = std::move(*before);
    pendingLocal_.reset();
    closeRequested_ = false;
    return std::nullopt;
  }
  if (closeRequested_) {
    closeRequested_ = false;
    reset_ = true;
    sink_.resetStream("wasm_close_stream");
    end();
    return std::nullopt;
  }
  if (pendingLocal_) {
    abi::LocalResponse local = std::move(*pendingLocal_);
    pendingLocal_.reset();
    ++plugin.plugin().stats.localResponses;
    sendLocalReply(local.status, std::move(local.body), std::move(local.headers),
                   local.details.empty() ? "wasm_local_response" : local.details);
    return std::nullopt;
  }
  return *result;
}

template <typename R, typename F>
std::optional<R> HttpStream::runSlot(size_t index, F&& callback) {
  abi::PluginVm* vm = enterSlot(index);
  if (!vm) return std::nullopt;
  Slot& slot = slots_[index];
  PluginStats& stats = slot.plugin.plugin().stats;
  std::optional<abi::StreamData> before;
  if (slot.plugin.plugin().config.logOnly) before = data_;
  Result<R> result =
      stats.timeSampled(stats.callbacks, [&] { return callback(*vm, slot.context); });
  if (!result.isOk()) slot.plugin.onVmFailure(result.status());
  return leaveSlot(index, result, std::move(before));
}

bool HttpStream::batchesHeaders(size_t index) const {
  const Slot& slot = slots_[index];
  const abi::PluginVm* vm = slot.plugin.vm();
  return vm != nullptr && vm->batchesHeaderCallbacks() && !slot.plugin.plugin().config.logOnly;
}

void HttpStream::startBatchedHeaders() {
  inChain_ = true;  // enterSlot set it already; a pause since may not have kept it
  resumeRequested_.reset();
}

void HttpStream::finishBatchedHeaders(Result<abi::HeadersStatus> result, bool ran) {
  Dir dir = *batchPending_;
  batchPending_.reset();
  DirState& st = state(dir);
  size_t pos = *st.headersPausedAt;
  uint64_t generation = generation_;
  Slot& slot = slots_[slotIndex(dir, pos)];
  if (!result.isOk() && !ran &&
      slot.plugin.plugin().config.failStrategy == FailStrategy::kFailReload) {
    // Another stream's callback failed the VM before this one's ran: as a stream that meets a
    // failed VM, this one tries a new VM (its unused context died with the old one).
    inChain_ = false;
    slot.vm = nullptr;
    slot.context = 0;
    runHeaders(dir, pos);
    return;
  }
  std::optional<abi::HeadersStatus> r = leaveSlot(slot.index, result, std::nullopt);
  if (ended() || generation != generation_ || (dir == Dir::kRequest && localReplying_)) return;
  if (r && isStop(*r) && resumeRequested_ != dir) return;  // stays paused at `pos`
  runHeaders(dir, pos + 1);
}

void HttpStream::cancelBatchedHeaders() {
  if (!batchPending_) return;
  worker_.headerBatcher().cancel(*this);
  batchPending_.reset();
  inChain_ = false;
}

void HttpStream::onRequestHeaders(abi::Headers headers, bool endOfStream, bool expectContinue) {
  data_.requestHeaders = std::move(headers);
  request_.endSeen = endOfStream;
  expectContinue_ = expectContinue;
  runHeaders(Dir::kRequest, 0);
}

void HttpStream::runHeaders(Dir dir, size_t from) {
  DirState& st = state(dir);
  uint64_t generation = generation_;
  for (size_t pos = from; pos < slots_.size(); ++pos) {
    bool eos = st.endSeen && st.pending.empty() && !st.trailers;
    abi::Headers& headers = dir == Dir::kRequest ? data_.requestHeaders : data_.responseHeaders;
    auto count = static_cast<uint32_t>(headers.size());
    const size_t index = slotIndex(dir, pos);
    if (passesThrough(index, dir == Dir::kRequest ? abi::Callback::kOnRequestHeaders
                                                  : abi::Callback::kOnResponseHeaders)) {
      continue;
    }
    if (batchesHeaders(index)) {
      // The callback runs after the event callbacks of this loop pass, with those of other
      // streams; the stream waits for it paused here (finishBatchedHeaders goes on).
      if (enterSlot(index) != nullptr) {
        const Slot& slot = slots_[index];
        inChain_ = false;
        st.headersPausedAt = pos;
        batchPending_ = dir;
        worker_.headerBatcher().add(slot.plugin, slot.vmGeneration,
                                    {slot.context, dir == Dir::kResponse, count, eos}, *this);
        return;
      }
      if (ended() || generation != generation_ || (dir == Dir::kRequest && localReplying_)) return;
      continue;  // skipped: failed open
    }
    auto r = runSlot<abi::HeadersStatus>(index, [&](abi::PluginVm& vm, uint32_t ctx) {
      return dir == Dir::kRequest ? vm.onRequestHeaders(ctx, count, eos)
                                  : vm.onResponseHeaders(ctx, count, eos);
    });
    if (ended() || generation != generation_ || (dir == Dir::kRequest && localReplying_)) return;
    if (r && isStop(*r) && resumeRequested_ != dir) {
      st.headersPausedAt = pos;
      return;
    }
  }
  st.headersPausedAt.reset();
  headersDone(dir);
}

void HttpStream::headersDone(Dir dir) {
  DirState& st = state(dir);
  st.headersDone = true;
  bool eos = st.endSeen && st.pending.empty() && !st.trailers;
  if (dir == Dir::kRequest) {
    if (expectContinue_ && !st.endSeen) sink_.sendContinue();
    route();
    if (ended() || localReplying_ || !upstream_) return;
    upstream_->sendHeaders(data_.requestHeaders, eos);
    if (eos) st.finished = true;
  } else {
    responseStarted_ = true;
    sink_.sendResponseHeaders(data_.responseHeaders, eos);
    if (eos) {
      st.finished = true;
      end();
      return;
    }
  }
  if (!st.pending.empty() || (st.endSeen && !eos)) {
    std::string pending = std::move(st.pending);
    st.pending.clear();
    if (!pending.empty() || !st.trailers)
      runBody(dir, 0, std::move(pending), st.endSeen && !st.trailers);
    if (ended()) return;
    if (st.trailers) trailersArrived(dir);
  }
}

void HttpStream::route() {
  const std::string* path = abi::findHeader(data_.requestHeaders, ":path");
  const std::string* authority = abi::findHeader(data_.requestHeaders, ":authority");
  std::string_view urlPath = path ? std::string_view(*path).substr(0, path->find('?')) : "/";
  std::string host =
      authority ? abi::lowercase(authority->substr(
                      0, authority->rfind(':') == std::string::npos || authority->back() == ']'
                             ? authority->size()
                             : authority->rfind(':')))
                : std::string();
  for (const RouteConfig& r : listener_.routes) {
    if (r.authority && abi::lowercase(*r.authority) != host) continue;
    if (r.path && *r.path != urlPath) continue;
    if (!urlPath.starts_with(r.prefix)) continue;
    route_ = &r;
    break;
  }
  if (!route_) {
    sendLocalReply(404, "no route for this request\n", {}, "route_not_found");
    return;
  }
  if (route_->directResponse) {
    sendLocalReply(route_->directResponse->status, route_->directResponse->body, {},
                   "direct_response");
    return;
  }
  Cluster* cluster = worker_.cluster(route_->cluster);
  if (!cluster || cluster->config().endpoints.empty()) {
    sendLocalReply(503, "no healthy upstream\n", {}, "cluster_not_found");
    return;
  }
  upstream_ = std::make_unique<UpstreamRequest>(*cluster, *this, route_->timeout);
}

void HttpStream::onRequestData(std::string_view data, bool endOfStream) {
  if (ended() || localReplying_) return;  // the answer is decided: discard the rest
  DirState& st = request_;
  if (endOfStream) st.endSeen = true;
  if (!st.headersDone) {
    st.pending.append(data);
    if (st.pending.size() > kMaxBufferedBodyBytes) {
      sendLocalReply(413, "request body too large\n", {}, "request_payload_too_large");
    }
    return;
  }
  runBody(Dir::kRequest, 0, std::string(data), endOfStream);
}

void HttpStream::onRequestTrailers(abi::Headers trailers) {
  if (ended() || localReplying_) return;
  request_.endSeen = true;
  request_.trailers = std::move(trailers);
  if (request_.headersDone) trailersArrived(Dir::kRequest);
}

// Trailers end a body a plugin was buffering: what it held moves on (as in Envoy), then the
// trailers run through the chain.
void HttpStream::trailersArrived(Dir dir) {
  DirState& st = state(dir);
  if (st.bodyStopAt) {
    size_t pos = *st.bodyStopAt;
    std::string buffered = std::move(st.bodyStopBuffer);
    st.bodyStopBuffer.clear();
    st.bodyStopAt.reset();
    uint64_t generation = generation_;
    runBody(dir, pos + 1, std::move(buffered), false);
    if (ended() || generation != generation_ || st.bodyStopAt) return;
  }
  runTrailers(dir);
}

void HttpStream::runBody(Dir dir, size_t from, std::string chunk, bool endOfStream) {
  DirState& st = state(dir);
  uint64_t generation = generation_;
  std::string& exposed = dir == Dir::kRequest ? data_.requestBody : data_.responseBody;
  for (size_t pos = from; pos < slots_.size(); ++pos) {
    if (st.bodyStopAt == pos) {
      st.bodyStopBuffer.append(chunk);
      chunk = std::move(st.bodyStopBuffer);
      st.bodyStopBuffer.clear();
      st.bodyStopAt.reset();
    }
    const size_t index = slotIndex(dir, pos);
    if (passesThrough(index, dir == Dir::kRequest ? abi::Callback::kOnRequestBody
                                                  : abi::Callback::kOnResponseBody)) {
      continue;
    }
    exposed = std::move(chunk);
    auto size = static_cast<uint32_t>(exposed.size());
    auto r = runSlot<abi::DataStatus>(index, [&](abi::PluginVm& vm, uint32_t ctx) {
      return dir == Dir::kRequest ? vm.onRequestBody(ctx, size, endOfStream)
                                  : vm.onResponseBody(ctx, size, endOfStream);
    });
    chunk = std::move(exposed);
    exposed.clear();
    if (ended() || generation != generation_ || (dir == Dir::kRequest && localReplying_)) return;
    if (r && isStop(*r) && resumeRequested_ != dir) {
      st.bodyStopAt = pos;
      st.bodyStopBuffer = std::move(chunk);
      st.bodyEndAtStop = endOfStream;
      if (st.bodyStopBuffer.size() > kMaxBufferedBodyBytes) {
        if (dir == Dir::kRequest) {
          sendLocalReply(413, "request body too large\n", {}, "request_payload_too_large");
        } else {
          sendLocalReply(500, "response body too large\n", {}, "response_payload_too_large");
        }
      }
      return;
    }
  }
  bodyOut(dir, chunk, endOfStream);
}

void HttpStream::runTrailers(Dir dir) {
  DirState& st = state(dir);
  abi::Headers& trailers = dir == Dir::kRequest ? data_.requestTrailers : data_.responseTrailers;
  trailers = std::move(*st.trailers);
  uint64_t generation = generation_;
  for (size_t pos = 0; pos < slots_.size(); ++pos) {
    auto count = static_cast<uint32_t>(trailers.size());
    const size_t index = slotIndex(dir, pos);
    if (passesThrough(index, dir == Dir::kRequest ? abi::Callback::kOnRequestTrailers
                                                  : abi::Callback::kOnResponseTrailers)) {
      continue;
    }
    (void)runSlot<abi::FilterStatus>(index, [&](abi::PluginVm& vm, uint32_t ctx) {
      return dir == Dir::kRequest ? vm.onRequestTrailers(ctx, count)
                                  : vm.onResponseTrailers(ctx, count);
    });
    if (ended() || generation != generation_ || (dir == Dir::kRequest && localReplying_)) return;
  }
  trailersOut(dir);
}

void HttpStream::bodyOut(Dir dir, std::string_view chunk, bool endOfStream) {
  DirState& st = state(dir);
  if (dir == Dir::kRequest) {
    if (upstream_) {
      upstream_->sendData(chunk, endOfStream);
      if (!endOfStream && upstream_->requestBuffered()) sink_.pauseRequestBody(true);
    }
    if (endOfStream) st.finished = true;
    return;
  }
  sink_.sendResponseData(chunk, endOfStream);
  if (upstream_ && sink_.responseBuffered()) upstream_->readDisable(true);
  if (endOfStream) {
    st.finished = true;
    end();
  }
}

void HttpStream::trailersOut(Dir dir) {
  DirState& st = state(dir);
  st.finished = true;
  if (dir == Dir::kRequest) {
    if (upstream_) upstream_->sendTrailers(data_.requestTrailers);
    return;
  }
  sink_.sendResponseTrailers(data_.responseTrailers);
  end();
}

void HttpStream::resume(size_t slot, Dir dir) {
  if (ended()) return;
  if (inChain_) {
    resumeRequested_ = dir;  // the running callback resumes itself: do not stop after it
    return;
  }
  if (batchPending_ == dir) return;  // its callback has not run yet
  DirState& st = state(dir);
  size_t pos = dir == Dir::kRequest ? slot : slots_.size() - 1 - slot;
  if (dir == Dir::kRequest && localReplying_) return;
  if (st.headersPausedAt == pos) {
    runHeaders(dir, pos + 1);
  } else if (st.bodyStopAt == pos) {
    std::string buffered = std::move(st.bodyStopBuffer);
    st.bodyStopBuffer.clear();
    st.bodyStopAt.reset();
    runBody(dir, pos + 1, std::move(buffered), st.bodyEndAtStop && !st.trailers);
  }
}

void HttpStream::closeFromPlugin(size_t) {
  if (inChain_) {
    closeRequested_ = true;
    return;
  }
  if (ended()) return;
  reset_ = true;
  sink_.resetStream("wasm_close_stream");
  end();
}

void HttpStream::localResponseFromPlugin(size_t slot, abi::LocalResponse response) {
  if (inChain_) {
    if (!pendingLocal_) pendingLocal_ = std::move(response);
    return;
  }
  if (ended() || slots_[slot].plugin.plugin().config.logOnly) return;
  ++slots_[slot].plugin.plugin().stats.localResponses;
  sendLocalReply(response.status, std::move(response.body), std::move(response.headers),
                 response.details.empty() ? "wasm_local_response" : response.details);
}

void HttpStream::sendLocalReply(uint32_t status, std::string body, abi::Headers headers,
                                std::string details) {
  if (ended()) return;
  if (responseStarted_) {
    reset_ = true;
    sink_.resetStream(details);
    end();
    return;
  }
  if (localReplying_) return;  // one local reply per stream
  cancelBatchedHeaders();      // the reply replaces what the callback would have answered
  localReplying_ = true;
  ++generation_;
  details_ = std::move(details);
  if (upstream_) worker_.loop().deferDelete(std::move(upstream_));
  response_ = DirState{};
  data_.responseHeaders = {{":status", std::to_string(status)}};
  for (const auto& [k, v] : headers) abi::addHeader(data_.responseHeaders, k, v);
  if (!body.empty() && !abi::findHeader(data_.responseHeaders, "content-type")) {
    abi::addHeader(data_.responseHeaders, "content-type", "text/plain");
  }
  abi::replaceHeader(data_.responseHeaders, "content-length", std::to_string(body.size()));
  data_.responseBody.clear();
  data_.responseTrailers.clear();
  data_.responseHeadersReceived = true;
  response_.endSeen = true;
  response_.pending = std::move(body);
  runHeaders(Dir::kResponse, 0);
}

void HttpStream::onUpstreamHeaders(uint32_t, abi::Headers headers, bool endOfStream) {
  if (ended() || localReplying_) return;
  data_.responseHeaders = std::move(headers);
  data_.responseHeadersReceived = true;
  response_.endSeen = endOfStream;
  runHeaders(Dir::kResponse, 0);
}

void HttpStream::onUpstreamData(std::string_view data, bool endOfStream) {
  if (ended() || localReplying_) return;
  DirState& st = response_;
  if (endOfStream) st.endSeen = true;
  if (!st.headersDone) {
    st.pending.append(data);
    if (st.pending.size() > kMaxBufferedBodyBytes) {
      sendLocalReply(500, "response body too large\n", {}, "response_payload_too_large");
    }
    return;
  }
  runBody(Dir::kResponse, 0, std::string(data), endOfStream);
}

void HttpStream::onUpstreamTrailers(abi::Headers trailers) {
  if (ended() || localReplying_) return;
  response_.endSeen = true;
  response_.trailers = std::move(trailers);
  if (response_.headersDone) trailersArrived(Dir::kResponse);
}

void HttpStream::onUpstreamError(uint32_t status, std::string_view details) {
  if (ended() || localReplying_) return;
  if (upstream_) worker_.loop().deferDelete(std::move(upstream_));
  std::string body = status == 504 ? "upstream request timeout\n"
                                   : "upstream connect error or disconnect/reset before headers\n";
  sendLocalReply(status, std::move(body), {}, std::string(details));
}

void HttpStream::onDownstreamReset() {
  if (ended()) return;
  reset_ = true;
  end();
}

void HttpStream::onUpstreamRequestDrained() {
  if (!ended()) sink_.pauseRequestBody(false);
}

void HttpStream::onDownstreamWritable() {
  if (upstream_ && !sink_.responseBuffered()) upstream_->readDisable(false);
}

uint32_t HttpStream::currentStatus() const {
  const std::string* status = abi::findHeader(data_.responseHeaders, ":status");
  return status ? static_cast<uint32_t>(std::strtoul(status->c_str(), nullptr, 10)) : 0;
}

void HttpStream::end() {
  if (complete_) return;
  bool wasReset = reset_;
  complete_ = true;
  cancelBatchedHeaders();
  if (upstream_) worker_.loop().deferDelete(std::move(upstream_));
  for (Slot& slot : slots_) {
    if (!slot.vm || slot.vmGeneration != slot.plugin.generation() || !slot.plugin.vm()) continue;
    Status ended = slot.vm->endStream(slot.context);
    if (!ended.isOk()) slot.plugin.onVmFailure(ended);
  }
  if (!wasReset) sink_.onStreamComplete(currentStatus());
}

std::optional<std::string> HttpStream::property(std::span<const std::string_view> path) {
  if (path.empty()) return std::nullopt;
  std::string_view top = path[0];
  std::string_view field = path.size() > 1 ? path[1] : std::string_view();
  if (top == "source" && field == "address") return sink_.peerAddress();
  if (top == "source" && field == "port") return encodeInt(portOf(sink_.peerAddress()));
  if (top == "destination" && field == "address") return sink_.localAddress();
  if (top == "destination" && field == "port") return encodeInt(portOf(sink_.localAddress()));
  if ((top == "connection" && field == "id") || top == "connection_id") {
    return encodeInt(static_cast<int64_t>(sink_.connectionId()));
  }
  if (top == "connection" && field == "mtls") return std::string(1, '\0');
  if (top == "request" && field == "protocol") return std::string("HTTP/1.1");
  if (top == "request" && field == "time") {
    auto now = std::chrono::system_clock::now() - (std::chrono::steady_clock::now() - start_);
    return encodeInt(
        std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count());
  }
  if (top == "request" && field == "duration") {
    return encodeInt(std::chrono::duration_cast<std::chrono::nanoseconds>(
                         std::chrono::steady_clock::now() - start_)
                         .count());
  }
  if (top == "response" && field == "code_details") return details_;
  if (top == "upstream" && field == "address" && upstream_) return upstream_->upstreamAddress();
  if ((top == "xds" && field == "route_name") || top == "route_name") {
    if (route_) return route_->name;
  }
  if ((top == "xds" && field == "cluster_name") || top == "cluster_name") {
    if (route_ && !route_->cluster.empty()) return route_->cluster;
  }
  if ((top == "xds" && field == "listener_direction") || top == "listener_direction")
    return encodeInt(0);
  (void)hostOf;
  return std::nullopt;
}

}  // namespace wasmgate::proxy
