#include "abi/plugin_vm.h"

#include <utility>

#include "abi/shared_state.h"

namespace wasmgate::abi {
namespace {

using runtime::FuncType;
using runtime::ValType;
constexpr ValType I32 = ValType::kI32;

constexpr std::string_view kCallbackNames[] = {"malloc",
                                               "proxy_on_memory_allocate",
                                               "_initialize",
                                               "_start",
                                               "main",
                                               "__main_void",
                                               "proxy_on_context_create",
                                               "proxy_on_vm_start",
                                               "proxy_validate_configuration",
                                               "proxy_on_configure",
                                               "proxy_on_tick",
                                               "proxy_on_queue_ready",
                                               "proxy_on_foreign_function",
                                               "proxy_on_done",
                                               "proxy_on_log",
                                               "proxy_on_delete",
                                               "proxy_on_new_connection",
                                               "proxy_on_downstream_data",
                                               "proxy_on_upstream_data",
                                               "proxy_on_downstream_connection_close",
                                               "proxy_on_upstream_connection_close",
                                               "proxy_on_request_headers",
                                               "proxy_on_request_body",
                                               "proxy_on_request_trailers",
                                               "proxy_on_request_metadata",
                                               "proxy_on_response_headers",
                                               "proxy_on_response_body",
                                               "proxy_on_response_trailers",
                                               "proxy_on_response_metadata",
                                               "proxy_on_http_call_response",
                                               "proxy_on_grpc_receive_initial_metadata",
                                               "proxy_on_grpc_receive",
                                               "proxy_on_grpc_receive_trailing_metadata",
                                               "proxy_on_grpc_close"};
static_assert(std::size(kCallbackNames) == static_cast<size_t>(Callback::kCount));

FuncType fn(size_t params, bool result) {
  return FuncType{std::vector<ValType>(params, I32),
                  result ? std::vector<ValType>{I32} : std::vector<ValType>{}};
}

// The callback's signature for the module's ABI version (section 4).
FuncType callbackSignature(Callback cb, AbiVersion version) {
  switch (cb) {
    case Callback::kMalloc:
    case Callback::kProxyOnMemoryAllocate:
      return fn(1, true);
    case Callback::kInitialize:
    case Callback::kStart:
      return fn(0, false);
    case Callback::kMain:
      return fn(2, true);
    case Callback::kMainVoid:
      return fn(0, true);
    case Callback::kOnContextCreate:
      return fn(2, false);
    case Callback::kOnVmStart:
    case Callback::kValidateConfiguration:
    case Callback::kOnConfigure:
      return fn(2, true);
    case Callback::kOnTick:
      return fn(1, false);
    case Callback::kOnQueueReady:
      return fn(2, false);
    case Callback::kOnForeignFunction:
      return fn(3, false);
    case Callback::kOnDone:
      return fn(1, true);
    case Callback::kOnLog:
    case Callback::kOnDelete:
      return fn(1, false);
    case Callback::kOnNewConnection:
      return fn(1, true);
    case Callback::kOnDownstreamData:
    case Callback::kOnUpstreamData:
      return fn(3, true);
    case Callback::kOnDownstreamConnectionClose:
    case Callback::kOnUpstreamConnectionClose:
      return fn(2, false);
    case Callback::kOnRequestHeaders:
    case Callback::kOnResponseHeaders:
      return fn(version == AbiVersion::k0_1_0 ? 2 : 3, true);
    case Callback::kOnRequestBody:
    case Callback::kOnResponseBody:
      return fn(3, true);
    case Callback::kOnRequestTrailers:
    case Callback::kOnResponseTrailers:
    case Callback::kOnRequestMetadata:
    case Callback::kOnResponseMetadata:
      return fn(2, true);
    case Callback::kOnHttpCallResponse:
      return fn(5, false);
    case Callback::kOnGrpcReceiveInitialMetadata:
    case Callback::kOnGrpcReceive:
    case Callback::kOnGrpcReceiveTrailingMetadata:
    case Callback::kOnGrpcClose:
      return fn(3, false);
    case Callback::kCount:
      break;
  }
  return {};
}

bool isEntryPoint(Callback cb) {
  return cb == Callback::kInitialize || cb == Callback::kStart || cb == Callback::kMain ||
         cb == Callback::kMainVoid;
}

std::optional<AbiVersion> detectAbiVersion(const runtime::ModuleInfo& info) {
  for (const auto& e : info.exports) {
    if (e.kind != runtime::ExternKind::kFunction) continue;
    if (e.name == "proxy_abi_version_0_1_0") return AbiVersion::k0_1_0;
    if (e.name == "proxy_abi_version_0_2_0") return AbiVersion::k0_2_0;
    if (e.name == "proxy_abi_version_0_2_1") return AbiVersion::k0_2_1;
  }
  return std::nullopt;
}

HeadersStatus toHeadersStatus(uint64_t v) {
  switch (v) {
    case 0:
      return HeadersStatus::kContinue;
    case 2:
      return HeadersStatus::kContinueAndEndStream;
    case 3:
      return HeadersStatus::kStopAllAndBuffer;
    default:
      return HeadersStatus::kStopAllAndWatermark;  // 1 (StopIteration) converts to 4
  }
}

DataStatus toDataStatus(uint64_t v) {
  switch (v) {
    case 0:
      return DataStatus::kContinue;
    case 1:
      return DataStatus::kStopAndBuffer;
    case 2:
      return DataStatus::kStopAndWatermark;
    default:
      return DataStatus::kStopNoBuffer;
  }
}

FilterStatus toFilterStatus(uint64_t v) {
  return v == 0 ? FilterStatus::kContinue : FilterStatus::kStop;
}

}  // namespace

std::string_view callbackName(Callback cb) {
  return cb < Callback::kCount ? kCallbackNames[static_cast<size_t>(cb)] : "none";
}

std::string_view abiVersionName(AbiVersion version) {
  switch (version) {
    case AbiVersion::k0_1_0:
      return "0.1.0";
    case AbiVersion::k0_2_0:
      return "0.2.0";
    case AbiVersion::k0_2_1:
      return "0.2.1";
  }
  return "unknown";
}

std::string_view logLevelName(LogLevel level) {
  static constexpr std::string_view kNames[] = {"trace", "debug",    "info", "warn",
                                                "error", "critical", "off"};
  auto i = static_cast<size_t>(level);
  return i < std::size(kNames) ? kNames[i] : "unknown";
}

Result<std::shared_ptr<const PluginModule>> PluginModule::load(runtime::WasmEngine& engine,
                                                               std::span<const uint8_t> bytes,
                                                               const VmLimits& limits) {
  auto compiled = engine.compile(bytes, runtime::CompileOptions{limits.maxMemoryPages});
  if (!compiled.isOk()) return compiled.status();
  const runtime::ModuleInfo& info = (*compiled)->info();
  std::optional<AbiVersion> version = detectAbiVersion(info);
  if (!version) {
    return errorStatus(StatusCode::kBadArgument,
                       "missing or unknown ABI version: the module exports no "
                       "proxy_abi_version_0_1_0, _0_2_0 or _0_2_1 marker");
  }
  std::shared_ptr<PluginModule> module(new PluginModule(engine));
  module->compiled_ = std::move(compiled).value();
  module->abiVersion_ = *version;
  module->limits_ = limits;
  for (size_t i = 0; i < module->types_.size(); ++i) {
    auto cb = static_cast<Callback>(i);
    module->types_[i] = callbackSignature(cb, *version);
    const FuncType* actual = info.exportedFunction(callbackName(cb));
    if (actual && !(*actual == module->types_[i]) && !isEntryPoint(cb)) {
      return errorStatus(StatusCode::kLinkError, "export " + std::string(callbackName(cb)) +
                                                     " has type " + actual->toString() + ", ABI " +
                                                     std::string(abiVersionName(*version)) +
                                                     " needs " + module->types_[i].toString());
    }
  }
  if (!info.exportedFunction("malloc") && !info.exportedFunction("proxy_on_memory_allocate")) {
    return errorStatus(StatusCode::kLinkError,
                       "the module exports neither malloc nor proxy_on_memory_allocate");
  }
  if (!info.memory) {
    return errorStatus(StatusCode::kLinkError, "the module does not define its own linear memory");
  }
  return std::shared_ptr<const PluginModule>(std::move(module));
}

PluginVm::PluginVm(std::shared_ptr<const PluginModule> module, PluginSpec spec, PluginHost& host)
    : module_(std::move(module)), spec_(std::move(spec)), vmIdHold_(spec_.vmId), host_(host) {
  callForStreams_.fill(true);
}

PluginVm::~PluginVm() {
  sharedQueues().unregisterOwner(this);
}

Result<std::unique_ptr<PluginVm>> PluginVm::create(std::shared_ptr<const PluginModule> module,
                                                   PluginSpec spec, PluginHost& host) {
  runtime::InstanceOptions options{module->limits().callDeadline, spec.instanceGroup};
  std::unique_ptr<PluginVm> vm(new PluginVm(module, std::move(spec), host));
  auto instance = module->engine().instantiate(module->compiled(), hostcallTable(), options);
  if (!instance.isOk()) return instance.status();
  vm->instance_ = std::move(instance).value();
  vm->instance_->setEmbedderData(vm.get());
  for (size_t i = 0; i < vm->exports_.size(); ++i) {
    auto cb = static_cast<Callback>(i);
    vm->exports_[i] = vm->instance_->function(callbackName(cb), module->callbackType(cb));
  }
  if (vm->exports_[static_cast<size_t>(Callback::kMalloc)]) {
    vm->exports_[static_cast<size_t>(Callback::kProxyOnMemoryAllocate)].reset();
  }
  return vm;
}

Status PluginVm::fail(Status status) {
  if (failure_.isOk()) failure_ = std::move(status);
  deferred_.clear();
  return failure_;
}

Status PluginVm::callInFrame(runtime::FunctionHandle handle, std::span<const uint64_t> args,
                             uint32_t context, Frame& frame, uint64_t* result, uint32_t callbacks) {
  Frame* savedFrame = std::exchange(frame_, &frame);
  uint32_t savedContext = std::exchange(effectiveContextId_, context);
  ++depth_;
  Status status = instance_->call(handle, args, result, callbacks);
  --depth_;
  effectiveContextId_ = savedContext;
  frame_ = savedFrame;
  return status;
}

Result<uint64_t> PluginVm::invoke(Callback cb, uint32_t context,
                                  std::initializer_list<uint64_t> args, uint64_t fallback,
                                  Frame frame) {
  lastLocalResponseSent_ = false;
  if (failed()) return failure_;
  const auto& handle = exports_[static_cast<size_t>(cb)];
  if (!handle) return fallback;
  frame.callback = cb;
  uint64_t result = 0;
  Status status =
      callInFrame(*handle, std::span(args.begin(), args.size()), context, frame, &result);
  if (!status.isOk()) {
    return fail(
        errorStatus(status.code(), std::string(callbackName(cb)) + ": " + status.message()));
  }
  // The embedder may run further callbacks while it handles deferred actions; what this one
  // decided is restored after them.
  if (depth_ == 0) runDeferred();
  lastLocalResponseSent_ = frame.localResponseSent;
  if (failed()) return failure_;
  return result;
}

Result<uint64_t> PluginVm::callExport(std::string_view name, const runtime::FuncType& type,
                                      std::span<const uint64_t> args, uint32_t context,
                                      Frame frame) {
  if (failed()) return failure_;
  auto handle = instance_->function(name, type);
  if (!handle)
    return errorStatus(StatusCode::kNotFound,
                       "no export " + std::string(name) + " of type " + type.toString());
  uint64_t result = 0;
  Status status = callInFrame(*handle, args, context, frame, &result);
  if (!status.isOk())
    return fail(errorStatus(status.code(), std::string(name) + ": " + status.message()));
  if (depth_ == 0) runDeferred();
  return result;
}

Status PluginVm::runEntryPoints() {
  auto has = [this](Callback cb) { return exports_[static_cast<size_t>(cb)].has_value(); };
  if (has(Callback::kInitialize)) {
    WASMGATE_RETURN_IF_ERROR(invoke(Callback::kInitialize, 0, {}, 0).status());
    if (has(Callback::kMain)) return invoke(Callback::kMain, 0, {0, 0}, 0).status();
    if (has(Callback::kMainVoid)) return invoke(Callback::kMainVoid, 0, {}, 0).status();
    return Status::ok();
  }
  if (!has(Callback::kStart)) return Status::ok();
  Result<uint64_t> started = invoke(Callback::kStart, 0, {}, 0);
  if (!started.isOk() && exitCode_ == 0u) {
    // A WASI command's _start ends in proc_exit(0); that is not a failure of the plugin.
    failure_ = Status();
    exitCode_.reset();
    return Status::ok();
  }
  return started.status();
}

Result<std::optional<uint32_t>> PluginVm::callSdkExport(std::string_view name) {
  static const runtime::FuncType kType{{}, {runtime::ValType::kI32}};
  if (!instance_->function(name, kType)) return std::optional<uint32_t>();
  Result<uint64_t> value = callExport(name, kType, {}, 0, Frame());
  if (!value.isOk()) return value.status();
  return std::optional(static_cast<uint32_t>(*value));
}

Status PluginVm::readSdkStreamCallbacks() {
  Result<std::optional<uint32_t>> mask = callSdkExport(kSdkStreamCallbacksExport);
  if (!mask.isOk()) return mask.status();
  if (!*mask) return Status::ok();
  const std::pair<Callback, StreamCallbackBit> bits[] = {
      {Callback::kOnRequestHeaders, kStreamRequestHeaders},
      {Callback::kOnRequestBody, kStreamRequestBody},
      {Callback::kOnRequestTrailers, kStreamRequestTrailers},
      {Callback::kOnResponseHeaders, kStreamResponseHeaders},
      {Callback::kOnResponseBody, kStreamResponseBody},
      {Callback::kOnResponseTrailers, kStreamResponseTrailers},
      {Callback::kOnDone, kStreamDone},
      {Callback::kOnLog, kStreamLog},
      {Callback::kOnNewConnection, kStreamNewConnection},
      {Callback::kOnDownstreamData, kStreamDownstreamData},
      {Callback::kOnUpstreamData, kStreamUpstreamData},
      {Callback::kOnDownstreamConnectionClose, kStreamDownstreamClose},
      {Callback::kOnUpstreamConnectionClose, kStreamUpstreamClose},
  };
  for (auto [cb, bit] : bits) callForStreams_[static_cast<size_t>(cb)] = (**mask & bit) != 0;
  queueStreamDeletes_ = (**mask & kStreamDelete) == 0;
  return Status::ok();
}

Status PluginVm::readSdkContextQueue() {
  // More than this is no faster, and a larger claim is more likely a corrupt one.
  constexpr uint32_t kMaxCapacity = 4096;
  Result<std::optional<uint32_t>> address = callSdkExport(kSdkContextQueueExport);
  if (!address.isOk()) return address.status();
  if (!*address) return Status::ok();
  const uint32_t base = **address;
  std::optional<uint32_t> capacity = instance_->readU32(base + 4);
  // The whole queue must lie in memory; memory only grows, so it stays there. Every later write
  // is bounds-checked all the same.
  const uint64_t end = uint64_t{base} + 8 + uint64_t{capacity.value_or(0)} * 8;
  if (base == 0 || !capacity || *capacity == 0 || *capacity > kMaxCapacity ||
      end > instance_->memory().size()) {
    return Status::ok();  // no usable queue: creations and deletions are calls
  }
  contextQueue_ = base;
  contextQueueCapacity_ = *capacity;
  return Status::ok();
}

bool PluginVm::queueContextChange(uint32_t context, uint32_t parent) {
  if (contextQueue_ == 0 || depth_ != 0 || failed()) return false;
  std::optional<uint32_t> count = instance_->readU32(contextQueue_);
  if (!count || *count >= contextQueueCapacity_) return false;
  const uint32_t entry = contextQueue_ + 8 + *count * 8;
  return instance_->writeU32(entry, context) && instance_->writeU32(entry + 4, parent) &&
         instance_->writeU32(contextQueue_, *count + 1);
}

Status PluginVm::readSdkHeaderBatch() {
  constexpr uint32_t kMaxCapacity = 4096;
  constexpr uint32_t kEntryBytes = 20;
  static const runtime::FuncType kRunType{{}, {}};
  std::optional<runtime::FunctionHandle> run =
      instance_->function(kSdkRunHeaderBatchExport, kRunType);
  if (!run || abiVersion() == AbiVersion::k0_1_0) return Status::ok();
  Result<std::optional<uint32_t>> address = callSdkExport(kSdkHeaderBatchExport);
  if (!address.isOk()) return address.status();
  if (!*address) return Status::ok();
  const uint32_t base = **address;
  std::optional<uint32_t> capacity = instance_->readU32(base + 4);
  // As with the context queue: all of the list in memory, checked once, and every access again.
  const uint64_t end = uint64_t{base} + 16 + uint64_t{capacity.value_or(0)} * kEntryBytes;
  if (base == 0 || !capacity || *capacity == 0 || *capacity > kMaxCapacity ||
      end > instance_->memory().size()) {
    return Status::ok();  // no usable list: header callbacks are calls of their own
  }
  headerBatch_ = base;
  headerBatchCapacity_ = *capacity;
  runHeaderBatch_ = run;
  return Status::ok();
}

Status PluginVm::runHeaderBatch(std::span<const HeaderCall> calls, std::span<HeadersStatus> results,
                                size_t* completed, size_t* reached) {
  size_t done = 0, got = 0;
  auto report = [&] {
    if (completed) *completed = done;
    if (reached) *reached = got;
  };
  report();
  if (headerBatch_ == 0 || depth_ != 0 || results.size() < calls.size()) {
    return errorStatus(StatusCode::kBadArgument, "header batch: not available here");
  }
  for (size_t start = 0; start < calls.size(); start += headerBatchCapacity_) {
    const size_t n = std::min<size_t>(headerBatchCapacity_, calls.size() - start);
    size_t chunkDone = 0, chunkReached = 0;
    Status status = runHeaderBatchChunk(calls.subspan(start, n), results.subspan(start, n),
                                        chunkDone, chunkReached);
    done += chunkDone;
    got += chunkReached;
    report();
    if (!status.isOk()) return status;
  }
  return Status::ok();
}

Status PluginVm::runHeaderBatchChunk(std::span<const HeaderCall> calls,
                                     std::span<HeadersStatus> results, size_t& completed,
                                     size_t& reached) {
  completed = 0;
  reached = 0;
  constexpr uint32_t kEntryBytes = 20;
  constexpr uint32_t kNoEntry = UINT32_MAX;
  if (failed()) return failure_;
  uint8_t entries[64 * kEntryBytes];
  auto put = [](uint8_t* at, uint32_t value) {
    for (int i = 0; i < 4; ++i) at[i] = static_cast<uint8_t>(value >> (8 * i));  // little-endian
  };
  batchFrames_.assign(calls.size(), Frame());
  // Written in pieces of 64 entries from the stack: one bounds-checked copy each.
  for (size_t first = 0; first < calls.size(); first += 64) {
    const size_t n = std::min<size_t>(64, calls.size() - first);
    for (size_t i = 0; i < n; ++i) {
      const HeaderCall& call = calls[first + i];
      Context* c = findContext(call.context);
      if (!c || c->isRoot()) {
        return errorStatus(StatusCode::kBadArgument,
                           "no stream context " + std::to_string(call.context));
      }
      uint8_t* entry = entries + i * kEntryBytes;
      put(entry, call.response ? kHeaderBatchResponse : kHeaderBatchRequest);
      put(entry + 4, call.context);
      put(entry + 8, call.headers);
      put(entry + 12, call.endOfStream ? 1 : 0);
      put(entry + 16, 0);  // an entry the SDK does not run answers Continue
      batchFrames_[first + i].callback =
          call.response ? Callback::kOnResponseHeaders : Callback::kOnRequestHeaders;
    }
    const uint32_t at = headerBatch_ + 16 + static_cast<uint32_t>(first) * kEntryBytes;
    if (!instance_->write(at, std::span<const uint8_t>(entries, n * kEntryBytes))) {
      return fail(
          errorStatus(StatusCode::kInvalidMemoryAccess, "header batch: list outside memory"));
    }
  }
  if (!instance_->writeU32(headerBatch_, static_cast<uint32_t>(calls.size())) ||
      !instance_->writeU32(headerBatch_ + 8, kNoEntry)) {
    return fail(errorStatus(StatusCode::kInvalidMemoryAccess, "header batch: list outside memory"));
  }
  lastLocalResponseSent_ = false;
  batchCalls_ = calls;
  batchEntry_ = 0;
  Status status = callInFrame(*runHeaderBatch_, {}, calls[0].context, batchFrames_[0], nullptr,
                              static_cast<uint32_t>(calls.size()));
  batchCalls_ = {};
  auto readResults = [&](size_t count) {
    for (size_t i = 0; i < count; ++i) {
      std::optional<uint32_t> result =
          instance_->readU32(headerBatch_ + 16 + static_cast<uint32_t>(i) * kEntryBytes + 16);
      if (!result) return false;
      results[i] = batchFrames_[i].localResponseSent ? HeadersStatus::kStopAllAndWatermark
                                                     : toHeadersStatus(*result);
    }
    return true;
  };
  if (!status.isOk()) {
    // The entries before the one the guest was running when it failed had returned, but what
    // they asked for (a local response, a resume) dies with the VM: only a leading run of them
    // that answered Continue keeps its answer.
    std::optional<uint32_t> current = instance_->readU32(headerBatch_ + 8);
    const size_t ran = current && *current < calls.size() ? *current : 0;
    reached = current && *current < calls.size() ? ran + 1 : calls.size();
    if (readResults(ran)) {
      while (completed < ran && (results[completed] == HeadersStatus::kContinue ||
                                 results[completed] == HeadersStatus::kContinueAndEndStream)) {
        ++completed;
      }
    }
    return fail(errorStatus(status.code(),
                            std::string(kSdkRunHeaderBatchExport) + ": " + status.message()));
  }
  runDeferred();
  if (failed()) return failure_;
  if (!readResults(calls.size())) {
    return fail(errorStatus(StatusCode::kInvalidMemoryAccess, "header batch: list outside memory"));
  }
  completed = reached = calls.size();
  return Status::ok();
}

void PluginVm::followHeaderBatch() {
  if (depth_ != 1) return;  // a call the batch's callback made has a frame of its own
  std::optional<uint32_t> current = instance_->readU32(headerBatch_ + 8);
  if (!current || *current >= batchCalls_.size() || *current == batchEntry_) return;
  batchEntry_ = *current;
  effectiveContextId_ = batchCalls_[*current].context;
  frame_ = &batchFrames_[*current];
}

Status PluginVm::start() {
  inStartup_ = true;
  Status entry = runEntryPoints();
  inStartup_ = false;
  WASMGATE_RETURN_IF_ERROR(entry);
  WASMGATE_RETURN_IF_ERROR(readSdkStreamCallbacks());
  WASMGATE_RETURN_IF_ERROR(readSdkContextQueue());
  WASMGATE_RETURN_IF_ERROR(readSdkHeaderBatch());
  rootContextId_ = nextContextId_++;
  addContext(Context{rootContextId_, 0, nullptr});
  WASMGATE_RETURN_IF_ERROR(
      invoke(Callback::kOnContextCreate, rootContextId_, {rootContextId_, 0}, 0).status());
  Result<uint64_t> started = invoke(Callback::kOnVmStart, rootContextId_,
                                    {rootContextId_, spec_.vmConfiguration.size()}, 1);
  if (!started.isOk()) return started.status();
  if (*started == 0) {
    return fail(errorStatus(StatusCode::kBadArgument,
                            "plugin failed to start (proxy_on_vm_start returned false)"));
  }
  Frame configuring;
  configuring.configuration = spec_.pluginConfiguration;
  Result<uint64_t> configured =
      invoke(Callback::kOnConfigure, rootContextId_,
             {rootContextId_, spec_.pluginConfiguration.size()}, 1, std::move(configuring));
  if (!configured.isOk()) return configured.status();
  if (*configured == 0) {
    return fail(
        errorStatus(StatusCode::kBadArgument,
                    "plugin rejected its configuration (proxy_on_configure returned false)"));
  }
  return Status::ok();
}

Status PluginVm::validateConfiguration(std::string_view configuration) {
  Frame validating;
  validating.configuration = configuration;
  Result<uint64_t> valid = invoke(Callback::kValidateConfiguration, rootContextId_,
                                  {rootContextId_, configuration.size()}, 1, std::move(validating));
  if (!valid.isOk()) return valid.status();
  if (*valid == 0) {
    return errorStatus(
        StatusCode::kBadArgument,
        "plugin rejected the configuration (proxy_validate_configuration returned false)");
  }
  return Status::ok();
}

Status PluginVm::shutdown() {
  if (rootContextId_ == 0 || !findContext(rootContextId_)) return Status::ok();
  Result<uint64_t> done = invoke(Callback::kOnDone, rootContextId_, {rootContextId_}, 1);
  if (!done.isOk()) return done.status();
  if (*done == 0) {
    rootAwaitingDone_ = true;  // the plugin promised to call proxy_done
    return Status::ok();
  }
  return deleteContext(rootContextId_);
}

WasmResult PluginVm::proxyDone() {
  if (!rootAwaitingDone_) return WasmResult::kNotFound;
  rootAwaitingDone_ = false;
  rootDeletePending_ = true;  // proxy_on_delete runs after the current callback returns
  return WasmResult::kOk;
}

Status PluginVm::deleteContext(uint32_t id) {
  Status status = invoke(Callback::kOnDelete, id, {id}, 0).status();
  eraseContext(id);
  return status;
}

void PluginVm::addContext(Context context) {
  if (spareContextNode_.empty()) {
    contexts_.emplace(context.id, context);
    return;
  }
  spareContextNode_.key() = context.id;
  spareContextNode_.mapped() = context;
  contexts_.insert(std::move(spareContextNode_));  // leaves the handle empty
}

void PluginVm::eraseContext(uint32_t id) {
  if (lastFound_ != nullptr && lastFound_->id == id) lastFound_ = nullptr;
  // The node is kept for the next stream: a context per request then costs no allocation.
  if (auto node = contexts_.extract(id); !node.empty() && spareContextNode_.empty()) {
    spareContextNode_ = std::move(node);
  }
}

uint64_t PluginVm::liveStreams() const {
  return contexts_.size() - (contexts_.count(rootContextId_) ? 1 : 0);
}

PluginVm::Context* PluginVm::findContext(uint32_t id) {
  // A stream's callbacks and their hostcalls ask for the same context in a row.
  if (lastFound_ != nullptr && lastFound_->id == id) return lastFound_;
  auto it = contexts_.find(id);
  if (it == contexts_.end()) return nullptr;
  lastFound_ = &it->second;
  return lastFound_;
}

PluginVm::Context* PluginVm::effectiveContext() {
  if (!batchCalls_.empty()) followHeaderBatch();
  return findContext(effectiveContextId_);
}

WasmResult PluginVm::setEffectiveContext(uint32_t id) {
  if (!batchCalls_.empty()) followHeaderBatch();  // so that the next hostcall keeps `id`
  if (id == 0 || !findContext(id)) return WasmResult::kBadArgument;
  effectiveContextId_ = id;
  return WasmResult::kOk;
}

uint32_t PluginVm::nextGrpcToken(bool stream) {
  uint32_t& counter = stream ? nextGrpcStreamToken_ : nextGrpcCallToken_;
  uint32_t token = counter;
  counter += 2;
  return token;
}

WasmResult PluginVm::returnBytes(std::string_view bytes, uint32_t dataSlot, uint32_t sizeSlot) {
  if (bytes.empty()) {
    return instance_->writeU32(dataSlot, 0) && instance_->writeU32(sizeSlot, 0)
               ? WasmResult::kOk
               : WasmResult::kInvalidMemoryAccess;
  }
  if (bytes.size() > UINT32_MAX) return WasmResult::kInvalidMemoryAccess;
  Callback allocator = exports_[static_cast<size_t>(Callback::kMalloc)]
                           ? Callback::kMalloc
                           : Callback::kProxyOnMemoryAllocate;
  uint64_t size = bytes.size();
  uint64_t ptr = 0;
  Status status =
      instance_->call(*exports_[static_cast<size_t>(allocator)], std::span(&size, 1), &ptr);
  if (!status.isOk()) {
    // The guest trapped inside its allocator: the VM has failed, and the hostcall's adapter
    // turns that into a trap of the calling guest too.
    (void)fail(errorStatus(status.code(), "allocator: " + status.message()));
    return WasmResult::kInvalidMemoryAccess;
  }
  if (ptr == 0 || !instance_->write(static_cast<uint32_t>(ptr), bytes)) {
    return WasmResult::kInvalidMemoryAccess;
  }
  if (!instance_->writeU32(dataSlot, static_cast<uint32_t>(ptr)) ||
      !instance_->writeU32(sizeSlot, static_cast<uint32_t>(bytes.size()))) {
    return WasmResult::kInvalidMemoryAccess;
  }
  return WasmResult::kOk;
}

void PluginVm::deferContinue(uint32_t context, StreamType type) {
  deferred_.push_back({Deferred::kContinue, context, type, {}});
}

void PluginVm::deferClose(uint32_t context, StreamType type) {
  deferred_.push_back({Deferred::kClose, context, type, {}});
}

void PluginVm::deferLocalResponse(uint32_t context, LocalResponse response) {
  frame().localResponseSent = true;
  deferred_.push_back(
      {Deferred::kLocalResponse, context, StreamType::kHttpRequest, std::move(response)});
}

void PluginVm::runDeferred() {
  while (!deferred_.empty() || rootDeletePending_) {
    if (rootDeletePending_) {
      rootDeletePending_ = false;
      (void)deleteContext(rootContextId_);  // a failure is recorded in failure_ already
      continue;
    }
    std::vector<Deferred> actions = std::exchange(deferred_, {});
    for (Deferred& action : actions) {
      Context* context = findContext(action.context);
      if (!context || !context->stream || failed()) continue;  // the stream ended meanwhile
      switch (action.kind) {
        case Deferred::kContinue:
          context->stream->continueStream(action.type);
          break;
        case Deferred::kClose:
          context->stream->closeStream(action.type);
          break;
        case Deferred::kLocalResponse:
          context->stream->sendLocalResponse(std::move(action.response));
          break;
      }
    }
  }
}

Result<uint32_t> PluginVm::createStream(StreamHost& stream) {
  if (failed()) return failure_;
  if (rootContextId_ == 0) return errorStatus(StatusCode::kUnavailable, "plugin not started");
  uint32_t id = nextContextId_++;
  addContext(Context{id, rootContextId_, &stream});
  if (queueContextChange(id, rootContextId_)) return id;
  Result<uint64_t> created = invoke(Callback::kOnContextCreate, id, {id, rootContextId_}, 0);
  if (!created.isOk()) return created.status();
  return id;
}

Result<uint32_t> PluginVm::streamCallback(Callback cb, uint32_t context,
                                          std::initializer_list<uint64_t> args) {
  Context* c = findContext(context);
  if (!c || c->isRoot()) {
    return errorStatus(StatusCode::kBadArgument, "no stream context " + std::to_string(context));
  }
  if (!callsStreamCallback(cb)) {
    lastLocalResponseSent_ = false;
    if (failed()) return failure_;
    return 0u;  // what the SDK's default answers: Continue
  }
  Result<uint64_t> r = invoke(cb, context, args, 0);
  if (!r.isOk()) return r.status();
  return static_cast<uint32_t>(*r);
}

Result<HeadersStatus> PluginVm::onRequestHeaders(uint32_t context, uint32_t headers, bool eos) {
  auto r = abiVersion() == AbiVersion::k0_1_0
               ? streamCallback(Callback::kOnRequestHeaders, context, {context, headers})
               : streamCallback(Callback::kOnRequestHeaders, context, {context, headers, eos});
  if (!r.isOk()) return r.status();
  return lastLocalResponseSent_ ? HeadersStatus::kStopAllAndWatermark : toHeadersStatus(*r);
}

Result<DataStatus> PluginVm::onRequestBody(uint32_t context, uint32_t size, bool eos) {
  auto r = streamCallback(Callback::kOnRequestBody, context, {context, size, eos});
  if (!r.isOk()) return r.status();
  return lastLocalResponseSent_ ? DataStatus::kStopNoBuffer : toDataStatus(*r);
}

Result<FilterStatus> PluginVm::onRequestTrailers(uint32_t context, uint32_t trailers) {
  auto r = streamCallback(Callback::kOnRequestTrailers, context, {context, trailers});
  if (!r.isOk()) return r.status();
  return lastLocalResponseSent_ ? FilterStatus::kStop : toFilterStatus(*r);
}

Result<HeadersStatus> PluginVm::onResponseHeaders(uint32_t context, uint32_t headers, bool eos) {
  auto r = abiVersion() == AbiVersion::k0_1_0
               ? streamCallback(Callback::kOnResponseHeaders, context, {context, headers})
               : streamCallback(Callback::kOnResponseHeaders, context, {context, headers, eos});
  if (!r.isOk()) return r.status();
  return lastLocalResponseSent_ ? HeadersStatus::kStopAllAndWatermark : toHeadersStatus(*r);
}

Result<DataStatus> PluginVm::onResponseBody(uint32_t context, uint32_t size, bool eos) {
  auto r = streamCallback(Callback::kOnResponseBody, context, {context, size, eos});
  if (!r.isOk()) return r.status();
  return lastLocalResponseSent_ ? DataStatus::kStopNoBuffer : toDataStatus(*r);
}

Result<FilterStatus> PluginVm::onResponseTrailers(uint32_t context, uint32_t trailers) {
  auto r = streamCallback(Callback::kOnResponseTrailers, context, {context, trailers});
  if (!r.isOk()) return r.status();
  return lastLocalResponseSent_ ? FilterStatus::kStop : toFilterStatus(*r);
}

Result<FilterStatus> PluginVm::onNewConnection(uint32_t context) {
  auto r = streamCallback(Callback::kOnNewConnection, context, {context});
  if (!r.isOk()) return r.status();
  return toFilterStatus(*r);
}

Result<FilterStatus> PluginVm::onDownstreamData(uint32_t context, uint32_t size, bool eos) {
  auto r = streamCallback(Callback::kOnDownstreamData, context, {context, size, eos});
  if (!r.isOk()) return r.status();
  return toFilterStatus(*r);
}

Result<FilterStatus> PluginVm::onUpstreamData(uint32_t context, uint32_t size, bool eos) {
  auto r = streamCallback(Callback::kOnUpstreamData, context, {context, size, eos});
  if (!r.isOk()) return r.status();
  return toFilterStatus(*r);
}

Status PluginVm::onDownstreamConnectionClose(uint32_t context, PeerType peer) {
  return streamCallback(Callback::kOnDownstreamConnectionClose, context,
                        {context, static_cast<uint32_t>(peer)})
      .status();
}

Status PluginVm::onUpstreamConnectionClose(uint32_t context, PeerType peer) {
  return streamCallback(Callback::kOnUpstreamConnectionClose, context,
                        {context, static_cast<uint32_t>(peer)})
      .status();
}

Status PluginVm::endStream(uint32_t context) {
  Context* c = findContext(context);
  if (!c || c->isRoot()) return errorStatus(StatusCode::kBadArgument, "no stream context");
  Status status;
  if (callsStreamCallback(Callback::kOnDone)) {
    status = invoke(Callback::kOnDone, context, {context}, 1).status();
  }
  if (status.isOk() && callsStreamCallback(Callback::kOnLog)) {
    status = invoke(Callback::kOnLog, context, {context}, 0).status();
  }
  if (status.isOk() && queueStreamDeletes_ && queueContextChange(context, 0)) {
    eraseContext(context);
    return status;
  }
  Status deleted = deleteContext(context);
  return status.isOk() ? deleted : status;
}

Status PluginVm::onTick() {
  if (!findContext(rootContextId_)) return Status::ok();
  return invoke(Callback::kOnTick, rootContextId_, {rootContextId_}, 0).status();
}

Status PluginVm::onQueueReady(uint32_t token) {
  if (!findContext(rootContextId_)) return Status::ok();
  return invoke(Callback::kOnQueueReady, rootContextId_, {rootContextId_, token}, 0).status();
}

Status PluginVm::onHttpCallResponse(uint32_t token, const HttpCallResponse* response,
                                    std::string_view reason) {
  if (!findContext(rootContextId_)) return Status::ok();  // the root is gone: drop the answer
  Frame frame;
  frame.httpCallResponse = response;
  uint32_t headers = 0, body = 0, trailers = 0;
  if (response) {
    headers = static_cast<uint32_t>(response->headers.size());
    body = static_cast<uint32_t>(response->body.size());
    trailers = static_cast<uint32_t>(response->trailers.size());
  } else {
    frame.statusCode = static_cast<uint32_t>(WasmResult::kBrokenConnection);
    frame.statusMessage = std::string(reason);
  }
  return invoke(Callback::kOnHttpCallResponse, rootContextId_,
                {rootContextId_, token, headers, body, trailers}, 0, std::move(frame))
      .status();
}

Status PluginVm::onGrpcInitialMetadata(uint32_t token, const Headers& metadata) {
  if (!findContext(rootContextId_) || !knowsGrpcToken(token)) return Status::ok();
  Frame frame;
  frame.grpcMetadata = &metadata;
  return invoke(Callback::kOnGrpcReceiveInitialMetadata, rootContextId_,
                {rootContextId_, token, metadata.size()}, 0, std::move(frame))
      .status();
}

Status PluginVm::onGrpcReceive(uint32_t token, std::string_view message) {
  if (!findContext(rootContextId_) || !knowsGrpcToken(token)) return Status::ok();
  Frame frame;
  frame.grpcMessage = message;
  return invoke(Callback::kOnGrpcReceive, rootContextId_, {rootContextId_, token, message.size()},
                0, std::move(frame))
      .status();
}

Status PluginVm::onGrpcTrailingMetadata(uint32_t token, const Headers& metadata) {
  if (!findContext(rootContextId_) || !knowsGrpcToken(token)) return Status::ok();
  Frame frame;
  frame.grpcMetadata = &metadata;
  return invoke(Callback::kOnGrpcReceiveTrailingMetadata, rootContextId_,
                {rootContextId_, token, metadata.size()}, 0, std::move(frame))
      .status();
}

Status PluginVm::onGrpcClose(uint32_t token, uint32_t grpcStatus, std::string_view message) {
  if (!findContext(rootContextId_) || !knowsGrpcToken(token)) return Status::ok();
  forgetGrpcToken(token);
  Frame frame;
  frame.statusCode = grpcStatus;
  frame.statusMessage = std::string(message);
  return invoke(Callback::kOnGrpcClose, rootContextId_, {rootContextId_, token, grpcStatus}, 0,
                std::move(frame))
      .status();
}

Status PluginVm::onForeignFunction(uint32_t functionId, std::string_view arguments) {
  if (!findContext(rootContextId_)) return Status::ok();
  Frame frame;
  frame.callData = arguments;
  return invoke(Callback::kOnForeignFunction, rootContextId_,
                {rootContextId_, functionId, arguments.size()}, 0, std::move(frame))
      .status();
}

}  // namespace wasmgate::abi
