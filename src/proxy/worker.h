// A worker thread: one event loop, its own SO_REUSEPORT listening sockets, upstream clusters and
// plugin VMs. A request lives on one worker from start to end.
#pragma once

#include <event2/listener.h>

#include <atomic>
#include <map>
#include <memory>
#include <thread>

#include "proxy/event_loop.h"
#include "proxy/grpc_client.h"
#include "proxy/header_batch.h"
#include "proxy/plugin_chain.h"
#include "proxy/server_config.h"
#include "proxy/upstream.h"

namespace wasmgate::proxy {

// Counters of one listener, summed over workers.
struct ListenerStats {
  std::atomic<uint64_t> downstreamCx{0};
  std::atomic<uint64_t> activeCx{0};
  std::atomic<uint64_t> downstreamRq{0};
  std::atomic<uint64_t> downstreamRqRejected{0};  // malformed requests answered 4xx by the codec
  std::atomic<uint64_t> rq1xx{0}, rq2xx{0}, rq3xx{0}, rq4xx{0}, rq5xx{0};
  void countStatus(uint32_t status);
};

class DownstreamConnection;
class TcpProxySession;

class Worker {
 public:
  Worker(size_t index, const ServerConfig& config,
         std::map<std::string, ListenerStats>& listenerStats);
  ~Worker();

  // Opens this worker's listening sockets; fails (naming the address) if one cannot be bound.
  Status listen();
  void start();  // the thread
  void stop();   // from any thread; joins

  EventLoop& loop() { return loop_; }
  // Header callbacks of a loop pass, run after its event callbacks.
  HeaderBatcher& headerBatcher() { return headerBatcher_; }
  size_t index() const { return index_; }
  Cluster* cluster(const std::string& name);
  // The HTTP/2 client for gRPC callouts to a cluster, created on first use; nullptr if unknown.
  GrpcClient* grpcClient(const std::string& clusterName);
  // The worker's plugin VMs share one engine heap (runtime::InstanceGroup).
  const std::shared_ptr<runtime::InstanceGroup>& vmGroup() const { return vmGroup_; }
  void setVmGroup(std::shared_ptr<runtime::InstanceGroup> group) { vmGroup_ = std::move(group); }
  const std::shared_ptr<WorkerChain>& chain() const { return chain_; }
  // Replaces the plugin chain; streams in flight keep the one they started with.
  void setChain(std::shared_ptr<WorkerChain> chain) { chain_ = std::move(chain); }
  void removeConnection(DownstreamConnection* connection);
  void removeTcpSession(TcpProxySession* session);
  void log(abi::LogLevel level, const std::string& message);

 private:
  struct Listener {
    const ListenerConfig* config;
    evconnlistener* listener = nullptr;
    Worker* worker;
  };
  static void onAccept(evconnlistener*, evutil_socket_t fd, sockaddr* peer, int len, void* self);

  size_t index_;
  const ServerConfig& config_;
  std::map<std::string, ListenerStats>& listenerStats_;
  EventLoop loop_;
  HeaderBatcher
      headerBatcher_;  // before the connections: their streams cancel calls on the way out
  std::vector<std::unique_ptr<Listener>> listeners_;
  std::map<std::string, std::unique_ptr<Cluster>> clusters_;
  std::map<std::string, std::unique_ptr<GrpcClient>> grpcClients_;
  std::map<DownstreamConnection*, std::unique_ptr<DownstreamConnection>> connections_;
  std::map<TcpProxySession*, std::unique_ptr<TcpProxySession>> tcpSessions_;
  std::shared_ptr<runtime::InstanceGroup> vmGroup_;
  std::shared_ptr<WorkerChain> chain_;
  std::thread thread_;
};

// Process-wide connection ids.
uint64_t nextConnectionId();

}  // namespace wasmgate::proxy
