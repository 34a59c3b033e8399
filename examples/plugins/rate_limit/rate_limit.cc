// rate_limit: a token bucket per client, kept in shared data so every VM (worker) with the
// same vm_id shares it, updated with compare-and-swap. Requests over the limit get 429.
//
// Configuration (all optional):
//   {
//     "capacity": 10,                  // bucket size, tokens (default 10)
//     "refill_per_second": 5,          // tokens added per second (default 1; 0 = never)
//     "key_header": "x-client-id"      // client key; without it (or the header) the
//   }                                  // client's IP from the source.address property
// Allowed responses carry x-ratelimit-remaining. Metrics: rate_limit_allowed_total,
// rate_limit_denied_total.
#include <algorithm>
#include <charconv>
#include <optional>
#include <string>
#include <string_view>

#include "wasmgate/plugin.h"

namespace {

namespace json = wasmgate::json;

constexpr int64_t kMilli = 1000;  // the bucket counts thousandths of a token

struct RateLimitConfig {
  int64_t capacity = 10;
  int64_t refill_per_second = 1;
  std::string key_header;
};

// Bucket state as stored in shared data: "<milli_tokens> <last_refill_ns>".
struct Bucket {
  int64_t milli_tokens = 0;
  uint64_t last_refill_ns = 0;

  static std::optional<Bucket> parse(std::string_view text) {
    Bucket b;
    const char* end = text.data() + text.size();
    auto r = std::from_chars(text.data(), end, b.milli_tokens);
    if (r.ec != std::errc() || r.ptr == end || *r.ptr != ' ') return std::nullopt;
    r = std::from_chars(r.ptr + 1, end, b.last_refill_ns);
    if (r.ec != std::errc() || r.ptr != end) return std::nullopt;
    return b;
  }
  std::string serialize() const { return wasmgate::format("{} {}", milli_tokens, last_refill_ns); }
};

bool readCount(const json::Value& doc, std::string_view name, int64_t min, int64_t& out) {
  const json::Value* v = doc.find(name);
  if (v == nullptr) return true;
  if (!v->isInt() || v->asInt() < min || v->asInt() > 1000000000) {
    wasmgate::logError("rate_limit: '{}' must be an integer from {} to 1000000000", name, min);
    return false;
  }
  out = v->asInt();
  return true;
}

class RateLimitRoot : public wasmgate::RootContext {
 public:
  using RootContext::RootContext;

  bool onConfigure(size_t size) override {
    RateLimitConfig config;
    if (size != 0) {
      std::string error;
      auto doc = json::parse(configuration().view(), &error);
      if (!doc || !doc->isObject()) {
        wasmgate::logError("rate_limit: configuration must be a JSON object {}", error);
        return false;
      }
      if (!readCount(*doc, "capacity", 1, config.capacity) ||
          !readCount(*doc, "refill_per_second", 0, config.refill_per_second)) {
        return false;
      }
      const json::Value& key_header = (*doc)["key_header"];
      if (!key_header.isNull() && !key_header.isString()) {
        wasmgate::logError("rate_limit: 'key_header' must be a string");
        return false;
      }
      config.key_header = std::string(key_header.asString());
    }
    config_ = std::move(config);
    allowed_ = wasmgate::Counter("rate_limit_allowed_total");
    denied_ = wasmgate::Counter("rate_limit_denied_total");
    return true;
  }

  // Takes one token from `key`'s bucket; returns the tokens left, or nullopt if empty.
  std::optional<int64_t> take(std::string_view key) {
    const uint64_t now = wasmgate::currentTimeNanoseconds();
    bool granted = false;
    int64_t left = 0;
    const auto result = wasmgate::updateSharedData(
        wasmgate::format("rate_limit:{}", key),
        [&](std::optional<std::string_view> current) -> std::optional<std::string> {
          Bucket b{config_.capacity * kMilli, now};
          if (current) b = Bucket::parse(*current).value_or(b);
          refill(b, now);
          granted = b.milli_tokens >= kMilli;
          if (granted) b.milli_tokens -= kMilli;
          left = b.milli_tokens / kMilli;
          return b.serialize();
        });
    if (result != wasmgate::WasmResult::Ok) {
      // Shared data unavailable or too contended: let the request through rather than
      // failing closed on an internal error.
      wasmgate::logWarn("rate_limit: shared data update failed: {}", wasmgate::toString(result));
      return config_.capacity;
    }
    (granted ? allowed_ : denied_).increment();
    if (!granted) return std::nullopt;
    return left;
  }

  const RateLimitConfig& config() const { return config_; }

 private:
  void refill(Bucket& b, uint64_t now) const {
    if (now > b.last_refill_ns) {
      const uint64_t elapsed_ms = (now - b.last_refill_ns) / 1000000;
      const int64_t added = static_cast<int64_t>(elapsed_ms) * config_.refill_per_second;
      b.milli_tokens = std::min(config_.capacity * kMilli, b.milli_tokens + added);
      // Keep the sub-millisecond remainder for the next refill.
      b.last_refill_ns = b.last_refill_ns + elapsed_ms * 1000000;
    }
  }

  RateLimitConfig config_;
  wasmgate::Counter allowed_;
  wasmgate::Counter denied_;
};

class RateLimitHttp : public wasmgate::HttpContext {
 public:
  RateLimitHttp(uint32_t id, RateLimitRoot* root) : HttpContext(id, root), root_(root) {}

  wasmgate::FilterHeadersStatus onRequestHeaders(uint32_t, bool) override {
    const std::string key = clientKey();
    remaining_ = root_->take(key);
    if (remaining_) return wasmgate::FilterHeadersStatus::Continue;
    wasmgate::logInfo("rate_limit: client '{}' is over its limit", key);
    wasmgate::sendLocalResponse(429, "Too Many Requests\n",
                                {{"content-type", "text/plain"}, {"retry-after", "1"}},
                                "rate_limit.over_limit");
    return wasmgate::FilterHeadersStatus::StopAllIterationAndWatermark;
  }

  wasmgate::FilterHeadersStatus onResponseHeaders(uint32_t, bool) override {
    if (remaining_) {
      wasmgate::replaceResponseHeader("x-ratelimit-remaining", wasmgate::format("{}", *remaining_));
    }
    return wasmgate::FilterHeadersStatus::Continue;
  }

 private:
  std::string clientKey() const {
    const std::string& header = root_->config().key_header;
    if (!header.empty()) {
      if (auto value = wasmgate::getRequestHeader(header); value && !value->empty()) {
        return value->toString();
      }
    }
    // source.address is "ip:port"; the port changes per connection, so drop it.
    auto address = wasmgate::getProperty<std::string>({"source", "address"});
    if (!address) return "unknown";
    const size_t colon = address->rfind(':');
    if (colon != std::string::npos && address->find(']') == std::string::npos &&
        address->find(':') == colon) {
      address->resize(colon);  // IPv4 "1.2.3.4:5678"
    } else if (address->starts_with("[") && colon != std::string::npos) {
      address->resize(colon);  // IPv6 "[::1]:5678"
    }
    return *address;
  }

  RateLimitRoot* root_;
  std::optional<int64_t> remaining_;
};

wasmgate::RegisterPlugin<RateLimitRoot, RateLimitHttp> registration("rate_limit");

}  // namespace
