#include "cli/plugin_runner.h"

#include <functional>

#include "abi/pairs.h"
#include "runtime/v8/v8_engine.h"

namespace wasmgate::cli {
namespace {

using abi::Headers;
using abi::WasmResult;

class RunnerHost final : public abi::PluginHost {
 public:
  RunnerHost(const RunnerOptions& options, RunReport& report)
      : options_(options), report_(report) {}

  void log(abi::LogLevel level, std::string_view message) override {
    report_.logs.push_back({level, std::string(message)});
  }
  abi::LogLevel logLevel() const override { return options_.logLevel; }
  abi::MetricStore& metrics() override { return metrics_; }
  void setTickPeriod(std::chrono::milliseconds period) override { tickPeriod_ = period; }
  WasmResult httpCall(uint32_t token, const abi::HttpCallRequest& request) override {
    report_.httpCalls.push_back({request});
    pending_.push_back([this, token](abi::PluginVm& vm) {
      return options_.httpCallResponse
                 ? vm.onHttpCallResponse(token, &*options_.httpCallResponse)
                 : vm.onHttpCallResponse(token, nullptr,
                                         "upstream connect error: no cluster reachable");
    });
    return WasmResult::kOk;
  }
  // gRPC needs a real server; offline, every call ends at once as UNAVAILABLE (14).
  WasmResult grpcCall(uint32_t token, const abi::GrpcCallRequest&) override {
    return failGrpc(token);
  }
  WasmResult grpcStream(uint32_t token, const abi::GrpcCallRequest&) override {
    return failGrpc(token);
  }
  WasmResult grpcSend(uint32_t, std::string_view, bool) override { return WasmResult::kOk; }
  WasmResult grpcClose(uint32_t) override { return WasmResult::kOk; }
  WasmResult grpcCancel(uint32_t) override { return WasmResult::kOk; }
  void postQueueReady(uint32_t token) override {
    pending_.push_back([token](abi::PluginVm& vm) { return vm.onQueueReady(token); });
  }
  std::optional<std::string> property(std::span<const std::string_view> path) override {
    if (path.size() == 2 && (path[0] == "node" || path[0] == "xds") && path[1] == "id")
      return "run-plugin";
    return std::nullopt;
  }

  bool tickArmed() const { return tickPeriod_.count() > 0; }
  // Delivers callout answers and queue notifications until none is left.
  Status pump(abi::PluginVm& vm) {
    while (!pending_.empty()) {
      auto event = std::move(pending_.front());
      pending_.pop_front();
      WASMGATE_RETURN_IF_ERROR(event(vm));
    }
    return Status::ok();
  }

 private:
  WasmResult failGrpc(uint32_t token) {
    pending_.push_back([token](abi::PluginVm& vm) {
      return vm.onGrpcClose(token, 14, "run-plugin has no gRPC upstream");
    });
    return WasmResult::kOk;
  }

  const RunnerOptions& options_;
  RunReport& report_;
  abi::MetricStore metrics_;
  std::chrono::milliseconds tickPeriod_{0};
  std::deque<std::function<Status(abi::PluginVm&)>> pending_;
};

class RunnerStream final : public abi::StreamHost {
 public:
  abi::StreamData& data() override { return data_; }
  void continueStream(abi::StreamType type) override { resumed_[static_cast<size_t>(type)] = true; }
  void closeStream(abi::StreamType) override { closed_ = true; }
  void sendLocalResponse(abi::LocalResponse response) override {
    if (!localResponse_) localResponse_ = std::move(response);
  }
  std::optional<std::string> property(std::span<const std::string_view> path) override {
    if (path.size() == 2 && path[0] == "request" && path[1] == "protocol")
      return std::string("HTTP/1.1");
    if (path.size() == 2 && path[0] == "source" && path[1] == "address")
      return std::string("127.0.0.1:40000");
    if (path.size() == 2 && path[0] == "destination" && path[1] == "address")
      return std::string("127.0.0.1:8080");
    return std::nullopt;
  }

  abi::StreamData data_;
  bool resumed_[4] = {};
  bool closed_ = false;
  std::optional<abi::LocalResponse> localResponse_;
};

// Runs one request through the plugin, Envoy-style, and fills the report's per-request fields.
class RequestDriver {
 public:
  RequestDriver(abi::PluginVm& vm, RunnerHost& host, const RunnerOptions& options,
                RunReport& report)
      : vm_(vm), host_(host), options_(options), report_(report) {}

  Status run() {
    auto context = vm_.createStream(stream_);
    if (!context.isOk()) {
      trapped(context.status());
      return Status::ok();
    }
    context_ = *context;
    bool completed = requestPath() && responsePath(false);
    if (!completed && stream_.localResponse_ && !report_.trap && !report_.paused) {
      completed = responsePath(true);
    }
    // A trapped plugin fails its request as the proxy's default FAIL_CLOSE strategy would.
    uint32_t status = report_.trap             ? 503u
                      : stream_.localResponse_ ? stream_.localResponse_->status
                                               : options_.responseStatus;
    report_.statuses.push_back(status);
    report_.localResponse = stream_.localResponse_;
    report_.streamClosed = stream_.closed_;
    if (!report_.trap) {
      Status ended = vm_.endStream(context_);
      if (!ended.isOk()) trapped(ended);
    }
    report_.last = stream_.data_;
    return Status::ok();
  }

 private:
  enum class Outcome { kContinue, kStop };

  void trapped(const Status& status) { report_.trap = status.message(); }

  // Runs a callback; answers callouts; decides whether the stream goes on.
  // `trailersFollow`: a body callback's stop only buffers, since the trailers end the body (Envoy).
  template <typename F>
  Outcome step(const char* name, abi::StreamType direction, F&& callback,
               bool trailersFollow = false) {
    stream_.resumed_[static_cast<size_t>(direction)] = false;
    bool hadLocalResponse = stream_.localResponse_.has_value();
    auto result = callback();
    Status failure = result.isOk() ? host_.pump(vm_) : result.status();
    if (!failure.isOk()) {
      trapped(failure);
      return Outcome::kStop;
    }
    if (stream_.closed_ || (stream_.localResponse_ && !hadLocalResponse)) return Outcome::kStop;
    bool stopped = isStop(*result) && !trailersFollow;
    if (stopped && !stream_.resumed_[static_cast<size_t>(direction)]) {
      report_.paused = name;
      return Outcome::kStop;
    }
    return Outcome::kContinue;
  }

  static bool isStop(abi::HeadersStatus s) {
    return s == abi::HeadersStatus::kStopAllAndBuffer ||
           s == abi::HeadersStatus::kStopAllAndWatermark;
  }
  static bool isStop(abi::DataStatus s) { return s != abi::DataStatus::kContinue; }
  static bool isStop(abi::FilterStatus s) { return s == abi::FilterStatus::kStop; }

  bool requestPath() {
    abi::StreamData& d = stream_.data_;
    d.requestHeaders = {{":method", options_.method},
                        {":path", options_.path},
                        {":authority", options_.authority},
                        {":scheme", options_.scheme}};
    for (const auto& [k, v] : options_.requestHeaders) abi::addHeader(d.requestHeaders, k, v);
    bool hasBody = options_.requestBody.has_value();
    bool hasTrailers = !options_.requestTrailers.empty();
    auto req = abi::StreamType::kHttpRequest;
    if (step("on_request_headers", req, [&] {
          return vm_.onRequestHeaders(context_, static_cast<uint32_t>(d.requestHeaders.size()),
                                      !hasBody && !hasTrailers);
        }) == Outcome::kStop) {
      return false;
    }
    if (hasBody) {
      d.requestBody = *options_.requestBody;
      if (step(
              "on_request_body", req,
              [&] {
                return vm_.onRequestBody(context_, static_cast<uint32_t>(d.requestBody.size()),
                                         !hasTrailers);
              },
              hasTrailers) == Outcome::kStop) {
        return false;
      }
    }
    if (hasTrailers) {
      d.requestTrailers = options_.requestTrailers;
      if (step("on_request_trailers", req, [&] {
            return vm_.onRequestTrailers(context_, static_cast<uint32_t>(d.requestTrailers.size()));
          }) == Outcome::kStop) {
        return false;
      }
    }
    return true;
  }

  bool responsePath(bool local) {
    abi::StreamData& d = stream_.data_;
    const abi::LocalResponse* lr = local ? &*stream_.localResponse_ : nullptr;
    uint32_t status = lr ? lr->status : options_.responseStatus;
    d.responseHeaders = {{":status", std::to_string(status)}};
    for (const auto& [k, v] : lr ? lr->headers : options_.responseHeaders)
      abi::addHeader(d.responseHeaders, k, v);
    std::optional<std::string> body = lr ? std::optional(lr->body) : options_.responseBody;
    if (body && lr)
      abi::replaceHeader(d.responseHeaders, "content-length", std::to_string(body->size()));
    if (lr && body && body->empty()) body.reset();
    d.responseTrailers = lr ? Headers{} : options_.responseTrailers;
    d.responseHeadersReceived = true;
    bool hasBody = body.has_value();
    bool hasTrailers = !d.responseTrailers.empty();
    auto resp = abi::StreamType::kHttpResponse;
    auto proceed = [](Outcome o) { return o == Outcome::kContinue; };
    if (!proceed(step("on_response_headers", resp, [&] {
          return vm_.onResponseHeaders(context_, static_cast<uint32_t>(d.responseHeaders.size()),
                                       !hasBody && !hasTrailers);
        }))) {
      return false;
    }
    if (hasBody) {
      d.responseBody = *body;
      if (!proceed(step(
              "on_response_body", resp,
              [&] {
                return vm_.onResponseBody(context_, static_cast<uint32_t>(d.responseBody.size()),
                                          !hasTrailers);
              },
              hasTrailers))) {
        return false;
      }
    }
    if (hasTrailers && !proceed(step("on_response_trailers", resp, [&] {
          return vm_.onResponseTrailers(context_, static_cast<uint32_t>(d.responseTrailers.size()));
        }))) {
      return false;
    }
    return true;
  }

  abi::PluginVm& vm_;
  RunnerHost& host_;
  const RunnerOptions& options_;
  RunReport& report_;
  RunnerStream stream_;
  uint32_t context_ = 0;
};

}  // namespace

Result<RunReport> runPlugin(std::span<const uint8_t> bytes, const RunnerOptions& options) {
  std::unique_ptr<runtime::WasmEngine> engine = runtime::createV8Engine();
  auto module = abi::PluginModule::load(*engine, bytes, abi::VmLimits{});
  if (!module.isOk()) return module.status();
  RunReport report;
  report.abiVersion = std::string(abi::abiVersionName((*module)->abiVersion()));
  RunnerHost host(options, report);
  auto vm = abi::PluginVm::create(*module, options.spec, host);
  if (!vm.isOk()) return vm.status();
  Status started = (*vm)->start();
  if (started.isOk()) started = host.pump(**vm);
  if (!started.isOk()) {
    if (started.code() == StatusCode::kBadArgument) return started;  // refused its configuration
    report.trap = started.message();
    return report;
  }
  for (uint32_t i = 0; i < options.ticks && host.tickArmed() && !report.trap; ++i) {
    Status ticked = (*vm)->onTick();
    if (ticked.isOk()) ticked = host.pump(**vm);
    if (!ticked.isOk()) report.trap = ticked.message();
  }
  for (uint32_t i = 0; i < options.requests && !report.trap; ++i) {
    report.paused.reset();
    RequestDriver driver(**vm, host, options, report);
    WASMGATE_RETURN_IF_ERROR(driver.run());
  }
  if (!report.trap) (void)(*vm)->shutdown();
  report.metrics = host.metrics().snapshot();
  return report;
}

}  // namespace wasmgate::cli
