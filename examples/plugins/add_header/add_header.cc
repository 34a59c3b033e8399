// add_header: adds configured headers to every request and response.
//
// Configuration (both members optional, values must be strings):
//   {"request_headers": {"x-added": "yes"}, "response_headers": {"x-served-by": "wasmgate"}}
#include <string>
#include <utility>
#include <vector>

#include "wasmgate/plugin.h"

namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

// Reads one optional member, an object of string values, into `out`.
bool readHeaders(const wasmgate::json::Value& config, std::string_view member, Headers& out) {
  const wasmgate::json::Value* headers = config.find(member);
  if (headers == nullptr) return true;
  if (!headers->isObject()) {
    wasmgate::logError("add_header: '{}' must be an object", member);
    return false;
  }
  for (const auto& [name, value] : headers->members()) {
    if (!value.isString() || name.empty()) {
      wasmgate::logError("add_header: '{}.{}' must be a non-empty name with a string value", member,
                         name);
      return false;
    }
    out.emplace_back(name, std::string(value.asString()));
  }
  return true;
}

class AddHeaderRoot : public wasmgate::RootContext {
 public:
  using RootContext::RootContext;

  bool onConfigure(size_t) override {
    std::string error;
    auto config = wasmgate::json::parse(configuration().view(), &error);
    if (!config || !config->isObject()) {
      wasmgate::logError("add_header: configuration must be a JSON object: {}", error);
      return false;
    }
    Headers request, response;
    if (!readHeaders(*config, "request_headers", request) ||
        !readHeaders(*config, "response_headers", response)) {
      return false;
    }
    request_headers_ = std::move(request);
    response_headers_ = std::move(response);
    return true;
  }

  Headers request_headers_;
  Headers response_headers_;
};

class AddHeaderHttp : public wasmgate::HttpContext {
 public:
  AddHeaderHttp(uint32_t id, AddHeaderRoot* root) : HttpContext(id, root), root_(root) {}

  wasmgate::FilterHeadersStatus onRequestHeaders(uint32_t, bool) override {
    for (const auto& [name, value] : root_->request_headers_) {
      wasmgate::addRequestHeader(name, value);
    }
    return wasmgate::FilterHeadersStatus::Continue;
  }

  wasmgate::FilterHeadersStatus onResponseHeaders(uint32_t, bool) override {
    for (const auto& [name, value] : root_->response_headers_) {
      wasmgate::addResponseHeader(name, value);
    }
    return wasmgate::FilterHeadersStatus::Continue;
  }

 private:
  AddHeaderRoot* root_;
};

wasmgate::RegisterPlugin<AddHeaderRoot, AddHeaderHttp> registration("add_header");

}  // namespace
