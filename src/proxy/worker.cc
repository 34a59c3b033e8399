#include "proxy/worker.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "common/log.h"

#include "proxy/downstream.h"
#include "proxy/tcp_proxy.h"

namespace wasmgate::proxy {
namespace {

std::string addressText(const sockaddr* addr) {
  char host[INET6_ADDRSTRLEN] = {};
  if (addr->sa_family == AF_INET6) {
    auto* in6 = reinterpret_cast<const sockaddr_in6*>(addr);
    inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
    return "[" + std::string(host) + "]:" + std::to_string(ntohs(in6->sin6_port));
  }
  auto* in4 = reinterpret_cast<const sockaddr_in*>(addr);
  inet_ntop(AF_INET, &in4->sin_addr, host, sizeof(host));
  return std::string(host) + ":" + std::to_string(ntohs(in4->sin_port));
}

Result<evutil_socket_t> bindReusePort(const SocketAddress& address) {
  sockaddr_storage addr{};
  int len = sizeof(addr);
  std::string text = address.host == "localhost" ? "127.0.0.1:" + std::to_string(address.port)
                                                 : address.toString();
  if (evutil_parse_sockaddr_port(text.c_str(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return errorStatus(StatusCode::kBadArgument, "bad listener address " + text);
  }
  evutil_socket_t fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return errorStatus(StatusCode::kInternal, "socket: " + std::string(strerror(errno)));
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), static_cast<socklen_t>(len)) != 0 ||
      ::listen(fd, 1024) != 0) {
    std::string why = strerror(errno);
    ::close(fd);
    return errorStatus(StatusCode::kUnavailable, "cannot listen on " + text + ": " + why);
  }
  return fd;
}

}  // namespace

std::string SocketAddress::toString() const {
  return host.find(':') != std::string::npos ? "[" + host + "]:" + std::to_string(port)
                                             : host + ":" + std::to_string(port);
}

void ListenerStats::countStatus(uint32_t status) {
  switch (status / 100) {
    case 1:
      ++rq1xx;
      break;
    case 2:
      ++rq2xx;
      break;
    case 3:
      ++rq3xx;
      break;
    case 4:
      ++rq4xx;
      break;
    default:
      ++rq5xx;
      break;
  }
}

uint64_t nextConnectionId() {
  static std::atomic<uint64_t> next{1};
  return next++;
}

Worker::Worker(size_t index, const ServerConfig& config,
               std::map<std::string, ListenerStats>& listenerStats)
    : index_(index),
      config_(config),
      listenerStats_(listenerStats),
      loop_(EventLoop::VmLocking::kPerTurn),
      headerBatcher_(loop_),
      chain_(std::make_shared<WorkerChain>()) {
  for (const ClusterConfig& c : config_.clusters)
    clusters_[c.name] = std::make_unique<Cluster>(loop_, c);
}

Worker::~Worker() {
  stop();
  for (auto& l : listeners_) {
    if (l->listener) evconnlistener_free(l->listener);
  }
  connections_.clear();
  tcpSessions_.clear();
  chain_.reset();
  grpcClients_.clear();
  clusters_.clear();
}

Status Worker::listen() {
  for (const ListenerConfig& config : config_.listeners) {
    auto fd = bindReusePort(config.address);
    if (!fd.isOk()) return fd.status();
    auto l = std::make_unique<Listener>(Listener{&config, nullptr, this});
    l->listener = evconnlistener_new(loop_.base(), &Worker::onAccept, l.get(),
                                     LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, *fd);
    listeners_.push_back(std::move(l));
  }
  return Status::ok();
}

void Worker::start() {
  thread_ = std::thread([this] { loop_.run(); });
}

void Worker::stop() {
  if (!thread_.joinable()) return;
  loop_.stop();
  thread_.join();
}

void Worker::onAccept(evconnlistener*, evutil_socket_t fd, sockaddr* peer, int, void* self) {
  auto* l = static_cast<Listener*>(self);
  Worker& w = *l->worker;
  sockaddr_storage local{};
  socklen_t localLen = sizeof(local);
  getsockname(fd, reinterpret_cast<sockaddr*>(&local), &localLen);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  ListenerStats& stats = w.listenerStats_[l->config->name];
  std::string peerText = addressText(peer);
  std::string localText = addressText(reinterpret_cast<sockaddr*>(&local));
  if (l->config->type == ListenerConfig::Type::kTcp) {
    auto session =
        std::make_unique<TcpProxySession>(w, *l->config, stats, w.chain_, fd, std::move(peerText),
                                          std::move(localText), nextConnectionId());
    TcpProxySession* raw = session.get();
    w.tcpSessions_.emplace(raw, std::move(session));
    raw->start();
    return;
  }
  auto connection = std::make_unique<DownstreamConnection>(
      w, *l->config, stats, fd, std::move(peerText), std::move(localText), nextConnectionId());
  DownstreamConnection* raw = connection.get();
  w.connections_.emplace(raw, std::move(connection));
}

void Worker::removeConnection(DownstreamConnection* connection) {
  auto it = connections_.find(connection);
  if (it == connections_.end()) return;
  loop_.deferDelete(std::move(it->second));
  connections_.erase(it);
}

void Worker::removeTcpSession(TcpProxySession* session) {
  auto it = tcpSessions_.find(session);
  if (it == tcpSessions_.end()) return;
  loop_.deferDelete(std::move(it->second));
  tcpSessions_.erase(it);
}

GrpcClient* Worker::grpcClient(const std::string& clusterName) {
  auto it = grpcClients_.find(clusterName);
  if (it != grpcClients_.end()) return it->second.get();
  Cluster* c = cluster(clusterName);
  if (!c || c->config().endpoints.empty()) return nullptr;
  return grpcClients_.emplace(clusterName, std::make_unique<GrpcClient>(loop_, c->config()))
      .first->second.get();
}

Cluster* Worker::cluster(const std::string& name) {
  auto it = clusters_.find(name);
  return it == clusters_.end() ? nullptr : it->second.get();
}

void Worker::log(abi::LogLevel level, const std::string& message) {
  logLine(static_cast<LogSeverity>(level), "worker " + std::to_string(index_), message);
}

}  // namespace wasmgate::proxy
