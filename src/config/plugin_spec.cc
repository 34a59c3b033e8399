#include "config/plugin_spec.h"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <filesystem>
#include <set>

#include "config/limits.h"
#include "config/yaml_json.h"

namespace wasmgate::config::detail {
namespace {

using proxy::FailStrategy;
using proxy::PluginConfig;
using proxy::PluginPhase;
using proxy::PluginType;

// Istio's WasmPlugin spec fields, then wasmgate's extensions.
// clang-format off
constexpr std::array<std::string_view, 20> kSpecKeys = {
    "selector", "targetRef", "targetRefs", "url", "sha256", "imagePullPolicy", "imagePullSecret",
    "verificationKey", "pluginConfig", "pluginName", "phase", "priority", "failStrategy",
    "vmConfig", "match", "type", "logOnly", "limits", "allowed_hostcalls", "vm_id"};
constexpr std::array<std::string_view, 21> kInlineKeys = {
    "name", "selector", "targetRef", "targetRefs", "url", "sha256", "imagePullPolicy",
    "imagePullSecret", "verificationKey", "pluginConfig", "pluginName", "phase", "priority",
    "failStrategy", "vmConfig", "match", "type", "logOnly", "limits", "allowed_hostcalls", "vm_id"};
// clang-format on

struct IgnoredKey {
  std::string_view key;
  std::string_view why;
};
constexpr std::array<IgnoredKey, 5> kIgnoredKeys = {{
    {"selector", "Kubernetes only; a plugin applies to every listener of its type"},
    {"targetRef", "Kubernetes only; a plugin applies to every listener of its type"},
    {"targetRefs", "Kubernetes only; a plugin applies to every listener of its type"},
    {"imagePullSecret", "Kubernetes only; registry credentials are not read from the spec"},
    {"verificationKey", "not implemented (Istio does not implement it either)"},
}};

constexpr std::array<EnumName<PluginPhase>, 4> kPhases = {{
    {"UNSPECIFIED_PHASE", PluginPhase::kUnspecified},
    {"AUTHN", PluginPhase::kAuthn},
    {"AUTHZ", PluginPhase::kAuthz},
    {"STATS", PluginPhase::kStats},
}};
enum class Fail { kClose, kOpen, kReload };
constexpr std::array<EnumName<Fail>, 3> kFailStrategies = {{
    {"FAIL_CLOSE", Fail::kClose},
    {"FAIL_OPEN", Fail::kOpen},
    {"FAIL_RELOAD", Fail::kReload},
}};
constexpr std::array<EnumName<PluginType>, 3> kTypes = {{
    {"UNSPECIFIED_PLUGIN_TYPE", PluginType::kHttp},
    {"HTTP", PluginType::kHttp},
    {"NETWORK", PluginType::kNetwork},
}};
constexpr std::array<EnumName<std::string_view>, 3> kPullPolicies = {{
    {"UNSPECIFIED_POLICY", ""},
    {"IfNotPresent", "IfNotPresent"},
    {"Always", "Always"},
}};
enum class Mode { kUndefined, kClient, kServer, kClientAndServer };
constexpr std::array<EnumName<Mode>, 4> kModes = {{
    {"UNDEFINED", Mode::kUndefined},
    {"CLIENT", Mode::kClient},
    {"SERVER", Mode::kServer},
    {"CLIENT_AND_SERVER", Mode::kClientAndServer},
}};
enum class EnvSource { kInline, kHost };
constexpr std::array<EnumName<EnvSource>, 2> kEnvSources = {{
    {"INLINE", EnvSource::kInline},
    {"HOST", EnvSource::kHost},
}};

bool isCIdentifier(std::string_view s) {
  if (s.empty() || (s[0] >= '0' && s[0] <= '9')) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  });
}

bool isSha256Hex(std::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

std::string absoluteFile(std::string_view path, const std::string& baseDir) {
  std::filesystem::path p(path);
  if (p.is_relative()) p = std::filesystem::path(baseDir) / p;
  return "file://" + p.lexically_normal().string();
}

void warnIgnoredKeys(const MapField& spec, Warnings& warnings) {
  for (const IgnoredKey& ignored : kIgnoredKeys) {
    if (const MapField::Entry* e = spec.find(ignored.key)) {
      warnings.add(std::string(ignored.key), e->keyField.location() + ": " + e->keyField.path() +
                                                 ": ignored (" + std::string(ignored.why) + ")");
    }
  }
}

Status readEnvironment(const MapField& spec, PluginConfig& out) {
  std::optional<Field> vmConfig = spec.get("vmConfig");
  if (!vmConfig) return Status::ok();
  Result<MapField> vm = vmConfig->map({"env"});
  if (!vm.isOk()) return vm.status();
  std::optional<Field> envField = vm->get("env");
  if (!envField) return Status::ok();
  Result<std::vector<Field>> env = envField->list();
  if (!env.isOk()) return env.status();
  std::set<std::string, std::less<>> names;
  for (const Field& item : *env) {
    Result<MapField> var = item.map({"name", "value", "valueFrom"});
    if (!var.isOk()) return var.status();
    Result<Field> nameField = var->require("name");
    if (!nameField.isOk()) return nameField.status();
    Result<std::string> name = nameField->string();
    if (!name.isOk()) return name.status();
    if (!isCIdentifier(*name)) return nameField->error("\"" + *name + "\" is not a C identifier");
    if (!names.insert(*name).second) return nameField->error("repeated variable \"" + *name + "\"");
    EnvSource source = EnvSource::kInline;
    WASMGATE_RETURN_IF_ERROR(var->readEnum<EnvSource>("valueFrom", source, kEnvSources));
    std::string value;
    WASMGATE_RETURN_IF_ERROR(var->readString("value", value));
    if (source == EnvSource::kHost) {
      if (var->find("value")) {
        return var->find("value")->keyField.error("may only be set when valueFrom is INLINE");
      }
      // As in Envoy: the proxy's own variable, skipped when the proxy does not have it.
      if (const char* host = std::getenv(name->c_str())) out.environment.emplace_back(*name, host);
      continue;
    }
    out.environment.emplace_back(*name, std::move(value));
  }
  return Status::ok();
}

// Istio's TrafficSelector list: a selector without ports takes every port, so any such selector
// clears the port list; otherwise the union of the listed ports.
Status readMatch(const MapField& spec, PluginConfig& out, Warnings& warnings) {
  std::optional<Field> matchField = spec.get("match");
  if (!matchField) return Status::ok();
  Result<std::vector<Field>> selectors = matchField->list();
  if (!selectors.isOk()) return selectors.status();
  std::set<uint16_t> ports;
  bool everyPort = selectors->empty();
  for (const Field& item : *selectors) {
    Result<MapField> sel = item.map({"mode", "ports"});
    if (!sel.isOk()) return sel.status();
    Mode mode = Mode::kUndefined;
    WASMGATE_RETURN_IF_ERROR(sel->readEnum<Mode>("mode", mode, kModes));
    if (mode == Mode::kServer) {
      warnings.add(
          "match.mode.SERVER",
          item.location() + ": " + item.path() +
              ".mode: SERVER is treated as CLIENT_AND_SERVER (wasmgate has one direction)");
    }
    std::optional<Field> portsField = sel->get("ports");
    if (!portsField) {
      everyPort = true;
      continue;
    }
    Result<std::vector<Field>> portList = portsField->list();
    if (!portList.isOk()) return portList.status();
    if (portList->empty()) everyPort = true;
    for (const Field& p : *portList) {
      Result<MapField> port = p.map({"number"});
      if (!port.isOk()) return port.status();
      Result<Field> number = port->require("number");
      if (!number.isOk()) return number.status();
      Result<int64_t> n = number->integer(1, 65535);
      if (!n.isOk()) return n.status();
      ports.insert(static_cast<uint16_t>(*n));
    }
  }
  if (!everyPort) out.matchPorts.assign(ports.begin(), ports.end());
  return Status::ok();
}

Status readLimits(const MapField& spec, PluginConfig& out) {
  std::optional<Field> limitsField = spec.get("limits");
  if (!limitsField) return Status::ok();
  Result<MapField> limits = limitsField->map({"memory_mb", "cpu_deadline_ms"});
  if (!limits.isOk()) return limits.status();
  uint32_t memoryMb = out.limits.maxMemoryPages / 16;
  WASMGATE_RETURN_IF_ERROR(limits->readInt("memory_mb", memoryMb, 1, kMaxPluginMemoryMb));
  out.limits.maxMemoryPages = memoryMb * 16;  // 64 KiB pages
  int64_t deadlineMs = out.limits.callDeadline.count();
  WASMGATE_RETURN_IF_ERROR(
      limits->readInt("cpu_deadline_ms", deadlineMs, 1, kMaxPluginCpuDeadlineMs));
  out.limits.callDeadline = std::chrono::milliseconds(deadlineMs);
  return Status::ok();
}

Status readAllowedHostcalls(const MapField& spec, PluginConfig& out) {
  std::optional<Field> field = spec.get("allowed_hostcalls");
  if (!field) return Status::ok();
  Result<std::vector<Field>> items = field->list();
  if (!items.isOk()) return items.status();
  std::set<std::string, std::less<>> known;
  for (const runtime::HostFunction& fn : abi::hostcallTable().all()) known.insert(fn.name);
  std::set<std::string, std::less<>> allowed;
  for (const Field& item : *items) {
    Result<std::string> name = item.string();
    if (!name.isOk()) return name.status();
    if (!known.count(*name)) return item.error("unknown hostcall \"" + *name + "\"");
    allowed.insert(std::move(*name));
  }
  out.allowedHostcalls = std::move(allowed);
  return Status::ok();
}

Status readName(const Field& nameField, SpecContext& ctx, PluginConfig& out) {
  Result<std::string> name = nameField.string();
  if (!name.isOk()) return name.status();
  if (!validPluginName(*name)) {
    return nameField.error("\"" + *name +
                           "\" is not a plugin name (1 to 253 of A-Z a-z 0-9 . _ -)");
  }
  WASMGATE_RETURN_IF_ERROR(ctx.names.claim(nameField, *name, out.source));
  out.name = std::move(*name);
  return Status::ok();
}

Status readModule(const MapField& spec, const std::string& baseDir, PluginConfig& out) {
  Result<Field> urlField = spec.require("url");
  if (!urlField.isOk()) return urlField.status();
  Result<std::string> url = resolvePluginUrl(*urlField, baseDir);
  if (!url.isOk()) return url.status();
  out.url = std::move(*url);
  if (std::optional<Field> sha = spec.get("sha256")) {
    Result<std::string> text = sha->string();
    if (!text.isOk()) return text.status();
    if (!text->empty() && !isSha256Hex(*text)) {
      return sha->error("expected 64 lowercase hex digits, got " + sha->describe());
    }
    out.sha256 = std::move(*text);
  }
  std::string_view policy;
  WASMGATE_RETURN_IF_ERROR(
      spec.readEnum<std::string_view>("imagePullPolicy", policy, kPullPolicies));
  out.imagePullPolicy = effectivePullPolicy(out.url, std::string(policy));
  return Status::ok();
}

Status readBehaviour(const MapField& spec, PluginConfig& out) {
  WASMGATE_RETURN_IF_ERROR(spec.readEnum<PluginPhase>("phase", out.phase, kPhases));
  WASMGATE_RETURN_IF_ERROR(spec.readInt("priority", out.priority, INT32_MIN, INT32_MAX));
  Fail fail = Fail::kClose;
  WASMGATE_RETURN_IF_ERROR(spec.readEnum<Fail>("failStrategy", fail, kFailStrategies));
  out.failStrategy = fail == Fail::kOpen     ? FailStrategy::kFailOpen
                     : fail == Fail::kReload ? FailStrategy::kFailReload
                                             : FailStrategy::kFailClose;
  WASMGATE_RETURN_IF_ERROR(spec.readEnum<PluginType>("type", out.type, kTypes));
  WASMGATE_RETURN_IF_ERROR(spec.readString("pluginName", out.rootId));
  WASMGATE_RETURN_IF_ERROR(spec.readString("vm_id", out.vmId));
  WASMGATE_RETURN_IF_ERROR(spec.readBool("logOnly", out.logOnly));
  if (const MapField::Entry* e = spec.find("pluginConfig")) {
    Result<std::string> json = pluginConfigJson(e->value);
    if (!json.isOk()) return json.status();
    out.configuration = std::move(*json);
  }
  return Status::ok();
}

}  // namespace

void Warnings::add(const std::string& kind, std::string message) {
  auto it = index_.find(kind);
  if (it != index_.end()) {
    ++entries_[it->second].more;
    return;
  }
  index_.emplace(kind, entries_.size());
  entries_.push_back({std::move(message), 0});
}

std::vector<std::string> Warnings::lines() const {
  std::vector<std::string> out;
  for (const Entry& e : entries_) {
    out.push_back(e.more == 0 ? e.message
                              : e.message + " (and " + std::to_string(e.more) + " more)");
  }
  return out;
}

bool validPluginName(std::string_view name) {
  return !name.empty() && name.size() <= 253 && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

Result<std::string> resolvePluginUrl(const Field& url, const std::string& baseDir) {
  Result<std::string> text = url.string();
  if (!text.isOk()) return text.status();
  std::string_view u = *text;
  if (u.empty()) return url.error("must not be empty");
  size_t sep = u.find("://");
  if (sep == u.npos) {
    bool looksLikePath = u[0] == '/' || u.rfind("./", 0) == 0 || u.rfind("../", 0) == 0 ||
                         (u.size() > 5 && u.substr(u.size() - 5) == ".wasm");
    return looksLikePath ? absoluteFile(u, baseDir) : "oci://" + std::string(u);
  }
  std::string scheme(u.substr(0, sep));
  std::transform(scheme.begin(), scheme.end(), scheme.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  std::string_view rest = u.substr(sep + 3);
  if (rest.empty()) return url.error("\"" + *text + "\" names no module");
  if (scheme == "file") return absoluteFile(rest, baseDir);
  // builtin://NAME: a module compiled into wasmgate (the built-in example configuration).
  if (scheme == "http" || scheme == "https" || scheme == "oci" || scheme == "builtin") {
    return scheme + "://" + std::string(rest);
  }
  return url.error("scheme \"" + scheme + "\" is not one of file, http, https, oci, builtin");
}

std::string effectivePullPolicy(const std::string& url, const std::string& explicitPolicy) {
  if (!explicitPolicy.empty()) return explicitPolicy;
  constexpr std::string_view kOci = "oci://";
  if (url.rfind(kOci, 0) != 0) return "IfNotPresent";
  std::string_view ref = std::string_view(url).substr(kOci.size());
  if (ref.find('@') != ref.npos) return "IfNotPresent";  // pinned by digest
  size_t slash = ref.rfind('/');
  std::string_view last = slash == ref.npos ? ref : ref.substr(slash + 1);
  size_t colon = last.rfind(':');
  bool latest = colon == last.npos || last.substr(colon + 1) == "latest";
  return latest ? "Always" : "IfNotPresent";
}

Status PluginNames::claim(const Field& nameField, const std::string& name,
                          const std::string& source) {
  auto [it, inserted] = sources_.emplace(name, source);
  if (!inserted) {
    return nameField.error("plugin \"" + name + "\" is already defined at " + it->second);
  }
  return Status::ok();
}

Result<PluginConfig> parsePluginSpec(const Field& spec, const Field* metadataName,
                                     const std::string& source, SpecContext& ctx) {
  bool inlineEntry = metadataName == nullptr;
  Result<MapField> map = inlineEntry ? spec.map(kInlineKeys) : spec.map(kSpecKeys);
  if (!map.isOk()) return map.status();
  PluginConfig out;
  out.source = source.empty() ? spec.location() : source;
  if (inlineEntry) {
    Result<Field> nameField = map->require("name");
    if (!nameField.isOk()) return nameField.status();
    WASMGATE_RETURN_IF_ERROR(readName(*nameField, ctx, out));
  } else {
    WASMGATE_RETURN_IF_ERROR(readName(*metadataName, ctx, out));
  }
  warnIgnoredKeys(*map, ctx.warnings);
  WASMGATE_RETURN_IF_ERROR(readModule(*map, ctx.baseDir, out));
  WASMGATE_RETURN_IF_ERROR(readBehaviour(*map, out));
  WASMGATE_RETURN_IF_ERROR(readEnvironment(*map, out));
  WASMGATE_RETURN_IF_ERROR(readMatch(*map, out, ctx.warnings));
  WASMGATE_RETURN_IF_ERROR(readLimits(*map, out));
  WASMGATE_RETURN_IF_ERROR(readAllowedHostcalls(*map, out));
  return out;
}

}  // namespace wasmgate::config::detail
