// Sections 3.7 and 3.8: HTTP and gRPC callouts. The hostcalls' arguments and errors go through
// the probe; the answers (delivered to the root context, proxy_get_status in a failed callout,
// set_effective_context back to the stream) through the callout_plugin fixture.
#include "unit/abi/probe_vm.h"

namespace wasmgate::testing {
namespace {

using abi::WasmResult;
using std::chrono_literals::operator""ms;

constexpr uint32_t kWrapPtr = 0xffffff00u;  // with a length of 0x200, ptr + len passes 2^32

uint32_t len(std::string_view s) {
  return static_cast<uint32_t>(s.size());
}

// proxy_http_call's ten arguments, laid out in probe memory.
class HttpCallTest : public ::testing::Test {
 protected:
  void SetUp() override {
    setHeaders(
        {{":method", "POST"}, {":path", "/v1/check"}, {":authority", "auth.local"}, {"X-Id", "7"}});
    p.put(100, "auth_cluster");
    p.put(1000, "request body");
    trailers = abi::serializePairs({{"x-trailer", "t"}});
    p.put(1500, trailers);
  }
  void setHeaders(const abi::Headers& h) {
    headers = abi::serializePairs(h);
    p.put(400, headers);
  }
  std::vector<uint64_t> args() {
    return {100, 12, 400, len(headers), 1000, 12, 1500, len(trailers), 2500, 2000};
  }
  WasmResult call(std::vector<uint64_t> a) { return p.result("proxy_http_call", std::move(a)); }
  std::vector<uint64_t> with(size_t index, uint64_t value) {
    auto a = args();
    a[index] = value;
    return a;
  }
  ProbeVm p;
  std::string headers, trailers;
};

TEST_F(HttpCallTest, StartsTheCallAndWritesItsToken) {
  EXPECT_EQ(call(args()), WasmResult::kOk);
  ASSERT_EQ(p.host.httpCalls.size(), 1u);
  const auto [token, request] = p.host.httpCalls[0];  // a copy: the next call may grow the vector
  EXPECT_EQ(p.u32At(2000), token);
  EXPECT_NE(token, 0u);
  EXPECT_EQ(request.cluster, "auth_cluster");
  EXPECT_EQ(request.headers, (abi::Headers{{":method", "POST"},
                                           {":path", "/v1/check"},
                                           {":authority", "auth.local"},
                                           {"X-Id", "7"}}));
  EXPECT_EQ(request.body, "request body");
  EXPECT_EQ(request.trailers, (abi::Headers{{"x-trailer", "t"}}));
  EXPECT_EQ(request.timeout, 2500ms);
  // A second call gets a different token; calls from the root context work too.
  EXPECT_EQ(p.result("proxy_http_call", with(8, 0), p.vm->rootContextId()), WasmResult::kOk);
  ASSERT_EQ(p.host.httpCalls.size(), 2u);
  EXPECT_NE(p.host.httpCalls[1].first, token);
  EXPECT_EQ(p.u32At(2000), p.host.httpCalls[1].first);
  EXPECT_EQ(p.host.httpCalls[1].second.timeout, 0ms);
}

TEST_F(HttpCallTest, EmptyBodyAndTrailers) {
  auto a = args();
  a[4] = a[5] = a[6] = a[7] = 0;
  EXPECT_EQ(call(a), WasmResult::kOk);
  ASSERT_EQ(p.host.httpCalls.size(), 1u);
  EXPECT_EQ(p.host.httpCalls[0].second.body, "");
  EXPECT_TRUE(p.host.httpCalls[0].second.trailers.empty());
}

TEST_F(HttpCallTest, EachRequiredPseudoHeaderMissingIsBadArgument) {
  const abi::Headers full = {{":method", "GET"}, {":path", "/"}, {":authority", "a"}};
  for (size_t drop = 0; drop < full.size(); ++drop) {
    abi::Headers h = full;
    h.erase(h.begin() + static_cast<ptrdiff_t>(drop));
    setHeaders(h);
    EXPECT_EQ(call(args()), WasmResult::kBadArgument) << full[drop].first;
  }
  EXPECT_TRUE(p.host.httpCalls.empty());
}

TEST_F(HttpCallTest, UnknownClusterIsBadArgumentAndWritesNoToken) {
  p.put(100, "unknown");
  p.put(2000, std::string(4, '\x5a'));
  EXPECT_EQ(call(with(1, 7)), WasmResult::kBadArgument);
  EXPECT_TRUE(p.host.httpCalls.empty());
  EXPECT_EQ(p.u32At(2000), 0x5a5a5a5au);
}

TEST_F(HttpCallTest, BadTokenSlotStartsNoCall) {
  EXPECT_EQ(call(with(9, p.memorySize() - 3)), WasmResult::kInvalidMemoryAccess);
  EXPECT_EQ(call(with(9, 0xffffffffu)), WasmResult::kInvalidMemoryAccess);
  EXPECT_TRUE(p.host.httpCalls.empty());
}

TEST_F(HttpCallTest, OtherErrorStatuses) {
  EXPECT_EQ(call(with(0, kWrapPtr)), WasmResult::kInvalidMemoryAccess);  // cluster
  auto wrapped = with(0, kWrapPtr);
  wrapped[1] = 0x200;
  EXPECT_EQ(call(wrapped), WasmResult::kInvalidMemoryAccess);
  EXPECT_EQ(call(with(2, p.memorySize() - 4)), WasmResult::kInvalidMemoryAccess);  // headers
  EXPECT_EQ(call(with(4, 0xffffffffu)), WasmResult::kInvalidMemoryAccess);         // body
  EXPECT_EQ(call(with(7, 0x10000000u)), WasmResult::kInvalidMemoryAccess);         // trailers
  EXPECT_EQ(call(with(3, len(headers) - 1)), WasmResult::kBadArgument);   // malformed headers
  EXPECT_EQ(call(with(7, len(trailers) + 1)), WasmResult::kBadArgument);  // malformed trailers
  EXPECT_EQ(call(with(8, 0x80000000u)), WasmResult::kBadArgument);        // negative timeout
  EXPECT_TRUE(p.host.httpCalls.empty());
}

// proxy_grpc_call's twelve arguments and proxy_grpc_stream's nine, laid out in probe memory.
class GrpcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    p.put(100, "grpc_cluster");
    p.put(200, "pkg.Service");
    p.put(300, "Method");
    metadata = abi::serializePairs({{"x-md", "1"}});
    p.put(400, metadata);
    p.put(500, "proto bytes");
  }
  std::vector<uint64_t> callArgs() {
    return {100, 12, 200, 11, 300, 6, 400, len(metadata), 500, 11, 750, 2000};
  }
  std::vector<uint64_t> streamArgs() {
    return {100, 12, 200, 11, 300, 6, 400, len(metadata), 2000};
  }
  uint32_t startCall() {
    EXPECT_EQ(p.result("proxy_grpc_call", callArgs()), WasmResult::kOk);
    return p.u32At(2000);
  }
  uint32_t startStream() {
    EXPECT_EQ(p.result("proxy_grpc_stream", streamArgs()), WasmResult::kOk);
    return p.u32At(2000);
  }
  WasmResult send(uint32_t token, bool endStream = false) {
    p.put(600, "msg");
    return p.result("proxy_grpc_send", {token, 600, 3, endStream ? 1u : 0u});
  }
  ProbeVm p;
  std::string metadata;
};

TEST_F(GrpcTest, UnaryCallRecordsTheRequestAndAnEvenToken) {
  uint32_t token = startCall();
  ASSERT_EQ(p.host.grpcOps.size(), 1u);
  const auto op = p.host.grpcOps[0];
  EXPECT_EQ(op.kind, "call");
  EXPECT_EQ(op.token, token);
  EXPECT_EQ(token % 2, 0u);
  EXPECT_NE(token, 0u);
  EXPECT_EQ(op.request.cluster, "grpc_cluster");
  EXPECT_EQ(op.request.service, "pkg.Service");
  EXPECT_EQ(op.request.method, "Method");
  EXPECT_EQ(op.request.initialMetadata, (abi::Headers{{"x-md", "1"}}));
  EXPECT_EQ(op.request.message, "proto bytes");
  EXPECT_EQ(op.request.timeout, 750ms);
  EXPECT_NE(startCall(), token);
}

TEST_F(GrpcTest, StreamRecordsTheRequestAndAnOddToken) {
  uint32_t token = startStream();
  ASSERT_EQ(p.host.grpcOps.size(), 1u);
  EXPECT_EQ(p.host.grpcOps[0].kind, "stream");
  EXPECT_EQ(p.host.grpcOps[0].request.service, "pkg.Service");
  EXPECT_EQ(token % 2, 1u);
}

TEST_F(GrpcTest, StartErrorStatuses) {
  p.put(100, "unknown");
  auto unknown = callArgs();
  unknown[1] = 7;
  EXPECT_EQ(p.result("proxy_grpc_call", unknown), WasmResult::kParseFailure);
  auto unknownStream = streamArgs();
  unknownStream[1] = 7;
  EXPECT_EQ(p.result("proxy_grpc_stream", unknownStream), WasmResult::kParseFailure);
  auto badSlot = callArgs();
  badSlot[11] = p.memorySize() - 2;
  EXPECT_EQ(p.result("proxy_grpc_call", badSlot), WasmResult::kInvalidMemoryAccess);
  auto badStreamSlot = streamArgs();
  badStreamSlot[8] = 0xfffffffcu;
  EXPECT_EQ(p.result("proxy_grpc_stream", badStreamSlot), WasmResult::kInvalidMemoryAccess);
  for (size_t ptr : {0u, 2u, 4u, 6u, 8u}) {
    auto a = callArgs();
    a[ptr] = kWrapPtr;
    a[ptr + 1] = 0x200;
    EXPECT_EQ(p.result("proxy_grpc_call", a), WasmResult::kInvalidMemoryAccess) << ptr;
  }
  auto malformed = streamArgs();
  malformed[7] = len(metadata) - 1;
  EXPECT_EQ(p.result("proxy_grpc_stream", malformed), WasmResult::kBadArgument);
  EXPECT_TRUE(p.host.grpcOps.empty());
}

TEST_F(GrpcTest, SendOnAStream) {
  uint32_t token = startStream();
  EXPECT_EQ(send(token, true), WasmResult::kOk);
  ASSERT_EQ(p.host.grpcOps.size(), 2u);
  EXPECT_EQ(p.host.grpcOps[1].kind, "send");
  EXPECT_EQ(p.host.grpcOps[1].token, token);
  EXPECT_EQ(p.host.grpcOps[1].message, "msg");
  EXPECT_TRUE(p.host.grpcOps[1].endStream);
  EXPECT_EQ(p.result("proxy_grpc_send", {token, kWrapPtr, 0x200, 0}),
            WasmResult::kInvalidMemoryAccess);
}

TEST_F(GrpcTest, SendTokenKinds) {
  uint32_t unary = startCall();
  EXPECT_EQ(send(unary), WasmResult::kBadArgument);  // a unary call takes no more messages
  EXPECT_EQ(send(0), WasmResult::kBadArgument);
  EXPECT_EQ(send(12345), WasmResult::kNotFound);  // a stream token never handed out
  EXPECT_EQ(p.host.grpcOps.size(), 1u);
}

TEST_F(GrpcTest, CloseAStreamKeepsItCloseAUnaryCallForgetsIt) {
  uint32_t stream = startStream();
  EXPECT_EQ(p.result("proxy_grpc_close", {stream}), WasmResult::kOk);
  EXPECT_EQ(send(stream), WasmResult::kOk);  // half-closed locally; the token stays known
  uint32_t unary = startCall();
  EXPECT_EQ(p.result("proxy_grpc_close", {unary}), WasmResult::kOk);
  EXPECT_EQ(p.result("proxy_grpc_close", {unary}), WasmResult::kNotFound);
  ASSERT_EQ(p.host.grpcOps.size(), 5u);
  EXPECT_EQ(p.host.grpcOps[1].kind, "close");
  EXPECT_EQ(p.host.grpcOps[4].kind, "close");
}

TEST_F(GrpcTest, CancelThenCloseOrSendIsNotFound) {
  uint32_t stream = startStream();
  EXPECT_EQ(p.result("proxy_grpc_cancel", {stream}), WasmResult::kOk);
  EXPECT_EQ(p.result("proxy_grpc_close", {stream}), WasmResult::kNotFound);
  EXPECT_EQ(p.result("proxy_grpc_cancel", {stream}), WasmResult::kNotFound);
  EXPECT_EQ(send(stream), WasmResult::kNotFound);
  uint32_t unary = startCall();
  EXPECT_EQ(p.result("proxy_grpc_cancel", {unary}), WasmResult::kOk);
  EXPECT_EQ(p.result("proxy_grpc_close", {unary}), WasmResult::kNotFound);
  ASSERT_EQ(p.host.grpcOps.size(), 4u);
  EXPECT_EQ(p.host.grpcOps[1].kind, "cancel");
  EXPECT_EQ(p.host.grpcOps[3].kind, "cancel");
}

TEST_F(GrpcTest, CloseAndCancelOfTokenZeroOrUnknown) {
  EXPECT_EQ(p.result("proxy_grpc_close", {0}), WasmResult::kBadArgument);
  EXPECT_EQ(p.result("proxy_grpc_cancel", {0}), WasmResult::kBadArgument);
  EXPECT_EQ(p.result("proxy_grpc_close", {77}), WasmResult::kNotFound);
  EXPECT_EQ(p.result("proxy_grpc_cancel", {78}), WasmResult::kNotFound);
  EXPECT_TRUE(p.host.grpcOps.empty());
}

// ---- Answers, through a plugin that makes the calls and handles them. ----

class CalloutPluginTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto module =
        abi::PluginModule::load(testEngine(), readFixture("callout_plugin.wasm"), abi::VmLimits{});
    ASSERT_TRUE(module.isOk()) << module.status().toString();
    auto created = abi::PluginVm::create(*module, {}, host);
    ASSERT_TRUE(created.isOk()) << created.status().toString();
    vm = std::move(created).value();
    ASSERT_TRUE(vm->start().isOk());
    auto id = vm->createStream(stream);
    ASSERT_TRUE(id.isOk());
    streamId = *id;
  }
  uint32_t at(uint32_t addr) { return vm->wasm().readU32(addr).value_or(0xdeadbeef); }
  std::string bytesAt(uint32_t dataSlot, uint32_t sizeSlot) {
    auto s = vm->wasm().readString(at(dataSlot), at(sizeSlot));
    return s ? std::string(*s) : "<bad>";
  }
  size_t logCount(std::string_view message) {
    size_t n = 0;
    for (const auto& [level, m] : host.logs) n += m == message;
    return n;
  }

  FakePluginHost host;
  FakeStream stream;
  std::unique_ptr<abi::PluginVm> vm;
  uint32_t streamId = 0;
};

TEST_F(CalloutPluginTest, HttpResponseReachesTheRootWhichResumesTheStream) {
  auto paused = vm->onRequestHeaders(streamId, 1, true);
  ASSERT_TRUE(paused.isOk()) << paused.status().toString();
  EXPECT_EQ(*paused, abi::HeadersStatus::kStopAllAndWatermark);
  EXPECT_EQ(at(0x18), 0u);
  ASSERT_EQ(host.httpCalls.size(), 1u);
  uint32_t token = host.httpCalls[0].first;
  EXPECT_EQ(at(0x14), token);
  EXPECT_EQ(host.httpCalls[0].second.headers,
            (abi::Headers{{":method", "GET"}, {":path", "/check"}, {":authority", "api"}}));

  abi::HttpCallResponse response{{{":status", "200"}, {"x-a", "b"}}, "allowed", {{"t", "1"}}};
  ASSERT_TRUE(vm->onHttpCallResponse(token, &response).isOk());
  EXPECT_EQ(at(0x40), vm->rootContextId());  // delivered to the root context
  EXPECT_EQ(at(0x44), token);
  EXPECT_EQ(at(0x48), 2u);
  EXPECT_EQ(at(0x4c), 7u);
  EXPECT_EQ(at(0x50), 1u);
  EXPECT_EQ(at(0x60), 0u);  // get_status: Ok, code 0
  EXPECT_EQ(at(0x54), 0u);
  EXPECT_EQ(at(0x64), 0u);  // set_effective_context(stream): Ok
  EXPECT_EQ(at(0x70), 0u);
  EXPECT_EQ(bytesAt(0x68, 0x6c), "200");
  EXPECT_EQ(at(0x7c), 0u);
  EXPECT_EQ(bytesAt(0x74, 0x78), "allowed");
  // After switching, the root's hostcalls act on the stream.
  EXPECT_EQ(at(0x80), 0u);
  EXPECT_EQ(stream.streamData.requestHeaders, (abi::Headers{{"x-callout", "done"}}));
  EXPECT_EQ(at(0x84), 0u);
  EXPECT_EQ(stream.continued, (std::vector<abi::StreamType>{abi::StreamType::kHttpRequest}));
}

TEST_F(CalloutPluginTest, FailedHttpCalloutHasZeroCountsAndGetStatusSaysWhy) {
  ASSERT_TRUE(vm->onRequestHeaders(streamId, 1, true).isOk());
  ASSERT_EQ(host.httpCalls.size(), 1u);
  uint32_t token = host.httpCalls[0].first;
  ASSERT_TRUE(vm->onHttpCallResponse(token, nullptr, "timeout").isOk());
  EXPECT_EQ(at(0x44), token);
  EXPECT_EQ(at(0x48), 0u);
  EXPECT_EQ(at(0x4c), 0u);
  EXPECT_EQ(at(0x50), 0u);
  EXPECT_EQ(at(0x60), 0u);
  EXPECT_EQ(at(0x54), static_cast<uint32_t>(WasmResult::kBrokenConnection));
  EXPECT_EQ(bytesAt(0x58, 0x5c), "timeout");
  EXPECT_EQ(at(0x70), static_cast<uint32_t>(WasmResult::kBadArgument));  // no response map
  EXPECT_EQ(at(0x7c), static_cast<uint32_t>(WasmResult::kNotFound));     // no response body
  // The plugin still resumes its stream.
  EXPECT_EQ(stream.continued, (std::vector<abi::StreamType>{abi::StreamType::kHttpRequest}));
}

TEST_F(CalloutPluginTest, ResponsesAfterTheRootIsGoneAreDropped) {
  ASSERT_TRUE(vm->onRequestHeaders(streamId, 1, true).isOk());
  uint32_t token = host.httpCalls.at(0).first;
  ASSERT_TRUE(vm->endStream(streamId).isOk());
  ASSERT_TRUE(vm->shutdown().isOk());
  ASSERT_TRUE(vm->onHttpCallResponse(token, nullptr).isOk());
  EXPECT_EQ(logCount("cb:http_call_response"), 0u);
}

TEST_F(CalloutPluginTest, ResumingAnEndedStreamIsDropped) {
  ASSERT_TRUE(vm->onRequestHeaders(streamId, 1, true).isOk());
  uint32_t token = host.httpCalls.at(0).first;
  ASSERT_TRUE(vm->endStream(streamId).isOk());
  ASSERT_TRUE(vm->onHttpCallResponse(token, nullptr).isOk());
  EXPECT_EQ(logCount("cb:http_call_response"), 1u);
  EXPECT_EQ(at(0x64), static_cast<uint32_t>(WasmResult::kBadArgument));  // the stream is gone
  EXPECT_EQ(at(0x84), static_cast<uint32_t>(WasmResult::kNotFound));     // nothing to continue
  EXPECT_TRUE(stream.continued.empty());
}

TEST_F(CalloutPluginTest, GrpcUnaryAnswerInOrderWithEachPartReadable) {
  ASSERT_TRUE(vm->onRequestHeaders(streamId, 2, true).isOk());
  EXPECT_EQ(at(0x20), 0u);
  uint32_t token = at(0x1c);
  ASSERT_EQ(host.grpcOps.size(), 1u);
  EXPECT_EQ(host.grpcOps[0].token, token);
  EXPECT_EQ(host.grpcOps[0].request.message, "hi");

  abi::Headers initial = {{"content-type", "application/grpc"}};
  ASSERT_TRUE(vm->onGrpcInitialMetadata(token, initial).isOk());
  EXPECT_EQ(at(0xa0), token);
  EXPECT_EQ(at(0xa4), 1u);
  EXPECT_EQ(at(0xb0), 0u);
  EXPECT_EQ(bytesAt(0xa8, 0xac), abi::serializePairs(initial));

  ASSERT_TRUE(vm->onGrpcReceive(token, "reply proto").isOk());
  EXPECT_EQ(at(0xb4), token);
  EXPECT_EQ(at(0xb8), 11u);
  EXPECT_EQ(at(0xc4), 0u);
  EXPECT_EQ(bytesAt(0xbc, 0xc0), "reply proto");

  abi::Headers trailing = {{"grpc-status", "0"}};
  ASSERT_TRUE(vm->onGrpcTrailingMetadata(token, trailing).isOk());
  EXPECT_EQ(at(0xcc), 1u);
  EXPECT_EQ(at(0xd8), 0u);
  EXPECT_EQ(bytesAt(0xd0, 0xd4), abi::serializePairs(trailing));
}

TEST_F(CalloutPluginTest, GrpcCloseReportsStatusThroughGetStatus) {
  ASSERT_TRUE(vm->onRequestHeaders(streamId, 3, true).isOk());
  uint32_t token = at(0x1c);
  EXPECT_EQ(token % 2, 1u);
  ASSERT_TRUE(vm->onGrpcClose(token, 14, "connection refused").isOk());
  EXPECT_EQ(at(0xdc), token);
  EXPECT_EQ(at(0xe0), 14u);
  EXPECT_EQ(at(0xf0), 0u);
  EXPECT_EQ(at(0xe4), 14u);
  EXPECT_EQ(bytesAt(0xe8, 0xec), "connection refused");
  // Closed: nothing more is delivered for that token.
  ASSERT_TRUE(vm->onGrpcReceive(token, "late").isOk());
  EXPECT_EQ(logCount("cb:grpc_receive"), 0u);
}

// A successful unary call gets no proxy_on_grpc_close (section 3.8); the embedder ends it with
// onGrpcCallDone, after which the token is unknown.
TEST_F(CalloutPluginTest, ASuccessfulUnaryCallEndsItsToken) {
  ASSERT_TRUE(vm->onRequestHeaders(streamId, 2, true).isOk());
  uint32_t token = at(0x1c);
  abi::Headers initial = {{"content-type", "application/grpc"}};
  abi::Headers trailing = {{"grpc-status", "0"}};
  ASSERT_TRUE(vm->onGrpcInitialMetadata(token, initial).isOk());
  ASSERT_TRUE(vm->onGrpcReceive(token, "reply").isOk());
  ASSERT_TRUE(vm->onGrpcTrailingMetadata(token, trailing).isOk());
  vm->onGrpcCallDone(token);  // the embedder's word that no close follows
  EXPECT_EQ(logCount("cb:grpc_receive"), 1u);
  ASSERT_TRUE(vm->onGrpcReceive(token, "late").isOk());
  EXPECT_EQ(logCount("cb:grpc_receive"), 1u);  // nothing more for a finished call
  runtime::FuncType type{{runtime::ValType::kI32}, {runtime::ValType::kI32}};
  auto cancelled = vm->callExport("call_proxy_grpc_cancel", type, std::vector<uint64_t>{token},
                                  vm->rootContextId(), {});
  ASSERT_TRUE(cancelled.isOk());
  EXPECT_EQ(*cancelled, static_cast<uint32_t>(WasmResult::kNotFound));
  EXPECT_EQ(host.grpcOps.size(), 1u);  // only the call itself
}

TEST_F(CalloutPluginTest, NoCallbacksForACancelledToken) {
  ASSERT_TRUE(vm->onRequestHeaders(streamId, 3, true).isOk());
  uint32_t token = at(0x1c);
  runtime::FuncType type{{runtime::ValType::kI32}, {runtime::ValType::kI32}};
  auto cancelled = vm->callExport("call_proxy_grpc_cancel", type, std::vector<uint64_t>{token},
                                  vm->rootContextId(), {});
  ASSERT_TRUE(cancelled.isOk());
  EXPECT_EQ(*cancelled, 0u);
  abi::Headers md = {{"a", "b"}};
  ASSERT_TRUE(vm->onGrpcInitialMetadata(token, md).isOk());
  ASSERT_TRUE(vm->onGrpcReceive(token, "x").isOk());
  ASSERT_TRUE(vm->onGrpcTrailingMetadata(token, md).isOk());
  ASSERT_TRUE(vm->onGrpcClose(token, 1, "cancelled").isOk());
  for (const char* cb : {"cb:grpc_initial_metadata", "cb:grpc_receive", "cb:grpc_trailing_metadata",
                         "cb:grpc_close"}) {
    EXPECT_EQ(logCount(cb), 0u) << cb;
  }
}

}  // namespace
}  // namespace wasmgate::testing
