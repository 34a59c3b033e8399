// One function per Proxy-Wasm hostcall, in the order of the ABI reference (section 3), each:
// check arguments, read guest memory, act through the VM or its host, write back, return a status.
#include "abi/hostcalls.h"

#include <chrono>

#include "abi/limits.h"
#include "abi/pairs.h"
#include "abi/shared_state.h"

namespace wasmgate::abi {
namespace {

using runtime::ValType;
using Args = const uint64_t*;
using R = WasmResult;

uint32_t u32(uint64_t v) {
  return static_cast<uint32_t>(v);
}

std::optional<std::string_view> readString(PluginVm& vm, uint64_t ptr, uint64_t len) {
  return vm.wasm().readString(u32(ptr), u32(len));
}

R writeU32(PluginVm& vm, uint64_t slot, uint32_t value) {
  return vm.wasm().writeU32(u32(slot), value) ? R::kOk : R::kInvalidMemoryAccess;
}

StreamData* streamData(PluginVm& vm) {
  PluginVm::Context* c = vm.effectiveContext();
  return c && c->stream ? &c->stream->data() : nullptr;
}

// ---- Header maps: which map a type names, given what the running callback may see. ----

const Headers* readableMap(PluginVm& vm, uint32_t type) {
  const PluginVm::Frame& f = vm.frame();
  switch (static_cast<MapType>(type)) {
    case MapType::kRequestHeaders:
      return streamData(vm) ? &streamData(vm)->requestHeaders : nullptr;
    case MapType::kRequestTrailers:
      return streamData(vm) ? &streamData(vm)->requestTrailers : nullptr;
    case MapType::kResponseHeaders:
    case MapType::kResponseTrailers: {
      StreamData* d = streamData(vm);
      if (!d || !d->responseHeadersReceived) return nullptr;
      return type == 2 ? &d->responseHeaders : &d->responseTrailers;
    }
    case MapType::kGrpcInitialMetadata:
      return f.callback == Callback::kOnGrpcReceiveInitialMetadata ? f.grpcMetadata : nullptr;
    case MapType::kGrpcTrailingMetadata:
      return f.callback == Callback::kOnGrpcReceiveTrailingMetadata ? f.grpcMetadata : nullptr;
    case MapType::kHttpCallResponseHeaders:
      return f.httpCallResponse ? &f.httpCallResponse->headers : nullptr;
    case MapType::kHttpCallResponseTrailers:
      return f.httpCallResponse ? &f.httpCallResponse->trailers : nullptr;
  }
  return nullptr;
}

Headers* writableMap(PluginVm& vm, uint32_t type) {
  if (type > 3 || vm.frame().callback == Callback::kOnLog) return nullptr;
  return const_cast<Headers*>(readableMap(vm, type));  // maps 0-3 live in mutable StreamData
}

// ---- Buffers. ----

// The stream's data with buffer `type` in it (see StreamHost::prepareBuffer).
StreamData* streamBuffers(PluginVm& vm, uint32_t type) {
  PluginVm::Context* c = vm.effectiveContext();
  if (!c || !c->stream) return nullptr;
  c->stream->prepareBuffer(static_cast<BufferType>(type));
  return &c->stream->data();
}

std::optional<std::string_view> readableBuffer(PluginVm& vm, uint32_t type) {
  const PluginVm::Frame& f = vm.frame();
  StreamData* d = streamBuffers(vm, type);
  switch (static_cast<BufferType>(type)) {
    case BufferType::kRequestBody:
      return d ? std::optional(std::string_view(d->requestBody)) : std::nullopt;
    case BufferType::kResponseBody:
      return d ? std::optional(std::string_view(d->responseBody)) : std::nullopt;
    case BufferType::kDownstreamData:
      return d ? std::optional(std::string_view(d->downstreamData)) : std::nullopt;
    case BufferType::kUpstreamData:
      return d ? std::optional(std::string_view(d->upstreamData)) : std::nullopt;
    case BufferType::kHttpCallResponseBody:
      if (!f.httpCallResponse) return std::nullopt;
      return std::string_view(f.httpCallResponse->body);
    case BufferType::kGrpcReceiveBuffer:
      if (f.callback != Callback::kOnGrpcReceive) return std::nullopt;
      return f.grpcMessage;
    case BufferType::kVmConfiguration:
      return std::string_view(vm.spec().vmConfiguration);
    case BufferType::kPluginConfiguration:
      if (f.callback != Callback::kOnConfigure && f.callback != Callback::kValidateConfiguration) {
        return std::nullopt;
      }
      return f.configuration;
    case BufferType::kCallData:
      if (f.callback != Callback::kOnForeignFunction) return std::nullopt;
      return f.callData;
  }
  return std::nullopt;
}

std::string* writableBuffer(PluginVm& vm, uint32_t type) {
  StreamData* d = streamBuffers(vm, type);
  if (!d) return nullptr;
  switch (static_cast<BufferType>(type)) {
    case BufferType::kRequestBody:
      return &d->requestBody;
    case BufferType::kResponseBody:
      return &d->responseBody;
    case BufferType::kDownstreamData:
      return &d->downstreamData;
    case BufferType::kUpstreamData:
      return &d->upstreamData;
    default:
      return nullptr;
  }
}

// ---- 3.1 Logging, time, timers ----

R proxyLog(PluginVm& vm, Args a) {
  if (a[0] > static_cast<uint32_t>(LogLevel::kCritical)) return R::kBadArgument;
  auto message = readString(vm, a[1], a[2]);
  if (!message) return R::kInvalidMemoryAccess;
  vm.host().log(static_cast<LogLevel>(a[0]), message->substr(0, kMaxLogMessageBytes));
  return R::kOk;
}

R proxyGetLogLevel(PluginVm& vm, Args a) {
  return writeU32(vm, a[0], static_cast<uint32_t>(vm.host().logLevel()));
}

R proxyGetCurrentTimeNanoseconds(PluginVm& vm, Args a) {
  auto now = std::chrono::system_clock::now().time_since_epoch();
  uint64_t ns =
      static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(now).count());
  return vm.wasm().writeU64(u32(a[0]), ns) ? R::kOk : R::kInvalidMemoryAccess;
}

R proxySetTickPeriodMilliseconds(PluginVm& vm, Args a) {
  vm.host().setTickPeriod(std::chrono::milliseconds(u32(a[0])));
  return R::kOk;
}

// ---- 3.2 Configuration and status ----

R proxyGetConfiguration(PluginVm& vm, Args a) {
  const PluginVm::Frame& f = vm.frame();
  bool configuring =
      f.callback == Callback::kOnConfigure || f.callback == Callback::kValidateConfiguration;
  return vm.returnBytes(configuring ? f.configuration : std::string_view(vm.spec().vmConfiguration),
                        u32(a[0]), u32(a[1]));
}

R proxyGetStatus(PluginVm& vm, Args a) {
  const PluginVm::Frame& f = vm.frame();
  if (!vm.wasm().range(u32(a[0]), 4)) return R::kInvalidMemoryAccess;
  R r = vm.returnBytes(f.statusMessage, u32(a[1]), u32(a[2]));
  if (r != R::kOk) return r;
  return writeU32(vm, a[0], f.statusCode);
}

// ---- 3.3 Properties ----

R proxyGetProperty(PluginVm& vm, Args a) {
  if (a[1] > kMaxPropertyPathBytes) return R::kBadArgument;
  auto path = readString(vm, a[0], a[1]);
  if (!path) return R::kInvalidMemoryAccess;
  if (!vm.wasm().range(u32(a[2]), 4) || !vm.wasm().range(u32(a[3]), 4))
    return R::kInvalidMemoryAccess;
  std::optional<std::string> value = resolveProperty(vm, *path);
  if (!value) return R::kNotFound;
  return vm.returnBytes(*value, u32(a[2]), u32(a[3]));
}

R proxySetProperty(PluginVm& vm, Args a) {
  auto path = readString(vm, a[0], a[1]);
  auto value = readString(vm, a[2], a[3]);
  if (!path || !value) return R::kInvalidMemoryAccess;
  StreamData* d = streamData(vm);
  if (!d) return R::kNotFound;
  std::string key(*path);
  while (!key.empty() && key.back() == '\0') key.pop_back();
  d->filterState[std::move(key)] = std::string(*value);
  return R::kOk;
}

// ---- 3.4 Header maps ----

R proxyGetHeaderMapValue(PluginVm& vm, Args a) {
  if (a[0] > kMaxMapType) return R::kBadArgument;
  auto key = readString(vm, a[1], a[2]);
  if (!key) return R::kInvalidMemoryAccess;
  const Headers* map = readableMap(vm, u32(a[0]));
  if (!map) return R::kBadArgument;
  const std::string* value = findHeader(*map, *key);
  if (!value) {
    if (vm.abiVersion() != AbiVersion::k0_1_0) return R::kNotFound;
    return vm.returnBytes({}, u32(a[3]), u32(a[4]));
  }
  return vm.returnBytes(*value, u32(a[3]), u32(a[4]));
}

R modifyHeader(PluginVm& vm, Args a, void (*op)(Headers&, std::string_view, std::string_view)) {
  if (a[0] > kMaxMapType) return R::kBadArgument;
  auto key = readString(vm, a[1], a[2]);
  auto value = readString(vm, a[3], a[4]);
  if (!key || !value) return R::kInvalidMemoryAccess;
  Headers* map = writableMap(vm, u32(a[0]));
  if (!map || !validHeaderName(*key) || !validHeaderValue(*value)) return R::kBadArgument;
  op(*map, *key, *value);
  return R::kOk;
}

R proxyAddHeaderMapValue(PluginVm& vm, Args a) {
  return modifyHeader(vm, a, addHeader);
}
R proxyReplaceHeaderMapValue(PluginVm& vm, Args a) {
  return modifyHeader(vm, a, replaceHeader);
}

R proxyRemoveHeaderMapValue(PluginVm& vm, Args a) {
  if (a[0] > kMaxMapType) return R::kBadArgument;
  auto key = readString(vm, a[1], a[2]);
  if (!key) return R::kInvalidMemoryAccess;
  Headers* map = writableMap(vm, u32(a[0]));
  if (!map) return R::kBadArgument;
  removeHeader(*map, *key);
  return R::kOk;
}

R proxyGetHeaderMapPairs(PluginVm& vm, Args a) {
  if (a[0] > kMaxMapType) return R::kBadArgument;
  const Headers* map = readableMap(vm, u32(a[0]));
  if (!map || map->empty()) return vm.returnBytes({}, u32(a[1]), u32(a[2]));
  return vm.returnBytes(serializePairs(*map), u32(a[1]), u32(a[2]));
}

R proxySetHeaderMapPairs(PluginVm& vm, Args a) {
  if (a[0] > kMaxMapType) return R::kBadArgument;
  auto bytes = readString(vm, a[1], a[2]);
  if (!bytes) return R::kInvalidMemoryAccess;
  Headers* map = writableMap(vm, u32(a[0]));
  if (!map) return R::kBadArgument;
  std::optional<Headers> pairs = parsePairs(*bytes);
  if (!pairs || !validHeaders(*pairs))
    return R::kBadArgument;  // never silently empty the map (8.13)
  map->clear();
  for (const auto& [k, v] : *pairs) addHeader(*map, k, v);
  return R::kOk;
}

R proxyGetHeaderMapSize(PluginVm& vm, Args a) {
  if (a[0] > kMaxMapType) return R::kBadArgument;
  const Headers* map = readableMap(vm, u32(a[0]));
  if (!map) return R::kBadArgument;
  return writeU32(vm, a[1], headersByteSize(*map));
}

// ---- 3.5 Buffers ----

R proxyGetBufferBytes(PluginVm& vm, Args a) {
  if (a[0] > kMaxBufferType) return R::kBadArgument;
  if (!vm.wasm().range(u32(a[3]), 4) || !vm.wasm().range(u32(a[4]), 4))
    return R::kInvalidMemoryAccess;
  auto buffer = readableBuffer(vm, u32(a[0]));
  if (!buffer) return R::kNotFound;
  uint64_t start = u32(a[1]);
  if (start >= buffer->size()) return vm.returnBytes({}, u32(a[3]), u32(a[4]));
  uint64_t length = std::min<uint64_t>(u32(a[2]), buffer->size() - start);
  return vm.returnBytes(buffer->substr(start, length), u32(a[3]), u32(a[4]));
}

R proxyGetBufferStatus(PluginVm& vm, Args a) {
  if (a[0] > kMaxBufferType) return R::kBadArgument;
  auto buffer = readableBuffer(vm, u32(a[0]));
  if (!buffer) return R::kNotFound;
  if (!vm.wasm().range(u32(a[1]), 4) || !vm.wasm().range(u32(a[2]), 4))
    return R::kInvalidMemoryAccess;
  (void)writeU32(vm, a[2], 0);
  return writeU32(vm, a[1], static_cast<uint32_t>(buffer->size()));
}

R proxySetBufferBytes(PluginVm& vm, Args a) {
  if (a[0] > kMaxBufferType) return R::kBadArgument;
  auto data = readString(vm, a[3], a[4]);
  if (!data) return R::kInvalidMemoryAccess;
  if (!readableBuffer(vm, u32(a[0]))) return R::kNotFound;
  std::string* buffer = writableBuffer(vm, u32(a[0]));
  if (!buffer) return R::kBadArgument;
  uint64_t start = std::min<uint64_t>(u32(a[1]), buffer->size());
  uint64_t length = std::min<uint64_t>(u32(a[2]), buffer->size() - start);
  buffer->replace(start, length, *data);  // prepend, replace, append and middle edits alike
  return R::kOk;
}

// ---- 3.6 Stream control and local responses ----

R continueOrClose(PluginVm& vm, uint32_t type, bool close) {
  if (type > kMaxStreamType) return R::kBadArgument;
  PluginVm::Context* c = vm.effectiveContext();
  if (!c || !c->stream) return R::kNotFound;
  if (!close && type == static_cast<uint32_t>(StreamType::kUpstream)) return R::kUnimplemented;
  if (close) {
    vm.deferClose(c->id, static_cast<StreamType>(type));
  } else {
    vm.deferContinue(c->id, static_cast<StreamType>(type));
  }
  return R::kOk;
}

R proxyContinueStream(PluginVm& vm, Args a) {
  return continueOrClose(vm, u32(a[0]), false);
}
R proxyCloseStream(PluginVm& vm, Args a) {
  return continueOrClose(vm, u32(a[0]), true);
}
R proxyContinueRequest(PluginVm& vm, Args) {
  return continueOrClose(vm, 0, false);
}
R proxyContinueResponse(PluginVm& vm, Args) {
  return continueOrClose(vm, 1, false);
}
R proxyClearRouteCache(PluginVm&, Args) {
  return R::kOk;
}  // routes are chosen after the chain

R proxySendLocalResponse(PluginVm& vm, Args a) {
  auto details = readString(vm, a[1], a[2]);
  auto body = readString(vm, a[3], a[4]);
  auto headerBytes = readString(vm, a[5], a[6]);
  if (!details || !body || !headerBytes) return R::kInvalidMemoryAccess;
  std::optional<Headers> headers = parsePairs(*headerBytes);
  if (!headers || !validHeaders(*headers)) return R::kBadArgument;
  PluginVm::Context* c = vm.effectiveContext();
  if (!c || !c->stream) return R::kNotFound;
  LocalResponse response{u32(a[0]), std::string(*details), std::string(*body), {}, u32(a[7])};
  for (const auto& [k, v] : *headers) addHeader(response.headers, k, v);
  vm.deferLocalResponse(c->id, std::move(response));
  return R::kOk;
}

// ---- 3.7 HTTP callouts ----

R proxyHttpCall(PluginVm& vm, Args a) {
  auto cluster = readString(vm, a[0], a[1]);
  auto headerBytes = readString(vm, a[2], a[3]);
  auto body = readString(vm, a[4], a[5]);
  auto trailerBytes = readString(vm, a[6], a[7]);
  if (!cluster || !headerBytes || !body || !trailerBytes) return R::kInvalidMemoryAccess;
  if (!vm.wasm().range(u32(a[9]), 4)) return R::kInvalidMemoryAccess;  // before any request starts
  auto headers = parsePairs(*headerBytes);
  auto trailers = parsePairs(*trailerBytes);
  if (!headers || !trailers || !validHeaders(*headers) || !validHeaders(*trailers))
    return R::kBadArgument;
  for (const char* required : {":method", ":path", ":authority"}) {
    if (!findHeader(*headers, required)) return R::kBadArgument;
  }
  if (static_cast<int32_t>(u32(a[8])) < 0) return R::kBadArgument;
  HttpCallRequest request{std::string(*cluster), std::move(*headers), std::string(*body),
                          std::move(*trailers), std::chrono::milliseconds(u32(a[8]))};
  uint32_t token = vm.nextHttpCallToken();
  R started = vm.host().httpCall(token, request);
  if (started != R::kOk) return started;
  return writeU32(vm, a[9], token);
}

// ---- 3.8 gRPC callouts ----

R startGrpc(PluginVm& vm, Args a, bool stream) {
  auto cluster = readString(vm, a[0], a[1]);
  auto service = readString(vm, a[2], a[3]);
  auto method = readString(vm, a[4], a[5]);
  auto metadataBytes = readString(vm, a[6], a[7]);
  std::optional<std::string_view> message =
      stream ? std::string_view() : readString(vm, a[8], a[9]);
  uint32_t tokenSlot = u32(stream ? a[8] : a[11]);
  if (!cluster || !service || !method || !metadataBytes || !message) return R::kInvalidMemoryAccess;
  if (!vm.wasm().range(tokenSlot, 4)) return R::kInvalidMemoryAccess;
  auto metadata = parsePairs(*metadataBytes);
  if (!metadata || !validHeaders(*metadata)) return R::kBadArgument;
  GrpcCallRequest request{
      std::string(*cluster), std::string(*service),
      std::string(*method),  std::move(*metadata),
      std::string(*message), std::chrono::milliseconds(stream ? 0 : u32(a[10]))};
  uint32_t token = vm.nextGrpcToken(stream);
  R started = stream ? vm.host().grpcStream(token, request) : vm.host().grpcCall(token, request);
  if (started != R::kOk) return started;
  vm.trackGrpcToken(token);
  return writeU32(vm, tokenSlot, token);
}

R proxyGrpcCall(PluginVm& vm, Args a) {
  return startGrpc(vm, a, false);
}
R proxyGrpcStream(PluginVm& vm, Args a) {
  return startGrpc(vm, a, true);
}

R proxyGrpcSend(PluginVm& vm, Args a) {
  auto message = readString(vm, a[1], a[2]);
  if (!message) return R::kInvalidMemoryAccess;
  uint32_t token = u32(a[0]);
  if ((token & 1) == 0) return R::kBadArgument;  // not a stream token
  if (!vm.knowsGrpcToken(token)) return R::kNotFound;
  return vm.host().grpcSend(token, *message, a[3] != 0);
}

R proxyGrpcClose(PluginVm& vm, Args a) {
  uint32_t token = u32(a[0]);
  if (token == 0) return R::kBadArgument;
  if (!vm.knowsGrpcToken(token)) return R::kNotFound;
  if ((token & 1) == 0) vm.forgetGrpcToken(token);  // closing a unary call cancels it
  return vm.host().grpcClose(token);
}

R proxyGrpcCancel(PluginVm& vm, Args a) {
  uint32_t token = u32(a[0]);
  if (token == 0) return R::kBadArgument;
  if (!vm.knowsGrpcToken(token)) return R::kNotFound;
  vm.forgetGrpcToken(token);  // no callbacks for this token after a cancel
  return vm.host().grpcCancel(token);
}

// ---- 3.9 Shared data ----

R proxyGetSharedData(PluginVm& vm, Args a) {
  auto key = readString(vm, a[0], a[1]);
  if (!key) return R::kInvalidMemoryAccess;
  if (!vm.wasm().range(u32(a[4]), 4)) return R::kInvalidMemoryAccess;
  auto entry = sharedData().get(vm.spec().vmId, *key);
  if (!entry) return R::kNotFound;
  R r = vm.returnBytes(entry->value, u32(a[2]), u32(a[3]));
  if (r != R::kOk) return r;
  return writeU32(vm, a[4], entry->cas);
}

R proxySetSharedData(PluginVm& vm, Args a) {
  auto key = readString(vm, a[0], a[1]);
  auto value = readString(vm, a[2], a[3]);
  if (!key || !value) return R::kInvalidMemoryAccess;
  if (value->size() > kMaxSharedDataValueBytes) return R::kBadArgument;
  return sharedData().set(vm.spec().vmId, *key, *value, u32(a[4]));
}

// ---- 3.10 Shared queues ----

R proxyRegisterSharedQueue(PluginVm& vm, Args a) {
  auto name = readString(vm, a[0], a[1]);
  if (!name) return R::kInvalidMemoryAccess;
  if (!vm.wasm().range(u32(a[2]), 4)) return R::kInvalidMemoryAccess;
  PluginHost* host = &vm.host();
  uint32_t token = sharedQueues().registerQueue(vm.spec().vmId, *name, &vm,
                                                [host](uint32_t t) { host->postQueueReady(t); });
  return writeU32(vm, a[2], token);
}

R proxyResolveSharedQueue(PluginVm& vm, Args a) {
  auto vmId = readString(vm, a[0], a[1]);
  auto name = readString(vm, a[2], a[3]);
  if (!vmId || !name) return R::kInvalidMemoryAccess;
  if (!vm.wasm().range(u32(a[4]), 4)) return R::kInvalidMemoryAccess;
  auto token =
      sharedQueues().resolve(vmId->empty() ? std::string_view(vm.spec().vmId) : *vmId, *name);
  if (!token) return R::kNotFound;
  return writeU32(vm, a[4], *token);
}

R proxyEnqueueSharedQueue(PluginVm& vm, Args a) {
  auto value = readString(vm, a[1], a[2]);
  if (!value) return R::kInvalidMemoryAccess;
  return sharedQueues().enqueue(u32(a[0]), *value);
}

R proxyDequeueSharedQueue(PluginVm& vm, Args a) {
  if (!vm.wasm().range(u32(a[1]), 4) || !vm.wasm().range(u32(a[2]), 4))
    return R::kInvalidMemoryAccess;
  std::string value;
  R r = sharedQueues().dequeue(u32(a[0]), value);
  if (r != R::kOk) return r;
  return vm.returnBytes(value, u32(a[1]), u32(a[2]));
}

// ---- 3.11 Metrics ----

R proxyDefineMetric(PluginVm& vm, Args a) {
  if (a[0] > static_cast<uint32_t>(MetricType::kHistogram)) return R::kBadArgument;
  auto name = readString(vm, a[1], a[2]);
  if (!name) return R::kInvalidMemoryAccess;
  if (!vm.wasm().range(u32(a[3]), 4)) return R::kInvalidMemoryAccess;
  uint32_t id = vm.host().metrics().define(static_cast<MetricType>(a[0]), *name);
  return writeU32(vm, a[3], id);
}

R proxyIncrementMetric(PluginVm& vm, Args a) {
  return vm.host().metrics().increment(u32(a[0]), static_cast<int64_t>(a[1]));
}

R proxyRecordMetric(PluginVm& vm, Args a) {
  return vm.host().metrics().record(u32(a[0]), static_cast<int64_t>(a[1]));
}

R proxyGetMetric(PluginVm& vm, Args a) {
  if (!vm.wasm().range(u32(a[1]), 8)) return R::kInvalidMemoryAccess;
  uint64_t value = 0;
  R r = vm.host().metrics().get(u32(a[0]), value);
  if (r != R::kOk) return r;
  return vm.wasm().writeU64(u32(a[1]), value) ? R::kOk : R::kInvalidMemoryAccess;
}

// ---- 3.12 Context control and foreign functions ----

R proxySetEffectiveContext(PluginVm& vm, Args a) {
  return vm.setEffectiveContext(u32(a[0]));
}
R proxyDone(PluginVm& vm, Args) {
  return vm.proxyDone();
}

R proxyCallForeignFunction(PluginVm& vm, Args a) {
  auto name = readString(vm, a[0], a[1]);
  auto args = readString(vm, a[2], a[3]);
  if (!name || !args) return R::kInvalidMemoryAccess;
  return R::kNotFound;  // wasmgate registers no foreign functions
}

// ---- Registration ----

using Hostcall = R (*)(PluginVm&, Args);

template <Hostcall F>
Status adapt(runtime::WasmInstance& wasm, std::span<const uint64_t> args, uint64_t& result) {
  auto& vm = *static_cast<PluginVm*>(wasm.embedderData());
  if (!hostcallAllowed(vm)) {
    result = static_cast<uint32_t>(R::kInternalFailure);
    return Status::ok();
  }
  result = static_cast<uint32_t>(F(vm, args.data()));
  return vm.failed() ? vm.failure() : Status::ok();  // the allocator trapped: trap the caller too
}

// Emscripten-built plugins import these; they need no host behaviour.
Status emscriptenNotifyMemoryGrowth(runtime::WasmInstance&, std::span<const uint64_t>, uint64_t&) {
  return Status::ok();
}
Status pthreadEqual(runtime::WasmInstance&, std::span<const uint64_t> args, uint64_t& result) {
  result = args[0] == args[1] ? 1 : 0;
  return Status::ok();
}

runtime::FuncType i32s(size_t params) {
  return {std::vector<ValType>(params, ValType::kI32), {ValType::kI32}};
}

}  // namespace

void addProxyHostcalls(runtime::HostFunctionTable& table) {
  auto add = [&table](const char* name, size_t params, runtime::HostCallback cb) {
    table.add({"env", name, i32s(params), cb});
  };
  add("proxy_log", 3, adapt<proxyLog>);
  add("proxy_get_log_level", 1, adapt<proxyGetLogLevel>);
  add("proxy_get_current_time_nanoseconds", 1, adapt<proxyGetCurrentTimeNanoseconds>);
  add("proxy_set_tick_period_milliseconds", 1, adapt<proxySetTickPeriodMilliseconds>);
  add("proxy_get_configuration", 2, adapt<proxyGetConfiguration>);
  add("proxy_get_status", 3, adapt<proxyGetStatus>);
  add("proxy_get_property", 4, adapt<proxyGetProperty>);
  add("proxy_set_property", 4, adapt<proxySetProperty>);
  add("proxy_get_header_map_value", 5, adapt<proxyGetHeaderMapValue>);
  add("proxy_add_header_map_value", 5, adapt<proxyAddHeaderMapValue>);
  add("proxy_replace_header_map_value", 5, adapt<proxyReplaceHeaderMapValue>);
  add("proxy_remove_header_map_value", 3, adapt<proxyRemoveHeaderMapValue>);
  add("proxy_get_header_map_pairs", 3, adapt<proxyGetHeaderMapPairs>);
  add("proxy_set_header_map_pairs", 3, adapt<proxySetHeaderMapPairs>);
  add("proxy_get_header_map_size", 2, adapt<proxyGetHeaderMapSize>);
  add("proxy_get_buffer_bytes", 5, adapt<proxyGetBufferBytes>);
  add("proxy_get_buffer_status", 3, adapt<proxyGetBufferStatus>);
  add("proxy_set_buffer_bytes", 5, adapt<proxySetBufferBytes>);
  add("proxy_continue_stream", 1, adapt<proxyContinueStream>);
  add("proxy_close_stream", 1, adapt<proxyCloseStream>);
  add("proxy_continue_request", 0, adapt<proxyContinueRequest>);
  add("proxy_continue_response", 0, adapt<proxyContinueResponse>);
  add("proxy_clear_route_cache", 0, adapt<proxyClearRouteCache>);
  add("proxy_send_local_response", 8, adapt<proxySendLocalResponse>);
  add("proxy_http_call", 10, adapt<proxyHttpCall>);
  add("proxy_grpc_call", 12, adapt<proxyGrpcCall>);
  add("proxy_grpc_stream", 9, adapt<proxyGrpcStream>);
  add("proxy_grpc_send", 4, adapt<proxyGrpcSend>);
  add("proxy_grpc_close", 1, adapt<proxyGrpcClose>);
  add("proxy_grpc_cancel", 1, adapt<proxyGrpcCancel>);
  add("proxy_get_shared_data", 5, adapt<proxyGetSharedData>);
  add("proxy_set_shared_data", 5, adapt<proxySetSharedData>);
  add("proxy_register_shared_queue", 3, adapt<proxyRegisterSharedQueue>);
  add("proxy_resolve_shared_queue", 5, adapt<proxyResolveSharedQueue>);
  add("proxy_enqueue_shared_queue", 3, adapt<proxyEnqueueSharedQueue>);
  add("proxy_dequeue_shared_queue", 3, adapt<proxyDequeueSharedQueue>);
  add("proxy_define_metric", 4, adapt<proxyDefineMetric>);
  table.add({"env",
             "proxy_increment_metric",
             {{ValType::kI32, ValType::kI64}, {ValType::kI32}},
             adapt<proxyIncrementMetric>});
  table.add({"env",
             "proxy_record_metric",
             {{ValType::kI32, ValType::kI64}, {ValType::kI32}},
             adapt<proxyRecordMetric>});
  add("proxy_get_metric", 2, adapt<proxyGetMetric>);
  add("proxy_set_effective_context", 1, adapt<proxySetEffectiveContext>);
  add("proxy_done", 0, adapt<proxyDone>);
  add("proxy_call_foreign_function", 6, adapt<proxyCallForeignFunction>);
  table.add({"env",
             "emscripten_notify_memory_growth",
             {{ValType::kI32}, {}},
             emscriptenNotifyMemoryGrowth});
  table.add({"env", "pthread_equal", i32s(2), pthreadEqual});
}

bool hostcallAllowed(PluginVm& vm) {
  const auto& allowed = vm.spec().allowedHostcalls;
  if (!allowed) return true;
  const runtime::HostFunction* fn = vm.wasm().currentHostFunction();
  if (!fn || allowed->count(fn->name) != 0) return true;
  vm.host().log(LogLevel::kError,
                "hostcall " + fn->name + " refused: not in the plugin's allowed capabilities");
  return false;
}

const runtime::HostFunctionTable& hostcallTable() {
  static const runtime::HostFunctionTable table = [] {
    runtime::HostFunctionTable t;
    addProxyHostcalls(t);
    addWasiHostcalls(t);
    return t;
  }();
  return table;
}

}  // namespace wasmgate::abi
