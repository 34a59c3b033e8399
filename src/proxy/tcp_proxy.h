// A TCP proxy session: one client connection forwarded to one upstream endpoint, with the network
// (type NETWORK) plugins in the path of the bytes both ways, half-close, back-pressure and
// timeouts.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "abi/host.h"
#include "proxy/event_loop.h"
#include "proxy/plugin_chain.h"
#include "proxy/server_config.h"
#include "proxy/stream_socket.h"

namespace wasmgate::proxy {

class Worker;
struct ListenerStats;

class TcpProxySession final : public Deletable {
 public:
  TcpProxySession(Worker& worker, const ListenerConfig& listener, ListenerStats& stats,
                  std::shared_ptr<WorkerChain> chain, evutil_socket_t fd, std::string peer,
                  std::string local, uint64_t id);
  ~TcpProxySession() override;
  // Connects upstream and starts the plugins; may close the session at once (the worker must
  // already own it).
  void start();

  enum class Side { kDownstream, kUpstream };
  // From a plugin's StreamHost.
  void resume(size_t slot, Side side);
  void closeFromPlugin(Side side);
  // From a plugin's StreamHost: a hostcall wants the bytes of `side` in data().
  void exposeUnread(Side side);
  std::optional<std::string> property(std::span<const std::string_view> path);
  abi::StreamData& data() { return data_; }

 private:
  struct Slot;
  // What one of the two sockets reports, tagged with its side.
  struct SocketEvents final : StreamSocket::Handler {
    SocketEvents(TcpProxySession& s, Side d) : session(s), side(d) {}
    void onConnected() override;
    void onReadable() override;
    void onWritable() override;
    void onEndOfStream() override;
    void onError(SocketError error) override;
    TcpProxySession& session;
    Side side;
  };
  struct Direction {
    StreamSocket* from = nullptr;     // where the bytes are read
    StreamSocket* to = nullptr;       // where they are written
    std::optional<size_t> stoppedAt;  // position in chain order of the plugin holding them
    std::string held;                 // bytes that plugin holds
    bool eofSeen = false;             // the reading side sent FIN
    bool eofDelivered = false;        // the plugins saw end_of_stream
    bool shutdownSent = false;        // FIN forwarded to the writing side
    uint64_t bytes = 0;               // forwarded
  };

  void startPlugins();
  bool failSlot(Slot& slot, const Status& why);
  void readFrom(Side side);
  void run(Side side, size_t from, std::string chunk, bool endOfStream);
  // run() of the first `bytes` bytes of `in` without copying them out first: they move into
  // data() only if a plugin's hostcall asks for them, and otherwise go out as they came.
  void runUnread(Side side, evbuffer* in, size_t bytes, bool endOfStream);
  void forward(Side side, std::string chunk, bool endOfStream);
  void maybeShutdown(Side side);
  void applyBackPressure();
  void closeAll(abi::PeerType downstreamPeer);
  Direction& dir(Side side) { return side == Side::kDownstream ? down_ : up_; }

  Worker& worker_;
  const ListenerConfig& listener_;
  ListenerStats& stats_;
  std::shared_ptr<WorkerChain> chain_;
  std::vector<std::unique_ptr<Slot>> slots_;
  abi::StreamData data_;
  SocketEvents downstreamEvents_{*this, Side::kDownstream};
  SocketEvents upstreamEvents_{*this, Side::kUpstream};
  StreamSocket downstream_;
  StreamSocket upstream_;
  std::string peer_, local_, upstreamAddress_;
  uint64_t id_;
  Direction down_;       // client to upstream
  Direction up_;         // upstream to client
  bool paused_ = false;  // a plugin paused in on_new_connection
  bool inChain_ = false;
  bool closeRequested_ = false;
  bool closed_ = false;
  // The chunk run() is showing the plugins while it is still in its socket's input (runUnread).
  struct Unread {
    Side side;
    evbuffer* in;
    size_t bytes;
  };
  std::optional<Unread> unread_;
  bool unreadOn(Side side) const { return unread_ && unread_->side == side; }
  Timer idle_;
};

}  // namespace wasmgate::proxy
