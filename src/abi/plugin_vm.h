// A Proxy-Wasm plugin: its module compiled once (PluginModule) and one running VM of it per worker
// (PluginVm), with the root context, stream contexts and every callback of the ABI.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "abi/abi_types.h"
#include "abi/host.h"
#include "abi/shared_state.h"
#include "common/status.h"
#include "runtime/wasm_vm.h"

namespace wasmgate::abi {

// The sandbox limits one plugin runs under.
struct VmLimits {
  uint32_t maxMemoryPages = 1024;                // 64 MiB of linear memory
  std::chrono::milliseconds callDeadline{1000};  // CPU time for one callback
  bool operator==(const VmLimits&) const = default;
};

// What a plugin is started with (the WasmPlugin fields that reach the VM).
struct PluginSpec {
  std::string name;                 // plugin_name
  std::string rootId;               // plugin_root_id (WasmPlugin pluginName)
  std::string vmId;                 // plugin_vm_id; partitions shared data and queues
  std::string vmConfiguration;      // proxy_on_vm_start's buffer
  std::string pluginConfiguration;  // proxy_on_configure's buffer
  std::vector<std::pair<std::string, std::string>> environment;  // WASI environ
  // When set, only these hostcalls work; the others fail with InternalFailure (WASI: notcapable).
  std::optional<std::set<std::string, std::less<>>> allowedHostcalls;
  // Where the VM's sandbox lives: a worker's group, or (null) a heap of its own.
  std::shared_ptr<runtime::InstanceGroup> instanceGroup;
};

// Every export the host may call. Values index PluginModule's type table.
enum class Callback : uint8_t {
  kMalloc,
  kProxyOnMemoryAllocate,
  kInitialize,
  kStart,
  kMain,
  kMainVoid,
  kOnContextCreate,
  kOnVmStart,
  kValidateConfiguration,
  kOnConfigure,
  kOnTick,
  kOnQueueReady,
  kOnForeignFunction,
  kOnDone,
  kOnLog,
  kOnDelete,
  kOnNewConnection,
  kOnDownstreamData,
  kOnUpstreamData,
  kOnDownstreamConnectionClose,
  kOnUpstreamConnectionClose,
  kOnRequestHeaders,
  kOnRequestBody,
  kOnRequestTrailers,
  kOnRequestMetadata,
  kOnResponseHeaders,
  kOnResponseBody,
  kOnResponseTrailers,
  kOnResponseMetadata,
  kOnHttpCallResponse,
  kOnGrpcReceiveInitialMetadata,
  kOnGrpcReceive,
  kOnGrpcReceiveTrailingMetadata,
  kOnGrpcClose,
  kCount
};
std::string_view callbackName(Callback cb);

// wasmgate's C++ SDK exports `wasmgate_sdk_stream_callbacks() -> i32`: one bit per stream
// callback, set when some stream class of the plugin overrides the SDK's pass-through default.
// The host does not call the others on stream contexts: those defaults do nothing and answer
// Continue, so skipping them changes nothing but the cost. Modules without the export (every
// other SDK) get every callback. The SDK lists the same bits (sdk/cpp/include/wasmgate/plugin.h).
inline constexpr std::string_view kSdkStreamCallbacksExport = "wasmgate_sdk_stream_callbacks";
enum StreamCallbackBit : uint32_t {
  kStreamRequestHeaders = 1u << 0,
  kStreamRequestBody = 1u << 1,
  kStreamRequestTrailers = 1u << 2,
  kStreamResponseHeaders = 1u << 3,
  kStreamResponseBody = 1u << 4,
  kStreamResponseTrailers = 1u << 5,
  kStreamDone = 1u << 6,
  kStreamLog = 1u << 7,
  kStreamNewConnection = 1u << 8,
  kStreamDownstreamData = 1u << 9,
  kStreamUpstreamData = 1u << 10,
  kStreamDownstreamClose = 1u << 11,
  kStreamUpstreamClose = 1u << 12,
  kStreamDelete = 1u << 13,  // a stream class overrides onDelete: call proxy_on_delete
};

// The SDK also exports `wasmgate_sdk_context_queue() -> i32`, the address of a queue in its
// memory: u32 count, u32 capacity, then `capacity` pairs of u32 {context_id, parent_id}. For a
// stream context the host writes {id, root} there instead of calling proxy_on_context_create,
// and {id, 0} instead of proxy_on_delete (unless kStreamDelete), then raises count; the SDK
// applies the queue in order at the start of every callback, proxy_on_context_create and
// proxy_on_delete included, so a full queue falls back to the calls without reordering.
inline constexpr std::string_view kSdkContextQueueExport = "wasmgate_sdk_context_queue";

// And a list of header callbacks to run in one guest entry: `wasmgate_sdk_header_batch() -> i32`
// is its address, u32 count, u32 capacity, u32 current, u32 unused, then `capacity` entries of
// five u32 {callback (1: proxy_on_request_headers, 2: proxy_on_response_headers), context_id,
// headers, end_of_stream, result}. The host writes the entries and count and calls
// `wasmgate_sdk_run_header_batch()`, which runs entries [0, count) in order as the callbacks
// themselves would run, storing the entry's index in `current` before each and its return value
// in `result`. Hostcalls see the effective context and callback of the entry `current` names.
inline constexpr std::string_view kSdkHeaderBatchExport = "wasmgate_sdk_header_batch";
inline constexpr std::string_view kSdkRunHeaderBatchExport = "wasmgate_sdk_run_header_batch";
inline constexpr uint32_t kHeaderBatchRequest = 1;
inline constexpr uint32_t kHeaderBatchResponse = 2;

class PluginModule {
 public:
  // Compiles the module, detects its ABI version and checks the exports the host relies on.
  static Result<std::shared_ptr<const PluginModule>> load(runtime::WasmEngine& engine,
                                                          std::span<const uint8_t> bytes,
                                                          const VmLimits& limits);
  AbiVersion abiVersion() const { return abiVersion_; }
  const runtime::CompiledModulePtr& compiled() const { return compiled_; }
  runtime::WasmEngine& engine() const { return engine_; }
  const VmLimits& limits() const { return limits_; }
  // The type each callback must have for this module's ABI version.
  const runtime::FuncType& callbackType(Callback cb) const {
    return types_[static_cast<size_t>(cb)];
  }

 private:
  PluginModule(runtime::WasmEngine& engine) : engine_(engine) {}
  runtime::WasmEngine& engine_;
  runtime::CompiledModulePtr compiled_;
  AbiVersion abiVersion_ = AbiVersion::k0_2_1;
  VmLimits limits_;
  std::array<runtime::FuncType, static_cast<size_t>(Callback::kCount)> types_;
};

// The host function table all plugin VMs link against (proxy_* and WASI), built once.
const runtime::HostFunctionTable& hostcallTable();

class PluginVm {
 public:
  static Result<std::unique_ptr<PluginVm>> create(std::shared_ptr<const PluginModule> module,
                                                  PluginSpec spec, PluginHost& host);
  ~PluginVm();
  PluginVm(const PluginVm&) = delete;
  PluginVm& operator=(const PluginVm&) = delete;

  // Runs the entry points, creates the root context, then proxy_on_vm_start and
  // proxy_on_configure. A false from either is kBadArgument with a message saying which.
  Status start();
  // proxy_validate_configuration (if exported) for a candidate configuration; ok if accepted.
  Status validateConfiguration(std::string_view configuration);
  // proxy_on_done on the root context; proxy_on_delete once the plugin agrees (or calls
  // proxy_done).
  Status shutdown();

  bool failed() const { return !failure_.isOk(); }
  const Status& failure() const { return failure_; }
  AbiVersion abiVersion() const { return module_->abiVersion(); }
  const PluginSpec& spec() const { return spec_; }
  uint32_t rootContextId() const { return rootContextId_; }
  uint64_t liveStreams() const;

  // Stream contexts. The StreamHost must stay alive until endStream returns.
  Result<uint32_t> createStream(StreamHost& stream);
  Result<HeadersStatus> onRequestHeaders(uint32_t context, uint32_t headers, bool endOfStream);
  Result<DataStatus> onRequestBody(uint32_t context, uint32_t size, bool endOfStream);
  Result<FilterStatus> onRequestTrailers(uint32_t context, uint32_t trailers);
  Result<HeadersStatus> onResponseHeaders(uint32_t context, uint32_t headers, bool endOfStream);
  Result<DataStatus> onResponseBody(uint32_t context, uint32_t size, bool endOfStream);
  Result<FilterStatus> onResponseTrailers(uint32_t context, uint32_t trailers);
  Result<FilterStatus> onNewConnection(uint32_t context);
  Result<FilterStatus> onDownstreamData(uint32_t context, uint32_t size, bool endOfStream);
  Result<FilterStatus> onUpstreamData(uint32_t context, uint32_t size, bool endOfStream);
  Status onDownstreamConnectionClose(uint32_t context, PeerType peer);
  Status onUpstreamConnectionClose(uint32_t context, PeerType peer);
  // proxy_on_done, proxy_on_log, proxy_on_delete, in the spec's order; the context is gone after.
  Status endStream(uint32_t context);
  // False when the SDK said no stream class of the plugin implements `cb` (see
  // kSdkStreamCallbacksExport): for stream contexts it answers Continue without a call, so an
  // embedder may skip it altogether.
  bool callsStreamCallback(Callback cb) const { return callForStreams_[static_cast<size_t>(cb)]; }

  // Header callbacks of several streams in one guest entry (kSdkHeaderBatchExport), for a module
  // whose SDK offers it; results[i] is what calls[i] answered, as onRequestHeaders or
  // onResponseHeaders would return it. Any failure fails the VM; `completed` (if given) then says
  // how many calls, from the first, keep their answers in `results`: those run to their end,
  // with what they asked for delivered, or that answered Continue before the failure. It is
  // calls.size() on success. Only outside callbacks (an embedder's event loop gathers the calls).
  struct HeaderCall {
    uint32_t context = 0;
    bool response = false;  // proxy_on_response_headers, else proxy_on_request_headers
    uint32_t headers = 0;
    bool endOfStream = false;
  };
  bool batchesHeaderCallbacks() const { return headerBatch_ != 0; }
  // `reached` (if given): how many calls the guest got to, the failing one included; the later
  // ones never ran.
  Status runHeaderBatch(std::span<const HeaderCall> calls, std::span<HeadersStatus> results,
                        size_t* completed = nullptr, size_t* reached = nullptr);

  // Root-context events the embedder delivers.
  Status onTick();
  Status onQueueReady(uint32_t token);
  // response == nullptr: the callout failed (reset, timeout, unknown host); `reason` says why.
  Status onHttpCallResponse(uint32_t token, const HttpCallResponse* response,
                            std::string_view reason = "reset");
  Status onGrpcInitialMetadata(uint32_t token, const Headers& metadata);
  Status onGrpcReceive(uint32_t token, std::string_view message);
  Status onGrpcTrailingMetadata(uint32_t token, const Headers& metadata);
  Status onGrpcClose(uint32_t token, uint32_t grpcStatus, std::string_view message);
  // A unary call that succeeded is over (it gets no proxy_on_grpc_close): forget its token.
  void onGrpcCallDone(uint32_t token) { forgetGrpcToken(token); }
  Status onForeignFunction(uint32_t functionId, std::string_view arguments);

  // ---- The interface hostcalls use (src/abi/hostcalls.cc, wasi.cc, properties.cc). ----
  struct Context {
    uint32_t id = 0;
    uint32_t rootId = 0;  // 0 for the root context itself
    StreamHost* stream = nullptr;
    bool isRoot() const { return rootId == 0; }
  };
  // What the callback running now may see besides its context.
  struct Frame {
    Callback callback = Callback::kCount;
    bool localResponseSent = false;
    const HttpCallResponse* httpCallResponse = nullptr;
    const Headers* grpcMetadata = nullptr;
    std::string_view grpcMessage;
    std::string_view callData;
    std::string_view configuration;  // buffer 7 while validating or configuring
    uint32_t statusCode = 0;         // proxy_get_status
    std::string statusMessage;
  };

  // Calls any export with `context` as the effective context and `frame` as what the running
  // callback may see, exactly as a callback runs (deferred actions included). Tests and fuzzers
  // drive single hostcalls through exports this way.
  Result<uint64_t> callExport(std::string_view name, const runtime::FuncType& type,
                              std::span<const uint64_t> args, uint32_t context, Frame frame);

  runtime::WasmInstance& wasm() { return *instance_; }
  PluginHost& host() { return host_; }
  Context* effectiveContext();
  Context* findContext(uint32_t id);
  WasmResult setEffectiveContext(uint32_t id);
  Frame& frame() {
    if (!batchCalls_.empty()) followHeaderBatch();
    return *frame_;
  }
  bool inStartup() const { return inStartup_; }
  // Section 1.3: allocate in the guest, copy, and write pointer and size into the two slots.
  WasmResult returnBytes(std::string_view bytes, uint32_t dataSlot, uint32_t sizeSlot);
  // Actions that could re-enter the plugin run after the current callback returns.
  void deferContinue(uint32_t context, StreamType type);
  void deferClose(uint32_t context, StreamType type);
  void deferLocalResponse(uint32_t context, LocalResponse response);
  uint32_t nextHttpCallToken() { return nextHttpToken_++; }
  uint32_t nextGrpcToken(bool stream);
  void trackGrpcToken(uint32_t token) { grpcTokens_.insert(token); }
  bool knowsGrpcToken(uint32_t token) const { return grpcTokens_.count(token) != 0; }
  void forgetGrpcToken(uint32_t token) { grpcTokens_.erase(token); }
  WasmResult proxyDone();
  // Called by WASI proc_exit; the guest then traps.
  void recordExit(uint32_t code) { exitCode_ = code; }

 private:
  struct Deferred {
    enum Kind { kContinue, kClose, kLocalResponse } kind;
    uint32_t context;
    StreamType type;
    LocalResponse response;
  };
  PluginVm(std::shared_ptr<const PluginModule> module, PluginSpec spec, PluginHost& host);
  Status resolveExports();
  Status runEntryPoints();
  // Calls one export with `context` as the effective context. Missing export: ok, result=fallback.
  Result<uint64_t> invoke(Callback cb, uint32_t context, std::initializer_list<uint64_t> args,
                          uint64_t fallback, Frame frame);
  Result<uint64_t> invoke(Callback cb, uint32_t context, std::initializer_list<uint64_t> args,
                          uint64_t fallback) {
    return invoke(cb, context, args, fallback, Frame());
  }
  Status fail(Status status);
  // Runs `handle` with `context` as the effective context and `frame` as what hostcalls see;
  // both are restored afterwards.
  // `callbacks`: how many callbacks the call stands for (a header batch), each with a deadline.
  Status callInFrame(runtime::FunctionHandle handle, std::span<const uint64_t> args,
                     uint32_t context, Frame& frame, uint64_t* result, uint32_t callbacks = 1);
  void addContext(Context context);  // `context.id` must be new
  void eraseContext(uint32_t id);
  Result<uint32_t> streamCallback(Callback cb, uint32_t context,
                                  std::initializer_list<uint64_t> args);
  void runDeferred();
  Status deleteContext(uint32_t id);
  // Calls one of the SDK's `() -> i32` exports; nullopt when the module does not have it.
  Result<std::optional<uint32_t>> callSdkExport(std::string_view name);
  Status readSdkStreamCallbacks();
  Status readSdkContextQueue();
  // Writes a change into the SDK's context queue; false when there is none, it is full, or a
  // callback is running (the guest could be applying the queue).
  bool queueContextChange(uint32_t context, uint32_t parent);
  Status readSdkHeaderBatch();
  Status runHeaderBatchChunk(std::span<const HeaderCall> calls, std::span<HeadersStatus> results,
                             size_t& completed, size_t& reached);
  // While a header batch runs: makes the entry the guest names in `current` the effective
  // context and frame, once per change, so that hostcalls act for the right stream.
  void followHeaderBatch();

  std::shared_ptr<const PluginModule> module_;
  PluginSpec spec_;
  VmIdHold vmIdHold_;  // the vm_id's shared data and queues live while this VM does
  PluginHost& host_;
  std::unique_ptr<runtime::WasmInstance> instance_;
  std::array<std::optional<runtime::FunctionHandle>, static_cast<size_t>(Callback::kCount)>
      exports_;
  // Per callback: false when the SDK said no stream class implements it (see
  // kSdkStreamCallbacksExport); such a callback is not called for stream contexts.
  std::array<bool, static_cast<size_t>(Callback::kCount)> callForStreams_;
  // The SDK's context queue (kSdkContextQueueExport); address 0 when there is none.
  uint32_t contextQueue_ = 0;
  uint32_t contextQueueCapacity_ = 0;
  bool queueStreamDeletes_ = false;
  // The SDK's header batch list (kSdkHeaderBatchExport); address 0 when there is none.
  uint32_t headerBatch_ = 0;
  uint32_t headerBatchCapacity_ = 0;
  std::optional<runtime::FunctionHandle> runHeaderBatch_;
  std::span<const HeaderCall> batchCalls_;  // the chunk running now; empty otherwise
  std::vector<Frame> batchFrames_;
  uint32_t batchEntry_ = 0;                          // the entry followHeaderBatch last switched to
  std::unordered_map<uint32_t, Context> contexts_;   // node-based: pointers to values stay valid
  decltype(contexts_)::node_type spareContextNode_;  // an erased entry's, for the next one
  uint32_t nextContextId_ = 1;
  uint32_t rootContextId_ = 0;
  uint32_t effectiveContextId_ = 0;
  Context* lastFound_ = nullptr;  // what findContext found last
  Frame idleFrame_;               // what frame() shows when no callback runs
  Frame* frame_ = &idleFrame_;
  int depth_ = 0;
  bool inStartup_ = false;
  bool rootAwaitingDone_ = false;
  bool rootDeletePending_ = false;
  bool lastLocalResponseSent_ = false;
  std::vector<Deferred> deferred_;
  uint32_t nextHttpToken_ = 1;
  uint32_t nextGrpcCallToken_ = 2;    // even: unary calls
  uint32_t nextGrpcStreamToken_ = 1;  // odd: streams
  std::set<uint32_t> grpcTokens_;
  std::optional<uint32_t> exitCode_;
  Status failure_;
};

}  // namespace wasmgate::abi
