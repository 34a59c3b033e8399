// Sections 1.4 to 1.6, 2.4 and 5: loading (ABI version detection and the checks that refuse a
// module), start-up order, entry points, configuration failures, local responses and resumes
// acting after the callback, and the end of stream and root contexts, with small fixture plugins.
#include "unit/abi/probe_vm.h"

namespace wasmgate::testing {
namespace {

using abi::WasmResult;

Result<std::shared_ptr<const abi::PluginModule>> load(const std::string& fixture,
                                                      const abi::VmLimits& limits = {}) {
  return abi::PluginModule::load(testEngine(), readFixture(fixture), limits);
}

// A plugin VM made from a fixture, not started.
struct Plugin {
  explicit Plugin(const std::string& fixture, abi::PluginSpec spec = {},
                  const abi::VmLimits& limits = {}) {
    auto module = load(fixture, limits);
    EXPECT_TRUE(module.isOk()) << module.status().toString();
    if (!module.isOk()) return;
    auto created = abi::PluginVm::create(*module, std::move(spec), host);
    EXPECT_TRUE(created.isOk()) << created.status().toString();
    if (created.isOk()) vm = std::move(created).value();
  }
  uint32_t at(uint32_t addr) { return vm->wasm().readU32(addr).value_or(0xdeadbeef); }
  // What the plugin logged, in order (the fixtures log their callbacks as "cb:<name>").
  std::vector<std::string> events() const {
    std::vector<std::string> out;
    for (const auto& [level, message] : host.logs) out.push_back(message);
    return out;
  }
  bool saw(std::string_view event) const {
    for (const auto& [level, message] : host.logs) {
      if (message == event) return true;
    }
    return false;
  }

  FakePluginHost host;
  std::unique_ptr<abi::PluginVm> vm;
};

abi::PluginSpec lifecycleSpec(std::string vmConfiguration = "",
                              std::string pluginConfiguration = "") {
  abi::PluginSpec spec;
  spec.rootId = "root-7";
  spec.vmConfiguration = std::move(vmConfiguration);
  spec.pluginConfiguration = std::move(pluginConfiguration);
  return spec;
}

// A stream that notes, when the plugin's deferred actions reach it, whether the plugin had already
// logged what it does after asking for them: proof they run after the callback, not inside it.
class OrderCheckingStream : public FakeStream {
 public:
  explicit OrderCheckingStream(const FakePluginHost& host) : host_(host) {}
  void continueStream(abi::StreamType type) override {
    continuedAfterCallback = host_.logged("after:continue");
    FakeStream::continueStream(type);
  }
  void sendLocalResponse(abi::LocalResponse response) override {
    sentAfterCallback = host_.logged("after:local_response");
    FakeStream::sendLocalResponse(std::move(response));
  }
  bool continuedAfterCallback = false;
  bool sentAfterCallback = false;

 private:
  const FakePluginHost& host_;
};

// ---- Loading ----

TEST(AbiVersionTest, TheMarkerExportSelectsTheVersion) {
  auto v010 = load("abi_0_1_0.wasm");
  auto v020 = load("abi_0_2_0.wasm");
  auto v021 = load("hostcall_probe.wasm");
  ASSERT_TRUE(v010.isOk() && v020.isOk() && v021.isOk());
  EXPECT_EQ((*v010)->abiVersion(), abi::AbiVersion::k0_1_0);
  EXPECT_EQ((*v020)->abiVersion(), abi::AbiVersion::k0_2_0);
  EXPECT_EQ((*v021)->abiVersion(), abi::AbiVersion::k0_2_1);
}

TEST(AbiVersionTest, Abi010GetsTwoArgumentHeaderCallbacksAndOkForAMissingHeader) {
  Plugin p("abi_0_1_0.wasm");
  ASSERT_TRUE(p.vm->start().isOk());
  FakeStream stream;
  auto ctx = p.vm->createStream(stream);
  ASSERT_TRUE(ctx.isOk());
  auto headers = p.vm->onRequestHeaders(*ctx, 5, true);
  ASSERT_TRUE(headers.isOk()) << headers.status().toString();
  EXPECT_EQ(*headers, abi::HeadersStatus::kContinue);
  EXPECT_EQ(p.at(0x20), 5u);                                      // num_headers arrived intact
  EXPECT_EQ(p.at(0x24), static_cast<uint32_t>(WasmResult::kOk));  // missing header: Ok ...
  EXPECT_EQ(p.at(0x28), 0u);                                      // ... with an empty value
  EXPECT_EQ(p.at(0x2c), 0u);
  EXPECT_EQ(p.at(0x30), static_cast<uint32_t>(WasmResult::kOk));  // proxy_continue_request
  EXPECT_EQ(stream.continued, std::vector<abi::StreamType>{abi::StreamType::kHttpRequest});
  auto response = p.vm->onResponseHeaders(*ctx, 7, false);
  ASSERT_TRUE(response.isOk()) << response.status().toString();
  EXPECT_EQ(p.at(0x34), 7u);
}

TEST(AbiVersionTest, Abi020GetsThreeArgumentHeaderCallbacks) {
  Plugin p("abi_0_2_0.wasm");
  ASSERT_TRUE(p.vm->start().isOk());
  FakeStream stream;
  auto ctx = p.vm->createStream(stream);
  ASSERT_TRUE(ctx.isOk());
  ASSERT_TRUE(p.vm->onRequestHeaders(*ctx, 4, true).isOk());
  EXPECT_EQ(p.at(0x20), 4u);
  EXPECT_EQ(p.at(0x24), 1u);
}

struct RefusedModule {
  const char* fixture;
  const char* messagePart;
};

class RefusedModuleTest : public ::testing::TestWithParam<RefusedModule> {};

TEST_P(RefusedModuleTest, LoadFailsNamingTheProblem) {
  auto module = load(GetParam().fixture);
  ASSERT_FALSE(module.isOk()) << GetParam().fixture << " loaded";
  EXPECT_NE(module.status().message().find(GetParam().messagePart), std::string::npos)
      << module.status().toString();
}

INSTANTIATE_TEST_SUITE_P(
    EveryReason, RefusedModuleTest,
    ::testing::Values(
        RefusedModule{"bad_no_abi_marker.wasm", "missing or unknown ABI version"},
        RefusedModule{"bad_vnext_abi_marker.wasm", "missing or unknown ABI version"},
        RefusedModule{"bad_callback_type.wasm", "proxy_on_done"},
        RefusedModule{"bad_abi_0_1_0_three_arg_headers.wasm", "proxy_on_request_headers"},
        RefusedModule{"bad_no_allocator.wasm", "neither malloc nor proxy_on_memory_allocate"}));

// ---- Start-up ----

TEST(StartupTest, EntryPointsRunBeforeTheRootContextWhichKnowsItsRootId) {
  Plugin p("lifecycle_plugin.wasm", lifecycleSpec());
  ASSERT_TRUE(p.vm->start().isOk());
  // _initialize, then main, then the root context: created, started, configured. During its
  // proxy_on_context_create the plugin could already read plugin_root_id.
  EXPECT_EQ(p.events(),
            (std::vector<std::string>{"cb:initialize", "cb:main", "cb:context_create_root",
                                      "root-7", "cb:vm_start", "cb:configure"}));
  EXPECT_NE(p.vm->rootContextId(), 0u);
}

TEST(StartupTest, VmStartReturningFalseIsAClearError) {
  Plugin p("lifecycle_plugin.wasm", lifecycleSpec("FAIL"));
  Status started = p.vm->start();
  ASSERT_FALSE(started.isOk());
  EXPECT_NE(started.message().find("proxy_on_vm_start returned false"), std::string::npos)
      << started.toString();
  EXPECT_FALSE(p.saw("cb:configure"));
  EXPECT_TRUE(p.vm->failed());
  FakeStream stream;
  EXPECT_FALSE(p.vm->createStream(stream).isOk());
}

TEST(StartupTest, ConfigureReturningFalseIsAClearError) {
  Plugin p("lifecycle_plugin.wasm", lifecycleSpec("", "FAIL"));
  Status started = p.vm->start();
  ASSERT_FALSE(started.isOk());
  EXPECT_NE(started.message().find("proxy_on_configure returned false"), std::string::npos)
      << started.toString();
  EXPECT_TRUE(p.saw("cb:configure"));
  EXPECT_TRUE(p.vm->failed());
}

TEST(StartupTest, ValidateConfigurationIsADryRun) {
  Plugin p("lifecycle_plugin.wasm", lifecycleSpec("", "current"));
  ASSERT_TRUE(p.vm->start().isOk());
  EXPECT_TRUE(p.vm->validateConfiguration("candidate").isOk());
  Status rejected = p.vm->validateConfiguration("FAIL");
  ASSERT_FALSE(rejected.isOk());
  EXPECT_NE(rejected.message().find("proxy_validate_configuration returned false"),
            std::string::npos)
      << rejected.toString();
  EXPECT_FALSE(p.vm->failed());  // a rejected candidate leaves the running plugin alone
  FakeStream stream;
  EXPECT_TRUE(p.vm->createStream(stream).isOk());
  // Each call saw its own candidate in buffer 7 (the running one, "current", would have passed).
  std::vector<std::string> events = p.events();
  EXPECT_EQ(std::count(events.begin(), events.end(), "cb:validate_configuration"), 2);
}

abi::PluginSpec withEnvironmentSize(size_t count) {
  abi::PluginSpec spec;
  for (size_t i = 0; i < count; ++i) spec.environment.emplace_back("VAR" + std::to_string(i), "x");
  return spec;
}

TEST(StartupTest, WasiCommandStartReturningIsNotAFailure) {
  Plugin p("wasi_command.wasm", withEnvironmentSize(0));
  ASSERT_TRUE(p.vm->start().isOk());
  EXPECT_EQ(p.events(), (std::vector<std::string>{"cb:start", "cb:context_create"}));
}

TEST(StartupTest, WasiCommandStartEndingInProcExitZeroIsNotAFailure) {
  Plugin p("wasi_command.wasm", withEnvironmentSize(1));
  Status started = p.vm->start();
  ASSERT_TRUE(started.isOk()) << started.toString();
  EXPECT_FALSE(p.vm->failed());
  EXPECT_EQ(p.events(), (std::vector<std::string>{"cb:start", "cb:context_create"}));
  FakeStream stream;
  EXPECT_TRUE(p.vm->createStream(stream).isOk());
}

TEST(StartupTest, WasiCommandStartEndingInProcExitNonZeroFails) {
  Plugin p("wasi_command.wasm", withEnvironmentSize(2));
  Status started = p.vm->start();
  ASSERT_FALSE(started.isOk());
  EXPECT_EQ(started.code(), StatusCode::kTrap);
  EXPECT_NE(started.message().find("proc_exit(2)"), std::string::npos) << started.toString();
  EXPECT_TRUE(p.vm->failed());
  EXPECT_FALSE(p.saw("cb:context_create"));
}

// ---- Streams ----

class LifecycleStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(p.vm->start().isOk());
    auto id = p.vm->createStream(stream);
    ASSERT_TRUE(id.isOk());
    ctx = *id;
  }
  Plugin p{"lifecycle_plugin.wasm", lifecycleSpec()};
  OrderCheckingStream stream{p.host};
  uint32_t ctx = 0;
};

TEST_F(LifecycleStreamTest, LocalResponseForcesStopAndIsSentAfterTheCallback) {
  auto status = p.vm->onRequestHeaders(ctx, 1, true);  // the plugin returns Continue
  ASSERT_TRUE(status.isOk()) << status.status().toString();
  EXPECT_EQ(*status, abi::HeadersStatus::kStopAllAndWatermark);
  ASSERT_EQ(stream.localResponses.size(), 1u);
  EXPECT_EQ(stream.localResponses[0].status, 403u);
  EXPECT_EQ(stream.localResponses[0].body, "denied");
  EXPECT_EQ(stream.localResponses[0].details, "denied");
  EXPECT_TRUE(stream.sentAfterCallback);
  // The next callback is not forced: the plugin's Continue is Continue again.
  auto next = p.vm->onRequestHeaders(ctx, 0, true);
  ASSERT_TRUE(next.isOk());
  EXPECT_EQ(*next, abi::HeadersStatus::kContinue);
  EXPECT_EQ(stream.localResponses.size(), 1u);
}

TEST_F(LifecycleStreamTest, ContinueStreamActsAfterTheCallback) {
  auto status = p.vm->onRequestHeaders(ctx, 2, false);  // the plugin returns StopIteration
  ASSERT_TRUE(status.isOk());
  EXPECT_EQ(*status, abi::HeadersStatus::kStopAllAndWatermark);  // 1 is converted to 4
  EXPECT_EQ(stream.continued, std::vector<abi::StreamType>{abi::StreamType::kHttpRequest});
  EXPECT_TRUE(stream.continuedAfterCallback);
}

TEST_F(LifecycleStreamTest, StreamContextIsCreatedOnceAndEndsInSpecOrder) {
  ASSERT_TRUE(p.vm->onRequestHeaders(ctx, 0, true).isOk());
  ASSERT_TRUE(p.vm->endStream(ctx).isOk());
  std::vector<std::string> events = p.events();
  auto from = std::find(events.begin(), events.end(), "cb:context_create_stream");
  ASSERT_NE(from, events.end());
  EXPECT_EQ(std::vector<std::string>(from, events.end()),
            (std::vector<std::string>{"cb:context_create_stream", "cb:request_headers", "cb:done",
                                      "cb:log", "cb:delete"}));
  EXPECT_EQ(p.vm->liveStreams(), 0u);
  EXPECT_FALSE(p.vm->onRequestHeaders(ctx, 0, true).isOk());  // the id is gone
}

TEST_F(LifecycleStreamTest, MissingCallbacksAnswerTheirDefaults) {
  auto body = p.vm->onRequestBody(ctx, 10, true);
  ASSERT_TRUE(body.isOk());
  EXPECT_EQ(*body, abi::DataStatus::kContinue);
  auto response = p.vm->onResponseHeaders(ctx, 1, false);
  ASSERT_TRUE(response.isOk());
  EXPECT_EQ(*response, abi::HeadersStatus::kContinue);
  auto data = p.vm->onDownstreamData(ctx, 3, false);
  ASSERT_TRUE(data.isOk());
  EXPECT_EQ(*data, abi::FilterStatus::kContinue);
}

TEST_F(LifecycleStreamTest, LocalResponseOnOneStreamDoesNotStopAnotherStreamsDefaultCallback) {
  FakeStream other;
  auto otherCtx = p.vm->createStream(other);
  ASSERT_TRUE(otherCtx.isOk());
  ASSERT_TRUE(p.vm->onRequestHeaders(ctx, 1, true).isOk());  // local reply on the first stream
  auto body = p.vm->onRequestBody(*otherCtx, 10, true);      // not exported: default Continue
  ASSERT_TRUE(body.isOk());
  EXPECT_EQ(*body, abi::DataStatus::kContinue);
  auto response = p.vm->onResponseTrailers(*otherCtx, 1);
  ASSERT_TRUE(response.isOk());
  EXPECT_EQ(*response, abi::FilterStatus::kContinue);
}

// An embedder that delivers the local reply through the filter chain at once, as Envoy does: the
// plugin's response callbacks run from inside sendLocalResponse.
class ReenteringStream : public FakeStream {
 public:
  void sendLocalResponse(abi::LocalResponse response) override {
    FakeStream::sendLocalResponse(std::move(response));
    responseHeaders = vm->onResponseHeaders(context, 1, true).isOk();
  }
  abi::PluginVm* vm = nullptr;
  uint32_t context = 0;
  bool responseHeaders = false;
};

TEST(LocalResponseReentryTest, CallbacksRunFromTheReplyDoNotUndoTheForcedStop) {
  Plugin p("lifecycle_plugin.wasm", lifecycleSpec());
  ASSERT_TRUE(p.vm->start().isOk());
  ReenteringStream stream;
  auto ctx = p.vm->createStream(stream);
  ASSERT_TRUE(ctx.isOk());
  stream.vm = p.vm.get();
  stream.context = *ctx;
  auto status =
      p.vm->onRequestHeaders(*ctx, 1, true);  // local reply, then the plugin says Continue
  ASSERT_TRUE(status.isOk()) << status.status().toString();
  EXPECT_TRUE(stream.responseHeaders);
  EXPECT_EQ(*status, abi::HeadersStatus::kStopAllAndWatermark);
}

// ---- The end of the root context ----

TEST(RootDoneTest, OnDoneTrueDeletesAtOnce) {
  Plugin p("lifecycle_plugin.wasm", lifecycleSpec());
  ASSERT_TRUE(p.vm->start().isOk());
  ASSERT_TRUE(p.vm->shutdown().isOk());
  std::vector<std::string> events = p.events();
  ASSERT_GE(events.size(), 2u);
  EXPECT_EQ(std::vector<std::string>(events.end() - 2, events.end()),
            (std::vector<std::string>{"cb:done", "cb:delete"}));
  ASSERT_TRUE(p.vm->onTick().isOk());
  EXPECT_FALSE(p.saw("cb:tick"));  // a deleted root gets no more callbacks
}

TEST(RootDoneTest, OnDoneFalseWaitsForProxyDoneThenDeletesAfterThatCallback) {
  Plugin p("lifecycle_plugin.wasm", lifecycleSpec("", "WAIT"));
  ASSERT_TRUE(p.vm->start().isOk());
  ASSERT_TRUE(p.vm->shutdown().isOk());
  EXPECT_TRUE(p.saw("cb:done"));
  EXPECT_FALSE(p.saw("cb:delete"));
  size_t before = p.events().size();
  // Still alive: its timer fires, and there it calls proxy_done.
  ASSERT_TRUE(p.vm->onTick().isOk());
  std::vector<std::string> events = p.events();
  EXPECT_EQ(std::vector<std::string>(events.begin() + static_cast<ptrdiff_t>(before), events.end()),
            (std::vector<std::string>{"cb:tick", "after:proxy_done", "cb:delete"}));
  ASSERT_TRUE(p.vm->onTick().isOk());
  EXPECT_EQ(p.events().size(), events.size());  // deleted: no second tick
}

TEST(SdkStreamCallbacksTest, CallbacksTheSdkSaysAreUnusedAreSkippedOnStreamsOnly) {
  Plugin p("sdk_stream_callbacks.wasm");
  ASSERT_TRUE(p.vm);
  ASSERT_TRUE(p.vm->start().isOk());
  FakeStream stream;
  auto ctx = p.vm->createStream(stream);
  ASSERT_TRUE(ctx.isOk());
  auto requestHeaders = p.vm->onRequestHeaders(*ctx, 0, false);  // implemented: the plugin stops
  ASSERT_TRUE(requestHeaders.isOk());
  EXPECT_EQ(*requestHeaders, abi::HeadersStatus::kStopAllAndWatermark);
  auto requestBody = p.vm->onRequestBody(*ctx, 4, true);  // skipped: Continue
  ASSERT_TRUE(requestBody.isOk());
  EXPECT_EQ(*requestBody, abi::DataStatus::kContinue);
  auto responseHeaders = p.vm->onResponseHeaders(*ctx, 0, false);  // skipped
  ASSERT_TRUE(responseHeaders.isOk());
  EXPECT_EQ(*responseHeaders, abi::HeadersStatus::kContinue);
  auto responseBody = p.vm->onResponseBody(*ctx, 4, true);  // implemented
  ASSERT_TRUE(responseBody.isOk());
  EXPECT_EQ(*responseBody, abi::DataStatus::kStopAndBuffer);
  ASSERT_TRUE(p.vm->endStream(*ctx).isOk());  // on_done skipped, on_log called
  EXPECT_EQ(p.events(), (std::vector<std::string>{"cb:context_create", "cb:context_create",
                                                  "cb:request_headers", "cb:response_body",
                                                  "cb:log", "cb:delete"}));
  ASSERT_TRUE(p.vm->shutdown().isOk());
  EXPECT_TRUE(p.saw("cb:on_done_root"));  // root contexts get every callback
  EXPECT_FALSE(p.saw("cb:done"));
}

// ---- The SDK's context queue (kSdkContextQueueExport) ----

constexpr uint32_t kQueue = 0x400;  // where sdk_context_queue.wat keeps its queue

TEST(SdkContextQueueTest, StreamCreationAndDeletionAreWrittenToTheQueueNotCalled) {
  Plugin p("sdk_context_queue.wasm");
  ASSERT_TRUE(p.vm);
  ASSERT_TRUE(p.vm->start().isOk());
  FakeStream stream;
  auto ctx = p.vm->createStream(stream);
  ASSERT_TRUE(ctx.isOk());
  EXPECT_EQ(p.at(kQueue), 1u);
  EXPECT_EQ(p.at(kQueue + 8), *ctx);
  EXPECT_EQ(p.at(kQueue + 12), 1u);  // the root context
  ASSERT_TRUE(p.vm->onRequestHeaders(*ctx, 0, false).isOk());
  ASSERT_TRUE(p.vm->endStream(*ctx).isOk());
  EXPECT_EQ(p.at(kQueue), 2u);
  EXPECT_EQ(p.at(kQueue + 16), *ctx);
  EXPECT_EQ(p.at(kQueue + 20), 0u);  // parent 0: deleted
  EXPECT_EQ(p.vm->liveStreams(), 0u);
  // Only the root context's creation was a call.
  EXPECT_EQ(p.events(), (std::vector<std::string>{"cb:context_create 1", "cb:request_headers 2"}));
}

TEST(SdkContextQueueTest, AFullQueueFallsBackToCallsAndAnAppliedOneIsReused) {
  Plugin p("sdk_context_queue.wasm");
  ASSERT_TRUE(p.vm);
  ASSERT_TRUE(p.vm->start().isOk());
  FakeStream first, second;
  auto a = p.vm->createStream(first);
  auto b = p.vm->createStream(second);  // the queue (room for two) is full now
  ASSERT_TRUE(a.isOk() && b.isOk());
  EXPECT_EQ(p.at(kQueue), 2u);
  ASSERT_TRUE(p.vm->endStream(*a).isOk());  // called: proxy_on_delete
  EXPECT_EQ(p.events(), (std::vector<std::string>{"cb:context_create 1", "cb:delete 2"}));
  ASSERT_TRUE(p.vm->wasm().writeU32(kQueue, 0));  // what the SDK does once it applied the queue
  ASSERT_TRUE(p.vm->endStream(*b).isOk());
  EXPECT_EQ(p.at(kQueue), 1u);
  EXPECT_EQ(p.at(kQueue + 8), *b);
  EXPECT_EQ(p.at(kQueue + 12), 0u);
  EXPECT_FALSE(p.saw("cb:delete 3"));
}

TEST(SdkContextQueueTest, AStreamClassWithOnDeleteGetsTheCall) {
  Plugin p("sdk_context_queue.wasm");
  ASSERT_TRUE(p.vm);
  ASSERT_TRUE(p.vm->wasm().writeU32(0x800, 0x9 | abi::kStreamDelete));
  ASSERT_TRUE(p.vm->start().isOk());
  FakeStream stream;
  auto ctx = p.vm->createStream(stream);
  ASSERT_TRUE(ctx.isOk());
  ASSERT_TRUE(p.vm->endStream(*ctx).isOk());
  EXPECT_EQ(p.at(kQueue), 1u);  // the creation only
  EXPECT_TRUE(p.saw("cb:delete 2"));
}

TEST(SdkContextQueueTest, AQueueOutsideMemoryIsNotUsed) {
  for (uint32_t address : {0u, 65532u, 0xfffffff8u}) {
    Plugin p("sdk_context_queue.wasm");
    ASSERT_TRUE(p.vm);
    ASSERT_TRUE(p.vm->wasm().writeU32(0x804, address));
    ASSERT_TRUE(p.vm->start().isOk()) << address;
    FakeStream stream;
    auto ctx = p.vm->createStream(stream);
    ASSERT_TRUE(ctx.isOk());
    ASSERT_TRUE(p.vm->endStream(*ctx).isOk());
    EXPECT_EQ(p.events(), (std::vector<std::string>{"cb:context_create 1", "cb:context_create 2",
                                                    "cb:delete 2"}))
        << address;
  }
}

TEST(SdkContextQueueTest, AQueueClaimingTooMuchRoomIsNotUsed) {
  Plugin p("sdk_context_queue.wasm");
  ASSERT_TRUE(p.vm);
  ASSERT_TRUE(p.vm->wasm().writeU32(kQueue + 4, 100000));  // capacity past the end of memory
  ASSERT_TRUE(p.vm->start().isOk());
  FakeStream stream;
  ASSERT_TRUE(p.vm->createStream(stream).isOk());
  EXPECT_TRUE(p.saw("cb:context_create 2"));
  EXPECT_EQ(p.at(kQueue), 0u);
}

// ---- The SDK's header batch (kSdkHeaderBatchExport) ----

constexpr uint32_t kAnswer = 0x808, kTrapFor = 0x80c, kLocalResponseFor = 0x810;

std::string header(const abi::Headers& headers, std::string_view name) {
  const std::string* value = abi::findHeader(headers, name);
  return value ? *value : "(none)";
}

// A stream context for each of `streams`, and a request-header call for it.
std::vector<abi::PluginVm::HeaderCall> requestCalls(Plugin& p, std::span<FakeStream> streams) {
  std::vector<abi::PluginVm::HeaderCall> calls;
  for (FakeStream& stream : streams) {
    auto ctx = p.vm->createStream(stream);
    EXPECT_TRUE(ctx.isOk()) << ctx.status().toString();
    calls.push_back({ctx.isOk() ? *ctx : 0, false, 0, false});
  }
  return calls;
}

// sdk_header_batch.wasm, started.
class SdkHeaderBatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(p.vm);
    ASSERT_TRUE(p.vm->start().isOk());
  }
  Plugin p{"sdk_header_batch.wasm"};
};

TEST_F(SdkHeaderBatchTest, CallsOfSeveralStreamsRunInOneEntryEachForItsOwnStream) {
  ASSERT_TRUE(p.vm->batchesHeaderCallbacks());
  FakeStream streams[2];
  streams[1].streamData.responseHeadersReceived = true;
  auto calls = requestCalls(p, streams);
  calls[1].response = true;
  calls[1].endOfStream = true;
  abi::HeadersStatus results[2];
  ASSERT_TRUE(p.vm->runHeaderBatch(calls, results).isOk());
  EXPECT_EQ(p.events(), (std::vector<std::string>{"cb:batch 2"}));
  EXPECT_EQ(header(streams[0].streamData.requestHeaders, "x-ctx"),
            std::to_string(calls[0].context));
  EXPECT_EQ(header(streams[1].streamData.responseHeaders, "x-ctx"),
            std::to_string(calls[1].context));
  EXPECT_TRUE(streams[0].streamData.responseHeaders.empty());
  EXPECT_TRUE(streams[1].streamData.requestHeaders.empty());
  EXPECT_EQ(results[0], abi::HeadersStatus::kContinue);
  EXPECT_EQ(results[1], abi::HeadersStatus::kContinue);
  EXPECT_EQ(p.at(0x400), 0u);  // the guest emptied the list
}

TEST_F(SdkHeaderBatchTest, AnswersAreConvertedAsACallbacksAre) {
  ASSERT_TRUE(p.vm->wasm().writeU32(kAnswer, 1));  // StopIteration
  FakeStream streams[1];
  auto calls = requestCalls(p, streams);
  abi::HeadersStatus result = abi::HeadersStatus::kContinue;
  ASSERT_TRUE(p.vm->runHeaderBatch(calls, {&result, 1}).isOk());
  EXPECT_EQ(result, abi::HeadersStatus::kStopAllAndWatermark);
}

TEST_F(SdkHeaderBatchTest, MoreCallsThanTheListHoldsTakeSeveralEntries) {
  FakeStream streams[3];
  auto calls = requestCalls(p, streams);
  abi::HeadersStatus results[3];
  ASSERT_TRUE(p.vm->runHeaderBatch(calls, results).isOk());
  EXPECT_EQ(p.events(), (std::vector<std::string>{"cb:batch 2", "cb:batch 1"}));
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(header(streams[i].streamData.requestHeaders, "x-ctx"),
              std::to_string(calls[i].context));
  }
}

TEST_F(SdkHeaderBatchTest, ALocalResponseStopsOnlyTheStreamThatSentIt) {
  FakeStream streams[2];
  auto calls = requestCalls(p, streams);
  ASSERT_TRUE(p.vm->wasm().writeU32(kLocalResponseFor, calls[0].context));
  abi::HeadersStatus results[2];
  ASSERT_TRUE(p.vm->runHeaderBatch(calls, results).isOk());
  EXPECT_EQ(results[0], abi::HeadersStatus::kStopAllAndWatermark);
  EXPECT_EQ(results[1], abi::HeadersStatus::kContinue);
  ASSERT_EQ(streams[0].localResponses.size(), 1u);  // delivered after the batch returned
  EXPECT_EQ(streams[0].localResponses[0].status, 403u);
  EXPECT_EQ(streams[0].localResponses[0].body, "denied");
  EXPECT_TRUE(streams[1].localResponses.empty());
}

TEST_F(SdkHeaderBatchTest, ATrapFailsTheVmAndSaysWhichCallsHadReturned) {
  FakeStream streams[2];
  auto calls = requestCalls(p, streams);
  ASSERT_TRUE(p.vm->wasm().writeU32(kTrapFor, calls[1].context));
  abi::HeadersStatus results[2];
  size_t completed = 99;
  Status status = p.vm->runHeaderBatch(calls, results, &completed);
  EXPECT_EQ(status.code(), StatusCode::kTrap) << status.toString();
  EXPECT_NE(status.message().find("wasmgate_sdk_run_header_batch"), std::string::npos);
  EXPECT_TRUE(p.vm->failed());
  EXPECT_EQ(completed, 1u);  // the call before the trap had returned
  EXPECT_EQ(results[0], abi::HeadersStatus::kContinue);
  EXPECT_FALSE(p.vm->runHeaderBatch(calls, results).isOk());
}

TEST_F(SdkHeaderBatchTest, ALocalResponseAskedForBeforeATrapInTheSameEntryDiesWithTheVm) {
  FakeStream streams[2];
  auto calls = requestCalls(p, streams);
  ASSERT_TRUE(p.vm->wasm().writeU32(kLocalResponseFor, calls[0].context));
  ASSERT_TRUE(p.vm->wasm().writeU32(kTrapFor, calls[1].context));
  abi::HeadersStatus results[2];
  size_t completed = 99;
  EXPECT_EQ(p.vm->runHeaderBatch(calls, results, &completed).code(), StatusCode::kTrap);
  EXPECT_EQ(completed, 0u);  // its answer (stop) can never be followed by the response
  EXPECT_TRUE(streams[0].localResponses.empty());
}

TEST_F(SdkHeaderBatchTest, OnlyStreamContextsAndOnlyOutsideCallbacks) {
  const abi::PluginVm::HeaderCall root{p.vm->rootContextId(), false, 0, false};
  const abi::PluginVm::HeaderCall unknown{77, false, 0, false};
  abi::HeadersStatus result;
  EXPECT_EQ(p.vm->runHeaderBatch({&root, 1}, {&result, 1}).code(), StatusCode::kBadArgument);
  EXPECT_EQ(p.vm->runHeaderBatch({&unknown, 1}, {&result, 1}).code(), StatusCode::kBadArgument);
  EXPECT_FALSE(p.saw("cb:batch 1"));
  EXPECT_FALSE(p.vm->failed());
}

TEST(SdkHeaderBatchSetupTest, AListOutsideMemoryOrClaimingTooMuchIsNotUsed) {
  for (uint32_t address : {0u, 65530u, 0xfffffff0u}) {
    Plugin p("sdk_header_batch.wasm");
    ASSERT_TRUE(p.vm);
    ASSERT_TRUE(p.vm->wasm().writeU32(0x804, address));
    ASSERT_TRUE(p.vm->start().isOk()) << address;
    EXPECT_FALSE(p.vm->batchesHeaderCallbacks()) << address;
  }
  Plugin p("sdk_header_batch.wasm");
  ASSERT_TRUE(p.vm);
  ASSERT_TRUE(p.vm->wasm().writeU32(0x404, 5000));  // past the end of memory, and too many
  ASSERT_TRUE(p.vm->start().isOk());
  EXPECT_FALSE(p.vm->batchesHeaderCallbacks());
  FakeStream streams[1];
  auto calls = requestCalls(p, streams);
  abi::HeadersStatus result;
  EXPECT_EQ(p.vm->runHeaderBatch(calls, {&result, 1}).code(), StatusCode::kBadArgument);
}

TEST(SdkHeaderBatchSetupTest, ABatchHasACallDeadlineForEachOfItsCallbacks) {
  // Three callbacks of 60 ms each under a 100 ms deadline: 180 ms for the batch is within its
  // three deadlines, while each callback is within its own.
  Plugin p("sdk_header_batch.wasm", {}, abi::VmLimits{1024, std::chrono::milliseconds(100)});
  ASSERT_TRUE(p.vm);
  ASSERT_TRUE(p.vm->wasm().writeU32(0x404, 3));  // room for all three in one entry
  ASSERT_TRUE(p.vm->start().isOk());
  ASSERT_TRUE(p.vm->wasm().writeU32(0x814, 60));
  FakeStream streams[3];
  auto calls = requestCalls(p, streams);
  abi::HeadersStatus results[3];
  Status status = p.vm->runHeaderBatch(calls, results);
  EXPECT_TRUE(status.isOk()) << status.toString();
  EXPECT_EQ(p.events(), (std::vector<std::string>{"cb:batch 3"}));
}

}  // namespace
}  // namespace wasmgate::testing
