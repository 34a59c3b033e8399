// sdk_probe: a test plugin that exercises the parts of the SDK the examples do not (gRPC
// callouts and streams, shared queues, gauges, histograms, properties, shared-data CAS,
// request bodies and trailers, foreign functions) and logs what it observed, one
// "probe: ..." line per check. tests/sdk/test_probe_plugin.py runs it through run-plugin.
// Building it also compile-checks the SDK's templates and inline functions.
#include <cctype>
#include <string>

#include "wasmgate/plugin.h"

namespace {

using wasmgate::WasmResult;

template <class... Args>
void probe(std::string_view fmt, const Args&... args) {
  wasmgate::logInfo("probe: " + std::string(fmt), args...);
}

class ProbeRoot : public wasmgate::RootContext {
 public:
  using RootContext::RootContext;

  bool onVmStart(size_t) override {
    probe("vm_config={}", vmConfiguration().view());
    return true;
  }

  bool onConfigure(size_t) override {
    auto config = wasmgate::json::parse(configuration().view());
    if (!config || !config->isObject()) return false;
    probe("config.name={}", (*config)["name"].asString("unset"));
    probe("root_id={}", getProperty<std::string>({"plugin_root_id"}).value_or("missing"));
    probe("node.id={}", getProperty<std::string>({"node", "id"}).value_or("missing"));
    probe("missing_property={}", getProperty<std::string>({"no", "such"}).has_value());
    probe("log_level={}", static_cast<uint32_t>(wasmgate::hostLogLevel()));
    checkMetrics();
    checkSharedData();
    checkQueue();
    startCallouts();
    wasmgate::setTickPeriodMilliseconds(10);
    return true;
  }

  void onTick() override { probe("tick"); }

  void onQueueReady(uint32_t token) override {
    wasmgate::Buffer item;
    WasmResult r;
    while ((r = wasmgate::dequeueSharedQueue(token, &item)) == WasmResult::Ok) {
      probe("queue item={}", item.view());
    }
    probe("queue drained={}", wasmgate::toString(r));
  }

 private:
  template <class T>
  static std::optional<T> getProperty(wasmgate::PropertyPath path) {
    return wasmgate::getProperty<T>(path);
  }

  void checkMetrics() {
    wasmgate::Gauge gauge("probe_gauge");
    gauge.set(5);
    gauge.add(-2);
    wasmgate::Counter counter("probe_counter", {{"kind", "test"}});
    counter.increment(2);
    counter.increment();
    wasmgate::Histogram histogram("probe_histogram");
    histogram.record(7);
    histogram.record(3);
    wasmgate::MetricFamily<wasmgate::Gauge> family("probe_family", {"a", "b"});
    family.get({"x", "y"}).set(4);
    family.get({"x", "y"}).add(1);
    family.get({"z"}).set(9);  // missing tag values are empty
    probe("gauge={} counter={}", gauge.value(), counter.value());
  }

  void checkSharedData() {
    probe("shared missing={}", wasmgate::toString(wasmgate::getSharedData("probe_key", nullptr)));
    probe("shared set={}", wasmgate::toString(wasmgate::setSharedData("probe_key", "v1")));
    wasmgate::Buffer value;
    uint32_t cas = 0;
    const WasmResult got = wasmgate::getSharedData("probe_key", &value, &cas);
    probe("shared get={} value={} cas_nonzero={}", wasmgate::toString(got), value.view(), cas != 0);
    probe("shared cas_set={}", wasmgate::toString(wasmgate::setSharedData("probe_key", "v2", cas)));
    probe("shared stale_set={}",
          wasmgate::toString(wasmgate::setSharedData("probe_key", "v3", cas)));
    const WasmResult updated = wasmgate::updateSharedData(
        "probe_key", [](std::optional<std::string_view> old) -> std::optional<std::string> {
          return std::string(old.value_or("none")) + "+";
        });
    wasmgate::getSharedData("probe_key", &value);
    probe("shared update={} value={}", wasmgate::toString(updated), value.view());
  }

  void checkQueue() {
    auto token = wasmgate::registerSharedQueue("probe_queue");
    probe("queue registered={}", token.has_value());
    if (!token) return;
    auto resolved = wasmgate::resolveSharedQueue("", "probe_queue");
    probe("queue resolved_same={}", resolved.has_value() && *resolved == *token);
    wasmgate::enqueueSharedQueue(*token, "one");
    wasmgate::enqueueSharedQueue(*token, "two");
    probe("queue unknown_resolve={}", wasmgate::resolveSharedQueue("", "nope").has_value());
  }

  void startCallouts() {
    WasmResult r =
        grpcCall("grpc_cluster", "probe.Service", "Get", {{"x-md", "1"}}, "request", 1000,
                 [](wasmgate::GrpcCallResponse& response) {
                   probe("grpc call status={} message_nonempty={}",
                         static_cast<int32_t>(response.status), !response.status_message.empty());
                 });
    probe("grpc call dispatched={}", wasmgate::toString(r));
    wasmgate::GrpcStreamHandlers handlers;
    handlers.on_close = [](uint32_t, wasmgate::GrpcStatus status, std::string_view) {
      probe("grpc stream closed status={}", static_cast<int32_t>(status));
    };
    handlers.on_message = [](uint32_t, wasmgate::Buffer&) { probe("grpc stream message"); };
    uint32_t token = 0;
    r = grpcStream("grpc_cluster", "probe.Service", "Watch", {}, std::move(handlers), &token);
    probe("grpc stream dispatched={}", wasmgate::toString(r));
    if (r == WasmResult::Ok) grpcSend(token, "hello", false);
    r = httpCall("root_cluster", {{":method", "GET"}, {":path", "/"}, {":authority", "root"}}, "",
                 100, [](wasmgate::HttpCallResponse& response) {
                   probe("root http call failed={} status={}", response.failed, response.status);
                 });
    probe("root http call dispatched={}", wasmgate::toString(r));
    probe("foreign missing={}",
          wasmgate::toString(wasmgate::callForeignFunction("no_such_function", "")));
  }
};

class ProbeHttp : public wasmgate::HttpContext {
 public:
  using HttpContext::HttpContext;

  wasmgate::FilterHeadersStatus onRequestHeaders(uint32_t headers, bool end_of_stream) override {
    auto pairs = wasmgate::getRequestHeaders();
    probe("request headers={} count_matches={} first={}", headers, pairs.size() == headers,
          pairs.empty() ? std::string_view() : pairs.pairs()[0].first);
    probe("request end_of_stream={}", end_of_stream);
    probe("protocol={}",
          wasmgate::getProperty<std::string>({"request", "protocol"}).value_or("missing"));
    probe("set_property={}", wasmgate::toString(wasmgate::setProperty({"probe_value"}, "xyz")));
    probe("get_property={}",
          wasmgate::getProperty<std::string>({"probe_value"}).value_or("missing"));
    probe("missing header={}", wasmgate::getRequestHeader("x-not-there").has_value());
    int64_t seen = 0;
    wasmgate::updateSharedData(
        "probe_requests", [&](std::optional<std::string_view> old) -> std::optional<std::string> {
          seen = old ? static_cast<int64_t>(old->size()) + 1 : 1;
          return std::string(static_cast<size_t>(seen), '#');
        });
    probe("requests seen={}", seen);
    // A gRPC callout from the stream: run-plugin fails it at once; the callback runs with
    // this stream effective again and resumes the request.
    const WasmResult r = grpcCall(
        "grpc_cluster", "probe.Service", "Check", {}, "", 1000,
        [](wasmgate::GrpcCallResponse& response) {
          wasmgate::addRequestHeader("x-grpc-status",
                                     wasmgate::format("{}", static_cast<int32_t>(response.status)));
          wasmgate::continueRequest();
        });
    if (r != WasmResult::Ok) return wasmgate::FilterHeadersStatus::Continue;
    return wasmgate::FilterHeadersStatus::StopAllIterationAndWatermark;
  }

  wasmgate::FilterDataStatus onRequestBody(size_t size, bool end_of_stream) override {
    probe("request body size={} end_of_stream={}", size, end_of_stream);
    if (!end_of_stream) return wasmgate::FilterDataStatus::StopIterationAndBuffer;
    std::string body = requestBody().toString();
    for (char& c : body) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    probe("set request body={}", wasmgate::toString(setRequestBody(body)));
    return wasmgate::FilterDataStatus::Continue;
  }

  wasmgate::FilterTrailersStatus onRequestTrailers(uint32_t trailers) override {
    auto value = wasmgate::getRequestTrailer("x-trailer");
    probe("request trailers={} x-trailer={}", trailers, value ? value->view() : "missing");
    wasmgate::addRequestTrailer("x-added-trailer", "yes");
    return wasmgate::FilterTrailersStatus::Continue;
  }

  wasmgate::FilterHeadersStatus onResponseHeaders(uint32_t, bool) override {
    wasmgate::setHeaderMapPairs(wasmgate::HeaderMapType::ResponseHeaders,
                                {{":status", "202"}, {"x-probe", "replaced-all"}});
    return wasmgate::FilterHeadersStatus::Continue;
  }

  void onLog() override { probe("on_log"); }
  void onDelete() override { probe("on_delete"); }
};

wasmgate::RegisterPlugin<ProbeRoot, ProbeHttp> registration("sdk_probe");

// The SDK tells wasmgate which stream callbacks to call: exactly those ProbeHttp overrides, and
// that its onDelete must be called rather than queued.
namespace sdk = wasmgate::detail;
static_assert(sdk::streamCallbacksOf<ProbeHttp>() ==
              (sdk::kStreamRequestHeaders | sdk::kStreamRequestBody | sdk::kStreamRequestTrailers |
               sdk::kStreamResponseHeaders | sdk::kStreamLog | sdk::kStreamDelete));

// An override the SDK cannot see (it is private) counts as implemented: it only costs a call.
class PrivateLog : public wasmgate::HttpContext {
  using HttpContext::HttpContext;

 private:
  void onLog() override {}
};
static_assert(sdk::streamCallbacksOf<PrivateLog>() == sdk::kStreamLog);

}  // namespace
