// ext_auth: asks an authorization service about every request before letting it through.
//
// The request is paused while an HTTP callout goes to `cluster`. A 2xx answer resumes the
// request (copying the headers named in `allowed_upstream_headers` from the answer onto
// it); any other answer gets a 403; a failed callout (unreachable, reset, timeout) gets
// `failure_status`.
//
// Configuration:
//   {
//     "cluster": "auth",                       // required: upstream cluster of the service
//     "path": "/check",                        // optional, default "/check"
//     "authority": "auth",                     // optional, default: the cluster name
//     "timeout_ms": 1000,                      // optional, default 1000
//     "forward_headers": ["authorization"],    // request headers copied to the callout
//     "allowed_upstream_headers": ["x-user"],  // answer headers copied onto the request
//     "failure_status": 503                    // optional, default 503
//   }
// The callout also carries x-original-method and x-original-path. Local replies have the
// details ext_auth.denied, ext_auth.unavailable.
#include <string>
#include <vector>

#include "wasmgate/plugin.h"

namespace {

namespace json = wasmgate::json;

struct ExtAuthConfig {
  std::string cluster;
  std::string path = "/check";
  std::string authority;
  uint32_t timeout_ms = 1000;
  std::vector<std::string> forward_headers;
  std::vector<std::string> allowed_upstream_headers;
  uint32_t failure_status = 503;
};

bool readStrings(const json::Value& doc, std::string_view name, std::vector<std::string>& out) {
  const json::Value& list = doc[name];
  if (list.isNull()) return true;
  if (!list.isArray()) {
    wasmgate::logError("ext_auth: '{}' must be an array of header names", name);
    return false;
  }
  for (const json::Value& item : list.items()) {
    if (!item.isString() || item.asString().empty()) {
      wasmgate::logError("ext_auth: '{}' must hold non-empty strings", name);
      return false;
    }
    out.emplace_back(item.asString());
  }
  return true;
}

bool readString(const json::Value& doc, std::string_view name, std::string& out) {
  const json::Value& v = doc[name];
  if (v.isNull()) return true;
  if (!v.isString() || v.asString().empty()) {
    wasmgate::logError("ext_auth: '{}' must be a non-empty string", name);
    return false;
  }
  out = std::string(v.asString());
  return true;
}

bool readInt(const json::Value& doc, std::string_view name, int64_t min, int64_t max,
             uint32_t& out) {
  const json::Value& v = doc[name];
  if (v.isNull()) return true;
  if (!v.isInt() || v.asInt() < min || v.asInt() > max) {
    wasmgate::logError("ext_auth: '{}' must be an integer from {} to {}", name, min, max);
    return false;
  }
  out = static_cast<uint32_t>(v.asInt());
  return true;
}

bool parseConfig(std::string_view text, ExtAuthConfig& out) {
  std::string error;
  auto doc = json::parse(text, &error);
  if (!doc || !doc->isObject()) {
    wasmgate::logError("ext_auth: configuration must be a JSON object {}", error);
    return false;
  }
  if (!readString(*doc, "cluster", out.cluster) || !readString(*doc, "path", out.path) ||
      !readString(*doc, "authority", out.authority) ||
      !readInt(*doc, "timeout_ms", 1, 600000, out.timeout_ms) ||
      !readInt(*doc, "failure_status", 200, 599, out.failure_status) ||
      !readStrings(*doc, "forward_headers", out.forward_headers) ||
      !readStrings(*doc, "allowed_upstream_headers", out.allowed_upstream_headers)) {
    return false;
  }
  if (out.cluster.empty()) {
    wasmgate::logError("ext_auth: 'cluster' is required");
    return false;
  }
  if (out.authority.empty()) out.authority = out.cluster;
  return true;
}

class ExtAuthRoot : public wasmgate::RootContext {
 public:
  using RootContext::RootContext;

  bool onConfigure(size_t) override {
    ExtAuthConfig config;
    if (!parseConfig(configuration().view(), config)) return false;
    config_ = std::move(config);
    return true;
  }

  const ExtAuthConfig& config() const { return config_; }

 private:
  ExtAuthConfig config_;
};

class ExtAuthHttp : public wasmgate::HttpContext {
 public:
  ExtAuthHttp(uint32_t id, ExtAuthRoot* root) : HttpContext(id, root), config_(root->config()) {}

  wasmgate::FilterHeadersStatus onRequestHeaders(uint32_t, bool) override {
    auto method = wasmgate::getRequestHeader(":method");
    auto path = wasmgate::getRequestHeader(":path");
    // Values are copied: the Buffers they come from die at the end of this function,
    // after httpCall has serialized them.
    std::vector<wasmgate::Buffer> keep;
    wasmgate::HeaderViews headers = {{":method", "GET"},
                                     {":path", config_.path},
                                     {":authority", config_.authority},
                                     {"x-original-method", method ? method->view() : ""},
                                     {"x-original-path", path ? path->view() : ""}};
    for (const std::string& name : config_.forward_headers) {
      if (auto value = wasmgate::getRequestHeader(name)) {
        headers.emplace_back(name, value->view());
        keep.push_back(std::move(*value));
      }
    }
    const auto result =
        httpCall(config_.cluster, headers, "", config_.timeout_ms,
                 [this](wasmgate::HttpCallResponse& response) { onAuthResponse(response); });
    if (result != wasmgate::WasmResult::Ok) {
      wasmgate::logError("ext_auth: cannot call cluster '{}': {}", config_.cluster,
                         wasmgate::toString(result));
      fail();
    }
    // Paused until the answer arrives (or stopped for good by the local reply).
    return wasmgate::FilterHeadersStatus::StopAllIterationAndWatermark;
  }

 private:
  // Runs on the root context's proxy_on_http_call_response, with this stream made the
  // effective context by the SDK.
  void onAuthResponse(wasmgate::HttpCallResponse& response) {
    if (response.failed) {
      wasmgate::logWarn("ext_auth: authorization service '{}' did not answer", config_.cluster);
      fail();
      return;
    }
    if (response.status >= 200 && response.status < 300) {
      for (const std::string& name : config_.allowed_upstream_headers) {
        if (auto value = response.header(name)) wasmgate::replaceRequestHeader(name, *value);
      }
      wasmgate::continueRequest();
      return;
    }
    wasmgate::logInfo("ext_auth: denied with authorization status {}", response.status);
    wasmgate::sendLocalResponse(403, "Forbidden\n", {{"content-type", "text/plain"}},
                                "ext_auth.denied");
  }

  void fail() {
    wasmgate::sendLocalResponse(config_.failure_status, "Authorization service unavailable\n",
                                {{"content-type", "text/plain"}}, "ext_auth.unavailable");
  }

  const ExtAuthConfig& config_;
};

wasmgate::RegisterPlugin<ExtAuthRoot, ExtAuthHttp> registration("ext_auth");

}  // namespace
