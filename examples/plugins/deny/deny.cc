// deny: answers matching requests with a local response instead of forwarding them.
//
// Configuration:
//   {
//     "path_prefixes": ["/admin", "/internal/"],   // deny when :path starts with one
//     "headers": {"x-blocked": "yes", "x-debug": "*"},  // deny on a header value ("*" = any)
//     "status": 403,                               // optional, default 403
//     "body": "denied\n"                           // optional, default "Forbidden\n"
//   }
// The local reply's details say which rule matched: deny.path_prefix or deny.header.
#include <string>
#include <utility>
#include <vector>

#include "wasmgate/plugin.h"

namespace {

namespace json = wasmgate::json;

struct DenyConfig {
  std::vector<std::string> path_prefixes;
  std::vector<std::pair<std::string, std::string>> headers;  // value "*" matches any value
  uint32_t status = 403;
  std::string body = "Forbidden\n";
};

bool parseConfig(std::string_view text, DenyConfig& out) {
  std::string error;
  auto doc = json::parse(text, &error);
  if (!doc || !doc->isObject()) {
    wasmgate::logError("deny: configuration must be a JSON object {}", error);
    return false;
  }
  const json::Value& prefixes = (*doc)["path_prefixes"];
  if (!prefixes.isNull() && !prefixes.isArray()) {
    wasmgate::logError("deny: 'path_prefixes' must be an array of strings");
    return false;
  }
  for (const json::Value& p : prefixes.items()) {
    if (!p.isString() || p.asString().empty()) {
      wasmgate::logError("deny: 'path_prefixes' must hold non-empty strings");
      return false;
    }
    out.path_prefixes.emplace_back(p.asString());
  }
  const json::Value& headers = (*doc)["headers"];
  if (!headers.isNull() && !headers.isObject()) {
    wasmgate::logError("deny: 'headers' must be an object of name to value");
    return false;
  }
  for (const auto& [name, value] : headers.members()) {
    if (!value.isString()) {
      wasmgate::logError("deny: header '{}' needs a string value", name);
      return false;
    }
    out.headers.emplace_back(name, std::string(value.asString()));
  }
  if (const json::Value* status = doc->find("status")) {
    if (!status->isInt() || status->asInt() < 200 || status->asInt() > 599) {
      wasmgate::logError("deny: 'status' must be an integer from 200 to 599");
      return false;
    }
    out.status = static_cast<uint32_t>(status->asInt());
  }
  if (const json::Value* body = doc->find("body")) {
    if (!body->isString()) {
      wasmgate::logError("deny: 'body' must be a string");
      return false;
    }
    out.body = std::string(body->asString());
  }
  if (out.path_prefixes.empty() && out.headers.empty()) {
    wasmgate::logError("deny: configure at least one of 'path_prefixes' or 'headers'");
    return false;
  }
  return true;
}

class DenyRoot : public wasmgate::RootContext {
 public:
  using RootContext::RootContext;

  bool onConfigure(size_t) override {
    DenyConfig config;
    if (!parseConfig(configuration().view(), config)) return false;
    config_ = std::move(config);
    return true;
  }

  const DenyConfig& config() const { return config_; }

 private:
  DenyConfig config_;
};

class DenyHttp : public wasmgate::HttpContext {
 public:
  DenyHttp(uint32_t id, DenyRoot* root) : HttpContext(id, root), config_(root->config()) {}

  wasmgate::FilterHeadersStatus onRequestHeaders(uint32_t, bool) override {
    const char* reason = match();
    if (reason == nullptr) return wasmgate::FilterHeadersStatus::Continue;
    wasmgate::logInfo("deny: {} ({})", reason, config_.status);
    wasmgate::sendLocalResponse(config_.status, config_.body, {{"content-type", "text/plain"}},
                                reason);
    return wasmgate::FilterHeadersStatus::StopAllIterationAndWatermark;
  }

 private:
  // The details string of the first matching rule, or nullptr.
  const char* match() const {
    if (!config_.path_prefixes.empty()) {
      auto path = wasmgate::getRequestHeader(":path");
      const std::string_view p = path ? path->view() : std::string_view();
      for (const std::string& prefix : config_.path_prefixes) {
        if (p.starts_with(prefix)) return "deny.path_prefix";
      }
    }
    for (const auto& [name, want] : config_.headers) {
      auto value = wasmgate::getRequestHeader(name);
      if (value && (want == "*" || value->view() == want)) return "deny.header";
    }
    return nullptr;
  }

  const DenyConfig& config_;
};

wasmgate::RegisterPlugin<DenyRoot, DenyHttp> registration("deny");

}  // namespace
