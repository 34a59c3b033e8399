#include "config/bootstrap.h"

#include <array>
#include <filesystem>
#include <map>

#include "config/limits.h"
#include "config/plugin_spec.h"
#include "config/wasm_plugin.h"
#include "config/yaml_reader.h"

namespace wasmgate::config {
namespace {

namespace fs = std::filesystem;
using detail::EnumName;
using detail::Field;
using detail::MapField;
using proxy::ClusterConfig;
using proxy::ListenerConfig;
using proxy::RouteConfig;

constexpr std::array<EnumName<ListenerConfig::Type>, 2> kListenerTypes = {{
    {"http", ListenerConfig::Type::kHttp},
    {"tcp", ListenerConfig::Type::kTcp},
}};
constexpr std::array<EnumName<ClusterConfig::Protocol>, 2> kProtocols = {{
    {"http1", ClusterConfig::Protocol::kHttp1},
    {"h2", ClusterConfig::Protocol::kH2},
}};
constexpr int64_t kMaxIdleConnections = 100'000;
constexpr int64_t kMaxFetchAttempts = 100;

std::string absoluteDir(const std::string& dir) {
  std::error_code ec;
  fs::path p = dir.empty() ? fs::current_path(ec) : fs::absolute(dir, ec);
  if (ec) p = dir;
  return p.lexically_normal().string();
}

std::string addressKey(const proxy::SocketAddress& a) {
  return a.host + "|" + std::to_string(a.port);
}

// Reads one bootstrap document into a ServerConfig, section by section.
class BootstrapParser {
 public:
  BootstrapParser(const std::string& file, const std::string& baseDir)
      : file_(file), baseDir_(absoluteDir(baseDir)) {
    config_.baseDir = baseDir_;
  }

  Result<proxy::ServerConfig> parse(std::string_view text, std::vector<std::string>* warnings) {
    Result<std::vector<YAML::Node>> docs = detail::loadYamlDocuments(text, file_);
    if (!docs.isOk()) return docs.status();
    const YAML::Node* root = nullptr;
    for (const YAML::Node& doc : *docs) {
      if (doc.IsNull()) continue;
      if (root) return Field::root(file_, doc).error("a bootstrap is one YAML document");
      root = &doc;
    }
    if (!root) return detail::fieldError(file_, 0, "", "the bootstrap is empty");
    WASMGATE_RETURN_IF_ERROR(parseRoot(Field::root(file_, *root)));
    if (warnings) *warnings = warnings_.lines();
    return std::move(config_);
  }

 private:
  struct Named {
    std::string location;
  };

  Status parseRoot(const Field& root) {
    Result<MapField> map =
        root.map({"admin", "workers", "fetch", "listeners", "clusters", "plugins", "plugin_dirs"});
    if (!map.isOk()) return map.status();
    WASMGATE_RETURN_IF_ERROR(parseSection(*map, "admin", &BootstrapParser::parseAdmin));
    WASMGATE_RETURN_IF_ERROR(map->readInt("workers", config_.workers, 0, kMaxWorkers));
    WASMGATE_RETURN_IF_ERROR(parseSection(*map, "fetch", &BootstrapParser::parseFetch));
    WASMGATE_RETURN_IF_ERROR(parseSection(*map, "clusters", &BootstrapParser::parseClusters));
    WASMGATE_RETURN_IF_ERROR(parseSection(*map, "listeners", &BootstrapParser::parseListeners));
    WASMGATE_RETURN_IF_ERROR(checkClusterRefs());
    WASMGATE_RETURN_IF_ERROR(checkAddresses());
    WASMGATE_RETURN_IF_ERROR(parseSection(*map, "plugins", &BootstrapParser::parsePlugins));
    WASMGATE_RETURN_IF_ERROR(parseSection(*map, "plugin_dirs", &BootstrapParser::parsePluginDirs));
    config_.plugins = orderPlugins(std::move(config_.plugins));
    return Status::ok();
  }

  using SectionParser = Status (BootstrapParser::*)(const Field&);
  Status parseSection(const MapField& map, std::string_view key, SectionParser parse) {
    std::optional<Field> field = map.get(key);
    return field ? (this->*parse)(*field) : Status::ok();
  }

  Status parseAdmin(const Field& field) {
    Result<MapField> admin = field.map({"address", "enabled"});
    if (!admin.isOk()) return admin.status();
    WASMGATE_RETURN_IF_ERROR(admin->readBool("enabled", config_.admin.enabled));
    if (std::optional<Field> address = admin->get("address")) {
      Result<proxy::SocketAddress> a = address->address(/*allowPortZero=*/true);
      if (!a.isOk()) return a.status();
      config_.admin.address = std::move(*a);
    }
    return Status::ok();
  }

  Status parseFetch(const Field& field) {
    Result<MapField> map =
        field.map({"timeout", "attempts", "ca_file", "insecure_skip_verify", "cache_dir"});
    if (!map.isOk()) return map.status();
    proxy::FetchConfig& f = config_.fetch;
    WASMGATE_RETURN_IF_ERROR(map->readDuration("timeout", f.timeout));
    if (f.timeout.count() == 0) return map->get("timeout")->error("must be more than 0");
    WASMGATE_RETURN_IF_ERROR(map->readInt("attempts", f.attempts, 1, kMaxFetchAttempts));
    WASMGATE_RETURN_IF_ERROR(readPath(*map, "ca_file", f.caFile));
    std::error_code ec;
    if (!f.caFile.empty() && !fs::is_regular_file(f.caFile, ec)) {
      return map->get("ca_file")->error(f.caFile + ": " + (ec ? ec.message() : "not a file"));
    }
    WASMGATE_RETURN_IF_ERROR(map->readBool("insecure_skip_verify", f.insecureSkipVerify));
    return readPath(*map, "cache_dir", f.cacheDir);
  }

  // A file or folder name; a relative one resolves against the bootstrap's folder.
  Status readPath(const MapField& map, std::string_view key, std::string& out) const {
    std::optional<Field> field = map.get(key);
    if (!field) return Status::ok();
    Result<std::string> text = field->string();
    if (!text.isOk()) return text.status();
    if (text->empty()) return field->error("must not be empty");
    fs::path p(*text);
    if (p.is_relative()) p = fs::path(baseDir_) / p;
    out = p.lexically_normal().string();
    return Status::ok();
  }

  // A name for a listener or cluster: the plugin-name rule, unique within its kind.
  Result<std::string> readUniqueName(const MapField& map, std::map<std::string, Named>& seen,
                                     std::string_view kind) {
    Result<Field> field = map.require("name");
    if (!field.isOk()) return field.status();
    Result<std::string> name = field->string();
    if (!name.isOk()) return name.status();
    if (!detail::validPluginName(*name)) {
      return field->error("\"" + *name + "\" is not a name (1 to 253 of A-Z a-z 0-9 . _ -)");
    }
    auto [it, inserted] = seen.emplace(*name, Named{field->location()});
    if (!inserted) {
      return field->error(std::string(kind) + " \"" + *name + "\" is already defined at " +
                          it->second.location);
    }
    return name;
  }

  Status parseClusters(const Field& field) {
    Result<std::vector<Field>> items = field.list();
    if (!items.isOk()) return items.status();
    for (const Field& item : *items) {
      Result<ClusterConfig> cluster = parseCluster(item);
      if (!cluster.isOk()) return cluster.status();
      config_.clusters.push_back(std::move(*cluster));
    }
    return Status::ok();
  }

  Result<ClusterConfig> parseCluster(const Field& item) {
    Result<MapField> map = item.map(
        {"name", "endpoints", "connect_timeout", "protocol", "max_idle_connections_per_worker"});
    if (!map.isOk()) return map.status();
    ClusterConfig c;
    Result<std::string> name = readUniqueName(*map, clusterNames_, "cluster");
    if (!name.isOk()) return name.status();
    c.name = std::move(*name);
    Result<Field> endpoints = map->require("endpoints");
    if (!endpoints.isOk()) return endpoints.status();
    Result<std::vector<Field>> list = endpoints->list();
    if (!list.isOk()) return list.status();
    if (list->empty()) return endpoints->error("needs at least one endpoint");
    for (const Field& e : *list) {
      Result<proxy::SocketAddress> a = e.address(/*allowPortZero=*/false);
      if (!a.isOk()) return a.status();
      c.endpoints.push_back(std::move(*a));
    }
    WASMGATE_RETURN_IF_ERROR(map->readDuration("connect_timeout", c.connectTimeout));
    if (c.connectTimeout.count() == 0) {
      return map->get("connect_timeout")->error("must be more than 0");
    }
    WASMGATE_RETURN_IF_ERROR(
        map->readEnum<ClusterConfig::Protocol>("protocol", c.protocol, kProtocols));
    WASMGATE_RETURN_IF_ERROR(map->readInt("max_idle_connections_per_worker",
                                          c.maxIdleConnectionsPerWorker, 0, kMaxIdleConnections));
    return c;
  }

  Status parseListeners(const Field& field) {
    Result<std::vector<Field>> items = field.list();
    if (!items.isOk()) return items.status();
    for (const Field& item : *items) {
      Result<ListenerConfig> listener = parseListener(item);
      if (!listener.isOk()) return listener.status();
      config_.listeners.push_back(std::move(*listener));
    }
    return Status::ok();
  }

  Result<ListenerConfig> parseListener(const Field& item) {
    Result<MapField> map = item.map({"name", "type", "address", "routes", "cluster", "idle_timeout",
                                     "request_headers_timeout"});
    if (!map.isOk()) return map.status();
    ListenerConfig l;
    Result<std::string> name = readUniqueName(*map, listenerNames_, "listener");
    if (!name.isOk()) return name.status();
    l.name = std::move(*name);
    WASMGATE_RETURN_IF_ERROR(map->readEnum<ListenerConfig::Type>("type", l.type, kListenerTypes));
    Result<Field> address = map->require("address");
    if (!address.isOk()) return address.status();
    Result<proxy::SocketAddress> a = address->address(/*allowPortZero=*/true);
    if (!a.isOk()) return a.status();
    l.address = std::move(*a);
    addresses_.push_back({*address, l.name});
    WASMGATE_RETURN_IF_ERROR(map->readDuration("idle_timeout", l.idleTimeout));
    WASMGATE_RETURN_IF_ERROR(map->readDuration("request_headers_timeout", l.requestHeadersTimeout));
    WASMGATE_RETURN_IF_ERROR(l.type == ListenerConfig::Type::kTcp ? parseTcpTarget(*map, l)
                                                                  : parseHttpRoutes(*map, l));
    return l;
  }

  Status parseTcpTarget(const MapField& map, ListenerConfig& l) {
    if (const MapField::Entry* routes = map.find("routes")) {
      return routes->keyField.error(
          "only an http listener has routes; a tcp listener has a cluster");
    }
    Result<Field> cluster = map.require("cluster");
    if (!cluster.isOk()) return cluster.status();
    Result<std::string> name = cluster->string();
    if (!name.isOk()) return name.status();
    clusterRefs_.push_back({*cluster, *name});
    l.cluster = std::move(*name);
    return Status::ok();
  }

  Status parseHttpRoutes(const MapField& map, ListenerConfig& l) {
    if (const MapField::Entry* cluster = map.find("cluster")) {
      return cluster->keyField.error(
          "only a tcp listener has a cluster; an http listener has routes");
    }
    Result<Field> routes = map.require("routes");
    if (!routes.isOk()) return routes.status();
    Result<std::vector<Field>> list = routes->list();
    if (!list.isOk()) return list.status();
    if (list->empty()) return routes->error("needs at least one route");
    for (const Field& r : *list) {
      Result<RouteConfig> route = parseRoute(r);
      if (!route.isOk()) return route.status();
      l.routes.push_back(std::move(*route));
    }
    return Status::ok();
  }

  Status parseMatch(const Field& field, RouteConfig& r) {
    Result<MapField> match = field.map({"prefix", "path", "authority"});
    if (!match.isOk()) return match.status();
    WASMGATE_RETURN_IF_ERROR(match->readString("prefix", r.prefix));
    if (!r.prefix.empty() && r.prefix[0] != '/') {
      return match->get("prefix")->error("must start with /");
    }
    if (std::optional<Field> path = match->get("path")) {
      Result<std::string> p = path->string();
      if (!p.isOk()) return p.status();
      if (p->empty() || (*p)[0] != '/') return path->error("must start with /");
      r.path = std::move(*p);
    }
    if (std::optional<Field> authority = match->get("authority")) {
      Result<std::string> a = authority->string();
      if (!a.isOk()) return a.status();
      if (a->empty()) return authority->error("must not be empty");
      r.authority = std::move(*a);
    }
    return Status::ok();
  }

  Result<RouteConfig> parseRoute(const Field& item) {
    Result<MapField> map = item.map({"name", "match", "cluster", "direct_response", "timeout"});
    if (!map.isOk()) return map.status();
    RouteConfig r;
    WASMGATE_RETURN_IF_ERROR(map->readString("name", r.name));
    Result<Field> match = map->require("match");
    if (!match.isOk()) return match.status();
    WASMGATE_RETURN_IF_ERROR(parseMatch(*match, r));
    std::optional<Field> cluster = map->get("cluster");
    std::optional<Field> direct = map->get("direct_response");
    if (cluster && direct) {
      return direct->error("a route has either a cluster or a direct_response");
    }
    if (!cluster && !direct) return item.error("needs a cluster or a direct_response");
    if (cluster) {
      Result<std::string> name = cluster->string();
      if (!name.isOk()) return name.status();
      clusterRefs_.push_back({*cluster, *name});
      r.cluster = std::move(*name);
    } else {
      Result<MapField> d = direct->map({"status", "body"});
      if (!d.isOk()) return d.status();
      Result<Field> status = d->require("status");
      if (!status.isOk()) return status.status();
      Result<int64_t> code = status->integer(200, 599);
      if (!code.isOk()) return code.status();
      proxy::DirectResponse response;
      response.status = static_cast<uint32_t>(*code);
      WASMGATE_RETURN_IF_ERROR(d->readString("body", response.body));
      r.directResponse = std::move(response);
    }
    WASMGATE_RETURN_IF_ERROR(map->readDuration("timeout", r.timeout));
    return r;
  }

  Status parsePlugins(const Field& field) {
    Result<std::vector<Field>> items = field.list();
    if (!items.isOk()) return items.status();
    detail::SpecContext ctx{baseDir_, warnings_, pluginNames_};
    for (const Field& item : *items) {
      Result<proxy::PluginConfig> plugin = detail::parsePluginSpec(item, nullptr, "", ctx);
      if (!plugin.isOk()) return plugin.status();
      config_.plugins.push_back(std::move(*plugin));
    }
    return Status::ok();
  }

  Status parsePluginDirs(const Field& field) {
    Result<std::vector<Field>> items = field.list();
    if (!items.isOk()) return items.status();
    for (const Field& item : *items) {
      Result<std::string> dir = item.string();
      if (!dir.isOk()) return dir.status();
      if (dir->empty()) return item.error("must not be empty");
      fs::path p(*dir);
      if (p.is_relative()) p = fs::path(baseDir_) / p;
      std::string resolved = p.lexically_normal().string();
      std::error_code ec;
      if (!fs::is_directory(resolved, ec)) {
        return item.error(resolved + ": " + (ec ? ec.message() : "not a folder"));
      }
      WASMGATE_RETURN_IF_ERROR(
          detail::loadPluginDirInto(resolved, warnings_, pluginNames_, config_.plugins));
      config_.pluginDirs.push_back(std::move(resolved));
    }
    return Status::ok();
  }

  Status checkClusterRefs() const {
    for (const auto& [field, name] : clusterRefs_) {
      if (!clusterNames_.count(name)) return field.error("unknown cluster \"" + name + "\"");
    }
    return Status::ok();
  }

  // Two sockets cannot listen on one address (port 0 picks a free port, so it never clashes).
  Status checkAddresses() const {
    std::map<std::string, std::string> used;
    if (config_.admin.enabled && config_.admin.address.port != 0) {
      used.emplace(addressKey(config_.admin.address), "the admin endpoint");
    }
    for (const auto& [field, listener] : addresses_) {
      std::optional<proxy::SocketAddress> a = detail::parseAddress(field.node().Scalar());
      if (!a || a->port == 0) continue;
      auto [it, inserted] = used.emplace(addressKey(*a), "listener \"" + listener + "\"");
      if (!inserted) return field.error("address already used by " + it->second);
    }
    return Status::ok();
  }

  const std::string& file_;
  std::string baseDir_;
  proxy::ServerConfig config_;
  std::map<std::string, Named> clusterNames_;
  std::map<std::string, Named> listenerNames_;
  std::vector<std::pair<Field, std::string>>
      clusterRefs_;                                       // where a cluster is named, and the name
  std::vector<std::pair<Field, std::string>> addresses_;  // listener addresses and listener names
  detail::Warnings warnings_;
  detail::PluginNames pluginNames_;
};

}  // namespace

Result<proxy::ServerConfig> parseBootstrap(std::string_view yamlText, const std::string& fileName,
                                           const std::string& baseDir,
                                           std::vector<std::string>* warnings) {
  try {
    BootstrapParser parser(fileName, baseDir);
    return parser.parse(yamlText, warnings);
  } catch (const std::exception& e) {
    return Status(StatusCode::kInternal, fileName + ": " + e.what());
  }
}

Result<proxy::ServerConfig> loadBootstrap(const std::string& path,
                                          std::vector<std::string>* warnings) {
  try {
    Result<std::string> text = detail::readConfigFile(path);
    if (!text.isOk()) return text.status();
    return parseBootstrap(*text, path, fs::path(path).parent_path().string(), warnings);
  } catch (const std::exception& e) {
    return Status(StatusCode::kInternal, path + ": " + e.what());
  }
}

}  // namespace wasmgate::config
