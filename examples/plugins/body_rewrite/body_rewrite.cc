// body_rewrite: buffers each response body and replaces every occurrence of one string with
// another, keeping content-length consistent.
//
// Configuration:
//   {
//     "from": "hello",               // required, non-empty
//     "to": "goodbye",               // required (may be empty)
//     "content_types": ["text/"],    // optional: only rewrite these content-type prefixes
//     "max_body_bytes": 1048576      // optional: larger bodies pass through unchanged
//   }
//
// content-length: the new length is only known once the whole body is in, after the
// response headers were handled, so the plugin removes content-length from the response
// headers of a body it will rewrite (the proxy then frames the body itself), and once the
// body is rewritten it tries to set content-length to the new size, which works on hosts
// that still hold the headers at that point. Compressed bodies (content-encoding other than
// identity) are left alone.
#include <string>
#include <vector>

#include "wasmgate/plugin.h"

namespace {

namespace json = wasmgate::json;

struct RewriteConfig {
  std::string from;
  std::string to;
  std::vector<std::string> content_types;
  int64_t max_body_bytes = 1 << 20;
};

bool parseConfig(std::string_view text, RewriteConfig& out) {
  std::string error;
  auto doc = json::parse(text, &error);
  if (!doc || !doc->isObject()) {
    wasmgate::logError("body_rewrite: configuration must be a JSON object {}", error);
    return false;
  }
  const json::Value& from = (*doc)["from"];
  const json::Value& to = (*doc)["to"];
  if (!from.isString() || from.asString().empty() || !to.isString()) {
    wasmgate::logError("body_rewrite: 'from' (non-empty) and 'to' must be strings");
    return false;
  }
  out.from = std::string(from.asString());
  out.to = std::string(to.asString());
  const json::Value& types = (*doc)["content_types"];
  if (!types.isNull() && !types.isArray()) {
    wasmgate::logError("body_rewrite: 'content_types' must be an array of strings");
    return false;
  }
  for (const json::Value& t : types.items()) {
    if (!t.isString()) {
      wasmgate::logError("body_rewrite: 'content_types' must be an array of strings");
      return false;
    }
    out.content_types.emplace_back(t.asString());
  }
  if (const json::Value* max = doc->find("max_body_bytes")) {
    if (!max->isInt() || max->asInt() < 1) {
      wasmgate::logError("body_rewrite: 'max_body_bytes' must be a positive integer");
      return false;
    }
    out.max_body_bytes = max->asInt();
  }
  return true;
}

// Every occurrence of `from` in `text` replaced by `to`; `count` gets the number replaced.
std::string replaceAll(std::string_view text, std::string_view from, std::string_view to,
                       size_t& count) {
  std::string out;
  out.reserve(text.size());
  count = 0;
  size_t pos = 0;
  for (size_t hit; (hit = text.find(from, pos)) != std::string_view::npos;
       pos = hit + from.size()) {
    out += text.substr(pos, hit - pos);
    out += to;
    ++count;
  }
  out += text.substr(pos);
  return out;
}

class RewriteRoot : public wasmgate::RootContext {
 public:
  using RootContext::RootContext;

  bool onConfigure(size_t) override {
    RewriteConfig config;
    if (!parseConfig(configuration().view(), config)) return false;
    config_ = std::move(config);
    return true;
  }

  const RewriteConfig& config() const { return config_; }

 private:
  RewriteConfig config_;
};

class RewriteHttp : public wasmgate::HttpContext {
 public:
  RewriteHttp(uint32_t id, RewriteRoot* root) : HttpContext(id, root), config_(root->config()) {}

  wasmgate::FilterHeadersStatus onResponseHeaders(uint32_t, bool end_of_stream) override {
    rewrite_ = !end_of_stream && wanted();
    if (rewrite_) wasmgate::removeResponseHeader("content-length");
    return wasmgate::FilterHeadersStatus::Continue;
  }

  wasmgate::FilterDataStatus onResponseBody(size_t body_size, bool end_of_stream) override {
    if (!rewrite_) return wasmgate::FilterDataStatus::Continue;
    if (static_cast<int64_t>(body_size) > config_.max_body_bytes) {
      wasmgate::logWarn("body_rewrite: body over {} bytes, passing it through",
                        config_.max_body_bytes);
      rewrite_ = false;
      return wasmgate::FilterDataStatus::Continue;
    }
    if (!end_of_stream) return wasmgate::FilterDataStatus::StopIterationAndBuffer;
    rewriteBuffered();
    return wasmgate::FilterDataStatus::Continue;
  }

  // With trailers, the last body chunk does not have end_of_stream: the trailers callback
  // is the first point where the whole body is buffered.
  wasmgate::FilterTrailersStatus onResponseTrailers(uint32_t) override {
    if (rewrite_) rewriteBuffered();
    return wasmgate::FilterTrailersStatus::Continue;
  }

 private:
  void rewriteBuffered() {
    rewrite_ = false;
    const wasmgate::Buffer body = responseBody();
    size_t count = 0;
    const std::string rewritten = replaceAll(body.view(), config_.from, config_.to, count);
    if (count != 0) {
      setResponseBody(rewritten);
      wasmgate::logDebug("body_rewrite: replaced {} occurrence(s), {} -> {} bytes", count,
                         body.size(), rewritten.size());
    }
    // Best effort: accepted only by hosts that have not sent the headers yet.
    wasmgate::replaceResponseHeader("content-length", wasmgate::format("{}", rewritten.size()));
  }

  bool wanted() const {
    auto encoding = wasmgate::getResponseHeader("content-encoding");
    if (encoding && !encoding->empty() && encoding->view() != "identity") return false;
    if (config_.content_types.empty()) return true;
    auto type = wasmgate::getResponseHeader("content-type");
    if (!type) return false;
    for (const std::string& prefix : config_.content_types) {
      if (type->view().starts_with(prefix)) return true;
    }
    return false;
  }

  const RewriteConfig& config_;
  bool rewrite_ = false;
};

wasmgate::RegisterPlugin<RewriteRoot, RewriteHttp> registration("body_rewrite");

}  // namespace
