#include "proxy/plugin_chain.h"

#include "abi/pairs.h"
#include "common/log.h"
#include "proxy/worker.h"

namespace wasmgate::proxy {
namespace {

constexpr std::chrono::milliseconds kMaxBackoff{30000};
constexpr std::chrono::milliseconds kDefaultCalloutTimeout{5000};

// Keeps a retired VM alive until the loop is off its stack.
struct RetiredVm : Deletable {
  explicit RetiredVm(std::unique_ptr<abi::PluginVm> v) : vm(std::move(v)) {}
  std::unique_ptr<abi::PluginVm> vm;
};

}  // namespace

// One dispatch_http_call in flight: sends the request on the cluster and buffers the answer.
class WorkerPlugin::Callout final : public UpstreamCallbacks, public Deletable {
 public:
  Callout(WorkerPlugin& owner, uint32_t token, Cluster& cluster,
          const abi::HttpCallRequest& request)
      : owner_(owner),
        token_(token),
        upstream_(cluster, *this,
                  request.timeout.count() > 0 ? request.timeout : kDefaultCalloutTimeout) {
    abi::Headers headers = request.headers;
    bool hasBody = !request.body.empty();
    if (hasBody) abi::replaceHeader(headers, "content-length", std::to_string(request.body.size()));
    bool trailers = !request.trailers.empty();
    upstream_.sendHeaders(headers, !hasBody && !trailers);
    if (hasBody) upstream_.sendData(request.body, !trailers);
    if (trailers) upstream_.sendTrailers(request.trailers);
  }

  uint32_t token() const { return token_; }
  const abi::HttpCallResponse& response() const { return response_; }
  const std::optional<std::string>& error() const { return error_; }

  void onUpstreamHeaders(uint32_t, abi::Headers headers, bool endOfStream) override {
    response_.headers = std::move(headers);
    if (endOfStream) owner_.calloutDone(this);
  }
  void onUpstreamData(std::string_view data, bool endOfStream) override {
    response_.body.append(data);
    if (response_.body.size() > kMaxCalloutResponseBytes) {
      onUpstreamError(502, "callout_response_too_large");
      return;
    }
    if (endOfStream) owner_.calloutDone(this);
  }
  void onUpstreamTrailers(abi::Headers trailers) override {
    response_.trailers = std::move(trailers);
    owner_.calloutDone(this);
  }
  void onUpstreamError(uint32_t, std::string_view details) override {
    if (error_) return;
    error_ = std::string(details);
    owner_.calloutDone(this);
  }

 private:
  static constexpr size_t kMaxCalloutResponseBytes = 8 * 1024 * 1024;
  WorkerPlugin& owner_;
  uint32_t token_;
  UpstreamRequest upstream_;
  abi::HttpCallResponse response_;
  std::optional<std::string> error_;
};

WorkerPlugin::WorkerPlugin(Worker& worker, std::shared_ptr<LoadedPlugin> plugin)
    : worker_(worker),
      plugin_(std::move(plugin)),
      vmIdHold_(plugin_->config.vmId),
      tick_(worker.loop(), [this] { onTick(); }),
      rebuildTimer_(worker.loop(), [this] { rebuild(); }),
      alive_(std::make_shared<std::atomic<bool>>(true)) {}

WorkerPlugin::~WorkerPlugin() {
  *alive_ = false;
  callouts_.clear();
  for (auto& [token, client] : grpcCalls_) client->cancelAll(*this);  // by owner: once is enough
  if (vm_) (void)vm_->shutdown();
}

abi::PluginSpec specOf(const PluginConfig& config, Worker& worker) {
  abi::PluginSpec spec;
  spec.instanceGroup = worker.vmGroup();
  spec.name = config.name;
  spec.rootId = config.rootId;
  spec.vmId = config.vmId;
  spec.pluginConfiguration = config.configuration;
  spec.environment = config.environment;
  spec.allowedHostcalls = config.allowedHostcalls;
  return spec;
}

Status WorkerPlugin::start() {
  lastStart_ = std::chrono::steady_clock::now();
  auto vm = abi::PluginVm::create(plugin_->module, specOf(plugin_->config, worker_), *this);
  if (!vm.isOk()) return vm.status();
  Status started = (*vm)->start();
  if (!started.isOk()) return started;
  vm_ = std::move(vm).value();
  for (size_t cb = 0; cb < callsStreamCallback_.size(); ++cb) {
    callsStreamCallback_[cb] = vm_->callsStreamCallback(static_cast<abi::Callback>(cb));
  }
  ++generation_;
  ++plugin_->stats.vmStarts;
  return Status::ok();
}

abi::PluginVm* WorkerPlugin::vm() {
  return vm_ && !vm_->failed() ? vm_.get() : nullptr;
}

abi::PluginVm* WorkerPlugin::vmForNewStream() {
  if (abi::PluginVm* running = vm()) return running;
  // Only a VM that failed while serving has its rebuild scheduled; a reload stops that.
  if (plugin_->config.failStrategy != FailStrategy::kFailReload || !rebuildTimer_.armed() ||
      std::chrono::steady_clock::now() - lastStart_ < kMinReloadInterval) {
    return nullptr;
  }
  rebuildTimer_.cancel();
  rebuild();
  return vm();
}

void WorkerPlugin::onVmFailure(const Status& failure) {
  if (!vm_) return;  // already down and counted
  ++plugin_->stats.vmFailures;
  lastFailure_ = failure;
  log(abi::LogLevel::kError, "VM failed: " + failure.toString() + "; rebuilding in " +
                                 std::to_string(backoff_.count()) + " ms");
  worker_.loop().deferDelete(std::make_unique<RetiredVm>(std::move(vm_)));
  callouts_.clear();
  for (auto& [token, client] : grpcCalls_) client->cancelAll(*this);  // by owner: once is enough
  grpcCalls_.clear();
  tick_.cancel();
  rebuildTimer_.arm(backoff_);
  backoff_ = std::min(backoff_ * 2, kMaxBackoff);
}

void WorkerPlugin::rebuild() {
  Status started = start();
  if (!started.isOk()) {
    lastFailure_ = started;
    log(abi::LogLevel::kError, "VM rebuild failed: " + started.toString());
    rebuildTimer_.arm(backoff_);
    backoff_ = std::min(backoff_ * 2, kMaxBackoff);
    return;
  }
  ++plugin_->stats.vmRestarts;
  log(abi::LogLevel::kInfo, "VM rebuilt");
  backoff_ = std::chrono::milliseconds(100);
}

std::string WorkerPlugin::state() const {
  if (vm_ && !vm_->failed()) return "running";
  return "failed: " + lastFailure_.toString();
}

void WorkerPlugin::log(abi::LogLevel level, std::string_view message) {
  logLine(static_cast<LogSeverity>(level), "plugin " + plugin_->config.name, message);
}

abi::LogLevel WorkerPlugin::logLevel() const {
  return static_cast<abi::LogLevel>(logThreshold());
}

void WorkerPlugin::setTickPeriod(std::chrono::milliseconds period) {
  tickPeriod_ = period;
  if (period.count() == 0) {
    tick_.cancel();
  } else {
    tick_.arm(period);
  }
}

void WorkerPlugin::onTick() {
  abi::PluginVm* vm = this->vm();
  if (!vm) return;
  Status ticked = vm->onTick();
  if (!ticked.isOk()) {
    onVmFailure(ticked);
    return;
  }
  if (tickPeriod_.count() > 0 && !tick_.armed()) tick_.arm(tickPeriod_);
}

abi::WasmResult WorkerPlugin::httpCall(uint32_t token, const abi::HttpCallRequest& request) {
  Cluster* cluster = worker_.cluster(request.cluster);
  if (!cluster || cluster->config().endpoints.empty()) return abi::WasmResult::kBadArgument;
  callouts_[token] = std::make_unique<Callout>(*this, token, *cluster, request);
  return abi::WasmResult::kOk;
}

void WorkerPlugin::calloutDone(Callout* callout) {
  auto it = callouts_.find(callout->token());
  if (it == callouts_.end() || it->second.get() != callout) return;
  std::unique_ptr<Callout> done = std::move(it->second);
  callouts_.erase(it);
  if (abi::PluginVm* vm = this->vm()) {
    Status delivered = done->error()
                           ? vm->onHttpCallResponse(done->token(), nullptr, *done->error())
                           : vm->onHttpCallResponse(done->token(), &done->response());
    if (!delivered.isOk()) onVmFailure(delivered);
  }
  worker_.loop().deferDelete(std::move(done));  // its upstream exchange is still on the stack
}

abi::WasmResult WorkerPlugin::startGrpc(uint32_t token, const abi::GrpcCallRequest& request,
                                        bool stream) {
  GrpcClient* client = worker_.grpcClient(request.cluster);
  if (!client) return abi::WasmResult::kParseFailure;  // neither a cluster nor a service descriptor
  grpcCalls_[token] = client;
  client->start(token, request, stream, *this);
  return abi::WasmResult::kOk;
}

abi::WasmResult WorkerPlugin::grpcCall(uint32_t token, const abi::GrpcCallRequest& request) {
  return startGrpc(token, request, false);
}

abi::WasmResult WorkerPlugin::grpcStream(uint32_t token, const abi::GrpcCallRequest& request) {
  return startGrpc(token, request, true);
}

abi::WasmResult WorkerPlugin::grpcSend(uint32_t token, std::string_view message, bool endStream) {
  auto it = grpcCalls_.find(token);
  if (it == grpcCalls_.end() || !it->second->send(*this, token, message, endStream))
    return abi::WasmResult::kNotFound;
  return abi::WasmResult::kOk;
}

abi::WasmResult WorkerPlugin::grpcClose(uint32_t token) {
  auto it = grpcCalls_.find(token);
  if (it == grpcCalls_.end() || !it->second->close(*this, token)) return abi::WasmResult::kNotFound;
  return abi::WasmResult::kOk;
}

abi::WasmResult WorkerPlugin::grpcCancel(uint32_t token) {
  auto it = grpcCalls_.find(token);
  if (it == grpcCalls_.end()) return abi::WasmResult::kNotFound;
  it->second->cancel(*this, token);
  grpcCalls_.erase(it);
  return abi::WasmResult::kOk;
}

void WorkerPlugin::deliver(const Status& delivered) {
  if (!delivered.isOk()) onVmFailure(delivered);
}

void WorkerPlugin::onGrpcInitialMetadata(uint32_t token, const abi::Headers& metadata) {
  if (abi::PluginVm* vm = this->vm()) deliver(vm->onGrpcInitialMetadata(token, metadata));
}

void WorkerPlugin::onGrpcMessage(uint32_t token, std::string_view message) {
  if (abi::PluginVm* vm = this->vm()) deliver(vm->onGrpcReceive(token, message));
}

void WorkerPlugin::onGrpcTrailingMetadata(uint32_t token, const abi::Headers& metadata) {
  if (abi::PluginVm* vm = this->vm()) deliver(vm->onGrpcTrailingMetadata(token, metadata));
}

void WorkerPlugin::onGrpcCallDone(uint32_t token) {
  grpcCalls_.erase(token);
  if (abi::PluginVm* vm = this->vm()) vm->onGrpcCallDone(token);
}

void WorkerPlugin::onGrpcClose(uint32_t token, uint32_t status, std::string_view message) {
  grpcCalls_.erase(token);
  if (abi::PluginVm* vm = this->vm()) deliver(vm->onGrpcClose(token, status, message));
}

void WorkerPlugin::postQueueReady(uint32_t token) {
  worker_.loop().post([this, alive = alive_, token] {
    if (!*alive) return;
    abi::PluginVm* vm = this->vm();
    if (!vm) return;
    Status delivered = vm->onQueueReady(token);
    if (!delivered.isOk()) onVmFailure(delivered);
  });
}

std::optional<std::string> WorkerPlugin::property(std::span<const std::string_view> path) {
  if (path.size() == 2 && (path[0] == "node" || path[0] == "xds") && path[1] == "id") {
    return std::string("wasmgate");
  }
  if (path.size() == 3 && path[0] == "xds" && path[1] == "node" && path[2] == "id")
    return std::string("wasmgate");
  return std::nullopt;
}

}  // namespace wasmgate::proxy
