// Property paths (section 6): plugin identity and request/response attributes derived from the
// stream's headers are answered here; the rest comes from the stream's and the VM's hosts.
#include <cstring>

#include "abi/hostcalls.h"
#include "abi/pairs.h"

namespace wasmgate::abi {
namespace {

std::string encodeInt(int64_t v) {
  std::string out(8, '\0');
  std::memcpy(out.data(), &v, 8);
  return out;
}

// Names lowercased, repeated names joined with ",".
std::string encodeJoinedMap(const Headers& headers) {
  Headers joined;
  for (const auto& [k, v] : headers) {
    std::string* existing = nullptr;
    for (auto& [jk, jv] : joined) {
      if (jk == k) existing = &jv;
    }
    if (existing) {
      existing->append(",").append(v);
    } else {
      joined.emplace_back(k, v);
    }
  }
  return serializePairs(joined);
}

std::optional<std::string> joinedValue(const Headers& headers, std::string_view name) {
  std::optional<std::string> out;
  std::string lower = lowercase(name);
  for (const auto& [k, v] : headers) {
    if (k != lower) continue;
    out = out ? *out + "," + v : v;
  }
  return out;
}

std::optional<std::string> header(const Headers& headers, std::string_view name) {
  const std::string* v = findHeader(headers, name);
  return v ? std::optional(*v) : std::nullopt;
}

std::optional<std::string> requestProperty(const StreamData& d,
                                           std::span<const std::string_view> p) {
  if (p.empty()) return std::nullopt;
  const Headers& h = d.requestHeaders;
  std::string_view name = p[0];
  if (name == "headers") return p.size() > 1 ? joinedValue(h, p[1]) : encodeJoinedMap(h);
  if (p.size() > 1) return std::nullopt;
  if (name == "path") return header(h, ":path");
  if (name == "host") return header(h, ":authority");
  if (name == "scheme") return header(h, ":scheme");
  if (name == "method") return header(h, ":method");
  if (name == "referer") return header(h, "referer");
  if (name == "useragent") return header(h, "user-agent");
  if (name == "id") return header(h, "x-request-id");
  if (name == "url_path" || name == "query") {
    auto path = header(h, ":path");
    if (!path) return std::nullopt;
    size_t q = path->find('?');
    if (name == "url_path") return path->substr(0, q);
    if (q == std::string::npos) return std::string();
    size_t hash = path->find('#', q);
    return path->substr(q + 1, hash == std::string::npos ? std::string::npos : hash - q - 1);
  }
  return std::nullopt;
}

std::optional<std::string> responseProperty(const StreamData& d,
                                            std::span<const std::string_view> p) {
  if (p.empty() || !d.responseHeadersReceived) return std::nullopt;
  std::string_view name = p[0];
  if (name == "headers")
    return p.size() > 1 ? joinedValue(d.responseHeaders, p[1]) : encodeJoinedMap(d.responseHeaders);
  if (name == "trailers")
    return p.size() > 1 ? joinedValue(d.responseTrailers, p[1])
                        : encodeJoinedMap(d.responseTrailers);
  if (p.size() > 1) return std::nullopt;
  if (name == "code") {
    auto status = header(d.responseHeaders, ":status");
    if (!status || status->empty()) return std::nullopt;
    return encodeInt(std::strtoll(status->c_str(), nullptr, 10));
  }
  if (name == "grpc_status") {
    auto status = header(d.responseTrailers, "grpc-status");
    if (!status) status = header(d.responseHeaders, "grpc-status");
    if (!status) return std::nullopt;
    return encodeInt(std::strtoll(status->c_str(), nullptr, 10));
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> resolveProperty(PluginVm& vm, std::string_view rawPath) {
  std::vector<std::string_view> segments;
  size_t start = 0;
  while (start <= rawPath.size()) {
    size_t nul = rawPath.find('\0', start);
    if (nul == std::string_view::npos) nul = rawPath.size();
    segments.push_back(rawPath.substr(start, nul - start));
    start = nul + 1;
  }
  if (!segments.empty() && segments.back().empty()) segments.pop_back();  // trailing NUL
  if (segments.empty()) return std::nullopt;

  const PluginSpec& spec = vm.spec();
  if (segments.size() == 1) {
    if (segments[0] == "plugin_name") return spec.name;
    if (segments[0] == "plugin_root_id") return spec.rootId;
    if (segments[0] == "plugin_vm_id") return spec.vmId;
  }
  PluginVm::Context* context = vm.effectiveContext();
  StreamHost* stream = context ? context->stream : nullptr;
  if (stream) {
    // Built-in attributes first: a plugin's set_property can add keys, never shadow the real
    // request or connection for the plugins after it.
    StreamData& d = stream->data();
    auto rest = std::span(segments).subspan(1);
    if (segments[0] == "request") {
      if (auto v = requestProperty(d, rest)) return v;
    } else if (segments[0] == "response") {
      if (auto v = responseProperty(d, rest)) return v;
    }
    if (auto v = stream->property(segments)) return v;
    std::string key(rawPath);
    while (!key.empty() && key.back() == '\0') key.pop_back();
    if (auto it = d.filterState.find(key); it != d.filterState.end()) return it->second;
  }
  return vm.host().property(segments);
}

}  // namespace wasmgate::abi
