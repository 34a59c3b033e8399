#include "proxy/tcp_proxy.h"

#include <event2/buffer.h>

#include <cstring>

#include "proxy/limits.h"
#include "proxy/worker.h"

namespace wasmgate::proxy {
namespace {

std::string encodeInt(int64_t v) {
  std::string out(8, '\0');
  std::memcpy(out.data(), &v, 8);
  return out;
}

int64_t portOf(const std::string& address) {
  size_t colon = address.rfind(':');
  return colon == std::string::npos ? 0 : std::strtoll(address.c_str() + colon + 1, nullptr, 10);
}

}  // namespace

// One network plugin's view of the connection.
struct TcpProxySession::Slot final : abi::StreamHost {
  Slot(TcpProxySession& s, size_t i, WorkerPlugin& p) : session(s), index(i), plugin(p) {}
  abi::StreamData& data() override { return session.data(); }
  void continueStream(abi::StreamType type) override {
    if (type == abi::StreamType::kDownstream) session.resume(index, Side::kDownstream);
    if (type == abi::StreamType::kUpstream) session.resume(index, Side::kUpstream);
  }
  void closeStream(abi::StreamType type) override {
    session.closeFromPlugin(type == abi::StreamType::kUpstream ? Side::kUpstream
                                                               : Side::kDownstream);
  }
  void sendLocalResponse(abi::LocalResponse) override {}  // no HTTP on a TCP stream
  std::optional<std::string> property(std::span<const std::string_view> path) override {
    return session.property(path);
  }
  void prepareBuffer(abi::BufferType type) override {
    if (type == abi::BufferType::kDownstreamData) session.exposeUnread(Side::kDownstream);
    if (type == abi::BufferType::kUpstreamData) session.exposeUnread(Side::kUpstream);
  }

  TcpProxySession& session;
  size_t index;
  WorkerPlugin& plugin;
  uint64_t generation = 0;
  uint32_t context = 0;
  bool active = false;
  bool skipped = false;
};

TcpProxySession::TcpProxySession(Worker& worker, const ListenerConfig& listener,
                                 ListenerStats& stats, std::shared_ptr<WorkerChain> chain,
                                 evutil_socket_t fd, std::string peer, std::string local,
                                 uint64_t id)
    : worker_(worker),
      listener_(listener),
      stats_(stats),
      chain_(std::move(chain)),
      downstream_(worker.loop(), downstreamEvents_, fd),
      upstream_(worker.loop(), upstreamEvents_),
      peer_(std::move(peer)),
      local_(std::move(local)),
      id_(id),
      idle_(worker.loop(), [this] { closeAll(abi::PeerType::kLocal); }) {
  ++stats_.downstreamCx;
  ++stats_.activeCx;
  down_.from = &downstream_;
  down_.to = &upstream_;
  up_.from = &upstream_;
  up_.to = &downstream_;
  for (size_t i = 0; i < chain_->network.size(); ++i) {
    const PluginConfig& config = chain_->network[i]->plugin().config;
    if (!config.matchPorts.empty() && std::find(config.matchPorts.begin(), config.matchPorts.end(),
                                                listener.address.port) == config.matchPorts.end()) {
      continue;
    }
    slots_.push_back(std::make_unique<Slot>(*this, slots_.size(), *chain_->network[i]));
  }
}

void TcpProxySession::start() {
  Cluster* cluster = worker_.cluster(listener_.cluster);
  bool connecting = false;
  if (cluster && !cluster->config().endpoints.empty()) {
    const SocketAddress& endpoint = cluster->nextEndpoint();
    upstreamAddress_ = endpoint.toString();
    connecting = upstream_.connect(endpoint, cluster->config().connectTimeout);
  }
  for (StreamSocket* socket : {&downstream_, &upstream_})
    socket->setWriteLowWatermark(kUpstreamHighWatermark / 2);
  if (!connecting) {
    closeAll(abi::PeerType::kLocal);
    return;
  }
  startPlugins();
  if (!closed_) idle_.arm(listener_.idleTimeout);
}

TcpProxySession::~TcpProxySession() {
  --stats_.activeCx;
}

// A plugin that failed (or whose VM is down) is skipped from now on; under FAIL_CLOSE the whole
// connection closes. True when it did.
bool TcpProxySession::failSlot(Slot& slot, const Status& why) {
  WorkerPlugin& plugin = slot.plugin;
  slot.skipped = true;
  if (!why.isOk()) plugin.onVmFailure(why);
  if (plugin.plugin().config.failStrategy == FailStrategy::kFailOpen) {
    ++plugin.plugin().stats.failOpen;
    return false;
  }
  ++plugin.plugin().stats.failClosed;
  closeAll(abi::PeerType::kLocal);
  return true;
}

void TcpProxySession::startPlugins() {
  for (auto& slot : slots_) {
    WorkerPlugin& plugin = slot->plugin;
    abi::PluginVm* vm = plugin.vmForNewStream();
    if (!vm) {
      if (failSlot(*slot, Status())) return;
      continue;
    }
    auto context = vm->createStream(*slot);
    if (!context.isOk()) {
      if (failSlot(*slot, context.status())) return;
      continue;
    }
    slot->context = *context;
    slot->generation = plugin.generation();
    slot->active = true;
    ++plugin.plugin().stats.streams;
    inChain_ = true;
    auto r = vm->onNewConnection(slot->context);
    inChain_ = false;
    if (!r.isOk()) {
      if (failSlot(*slot, r.status())) return;
      continue;
    }
    if (closeRequested_ && !plugin.plugin().config.logOnly) {
      closeAll(abi::PeerType::kLocal);
      return;
    }
    closeRequested_ = false;
  }
}

// The sides are named after where bytes are read: the downstream socket reads the
// client-to-upstream direction and writes the upstream-to-client one.
void TcpProxySession::SocketEvents::onConnected() {
  session.maybeShutdown(Side::kDownstream);  // a client FIN that came while connecting
}

void TcpProxySession::SocketEvents::onReadable() {
  session.readFrom(side);
}

void TcpProxySession::SocketEvents::onWritable() {
  session.applyBackPressure();
  // What the other side read is now written out: its FIN may follow.
  session.maybeShutdown(side == Side::kDownstream ? Side::kUpstream : Side::kDownstream);
}

void TcpProxySession::SocketEvents::onEndOfStream() {
  session.dir(side).eofSeen = true;
  session.readFrom(side);
}

void TcpProxySession::SocketEvents::onError(SocketError) {
  // A failure of the client's socket is the remote's doing; of the upstream's (connect failure,
  // connect timeout, reset), a local close towards the client.
  session.closeAll(side == Side::kDownstream ? abi::PeerType::kRemote : abi::PeerType::kLocal);
}

void TcpProxySession::readFrom(Side side) {
  if (closed_) return;
  Direction& d = dir(side);
  idle_.arm(listener_.idleTimeout);
  evbuffer* in = d.from->input();
  size_t n = evbuffer_get_length(in);
  if (slots_.empty() && !d.stoppedAt) {
    // No plugin to show the bytes to: move the buffer's chunks across without copying.
    d.bytes += n;
    evbuffer_add_buffer(d.to->output(), in);
    d.to->flush();
    if (d.eofSeen && !d.eofDelivered) {
      d.eofDelivered = true;
      maybeShutdown(side);
    }
    applyBackPressure();
    return;
  }
  bool eos = d.eofSeen && !d.eofDelivered;
  if (n == 0 && !eos) return;
  if (eos) d.eofDelivered = true;
  if (d.stoppedAt) {
    size_t pos = *d.stoppedAt;
    d.held.append(takeBytes(in, n));
    std::string chunk = std::move(d.held);
    d.held.clear();
    d.stoppedAt.reset();
    run(side, pos, std::move(chunk), eos);
  } else {
    runUnread(side, in, n, eos);
  }
  applyBackPressure();
}

void TcpProxySession::runUnread(Side side, evbuffer* in, size_t bytes, bool endOfStream) {
  unread_ = Unread{side, in, bytes};
  run(side, 0, std::string(), endOfStream);
  unread_.reset();
}

void TcpProxySession::exposeUnread(Side side) {
  if (!unreadOn(side)) return;
  std::string& exposed = side == Side::kDownstream ? data_.downstreamData : data_.upstreamData;
  exposed = takeBytes(unread_->in, unread_->bytes);
  unread_.reset();
}

// Runs `chunk` through the plugins from chain position `from`; client-to-upstream bytes visit
// them in order, upstream-to-client bytes in reverse.
void TcpProxySession::run(Side side, size_t from, std::string chunk, bool endOfStream) {
  Direction& d = dir(side);
  std::string& exposed = side == Side::kDownstream ? data_.downstreamData : data_.upstreamData;
  for (size_t pos = from; pos < slots_.size() && !closed_; ++pos) {
    Slot& slot = *slots_[side == Side::kDownstream ? pos : slots_.size() - 1 - pos];
    WorkerPlugin& plugin = slot.plugin;
    abi::PluginVm* vm = plugin.vm();
    if (slot.skipped || !slot.active) continue;
    const PluginConfig& config = plugin.plugin().config;
    if (!vm || slot.generation != plugin.generation()) {
      if (failSlot(slot, Status())) return;
      continue;
    }
    exposed = std::move(chunk);
    if (config.logOnly) exposeUnread(side);  // compared after the callback
    std::string before = config.logOnly ? exposed : std::string();
    inChain_ = true;
    auto size = static_cast<uint32_t>(unreadOn(side) ? unread_->bytes : exposed.size());
    auto started = std::chrono::steady_clock::now();
    auto r = side == Side::kDownstream ? vm->onDownstreamData(slot.context, size, endOfStream)
                                       : vm->onUpstreamData(slot.context, size, endOfStream);
    plugin.plugin().stats.callbackNanos +=
        static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                  std::chrono::steady_clock::now() - started)
                                  .count());
    inChain_ = false;
    ++plugin.plugin().stats.callbacks;
    chunk = std::move(exposed);
    exposed.clear();
    if (!r.isOk()) {
      if (failSlot(slot, r.status())) return;
      continue;
    }
    if (config.logOnly) {
      if (chunk != before || *r == abi::FilterStatus::kStop || closeRequested_)
        ++plugin.plugin().stats.logOnlyActions;
      chunk = std::move(before);
      closeRequested_ = false;
      continue;
    }
    if (closeRequested_) {
      closeAll(abi::PeerType::kLocal);
      return;
    }
    if (*r == abi::FilterStatus::kStop) {
      if (unreadOn(side)) {
        exposeUnread(side);
        chunk = std::move(exposed);
        exposed.clear();
      }
      d.stoppedAt = pos;
      d.held = std::move(chunk);
      if (endOfStream) d.eofDelivered = false;  // deliver the end again when resumed
      if (d.held.size() > kMaxBufferedBodyBytes) closeAll(abi::PeerType::kLocal);
      return;
    }
  }
  if (closed_) return;
  if (unreadOn(side)) {
    // No plugin asked for the bytes: they move across as the no-plugin path moves them.
    d.bytes += unread_->bytes;
    evbuffer_remove_buffer(unread_->in, d.to->output(), unread_->bytes);
    unread_.reset();
    d.to->flush();
    if (endOfStream) maybeShutdown(side);
    return;
  }
  forward(side, std::move(chunk), endOfStream);
}

void TcpProxySession::forward(Side side, std::string chunk, bool endOfStream) {
  Direction& d = dir(side);
  if (!chunk.empty()) {
    d.bytes += chunk.size();
    d.to->writeOwned(std::move(chunk));
  }
  if (endOfStream) maybeShutdown(side);
}

// Forwards a FIN once everything read before it has been written.
void TcpProxySession::maybeShutdown(Side side) {
  Direction& d = dir(side);
  if (closed_ || !d.eofDelivered || d.stoppedAt || d.shutdownSent) return;
  // Before the upstream is connected the FIN waits for onConnected (shutting down a connecting
  // socket would abort it).
  if (!d.to->connected() || d.to->outputLength() != 0) return;
  d.shutdownSent = true;
  d.to->shutdownWrite();
  if (down_.shutdownSent && up_.shutdownSent) {
    closeAll(abi::PeerType::kRemote);  // both sides finished: the client closed its side
  }
}

void TcpProxySession::applyBackPressure() {
  if (closed_) return;
  // A side whose peer cannot keep up stops being read until the peer drains (no unbounded buffers).
  for (Direction* d : {&down_, &up_}) {
    bool full = d->to->outputLength() > kUpstreamHighWatermark;
    if (full) {
      d->from->pauseReading();
    } else if (!d->eofSeen) {
      d->from->resumeReading();
    }
  }
}

void TcpProxySession::resume(size_t slot, Side side) {
  if (inChain_ || closed_) return;  // a plugin resuming itself inside its callback: it continued
  Direction& d = dir(side);
  size_t pos = side == Side::kDownstream ? slot : slots_.size() - 1 - slot;
  if (d.stoppedAt != pos) return;
  std::string held = std::move(d.held);
  d.held.clear();
  d.stoppedAt.reset();
  bool eos = d.eofSeen;
  if (eos) d.eofDelivered = true;
  run(side, pos + 1, std::move(held), eos);
}

void TcpProxySession::closeFromPlugin(Side) {
  if (inChain_) {
    closeRequested_ = true;
    return;
  }
  worker_.loop().defer([this] { closeAll(abi::PeerType::kLocal); });
}

void TcpProxySession::closeAll(abi::PeerType downstreamPeer) {
  if (closed_) return;
  closed_ = true;
  idle_.cancel();
  for (auto& slot : slots_) {
    abi::PluginVm* vm = slot->plugin.vm();
    if (!slot->active || !vm || slot->generation != slot->plugin.generation()) continue;
    Status s = vm->onDownstreamConnectionClose(slot->context, downstreamPeer);
    if (s.isOk()) s = vm->onUpstreamConnectionClose(slot->context, abi::PeerType::kUnknown);
    if (s.isOk()) s = vm->endStream(slot->context);
    if (!s.isOk()) slot->plugin.onVmFailure(s);
  }
  downstream_.close();
  upstream_.close();
  stats_.countStatus(200);
  worker_.removeTcpSession(this);
}

std::optional<std::string> TcpProxySession::property(std::span<const std::string_view> path) {
  if (path.empty()) return std::nullopt;
  std::string_view top = path[0];
  std::string_view field = path.size() > 1 ? path[1] : std::string_view();
  if (top == "source" && field == "address") return peer_;
  if (top == "source" && field == "port") return encodeInt(portOf(peer_));
  if (top == "destination" && field == "address") return local_;
  if (top == "destination" && field == "port") return encodeInt(portOf(local_));
  if ((top == "connection" && field == "id") || top == "connection_id")
    return encodeInt(static_cast<int64_t>(id_));
  if (top == "connection" && field == "bytes_received")
    return encodeInt(static_cast<int64_t>(down_.bytes));
  if (top == "connection" && field == "bytes_sent")
    return encodeInt(static_cast<int64_t>(up_.bytes));
  if (top == "upstream" && field == "address") return upstreamAddress_;
  if (top == "upstream" && field == "port") return encodeInt(portOf(upstreamAddress_));
  if ((top == "xds" && field == "cluster_name") || top == "cluster_name") return listener_.cluster;
  return std::nullopt;
}

}  // namespace wasmgate::proxy
