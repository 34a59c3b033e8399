// grpc_auth: asks a gRPC authorization service about every request before letting it through.
//
// The request is paused while a unary gRPC call goes to `cluster`:
//   rpc Check(CheckRequest) returns (CheckResponse)
//   message CheckRequest  { string method = 1; string path = 2; string authorization = 3; }
//   message CheckResponse { bool allowed = 1; string reason = 2; }
// Messages are encoded and decoded here by hand (three fields need no protobuf library).
// allowed=true resumes the request; allowed=false, or the status PERMISSION_DENIED or
// UNAUTHENTICATED, gets a 403 with the reason; any other failure (unreachable, deadline,
// UNAVAILABLE, ...) gets `failure_status`.
//
// Configuration:
//   {
//     "cluster": "authz",                              // required
//     "service": "wasmgate.authz.v1.Authorizer",       // optional, this default
//     "method": "Check",                               // optional, this default
//     "timeout_ms": 1000,                              // optional, default 1000
//     "failure_status": 503                            // optional, default 503
//   }
#include <optional>
#include <string>

#include "wasmgate/plugin.h"

namespace {

namespace json = wasmgate::json;

struct GrpcAuthConfig {
  std::string cluster;
  std::string service = "wasmgate.authz.v1.Authorizer";
  std::string method = "Check";
  uint32_t timeout_ms = 1000;
  uint32_t failure_status = 503;
};

void appendVarint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

void appendStringField(std::string& out, uint32_t field, std::string_view value) {
  if (value.empty()) return;
  appendVarint(out, (field << 3) | 2);
  appendVarint(out, value.size());
  out.append(value);
}

bool readVarint(std::string_view in, size_t& pos, uint64_t& out) {
  out = 0;
  for (int shift = 0; shift < 64 && pos < in.size(); shift += 7) {
    auto b = static_cast<uint8_t>(in[pos++]);
    out |= static_cast<uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) return true;
  }
  return false;
}

struct CheckResponse {
  bool allowed = false;
  std::string reason;
};

// Reads fields 1 (bool) and 2 (string); skips any other field; nullopt if malformed.
std::optional<CheckResponse> decodeCheckResponse(std::string_view in) {
  CheckResponse out;
  size_t pos = 0;
  while (pos < in.size()) {
    uint64_t key = 0, value = 0;
    if (!readVarint(in, pos, key)) return std::nullopt;
    switch (key & 7) {
      case 0:
        if (!readVarint(in, pos, value)) return std::nullopt;
        if ((key >> 3) == 1) out.allowed = value != 0;
        break;
      case 2:
        if (!readVarint(in, pos, value) || value > in.size() - pos) return std::nullopt;
        if ((key >> 3) == 2) out.reason = std::string(in.substr(pos, value));
        pos += value;
        break;
      case 1:
        pos += 8;
        break;
      case 5:
        pos += 4;
        break;
      default:
        return std::nullopt;
    }
    if (pos > in.size()) return std::nullopt;
  }
  return out;
}

bool parseConfig(std::string_view text, GrpcAuthConfig& out) {
  std::string error;
  auto doc = json::parse(text, &error);
  if (!doc || !doc->isObject()) {
    wasmgate::logError("grpc_auth: configuration must be a JSON object {}", error);
    return false;
  }
  for (auto [name, target] :
       {std::pair{"cluster", &out.cluster}, std::pair{"service", &out.service},
        std::pair{"method", &out.method}}) {
    const json::Value& v = (*doc)[name];
    if (v.isNull()) continue;
    if (!v.isString() || v.asString().empty()) {
      wasmgate::logError("grpc_auth: '{}' must be a non-empty string", name);
      return false;
    }
    *target = std::string(v.asString());
  }
  for (auto [name, target, lo, hi] :
       {std::tuple{"timeout_ms", &out.timeout_ms, 1, 600000},
        std::tuple{"failure_status", &out.failure_status, 200, 599}}) {
    const json::Value& v = (*doc)[name];
    if (v.isNull()) continue;
    if (!v.isInt() || v.asInt() < lo || v.asInt() > hi) {
      wasmgate::logError("grpc_auth: '{}' must be an integer from {} to {}", name, lo, hi);
      return false;
    }
    *target = static_cast<uint32_t>(v.asInt());
  }
  if (out.cluster.empty()) {
    wasmgate::logError("grpc_auth: 'cluster' is required");
    return false;
  }
  return true;
}

class GrpcAuthRoot : public wasmgate::RootContext {
 public:
  using RootContext::RootContext;

  bool onConfigure(size_t) override {
    GrpcAuthConfig config;
    if (!parseConfig(configuration().view(), config)) return false;
    config_ = std::move(config);
    allowed_ = wasmgate::Counter("grpc_auth_allowed_total");
    denied_ = wasmgate::Counter("grpc_auth_denied_total");
    failed_ = wasmgate::Counter("grpc_auth_failed_total");
    return true;
  }

  const GrpcAuthConfig& config() const { return config_; }
  wasmgate::Counter allowed_, denied_, failed_;

 private:
  GrpcAuthConfig config_;
};

class GrpcAuthHttp : public wasmgate::HttpContext {
 public:
  GrpcAuthHttp(uint32_t id, GrpcAuthRoot* root) : HttpContext(id, root), root_(*root) {}

  wasmgate::FilterHeadersStatus onRequestHeaders(uint32_t, bool) override {
    const GrpcAuthConfig& c = root_.config();
    std::string request;
    auto method = wasmgate::getRequestHeader(":method");
    auto path = wasmgate::getRequestHeader(":path");
    auto authorization = wasmgate::getRequestHeader("authorization");
    appendStringField(request, 1, method ? method->view() : "");
    appendStringField(request, 2, path ? path->view() : "");
    appendStringField(request, 3, authorization ? authorization->view() : "");
    auto result = grpcCall(c.cluster, c.service, c.method, {}, request, c.timeout_ms,
                           [this](wasmgate::GrpcCallResponse& response) { onAnswer(response); });
    if (result != wasmgate::WasmResult::Ok) {
      wasmgate::logError("grpc_auth: cannot call cluster '{}': {}", c.cluster,
                         wasmgate::toString(result));
      fail("call not started");
    }
    return wasmgate::FilterHeadersStatus::StopAllIterationAndWatermark;
  }

 private:
  void onAnswer(wasmgate::GrpcCallResponse& response) {
    if (response.status == wasmgate::GrpcStatus::PermissionDenied ||
        response.status == wasmgate::GrpcStatus::Unauthenticated) {
      deny(response.status_message);
      return;
    }
    if (response.status != wasmgate::GrpcStatus::Ok) {
      fail(response.status_message);
      return;
    }
    auto answer = decodeCheckResponse(response.message.view());
    if (!answer) {
      fail("malformed CheckResponse");
      return;
    }
    if (!answer->allowed) {
      deny(answer->reason);
      return;
    }
    root_.allowed_.increment();
    wasmgate::continueRequest();
  }

  void deny(std::string_view reason) {
    root_.denied_.increment();
    std::string body = "Forbidden: ";
    body.append(reason).push_back('\n');
    wasmgate::sendLocalResponse(403, body, {{"content-type", "text/plain"}}, "grpc_auth.denied");
  }

  void fail(std::string_view why) {
    root_.failed_.increment();
    wasmgate::logWarn("grpc_auth: authorization failed: {}", why);
    wasmgate::sendLocalResponse(root_.config().failure_status,
                                "Authorization service unavailable\n",
                                {{"content-type", "text/plain"}}, "grpc_auth.unavailable");
  }

  GrpcAuthRoot& root_;
};

wasmgate::RegisterPlugin<GrpcAuthRoot, GrpcAuthHttp> registration("grpc_auth");

}  // namespace
