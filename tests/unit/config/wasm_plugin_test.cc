#include "config/wasm_plugin.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include "temp_dir.h"

namespace wasmgate::config {
namespace {

using proxy::FailStrategy;
using proxy::PluginConfig;
using proxy::PluginPhase;
using testing::TempDir;

// Written in the form of Istio's WasmPlugin documentation: an OpenID Connect style AUTHN filter
// from a local file, pinned by sha256, on the ingress gateway.
constexpr const char* kOpenIdFile = R"(apiVersion: extensions.istio.io/v1alpha1
kind: WasmPlugin
metadata:
  name: openid-connect
  namespace: istio-ingress
spec:
  selector:
    matchLabels:
      istio: ingressgateway
  url: file:///opt/filters/openid.wasm
  sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
  phase: AUTHN
  pluginConfig:
    openid_server: authn
    openid_realm: ingress
)";

// The same filter from an OCI registry, with pull settings and VM environment.
constexpr const char* kOpenIdOci = R"(apiVersion: extensions.istio.io/v1alpha1
kind: WasmPlugin
metadata:
  name: openid-connect
  namespace: istio-ingress
  labels: {app: gateway}
  annotations: {owner: platform}
spec:
  selector:
    matchLabels:
      istio: ingressgateway
  url: oci://private-registry:5000/openid-connect/openid:latest
  imagePullPolicy: IfNotPresent
  imagePullSecret: private-registry-pull-secret
  phase: AUTHN
  pluginConfig:
    openid_server: authn
    openid_realm: ingress
  vmConfig:
    env:
    - name: WASMGATE_TEST_POD_NAME
      valueFrom: HOST
    - name: WASMGATE_TEST_ABSENT_VAR
      valueFrom: HOST
    - name: TRUST_DOMAIN
      value: "cluster.local"
)";

// Three plugins ordered by phase and priority, in one file.
constexpr const char* kChain = R"(apiVersion: extensions.istio.io/v1alpha1
kind: WasmPlugin
metadata:
  name: check-header
  namespace: istio-ingress
spec:
  url: oci://private-registry:5000/check-header:latest
  imagePullPolicy: IfNotPresent
  phase: AUTHZ
  priority: 10
  pluginConfig:
    read_header: authz_complete
    verification_key: a89gAzxvls0JKAKIJSBnnvvvkIO
    function: read_data
---
apiVersion: extensions.istio.io/v1alpha1
kind: WasmPlugin
metadata:
  name: acl-check
  namespace: istio-ingress
spec:
  url: oci://private-registry:5000/acl-check/acl:latest
  imagePullPolicy: Always
  phase: AUTHZ
  priority: 1000
  pluginConfig:
    acl_server: some_server
    set_header: authz_complete
---
apiVersion: extensions.istio.io/v1alpha1
kind: WasmPlugin
metadata:
  name: openid-connect
spec:
  url: https://private-bucket/filters/openid.wasm
  imagePullPolicy: Always
  phase: AUTHN
---
)";

Result<PluginSet> parse(const std::string& yaml) {
  return parseWasmPluginManifests(yaml, "p.yaml", "/base");
}

TEST(WasmPluginManifest, FileUrlAuthnPluginLoadsUnchanged) {
  Result<PluginSet> r = parse(kOpenIdFile);
  ASSERT_TRUE(r.isOk()) << r.status().toString();
  ASSERT_EQ(r->plugins.size(), 1u);
  const PluginConfig& p = r->plugins[0];
  EXPECT_EQ(p.name, "openid-connect");
  EXPECT_EQ(p.url, "file:///opt/filters/openid.wasm");
  EXPECT_EQ(p.sha256, "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");
  EXPECT_EQ(p.imagePullPolicy, "IfNotPresent");
  EXPECT_EQ(p.phase, PluginPhase::kAuthn);
  EXPECT_EQ(p.priority, 0);
  EXPECT_EQ(p.failStrategy, FailStrategy::kFailClose);
  EXPECT_EQ(p.configuration, R"({"openid_realm":"ingress","openid_server":"authn"})");
  EXPECT_EQ(p.type, proxy::PluginType::kHttp);
  EXPECT_EQ(p.source, "p.yaml:1");
  ASSERT_EQ(r->warnings.size(), 1u);
  EXPECT_EQ(r->warnings[0],
            "p.yaml:7: spec.selector: ignored (Kubernetes only; a plugin applies to every "
            "listener of its type)");
}

TEST(WasmPluginManifest, OciPluginWithPullSettingsAndEnvironment) {
  setenv("WASMGATE_TEST_POD_NAME", "gateway-7f9", 1);
  unsetenv("WASMGATE_TEST_ABSENT_VAR");
  Result<PluginSet> r = parse(kOpenIdOci);
  ASSERT_TRUE(r.isOk()) << r.status().toString();
  const PluginConfig& p = r->plugins.at(0);
  EXPECT_EQ(p.url, "oci://private-registry:5000/openid-connect/openid:latest");
  EXPECT_EQ(p.imagePullPolicy, "IfNotPresent");  // explicit, though the tag is latest
  EXPECT_EQ(p.configuration, R"({"openid_realm":"ingress","openid_server":"authn"})");
  // HOST variables come from the proxy's environment; one the proxy lacks is left out.
  EXPECT_EQ(p.environment,
            (std::vector<std::pair<std::string, std::string>>{
                {"WASMGATE_TEST_POD_NAME", "gateway-7f9"}, {"TRUST_DOMAIN", "cluster.local"}}));
  EXPECT_EQ(r->warnings, (std::vector<std::string>{
                             "p.yaml:9: spec.selector: ignored (Kubernetes only; a plugin applies "
                             "to every listener of its type)",
                             "p.yaml:14: spec.imagePullSecret: ignored (Kubernetes only; registry "
                             "credentials are not read from the spec)"}));
}

TEST(WasmPluginManifest, SeveralDocumentsInFileOrderThenIstioOrder) {
  Result<PluginSet> r = parse(kChain);
  ASSERT_TRUE(r.isOk()) << r.status().toString();
  ASSERT_EQ(r->plugins.size(), 3u);
  EXPECT_EQ(r->plugins[0].name, "check-header");
  EXPECT_EQ(r->plugins[0].source, "p.yaml:1");
  EXPECT_EQ(r->plugins[0].configuration,
            R"({"function":"read_data","read_header":"authz_complete",)"
            R"("verification_key":"a89gAzxvls0JKAKIJSBnnvvvkIO"})");
  EXPECT_EQ(r->plugins[1].name, "acl-check");
  EXPECT_EQ(r->plugins[1].source, "p.yaml:16");
  EXPECT_EQ(r->plugins[1].imagePullPolicy, "Always");
  EXPECT_EQ(r->plugins[1].priority, 1000);
  EXPECT_EQ(r->plugins[2].url, "https://private-bucket/filters/openid.wasm");
  EXPECT_EQ(r->plugins[2].configuration, "");
  std::vector<PluginConfig> ordered = orderPlugins(r->plugins);
  EXPECT_EQ(ordered[0].name, "openid-connect");
  EXPECT_EQ(ordered[1].name, "acl-check");
  EXPECT_EQ(ordered[2].name, "check-header");
}

TEST(WasmPluginManifest, PullPolicyDefaultsAsIstio) {
  auto policyOf = [](const std::string& url) {
    Result<PluginSet> r = parse(
        "apiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\n"
        "metadata: {name: p}\nspec: {url: \"" +
        url + "\"}\n");
    EXPECT_TRUE(r.isOk()) << r.status().toString();
    return r.isOk() ? r->plugins.at(0).imagePullPolicy : "";
  };
  EXPECT_EQ(policyOf("oci://registry:5000/a/b:latest"), "Always");
  EXPECT_EQ(policyOf("oci://registry:5000/a/b"), "Always");
  EXPECT_EQ(policyOf("oci://registry:5000/a/b:v1"), "IfNotPresent");
  EXPECT_EQ(policyOf("oci://registry/a/b@sha256:abcd"), "IfNotPresent");
  EXPECT_EQ(policyOf("https://host/a.wasm"), "IfNotPresent");
}

TEST(WasmPluginManifest, UrlsResolveAgainstTheBaseFolder) {
  auto urlOf = [](const std::string& url) {
    Result<PluginSet> r = parse(
        "apiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\n"
        "metadata: {name: p}\nspec: {url: \"" +
        url + "\"}\n");
    EXPECT_TRUE(r.isOk()) << r.status().toString();
    return r.isOk() ? r->plugins.at(0).url : "";
  };
  EXPECT_EQ(urlOf("file://plugins/a.wasm"), "file:///base/plugins/a.wasm");
  EXPECT_EQ(urlOf("file://./a.wasm"), "file:///base/a.wasm");
  EXPECT_EQ(urlOf("file:///opt/a.wasm"), "file:///opt/a.wasm");
  EXPECT_EQ(urlOf("plugins/a.wasm"), "file:///base/plugins/a.wasm");
  EXPECT_EQ(urlOf("../a.wasm"), "file:///a.wasm");
  EXPECT_EQ(urlOf("/abs/module"), "file:///abs/module");
  EXPECT_EQ(urlOf("registry:5000/plugins/deny:v1"), "oci://registry:5000/plugins/deny:v1");
  EXPECT_EQ(urlOf("HTTPS://host/a.wasm"), "https://host/a.wasm");
  EXPECT_EQ(urlOf("builtin://add_header"), "builtin://add_header");
}

TEST(WasmPluginManifest, V1beta1AndRepeatedIgnoredFieldsReportedOnce) {
  Result<PluginSet> r = parse(R"(apiVersion: extensions.istio.io/v1beta1
kind: WasmPlugin
metadata: {name: a}
spec:
  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: gw}]
  url: a.wasm
  failStrategy: FAIL_RELOAD
---
apiVersion: extensions.istio.io/v1beta1
kind: WasmPlugin
metadata: {name: b}
spec:
  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: gw}]
  url: b.wasm
  verificationKey: key
status: {}
)");
  ASSERT_TRUE(r.isOk()) << r.status().toString();
  EXPECT_EQ(r->plugins.at(0).failStrategy, FailStrategy::kFailReload);
  EXPECT_EQ(r->warnings, (std::vector<std::string>{
                             "p.yaml:5: spec.targetRefs: ignored (Kubernetes only; a plugin "
                             "applies to every listener of its type) (and 1 more)",
                             "p.yaml:15: spec.verificationKey: ignored (not implemented (Istio "
                             "does not implement it either))"}));
}

TEST(WasmPluginManifest, WasmgateExtensionsAndTrafficSelectors) {
  Result<PluginSet> r = parse(R"(apiVersion: extensions.istio.io/v1alpha1
kind: WasmPlugin
metadata: {name: bytes}
spec:
  url: oci://registry/tcp-bytes:v2
  type: NETWORK
  phase: STATS
  priority: -5
  failStrategy: FAIL_OPEN
  pluginName: tcp_bytes_root
  match:
  - mode: CLIENT
    ports: [{number: 9000}, {number: 8443}]
  - ports: [{number: 9000}]
  logOnly: true
  vm_id: stats
  limits: {memory_mb: 8}
  allowed_hostcalls: [proxy_log, proxy_get_property]
)");
  ASSERT_TRUE(r.isOk()) << r.status().toString();
  const PluginConfig& p = r->plugins.at(0);
  EXPECT_EQ(p.type, proxy::PluginType::kNetwork);
  EXPECT_EQ(p.phase, PluginPhase::kStats);
  EXPECT_EQ(p.priority, -5);
  EXPECT_EQ(p.failStrategy, FailStrategy::kFailOpen);
  EXPECT_EQ(p.rootId, "tcp_bytes_root");
  EXPECT_EQ(p.matchPorts, (std::vector<uint16_t>{8443, 9000}));
  EXPECT_TRUE(p.logOnly);
  EXPECT_EQ(p.vmId, "stats");
  EXPECT_EQ(p.limits.maxMemoryPages, 128u);
  EXPECT_EQ(p.limits.callDeadline, std::chrono::milliseconds(1000));  // default kept
  ASSERT_TRUE(p.allowedHostcalls);
  EXPECT_EQ(*p.allowedHostcalls,
            (std::set<std::string, std::less<>>{"proxy_get_property", "proxy_log"}));
  EXPECT_TRUE(r->warnings.empty());
}

TEST(WasmPluginManifest, ASelectorWithoutPortsTakesEveryPort) {
  Result<PluginSet> r = parse(R"(apiVersion: extensions.istio.io/v1alpha1
kind: WasmPlugin
metadata: {name: p}
spec:
  url: p.wasm
  match:
  - ports: [{number: 80}]
  - mode: SERVER
)");
  ASSERT_TRUE(r.isOk()) << r.status().toString();
  EXPECT_TRUE(r->plugins.at(0).matchPorts.empty());
  EXPECT_EQ(r->warnings,
            (std::vector<std::string>{"p.yaml:8: spec.match[1].mode: SERVER is treated as "
                                      "CLIENT_AND_SERVER (wasmgate has one direction)"}));
}

TEST(WasmPluginManifest, EmptyDocumentsAndEmptyTextGiveNoPlugins) {
  Result<PluginSet> r = parse("");
  ASSERT_TRUE(r.isOk());
  EXPECT_TRUE(r->plugins.empty());
  r = parse("---\n# nothing\n---\n");
  ASSERT_TRUE(r.isOk());
  EXPECT_TRUE(r->plugins.empty());
}

struct ErrorCase {
  const char* name;
  const char* spec;  // appended under "spec:" of a manifest named p, from line 5
  const char* message;
};

class ManifestSpecErrors : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(ManifestSpecErrors, AreOneLineNamingFileLineAndField) {
  std::string yaml = std::string("apiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\n") +
                     "metadata: {name: p}\nspec:\n" + GetParam().spec;
  Result<PluginSet> r = parse(yaml);
  ASSERT_FALSE(r.isOk());
  EXPECT_EQ(r.status().code(), StatusCode::kBadArgument);
  EXPECT_EQ(r.status().message(), GetParam().message);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ManifestSpecErrors,
    ::testing::Values(
        ErrorCase{"UnknownField", "  url: p.wasm\n  urll: q.wasm\n",
                  "p.yaml:6: spec.urll: unknown field"},
        ErrorCase{"MissingUrl", "  phase: AUTHN\n", "p.yaml:5: spec.url: missing required field"},
        ErrorCase{"EmptyUrl", "  url: \"\"\n", "p.yaml:5: spec.url: must not be empty"},
        ErrorCase{"BadScheme", "  url: ftp://host/p.wasm\n",
                  "p.yaml:5: spec.url: scheme \"ftp\" is not one of file, http, https, oci, "
                  "builtin"},
        ErrorCase{"PriorityNotANumber", "  url: p.wasm\n  priority: high\n",
                  "p.yaml:6: spec.priority: expected an integer, got \"high\""},
        ErrorCase{"PriorityOutOfRange", "  url: p.wasm\n  priority: 3000000000\n",
                  "p.yaml:6: spec.priority: must be between -2147483648 and 2147483647, got "
                  "3000000000"},
        ErrorCase{"BadPhase", "  url: p.wasm\n  phase: authn\n",
                  "p.yaml:6: spec.phase: \"authn\" is not one of UNSPECIFIED_PHASE, AUTHN, AUTHZ, "
                  "STATS"},
        ErrorCase{"BadFailStrategy", "  url: p.wasm\n  failStrategy: FAIL_CLOSED\n",
                  "p.yaml:6: spec.failStrategy: \"FAIL_CLOSED\" is not one of FAIL_CLOSE, "
                  "FAIL_OPEN, FAIL_RELOAD"},
        ErrorCase{"BadType", "  url: p.wasm\n  type: TCP\n",
                  "p.yaml:6: spec.type: \"TCP\" is not one of UNSPECIFIED_PLUGIN_TYPE, HTTP, "
                  "NETWORK"},
        ErrorCase{"BadPullPolicy", "  url: p.wasm\n  imagePullPolicy: Never\n",
                  "p.yaml:6: spec.imagePullPolicy: \"Never\" is not one of UNSPECIFIED_POLICY, "
                  "IfNotPresent, Always"},
        ErrorCase{"BadSha256", "  url: p.wasm\n  sha256: ABC\n",
                  "p.yaml:6: spec.sha256: expected 64 lowercase hex digits, got \"ABC\""},
        ErrorCase{"PluginConfigNotAMapping", "  url: p.wasm\n  pluginConfig: [a]\n",
                  "p.yaml:6: spec.pluginConfig: expected a mapping, got a list"},
        ErrorCase{"LogOnlyNotABoolean", "  url: p.wasm\n  logOnly: sometimes\n",
                  "p.yaml:6: spec.logOnly: expected true or false, got \"sometimes\""},
        ErrorCase{"UnknownVmConfigField", "  url: p.wasm\n  vmConfig: {environment: []}\n",
                  "p.yaml:6: spec.vmConfig.environment: unknown field"},
        ErrorCase{"EnvWithoutName", "  url: p.wasm\n  vmConfig:\n    env:\n    - value: x\n",
                  "p.yaml:8: spec.vmConfig.env[0].name: missing required field"},
        ErrorCase{"EnvBadSource",
                  "  url: p.wasm\n  vmConfig:\n    env:\n    - {name: A, valueFrom: FILE}\n",
                  "p.yaml:8: spec.vmConfig.env[0].valueFrom: \"FILE\" is not one of INLINE, HOST"},
        ErrorCase{
            "EnvHostWithValue",
            "  url: p.wasm\n  vmConfig:\n    env:\n    - name: A\n      valueFrom: HOST\n"
            "      value: x\n",
            "p.yaml:10: spec.vmConfig.env[0].value: may only be set when valueFrom is INLINE"},
        ErrorCase{"EnvRepeated",
                  "  url: p.wasm\n  vmConfig:\n    env:\n    - {name: A, value: x}\n"
                  "    - {name: A, value: y}\n",
                  "p.yaml:9: spec.vmConfig.env[1].name: repeated variable \"A\""},
        ErrorCase{"EnvNotAnIdentifier", "  url: p.wasm\n  vmConfig:\n    env:\n    - {name: A-B}\n",
                  "p.yaml:8: spec.vmConfig.env[0].name: \"A-B\" is not a C identifier"},
        ErrorCase{
            "MatchPortOutOfRange", "  url: p.wasm\n  match:\n  - ports: [{number: 70000}]\n",
            "p.yaml:7: spec.match[0].ports[0].number: must be between 1 and 65535, got 70000"},
        ErrorCase{"MatchBadMode", "  url: p.wasm\n  match:\n  - mode: BOTH\n",
                  "p.yaml:7: spec.match[0].mode: \"BOTH\" is not one of UNDEFINED, CLIENT, SERVER, "
                  "CLIENT_AND_SERVER"},
        ErrorCase{"LimitsOutOfRange", "  url: p.wasm\n  limits: {memory_mb: 0}\n",
                  "p.yaml:6: spec.limits.memory_mb: must be between 1 and 4096, got 0"},
        ErrorCase{"LimitsUnknownField", "  url: p.wasm\n  limits: {cpu_ms: 5}\n",
                  "p.yaml:6: spec.limits.cpu_ms: unknown field"},
        ErrorCase{"UnknownHostcall", "  url: p.wasm\n  allowed_hostcalls: [proxy_log, exec]\n",
                  "p.yaml:6: spec.allowed_hostcalls[1]: unknown hostcall \"exec\""},
        ErrorCase{"NameInSpec", "  name: q\n  url: p.wasm\n", "p.yaml:5: spec.name: unknown field"},
        ErrorCase{"SpecNotAMapping", "  - url: p.wasm\n",
                  "p.yaml:5: spec: expected a mapping, got a list"}),
    [](const ::testing::TestParamInfo<ErrorCase>& info) { return std::string(info.param.name); });

TEST(WasmPluginManifest, DocumentLevelErrors) {
  auto messageOf = [](const std::string& yaml) {
    Result<PluginSet> r = parse(yaml);
    return r.isOk() ? std::string("ok") : r.status().message();
  };
  EXPECT_EQ(messageOf("apiVersion: networking.istio.io/v1alpha3\nkind: WasmPlugin\n"),
            "p.yaml:1: apiVersion: \"networking.istio.io/v1alpha3\" is not one of "
            "extensions.istio.io/v1alpha1, extensions.istio.io/v1beta1");
  EXPECT_EQ(messageOf("apiVersion: extensions.istio.io/v1alpha1\nkind: EnvoyFilter\nspec: {}\n"),
            "p.yaml:2: kind: \"EnvoyFilter\" is not WasmPlugin");
  EXPECT_EQ(messageOf("kind: WasmPlugin\n"), "p.yaml:1: apiVersion: missing required field");
  EXPECT_EQ(messageOf("apiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\n"
                      "metadata: {namespace: x}\nspec: {url: p.wasm}\n"),
            "p.yaml:3: metadata.name: missing required field");
  EXPECT_EQ(messageOf("apiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\n"
                      "metadata: {name: p, nickname: x}\nspec: {url: p.wasm}\n"),
            "p.yaml:3: metadata.nickname: unknown field");
  EXPECT_EQ(messageOf("apiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\n"
                      "metadata: {name: p}\n"),
            "p.yaml:1: spec: missing required field");
  EXPECT_EQ(messageOf("apiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\n"
                      "metadata: {name: p}\nspec: {url: p.wasm}\nextra: 1\n"),
            "p.yaml:5: extra: unknown field");
  EXPECT_EQ(messageOf("apiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\n"
                      "metadata: {name: p}\nspec: {url: a.wasm}\n---\n"
                      "apiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\n"
                      "metadata: {name: p}\nspec: {url: b.wasm}\n"),
            "p.yaml:8: metadata.name: plugin \"p\" is already defined at p.yaml:1");
  EXPECT_EQ(messageOf("- a\n"), "p.yaml:1: expected a mapping, got a list");
  EXPECT_EQ(messageOf("spec: {url: 'a}\n"), "p.yaml:2: invalid YAML: end of map flow not found");
}

TEST(PluginDir, LoadsYamlFilesSortedByName) {
  TempDir dir;
  dir.write("20-b.yml",
            "apiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\n"
            "metadata: {name: b}\nspec: {url: b.wasm}\n");
  dir.write("10-a.yaml",
            "apiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\n"
            "metadata: {name: a}\nspec: {url: a.wasm, selector: {}}\n");
  dir.write("README.md", "not a manifest");
  dir.write(".hidden.yaml", "not: [valid");
  dir.write("30-empty.yaml", "");
  dir.mkdir("40-folder.yaml");
  Result<PluginSet> r = loadPluginDir(dir.path());
  ASSERT_TRUE(r.isOk()) << r.status().toString();
  ASSERT_EQ(r->plugins.size(), 2u);
  EXPECT_EQ(r->plugins[0].name, "a");
  EXPECT_EQ(r->plugins[0].url, "file://" + (dir / "a.wasm"));
  EXPECT_EQ(r->plugins[0].source, dir / "10-a.yaml:1");
  EXPECT_EQ(r->plugins[1].name, "b");
  EXPECT_EQ(r->warnings.size(), 1u);
}

TEST(PluginDir, OneBadFileRefusesTheWholeSet) {
  TempDir dir;
  dir.write("a.yaml",
            "apiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\n"
            "metadata: {name: a}\nspec: {url: a.wasm}\n");
  dir.write("b.yaml",
            "apiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\n"
            "metadata: {name: b}\nspec: {url: b.wasm, priority: 1.5}\n");
  Result<PluginSet> r = loadPluginDir(dir.path());
  ASSERT_FALSE(r.isOk());
  EXPECT_EQ(r.status().message(),
            dir / "b.yaml" + ":4: spec.priority: expected an integer, got \"1.5\"");
}

TEST(PluginDir, NamesAreUniqueAcrossFiles) {
  TempDir dir;
  dir.write("a.yaml",
            "apiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\n"
            "metadata: {name: same}\nspec: {url: a.wasm}\n");
  dir.write("b.yaml",
            "apiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\n"
            "metadata:\n  name: same\nspec: {url: b.wasm}\n");
  Result<PluginSet> r = loadPluginDir(dir.path());
  ASSERT_FALSE(r.isOk());
  EXPECT_EQ(r.status().message(), dir / "b.yaml" +
                                      ":4: metadata.name: plugin \"same\" is already "
                                      "defined at " +
                                      (dir / "a.yaml") + ":1");
}

TEST(PluginDir, MissingFolderIsNotFound) {
  TempDir dir;
  Result<PluginSet> r = loadPluginDir(dir / "absent");
  ASSERT_FALSE(r.isOk());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(r.status().message(),
            dir / "absent" + ": cannot read plugin folder: No such file or directory");
}

PluginConfig plugin(std::string name, PluginPhase phase, int32_t priority) {
  PluginConfig p;
  p.name = std::move(name);
  p.phase = phase;
  p.priority = priority;
  return p;
}

TEST(OrderPlugins, PhaseThenHigherPriorityThenName) {
  std::vector<PluginConfig> ordered = orderPlugins({
      plugin("unspecified", PluginPhase::kUnspecified, 100),
      plugin("stats", PluginPhase::kStats, 0),
      plugin("authz-low", PluginPhase::kAuthz, 1),
      plugin("authz-b", PluginPhase::kAuthz, 10),
      plugin("authz-a", PluginPhase::kAuthz, 10),
      plugin("authn-negative", PluginPhase::kAuthn, -1),
      plugin("authn", PluginPhase::kAuthn, 0),
  });
  std::vector<std::string> names;
  for (const PluginConfig& p : ordered) names.push_back(p.name);
  EXPECT_EQ(names, (std::vector<std::string>{"authn", "authn-negative", "authz-a", "authz-b",
                                             "authz-low", "stats", "unspecified"}));
}

TEST(OrderPlugins, ExtremePrioritiesDoNotOverflow) {
  std::vector<PluginConfig> ordered = orderPlugins({
      plugin("min", PluginPhase::kAuthn, INT32_MIN),
      plugin("max", PluginPhase::kAuthn, INT32_MAX),
  });
  EXPECT_EQ(ordered[0].name, "max");
  EXPECT_EQ(ordered[1].name, "min");
}

}  // namespace
}  // namespace wasmgate::config
