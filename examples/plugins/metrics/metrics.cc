// metrics: counts requests by method and response status, and records their latency.
//
// Metrics (tags encoded into the name Istio-style, see wasmgate/metric_name.h):
//   requests_total            counter, tags method and status, e.g.
//                             "method=.=GET;.;status=.=200;.;requests_total"
//   request_duration_ms       histogram of the time from request headers to the end
//                             of the stream, in milliseconds
//
// Configuration: none, or {"prefix": "myapp_"} to prepend a prefix to both names.
#include <string>

#include "wasmgate/plugin.h"

namespace {

class MetricsRoot : public wasmgate::RootContext {
 public:
  using RootContext::RootContext;

  bool onConfigure(size_t size) override {
    std::string prefix;
    if (size != 0) {
      std::string error;
      auto doc = wasmgate::json::parse(configuration().view(), &error);
      if (!doc || !doc->isObject() || !((*doc)["prefix"].isString() || !doc->has("prefix"))) {
        wasmgate::logError("metrics: configuration must be {{\"prefix\": \"...\"}} {}", error);
        return false;
      }
      prefix = std::string((*doc)["prefix"].asString());
    }
    requests_ =
        wasmgate::MetricFamily<wasmgate::Counter>(prefix + "requests_total", {"method", "status"});
    duration_ = wasmgate::Histogram(prefix + "request_duration_ms");
    return true;
  }

  void record(std::string_view method, std::string_view status, uint64_t duration_ms) {
    requests_.get({method, status}).increment();
    duration_.record(duration_ms);
  }

 private:
  wasmgate::MetricFamily<wasmgate::Counter> requests_;
  wasmgate::Histogram duration_;
};

class MetricsHttp : public wasmgate::HttpContext {
 public:
  MetricsHttp(uint32_t id, MetricsRoot* root) : HttpContext(id, root), root_(root) {}

  wasmgate::FilterHeadersStatus onRequestHeaders(uint32_t, bool) override {
    start_ns_ = wasmgate::currentTimeNanoseconds();
    if (auto method = wasmgate::getRequestHeader(":method")) method_ = method->toString();
    return wasmgate::FilterHeadersStatus::Continue;
  }

  wasmgate::FilterHeadersStatus onResponseHeaders(uint32_t, bool) override {
    if (auto status = wasmgate::getResponseHeader(":status")) status_ = status->toString();
    return wasmgate::FilterHeadersStatus::Continue;
  }

  // The stream is over: record once, whichever of on_log and on_delete comes first.
  void onLog() override { record(); }
  void onDelete() override { record(); }

 private:
  void record() {
    if (recorded_ || start_ns_ == 0) return;
    recorded_ = true;
    const uint64_t now = wasmgate::currentTimeNanoseconds();
    const uint64_t duration_ms = now > start_ns_ ? (now - start_ns_) / 1000000 : 0;
    root_->record(method_, status_, duration_ms);
  }

  MetricsRoot* root_;
  uint64_t start_ns_ = 0;
  std::string method_ = "unknown";
  std::string status_ = "none";  // no response headers seen (e.g. the stream was reset)
  bool recorded_ = false;
};

wasmgate::RegisterPlugin<MetricsRoot, MetricsHttp> registration("metrics");

}  // namespace
