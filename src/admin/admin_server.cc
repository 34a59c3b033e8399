#include "admin/admin_server.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <nlohmann/json.hpp>
#include <sstream>

#include "proxy/http1/parser.h"

namespace wasmgate::admin {
namespace {

const char* failStrategyName(proxy::FailStrategy strategy) {
  switch (strategy) {
    case proxy::FailStrategy::kFailOpen:
      return "FAIL_OPEN";
    case proxy::FailStrategy::kFailReload:
      return "FAIL_RELOAD";
    case proxy::FailStrategy::kFailClose:
      break;
  }
  return "FAIL_CLOSE";
}

using nlohmann::json;

std::string sanitize(std::string_view name) {
  std::string out;
  for (char c : name) out.push_back(std::isalnum(static_cast<unsigned char>(c)) ? c : '_');
  return out;
}

std::string escapeLabel(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out.append("\\n");
      continue;
    }
    out.push_back(c);
  }
  return out;
}

const char* phaseName(proxy::PluginPhase phase) {
  switch (phase) {
    case proxy::PluginPhase::kAuthn:
      return "AUTHN";
    case proxy::PluginPhase::kAuthz:
      return "AUTHZ";
    case proxy::PluginPhase::kStats:
      return "STATS";
    default:
      return "UNSPECIFIED_PHASE";
  }
}

}  // namespace

// One admin client: reads one request, answers it, closes.
class AdminServer::Connection {
 public:
  Connection(AdminServer& owner, evutil_socket_t fd)
      : owner_(owner), bev_(bufferevent_socket_new(owner.loop_.base(), fd, BEV_OPT_CLOSE_ON_FREE)) {
    bufferevent_setcb(bev_, &Connection::onRead, &Connection::onWrite, &Connection::onEvent, this);
    bufferevent_enable(bev_, EV_READ | EV_WRITE);
  }
  ~Connection() { bufferevent_free(bev_); }

 private:
  static void onRead(bufferevent*, void* self) { static_cast<Connection*>(self)->read(); }
  static void onWrite(bufferevent*, void* self) {
    auto* c = static_cast<Connection*>(self);
    if (c->answered_ && evbuffer_get_length(bufferevent_get_output(c->bev_)) == 0) c->close();
  }
  static void onEvent(bufferevent*, short what, void* self) {
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) static_cast<Connection*>(self)->close();
  }
  void read() {
    if (answered_) return;
    evbuffer* in = bufferevent_get_input(bev_);
    size_t n = evbuffer_get_length(in);
    std::string_view bytes(reinterpret_cast<const char*>(evbuffer_pullup(in, -1)), n);
    proxy::http1::RequestHead head;
    auto parsed = proxy::http1::parseRequestHead(bytes, head);
    if (parsed.isIncomplete()) return;
    Response r = parsed.isError() ? Response{400, "text/plain", std::string(parsed.reason()) + "\n"}
                                  : owner_.handle(head.method, head.target);
    std::string out = "HTTP/1.1 " + std::to_string(r.status) + " " +
                      (r.status < 400 ? "OK" : "Error") + "\r\ncontent-type: " + r.contentType +
                      "\r\ncontent-length: " + std::to_string(r.body.size()) +
                      "\r\nconnection: close\r\n\r\n" + r.body;
    answered_ = true;
    bufferevent_write(bev_, out.data(), out.size());
  }
  void close() {
    auto it = owner_.connections_.find(this);
    if (it == owner_.connections_.end()) return;
    auto self = std::move(it->second);
    owner_.connections_.erase(it);
    owner_.loop_.post([doomed = std::shared_ptr<Connection>(std::move(self))] {});
  }

  AdminServer& owner_;
  bufferevent* bev_;
  bool answered_ = false;
};

AdminServer::AdminServer(proxy::EventLoop& loop, proxy::Server& server,
                         std::function<Status()> reload)
    : loop_(loop), server_(server), reload_(std::move(reload)) {}

AdminServer::~AdminServer() {
  if (listener_) evconnlistener_free(listener_);
  connections_.clear();
}

Status AdminServer::listen(const proxy::SocketAddress& address) {
  sockaddr_storage addr{};
  int len = sizeof(addr);
  std::string text = address.host == "localhost" ? "127.0.0.1:" + std::to_string(address.port)
                                                 : address.toString();
  if (evutil_parse_sockaddr_port(text.c_str(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return errorStatus(StatusCode::kBadArgument, "bad admin address " + text);
  }
  listener_ =
      evconnlistener_new_bind(loop_.base(), &AdminServer::onAccept, this,
                              LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC, 64,
                              reinterpret_cast<sockaddr*>(&addr), len);
  if (!listener_) {
    return errorStatus(StatusCode::kUnavailable,
                       "cannot listen on admin address " + text + ": " + strerror(errno));
  }
  return Status::ok();
}

void AdminServer::onAccept(evconnlistener*, evutil_socket_t fd, sockaddr*, int, void* self) {
  auto* admin = static_cast<AdminServer*>(self);
  auto connection = std::make_unique<Connection>(*admin, fd);
  Connection* raw = connection.get();
  admin->connections_.emplace(raw, std::move(connection));
}

AdminServer::Response AdminServer::handle(std::string_view method, std::string_view target) {
  std::string_view path = target.substr(0, target.find('?'));
  if (path == "/reload") {
    if (method != "POST") return {405, "text/plain", "use POST /reload\n"};
    Status reloaded = reload_();
    if (!reloaded.isOk())
      return {400, "text/plain", "reload refused: " + reloaded.message() + "\n"};
    return {200, "text/plain", "reloaded\n"};
  }
  if (method != "GET" && method != "HEAD") return {405, "text/plain", "method not allowed\n"};
  if (path == "/ready") return {200, "text/plain", "LIVE\n"};
  if (path == "/healthz") return {200, "text/plain", "ok\n"};
  if (path == "/stats/prometheus") return {200, "text/plain; version=0.0.4", prometheus()};
  if (path == "/plugins") return {200, "application/json", pluginsJson()};
  if (path == "/config_dump") return {200, "application/json", configDump()};
  return {404, "text/plain",
          "unknown admin path; try /ready /healthz /stats/prometheus /plugins /config_dump\n"};
}

std::string AdminServer::prometheus() {
  std::ostringstream out;
  auto counter = [&out](const char* name, const char* help) {
    out << "# HELP " << name << " " << help << "\n# TYPE " << name << " counter\n";
  };
  auto& listeners = server_.listenerStats();
  counter("wasmgate_listener_downstream_cx_total", "Downstream connections accepted.");
  for (auto& [name, s] : listeners) {
    out << "wasmgate_listener_downstream_cx_total{listener=\"" << escapeLabel(name) << "\"} "
        << s.downstreamCx << "\n";
  }
  out << "# TYPE wasmgate_listener_downstream_cx_active gauge\n";
  for (auto& [name, s] : listeners) {
    out << "wasmgate_listener_downstream_cx_active{listener=\"" << escapeLabel(name) << "\"} "
        << s.activeCx << "\n";
  }
  counter("wasmgate_listener_downstream_rq_total", "Downstream requests received.");
  for (auto& [name, s] : listeners) {
    out << "wasmgate_listener_downstream_rq_total{listener=\"" << escapeLabel(name) << "\"} "
        << s.downstreamRq << "\n";
  }
  counter("wasmgate_listener_downstream_rq_rejected_total",
          "Malformed requests answered by the codec.");
  for (auto& [name, s] : listeners) {
    out << "wasmgate_listener_downstream_rq_rejected_total{listener=\"" << escapeLabel(name)
        << "\"} " << s.downstreamRqRejected << "\n";
  }
  counter("wasmgate_listener_downstream_rq_completed_total", "Responses sent, by status class.");
  for (auto& [name, s] : listeners) {
    const std::pair<const char*, uint64_t> classes[] = {
        {"1xx", s.rq1xx}, {"2xx", s.rq2xx}, {"3xx", s.rq3xx}, {"4xx", s.rq4xx}, {"5xx", s.rq5xx}};
    for (auto& [cls, value] : classes) {
      out << "wasmgate_listener_downstream_rq_completed_total{listener=\"" << escapeLabel(name)
          << "\",class=\"" << cls << "\"} " << value << "\n";
    }
  }
  auto plugins = server_.plugins();
  const std::pair<const char*, ShardedCounter proxy::PluginStats::*> pluginCounters[] = {
      {"streams", &proxy::PluginStats::streams},
      {"callbacks", &proxy::PluginStats::callbacks},
      {"callback_nanoseconds", &proxy::PluginStats::callbackNanos},
      {"vm_failures", &proxy::PluginStats::vmFailures},
      {"fail_closed", &proxy::PluginStats::failClosed},
      {"fail_open", &proxy::PluginStats::failOpen},
      {"log_only_actions", &proxy::PluginStats::logOnlyActions},
      {"vm_restarts", &proxy::PluginStats::vmRestarts},
      {"vm_starts", &proxy::PluginStats::vmStarts},
      {"local_responses", &proxy::PluginStats::localResponses},
      {"header_batches", &proxy::PluginStats::headerBatches},
      {"batched_header_callbacks", &proxy::PluginStats::batchedHeaderCallbacks}};
  for (auto& [suffix, member] : pluginCounters) {
    std::string name = std::string("wasmgate_plugin_") + suffix + "_total";
    counter(name.c_str(), "Per-plugin counter, summed over workers.");
    for (auto& p : plugins) {
      out << name << "{plugin=\"" << escapeLabel(p->config.name) << "\"} "
          << (p->stats.*member).load() << "\n";
    }
  }
  for (auto& p : plugins) {
    for (const auto& m : p->metrics.snapshot()) {
      std::string name = "wasmgate_plugin_custom_" + sanitize(m.name);
      std::string labels = "plugin=\"" + escapeLabel(p->config.name) + "\"";
      if (m.type == abi::MetricType::kHistogram) {
        out << "# TYPE " << name << " histogram\n";
        for (size_t i = 0; i < m.buckets.size(); ++i) {
          std::string le = i < std::size(abi::MetricStore::kBuckets)
                               ? std::to_string(abi::MetricStore::kBuckets[i])
                               : "+Inf";
          out << name << "_bucket{" << labels << ",le=\"" << le << "\"} " << m.buckets[i] << "\n";
        }
        out << name << "_sum{" << labels << "} " << m.sum << "\n"
            << name << "_count{" << labels << "} " << m.count << "\n";
      } else {
        out << "# TYPE " << name
            << (m.type == abi::MetricType::kCounter ? " counter\n" : " gauge\n");
        out << name << "{" << labels << "} " << m.value << "\n";
      }
    }
  }
  return out.str();
}

std::string AdminServer::pluginsJson() {
  auto states = server_.pluginStates();
  json out = json::array();
  for (auto& p : server_.plugins()) {
    out.push_back({{"name", p->config.name},
                   {"url", p->config.url},
                   {"sha256", p->sha256},
                   {"abi_version", abi::abiVersionName(p->module->abiVersion())},
                   {"phase", phaseName(p->config.phase)},
                   {"priority", p->config.priority},
                   {"fail_strategy", failStrategyName(p->config.failStrategy)},
                   {"log_only", p->config.logOnly},
                   {"workers", states[p->config.name]},
                   {"vm_failures", p->stats.vmFailures.load()},
                   {"vm_restarts", p->stats.vmRestarts.load()},
                   {"source", p->config.source}});
  }
  return out.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

std::string AdminServer::configDump() {
  const proxy::ServerConfig& c = server_.config();
  json listeners = json::array();
  for (const auto& l : c.listeners) {
    json routes = json::array();
    for (const auto& r : l.routes) {
      json route = {{"prefix", r.prefix}};
      if (r.path) route["path"] = *r.path;
      if (r.authority) route["authority"] = *r.authority;
      if (r.directResponse) {
        route["direct_response"] = {{"status", r.directResponse->status},
                                    {"body", r.directResponse->body}};
      } else {
        route["cluster"] = r.cluster;
      }
      routes.push_back(route);
    }
    listeners.push_back({{"name", l.name},
                         {"type", l.type == proxy::ListenerConfig::Type::kTcp ? "tcp" : "http"},
                         {"address", l.address.toString()},
                         {"routes", routes}});
  }
  json clusters = json::array();
  for (const auto& cl : c.clusters) {
    json endpoints = json::array();
    for (const auto& e : cl.endpoints) endpoints.push_back(e.toString());
    clusters.push_back({{"name", cl.name},
                        {"endpoints", endpoints},
                        {"connect_timeout_ms", cl.connectTimeout.count()}});
  }
  json plugins = json::array();
  for (const auto& p : server_.plugins()) {
    plugins.push_back({{"name", p->config.name},
                       {"url", p->config.url},
                       {"plugin_config", p->config.configuration}});
  }
  json out = {{"workers", server_.workerCount()},
              {"admin", c.admin.address.toString()},
              {"listeners", listeners},
              {"clusters", clusters},
              {"plugins", plugins}};
  return out.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

}  // namespace wasmgate::admin
