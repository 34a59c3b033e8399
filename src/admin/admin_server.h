// The admin endpoint: /ready, /healthz, /stats/prometheus, /plugins, /config_dump and
// POST /reload, served on the main thread's event loop (loopback by default).
#pragma once

#include <event2/listener.h>

#include <functional>
#include <map>
#include <memory>

#include "proxy/event_loop.h"
#include "proxy/server.h"

namespace wasmgate::admin {

class AdminServer {
 public:
  // `reload` re-reads the configuration and swaps plugins; its status becomes the answer.
  AdminServer(proxy::EventLoop& loop, proxy::Server& server, std::function<Status()> reload);
  ~AdminServer();
  Status listen(const proxy::SocketAddress& address);

  // The answer for one request (also used by tests without sockets).
  struct Response {
    uint32_t status = 200;
    std::string contentType = "text/plain";
    std::string body;
  };
  Response handle(std::string_view method, std::string_view path);

 private:
  class Connection;
  static void onAccept(evconnlistener*, evutil_socket_t fd, sockaddr*, int, void* self);
  std::string prometheus();
  std::string pluginsJson();
  std::string configDump();

  proxy::EventLoop& loop_;
  proxy::Server& server_;
  std::function<Status()> reload_;
  evconnlistener* listener_ = nullptr;
  std::map<Connection*, std::unique_ptr<Connection>> connections_;
};

}  // namespace wasmgate::admin
