// A TCP proxy session: one client connection forwarded to one upstream endpoint, with the network
// (type NETWORK) plugins in the path of the bytes both ways, half-close, back-pressure and
// timeouts.
#pragma once

#include <event2/bufferevent.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "abi/host.h"
#include "proxy/event_loop.h"
#include "proxy/plugin_chain.h"
#include "proxy/server_config.h"

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
  std::optional<std::string> property(std::span<const std::string_view> path);
  abi::StreamData& data() { return data_; }

 private:
  struct Slot;
  struct Direction {
    bufferevent* from = nullptr;      // where the bytes are read
    bufferevent* to = nullptr;        // where they are written
    std::optional<size_t> stoppedAt;  // position in chain order of the plugin holding them
    std::string held;                 // bytes that plugin holds
    bool eofSeen = false;             // the reading side sent FIN
    bool eofDelivered = false;        // the plugins saw end_of_stream
    bool shutdownSent = false;        // FIN forwarded to the writing side
    uint64_t bytes = 0;               // forwarded
  };

  static void onDownstreamRead(bufferevent*, void* self);
  static void onUpstreamRead(bufferevent*, void* self);
  static void onDownstreamWrite(bufferevent*, void* self);
  static void onUpstreamWrite(bufferevent*, void* self);
  static void onDownstreamEvent(bufferevent*, short what, void* self);
  static void onUpstreamEvent(bufferevent*, short what, void* self);

  void startPlugins();
  bool failSlot(Slot& slot, const Status& why);
  void readFrom(Side side);
  void run(Side side, size_t from, std::string chunk, bool endOfStream);
  void forward(Side side, std::string_view chunk, bool endOfStream);
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
  bufferevent* downstream_ = nullptr;
  bufferevent* upstream_ = nullptr;
  std::string peer_, local_, upstreamAddress_;
  uint64_t id_;
  Direction down_;       // client to upstream
  Direction up_;         // upstream to client
  bool paused_ = false;  // a plugin paused in on_new_connection
  bool inChain_ = false;
  bool closeRequested_ = false;
  bool closed_ = false;
  Timer idle_;
};

}  // namespace wasmgate::proxy
