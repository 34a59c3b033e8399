#include "config/bootstrap.h"

#include <gtest/gtest.h>

#include "temp_dir.h"

namespace wasmgate::config {
namespace {

using proxy::ClusterConfig;
using proxy::FailStrategy;
using proxy::ListenerConfig;
using proxy::PluginPhase;
using std::chrono::milliseconds;
using testing::TempDir;

// design.md, "Configuration contract", as written there.
constexpr const char* kDesignBootstrap = R"(admin:
  address: 127.0.0.1:9901
workers: 2                      # default: number of cores
listeners:
  - name: main
    address: 127.0.0.1:8080
    routes:
      - match: { prefix: / }
        cluster: backend        # or: direct_response: { status: 200, body: "hi" }
  - name: raw                   # a TCP proxy: network (type: NETWORK) plugins apply here
    type: tcp
    address: 127.0.0.1:8443
    cluster: backend
clusters:
  - name: backend
    endpoints: [127.0.0.1:9000]
    connect_timeout: 1s
  - name: authz                 # gRPC callouts go over HTTP/2 (h2c) to a cluster like this
    endpoints: [127.0.0.1:9100]
    protocol: h2
plugins:                        # inline WasmPlugin specs, same fields as Istio's spec
  - name: add-header
    url: file://plugins/add_header.wasm
    sha256: ""                  # checked when set
    phase: AUTHN
    priority: 10
    failStrategy: FAIL_OPEN
    pluginConfig: { header: x-hello, value: world }
plugin_dirs: [plugins.d]        # folders of Istio WasmPlugin manifests, watched
)";

constexpr const char* kDesignManifest = R"(apiVersion: extensions.istio.io/v1alpha1
kind: WasmPlugin
metadata: { name: deny-admin }
spec:
  url: oci://127.0.0.1:5000/plugins/deny:v1
  phase: AUTHZ
  failStrategy: FAIL_CLOSE
  pluginConfig: { path_prefix: /admin }
)";

TEST(Bootstrap, DesignExampleParsesToTheExpectedStructs) {
  TempDir dir;
  std::string path = dir.write("bootstrap.yaml", kDesignBootstrap);
  dir.write("plugins.d/deny-admin.yaml", kDesignManifest);
  std::vector<std::string> warnings;
  Result<proxy::ServerConfig> r = loadBootstrap(path, &warnings);
  ASSERT_TRUE(r.isOk()) << r.status().toString();
  const proxy::ServerConfig& c = *r;
  EXPECT_TRUE(warnings.empty());

  EXPECT_TRUE(c.admin.enabled);
  EXPECT_EQ(c.admin.address.host, "127.0.0.1");
  EXPECT_EQ(c.admin.address.port, 9901);
  EXPECT_EQ(c.workers, 2u);
  EXPECT_EQ(c.baseDir, dir.path());

  ASSERT_EQ(c.listeners.size(), 2u);
  const ListenerConfig& main = c.listeners[0];
  EXPECT_EQ(main.name, "main");
  EXPECT_EQ(main.type, ListenerConfig::Type::kHttp);
  EXPECT_EQ(main.address.host, "127.0.0.1");
  EXPECT_EQ(main.address.port, 8080);
  EXPECT_EQ(main.idleTimeout, milliseconds(60000));
  EXPECT_EQ(main.requestHeadersTimeout, milliseconds(10000));
  ASSERT_EQ(main.routes.size(), 1u);
  EXPECT_EQ(main.routes[0].prefix, "/");
  EXPECT_FALSE(main.routes[0].path);
  EXPECT_FALSE(main.routes[0].authority);
  EXPECT_EQ(main.routes[0].cluster, "backend");
  EXPECT_FALSE(main.routes[0].directResponse);
  EXPECT_EQ(main.routes[0].timeout, milliseconds(15000));
  const ListenerConfig& raw = c.listeners[1];
  EXPECT_EQ(raw.name, "raw");
  EXPECT_EQ(raw.type, ListenerConfig::Type::kTcp);
  EXPECT_EQ(raw.address.port, 8443);
  EXPECT_EQ(raw.cluster, "backend");
  EXPECT_TRUE(raw.routes.empty());

  ASSERT_EQ(c.clusters.size(), 2u);
  EXPECT_EQ(c.clusters[0].name, "backend");
  ASSERT_EQ(c.clusters[0].endpoints.size(), 1u);
  EXPECT_EQ(c.clusters[0].endpoints[0].host, "127.0.0.1");
  EXPECT_EQ(c.clusters[0].endpoints[0].port, 9000);
  EXPECT_EQ(c.clusters[0].connectTimeout, milliseconds(1000));
  EXPECT_EQ(c.clusters[0].protocol, ClusterConfig::Protocol::kHttp1);
  EXPECT_EQ(c.clusters[1].name, "authz");
  EXPECT_EQ(c.clusters[1].endpoints[0].port, 9100);
  EXPECT_EQ(c.clusters[1].protocol, ClusterConfig::Protocol::kH2);

  ASSERT_EQ(c.pluginDirs.size(), 1u);
  EXPECT_EQ(c.pluginDirs[0], dir / "plugins.d");

  ASSERT_EQ(c.plugins.size(), 2u);  // AUTHN before AUTHZ
  const proxy::PluginConfig& add = c.plugins[0];
  EXPECT_EQ(add.name, "add-header");
  EXPECT_EQ(add.url, "file://" + (dir / "plugins/add_header.wasm"));
  EXPECT_EQ(add.sha256, "");
  EXPECT_EQ(add.imagePullPolicy, "IfNotPresent");
  EXPECT_EQ(add.phase, PluginPhase::kAuthn);
  EXPECT_EQ(add.priority, 10);
  EXPECT_EQ(add.failStrategy, FailStrategy::kFailOpen);
  EXPECT_EQ(add.configuration, R"({"header":"x-hello","value":"world"})");
  EXPECT_EQ(add.type, proxy::PluginType::kHttp);
  EXPECT_TRUE(add.matchPorts.empty());
  EXPECT_FALSE(add.logOnly);
  EXPECT_FALSE(add.allowedHostcalls);
  EXPECT_EQ(add.source, path + ":22");
  const proxy::PluginConfig& deny = c.plugins[1];
  EXPECT_EQ(deny.name, "deny-admin");
  EXPECT_EQ(deny.url, "oci://127.0.0.1:5000/plugins/deny:v1");
  EXPECT_EQ(deny.imagePullPolicy, "IfNotPresent");
  EXPECT_EQ(deny.phase, PluginPhase::kAuthz);
  EXPECT_EQ(deny.failStrategy, FailStrategy::kFailClose);
  EXPECT_EQ(deny.configuration, R"({"path_prefix":"/admin"})");
  EXPECT_EQ(deny.source, dir / "plugins.d/deny-admin.yaml:1");
}

TEST(Bootstrap, ReadsEveryOptionalField) {
  TempDir dir;
  Result<proxy::ServerConfig> r = parseBootstrap(R"(
admin: {enabled: false}
listeners:
  - name: v6
    type: http
    address: "[::1]:0"
    idle_timeout: 2m
    request_headers_timeout: 250ms
    routes:
      - name: health
        match: {path: /healthz, authority: example.com}
        direct_response: {status: 204}
      - match: {prefix: /api}
        cluster: api
        timeout: 0
      - match: {}
        direct_response: {status: 404, body: "not here\n"}
clusters:
  - name: api
    endpoints: ["[::1]:9000", "localhost:9001"]
    connect_timeout: 1m30s
    protocol: http1
    max_idle_connections_per_worker: 8
plugins:
  - name: net
    url: /abs/net.wasm
    type: NETWORK
    match: [{ports: [{number: 8443}, {number: 443}]}]
    logOnly: true
    vm_id: shared
    pluginName: root
    limits: {memory_mb: 16, cpu_deadline_ms: 50}
    allowed_hostcalls: [proxy_log, fd_write]
)",
                                                 "b.yaml", dir.path());
  ASSERT_TRUE(r.isOk()) << r.status().toString();
  const proxy::ServerConfig& c = *r;
  EXPECT_FALSE(c.admin.enabled);
  EXPECT_EQ(c.workers, 0u);
  const ListenerConfig& l = c.listeners.at(0);
  EXPECT_EQ(l.address.host, "::1");
  EXPECT_EQ(l.address.port, 0);
  EXPECT_EQ(l.idleTimeout, milliseconds(120'000));
  EXPECT_EQ(l.requestHeadersTimeout, milliseconds(250));
  ASSERT_EQ(l.routes.size(), 3u);
  EXPECT_EQ(l.routes[0].name, "health");
  EXPECT_EQ(l.routes[0].prefix, "");
  EXPECT_EQ(l.routes[0].path, "/healthz");
  EXPECT_EQ(l.routes[0].authority, "example.com");
  ASSERT_TRUE(l.routes[0].directResponse);
  EXPECT_EQ(l.routes[0].directResponse->status, 204u);
  EXPECT_EQ(l.routes[0].directResponse->body, "");
  EXPECT_EQ(l.routes[1].prefix, "/api");
  EXPECT_EQ(l.routes[1].timeout, milliseconds(0));
  EXPECT_EQ(l.routes[2].directResponse->body, "not here\n");
  const ClusterConfig& api = c.clusters.at(0);
  EXPECT_EQ(api.endpoints.at(0).host, "::1");
  EXPECT_EQ(api.endpoints.at(1).host, "localhost");
  EXPECT_EQ(api.connectTimeout, milliseconds(90'000));
  EXPECT_EQ(api.maxIdleConnectionsPerWorker, 8u);
  const proxy::PluginConfig& p = c.plugins.at(0);
  EXPECT_EQ(p.url, "file:///abs/net.wasm");
  EXPECT_EQ(p.type, proxy::PluginType::kNetwork);
  EXPECT_EQ(p.matchPorts, (std::vector<uint16_t>{443, 8443}));
  EXPECT_TRUE(p.logOnly);
  EXPECT_EQ(p.vmId, "shared");
  EXPECT_EQ(p.rootId, "root");
  EXPECT_EQ(p.limits.maxMemoryPages, 256u);
  EXPECT_EQ(p.limits.callDeadline, milliseconds(50));
  ASSERT_TRUE(p.allowedHostcalls);
  EXPECT_EQ(p.allowedHostcalls->size(), 2u);
  EXPECT_EQ(p.allowedHostcalls->count("fd_write"), 1u);
}

TEST(Bootstrap, InlinePluginsReportIgnoredKubernetesFields) {
  TempDir dir;
  std::vector<std::string> warnings;
  Result<proxy::ServerConfig> r = parseBootstrap(R"(plugins:
  - name: a
    url: a.wasm
    selector: {matchLabels: {app: x}}
  - name: b
    url: b.wasm
    selector: {matchLabels: {app: y}}
    imagePullSecret: pull
)",
                                                 "b.yaml", dir.path(), &warnings);
  ASSERT_TRUE(r.isOk()) << r.status().toString();
  EXPECT_EQ(r->plugins.at(0).url, "file://" + (dir / "a.wasm"));
  ASSERT_EQ(warnings.size(), 2u);
  EXPECT_EQ(warnings[0],
            "b.yaml:4: plugins[0].selector: ignored (Kubernetes only; a plugin applies to every "
            "listener of its type) (and 1 more)");
  EXPECT_EQ(warnings[1],
            "b.yaml:8: plugins[1].imagePullSecret: ignored (Kubernetes only; registry credentials "
            "are not read from the spec)");
}

TEST(Bootstrap, MissingFileIsNotFound) {
  TempDir dir;
  Result<proxy::ServerConfig> r = loadBootstrap(dir / "absent.yaml");
  ASSERT_FALSE(r.isOk());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(r.status().message(), dir / "absent.yaml" + ": cannot open: No such file or directory");
}

struct ErrorCase {
  const char* name;
  const char* yaml;
  const char* message;
};

// Listeners and clusters most cases build on; line numbers below count from the case's own text.
class BootstrapErrors : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(BootstrapErrors, AreOneLineNamingFileLineAndField) {
  TempDir dir;
  Result<proxy::ServerConfig> r = parseBootstrap(GetParam().yaml, "b.yaml", dir.path());
  ASSERT_FALSE(r.isOk());
  EXPECT_EQ(r.status().code(), StatusCode::kBadArgument);
  EXPECT_EQ(r.status().message(), GetParam().message);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, BootstrapErrors,
    ::testing::Values(
        ErrorCase{"UnknownTopLevelField", "listners: []\n", "b.yaml:1: listners: unknown field"},
        ErrorCase{"UnknownNestedField",
                  "clusters: [{name: c, endpoints: [127.0.0.1:1]}]\n"
                  "listeners:\n"
                  "  - name: l\n"
                  "    address: 127.0.0.1:80\n"
                  "    routes:\n"
                  "      - match: {prefix: /}\n"
                  "        cluster: c\n"
                  "      - match: {prefix: /x}\n"
                  "        clutser: c\n",
                  "b.yaml:9: listeners[0].routes[1].clutser: unknown field"},
        ErrorCase{"WrongScalarType", "workers: many\n",
                  "b.yaml:1: workers: expected an integer, got \"many\""},
        ErrorCase{"WrongNodeType", "listeners: {name: l}\n",
                  "b.yaml:1: listeners: expected a list, got a mapping"},
        ErrorCase{"QuotedNumber", "workers: \"2\"\n",
                  "b.yaml:1: workers: expected an integer, got \"2\""},
        ErrorCase{"OutOfRange", "workers: -1\n",
                  "b.yaml:1: workers: must be between 0 and 1024, got -1"},
        ErrorCase{"WrongBoolean", "admin: {enabled: maybe}\n",
                  "b.yaml:1: admin.enabled: expected true or false, got \"maybe\""},
        ErrorCase{"MissingRequiredField",
                  "clusters: [{name: c, endpoints: [127.0.0.1:1]}]\n"
                  "listeners:\n"
                  "  - name: l\n"
                  "    routes: [{match: {prefix: /}, cluster: c}]\n",
                  "b.yaml:3: listeners[0].address: missing required field"},
        ErrorCase{"NullRequiredField", "clusters:\n  - name:\n    endpoints: [127.0.0.1:1]\n",
                  "b.yaml:2: clusters[0].name: missing required field"},
        ErrorCase{"BadEnum", "listeners:\n  - name: l\n    type: udp\n    address: 127.0.0.1:80\n",
                  "b.yaml:3: listeners[0].type: \"udp\" is not one of http, tcp"},
        ErrorCase{"BadProtocol", "clusters: [{name: c, endpoints: [127.0.0.1:1], protocol: h3}]\n",
                  "b.yaml:1: clusters[0].protocol: \"h3\" is not one of http1, h2"},
        ErrorCase{"AddressWithoutPort", "admin: {address: 127.0.0.1}\n",
                  "b.yaml:1: admin.address: \"127.0.0.1\" is not host:port with an IPv4 address, "
                  "an [IPv6] address or localhost"},
        ErrorCase{"AddressWithHostName", "clusters: [{name: c, endpoints: [example.com:80]}]\n",
                  "b.yaml:1: clusters[0].endpoints[0]: \"example.com:80\" is not host:port with "
                  "an IPv4 address, an [IPv6] address or localhost"},
        ErrorCase{"EndpointPortZero", "clusters: [{name: c, endpoints: [127.0.0.1:0]}]\n",
                  "b.yaml:1: clusters[0].endpoints[0]: port 0 is not allowed here"},
        ErrorCase{"AddressNotAScalar", "admin:\n  address: [1, 2]\n",
                  "b.yaml:2: admin.address: expected host:port, got a list (write an IPv6 "
                  "address in quotes: \"[::1]:8080\")"},
        ErrorCase{"DuplicateCluster",
                  "clusters:\n"
                  "  - {name: c, endpoints: [127.0.0.1:1]}\n"
                  "  - {name: c, endpoints: [127.0.0.1:2]}\n",
                  "b.yaml:3: clusters[1].name: cluster \"c\" is already defined at b.yaml:2"},
        ErrorCase{"DuplicateListener",
                  "clusters: [{name: c, endpoints: [127.0.0.1:1]}]\n"
                  "listeners:\n"
                  "  - {name: l, type: tcp, address: 127.0.0.1:80, cluster: c}\n"
                  "  - {name: l, type: tcp, address: 127.0.0.1:81, cluster: c}\n",
                  "b.yaml:4: listeners[1].name: listener \"l\" is already defined at b.yaml:3"},
        ErrorCase{"RouteToUnknownCluster",
                  "listeners:\n"
                  "  - name: l\n"
                  "    address: 127.0.0.1:80\n"
                  "    routes:\n"
                  "      - match: {prefix: /}\n"
                  "        cluster: backend\n"
                  "      - match: {prefix: /x}\n"
                  "        cluster: nope\n"
                  "clusters: [{name: backend, endpoints: [127.0.0.1:1]}]\n",
                  "b.yaml:8: listeners[0].routes[1].cluster: unknown cluster \"nope\""},
        ErrorCase{"TcpToUnknownCluster",
                  "listeners: [{name: t, type: tcp, address: 127.0.0.1:80, cluster: x}]\n",
                  "b.yaml:1: listeners[0].cluster: unknown cluster \"x\""},
        ErrorCase{"TcpWithRoutes",
                  "listeners:\n  - name: t\n    type: tcp\n    address: 127.0.0.1:80\n"
                  "    routes: []\n",
                  "b.yaml:5: listeners[0].routes: only an http listener has routes; a tcp "
                  "listener has a cluster"},
        ErrorCase{"HttpWithCluster",
                  "listeners:\n  - name: h\n    address: 127.0.0.1:80\n    cluster: c\n",
                  "b.yaml:4: listeners[0].cluster: only a tcp listener has a cluster; an http "
                  "listener has routes"},
        ErrorCase{"HttpWithoutRoutes", "listeners:\n  - name: h\n    address: 127.0.0.1:80\n",
                  "b.yaml:2: listeners[0].routes: missing required field"},
        ErrorCase{"RouteWithBothActions",
                  "listeners:\n  - name: h\n    address: 127.0.0.1:80\n    routes:\n"
                  "      - match: {prefix: /}\n        cluster: c\n"
                  "        direct_response: {status: 200}\n",
                  "b.yaml:7: listeners[0].routes[0].direct_response: a route has either a cluster "
                  "or a direct_response"},
        ErrorCase{"RouteWithoutAction",
                  "listeners:\n  - name: h\n    address: 127.0.0.1:80\n    routes:\n"
                  "      - match: {prefix: /}\n",
                  "b.yaml:5: listeners[0].routes[0]: needs a cluster or a direct_response"},
        ErrorCase{"RouteWithoutMatch",
                  "listeners:\n  - name: h\n    address: 127.0.0.1:80\n    routes:\n"
                  "      - direct_response: {status: 200}\n",
                  "b.yaml:5: listeners[0].routes[0].match: missing required field"},
        ErrorCase{"PrefixWithoutSlash",
                  "listeners:\n  - name: h\n    address: 127.0.0.1:80\n    routes:\n"
                  "      - match: {prefix: api}\n        direct_response: {status: 200}\n",
                  "b.yaml:5: listeners[0].routes[0].match.prefix: must start with /"},
        ErrorCase{"BadStatus",
                  "listeners:\n  - name: h\n    address: 127.0.0.1:80\n    routes:\n"
                  "      - match: {prefix: /}\n        direct_response: {status: 99}\n",
                  "b.yaml:6: listeners[0].routes[0].direct_response.status: must be between 200 "
                  "and 599, got 99"},
        ErrorCase{"BadDuration",
                  "clusters: [{name: c, endpoints: [127.0.0.1:1], connect_timeout: 5}]\n",
                  "b.yaml:1: clusters[0].connect_timeout: expected a duration such as 250ms, 1s "
                  "or 2m, got \"5\""},
        ErrorCase{"ZeroConnectTimeout",
                  "clusters: [{name: c, endpoints: [127.0.0.1:1], connect_timeout: 0s}]\n",
                  "b.yaml:1: clusters[0].connect_timeout: must be more than 0"},
        ErrorCase{"NoEndpoints", "clusters: [{name: c, endpoints: []}]\n",
                  "b.yaml:1: clusters[0].endpoints: needs at least one endpoint"},
        ErrorCase{"RepeatedKey", "workers: 1\nworkers: 2\n", "b.yaml:2: workers: repeated key"},
        ErrorCase{"AddressClash",
                  "clusters: [{name: c, endpoints: [127.0.0.1:1]}]\n"
                  "listeners:\n"
                  "  - {name: a, type: tcp, address: 127.0.0.1:80, cluster: c}\n"
                  "  - {name: b, type: tcp, address: 127.0.0.1:80, cluster: c}\n",
                  "b.yaml:4: listeners[1].address: address already used by listener \"a\""},
        ErrorCase{"AddressClashWithDefaultAdmin",
                  "clusters: [{name: c, endpoints: [127.0.0.1:1]}]\n"
                  "listeners: [{name: a, type: tcp, address: 127.0.0.1:9901, cluster: c}]\n",
                  "b.yaml:2: listeners[0].address: address already used by the admin endpoint"},
        ErrorCase{"BadListenerName",
                  "listeners: [{name: \"a b\", type: tcp, address: 127.0.0.1:80, cluster: c}]\n",
                  "b.yaml:1: listeners[0].name: \"a b\" is not a name (1 to 253 of A-Z a-z 0-9 . _ "
                  "-)"},
        ErrorCase{"InlinePluginBadPhase",
                  "plugins:\n  - name: p\n    url: p.wasm\n    phase: AUTH\n",
                  "b.yaml:4: plugins[0].phase: \"AUTH\" is not one of UNSPECIFIED_PHASE, AUTHN, "
                  "AUTHZ, STATS"},
        ErrorCase{"InlinePluginWithoutName", "plugins:\n  - url: p.wasm\n",
                  "b.yaml:2: plugins[0].name: missing required field"},
        ErrorCase{"InlinePluginUnknownField",
                  "plugins:\n  - name: p\n    url: p.wasm\n    log_only: true\n",
                  "b.yaml:4: plugins[0].log_only: unknown field"},
        ErrorCase{"DuplicateInlinePlugins",
                  "plugins:\n  - {name: p, url: a.wasm}\n  - {name: p, url: b.wasm}\n",
                  "b.yaml:3: plugins[1].name: plugin \"p\" is already defined at b.yaml:2"},
        ErrorCase{"TwoDocuments", "workers: 1\n---\nworkers: 2\n",
                  "b.yaml:3: a bootstrap is one YAML document"},
        ErrorCase{"Empty", "# nothing\n", "b.yaml: the bootstrap is empty"},
        ErrorCase{"RootNotAMapping", "- a\n", "b.yaml:1: expected a mapping, got a list"},
        ErrorCase{"InvalidYaml", "listeners: [\n",
                  "b.yaml:2: invalid YAML: end of sequence flow not found"}),
    [](const ::testing::TestParamInfo<ErrorCase>& info) { return std::string(info.param.name); });

TEST(Bootstrap, MissingPluginDirNamesTheResolvedFolder) {
  TempDir dir;
  Result<proxy::ServerConfig> r = parseBootstrap("plugin_dirs: [nope]\n", "b.yaml", dir.path());
  ASSERT_FALSE(r.isOk());
  EXPECT_EQ(r.status().message(),
            "b.yaml:1: plugin_dirs[0]: " + (dir / "nope") + ": No such file or directory");
}

TEST(Bootstrap, PluginNamesAreUniqueAcrossInlineAndManifests) {
  TempDir dir;
  dir.write("plugins.d/p.yaml", kDesignManifest);
  Result<proxy::ServerConfig> r =
      parseBootstrap("plugins: [{name: deny-admin, url: x.wasm}]\nplugin_dirs: [plugins.d]\n",
                     "b.yaml", dir.path());
  ASSERT_FALSE(r.isOk());
  EXPECT_EQ(r.status().message(), dir / "plugins.d/p.yaml" +
                                      ":3: metadata.name: plugin \"deny-admin\" is already "
                                      "defined at b.yaml:1");
}

TEST(Bootstrap, ABadManifestInAPluginDirRefusesTheBootstrap) {
  TempDir dir;
  dir.write("plugins.d/p.yaml",
            "apiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\n"
            "metadata: {name: p}\nspec: {url: p.wasm, phase: LATE}\n");
  Result<proxy::ServerConfig> r =
      parseBootstrap("plugin_dirs: [plugins.d]\n", "b.yaml", dir.path());
  ASSERT_FALSE(r.isOk());
  EXPECT_EQ(r.status().message(), dir / "plugins.d/p.yaml" +
                                      ":4: spec.phase: \"LATE\" is not one of UNSPECIFIED_PHASE, "
                                      "AUTHN, AUTHZ, STATS");
}

}  // namespace
}  // namespace wasmgate::config
