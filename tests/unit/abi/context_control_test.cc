// Section 3.12 and 5: proxy_set_effective_context, proxy_done and proxy_call_foreign_function
// through the probe, and what context-bound hostcalls answer in the wrong context (the root, the
// VM context 0, or a context that does not exist). Switching contexts inside a real callback is
// in callouts_test.cc; proxy_done ending a waiting root is in lifecycle_test.cc.
#include "unit/abi/probe_vm.h"

namespace wasmgate::testing {
namespace {

using abi::WasmResult;

constexpr uint32_t kWrapPtr = 0xffffff00u;  // with a length of 0x200, ptr + len passes 2^32

TEST(SetEffectiveContextTest, RootAndLiveStreamsAreAccepted) {
  ProbeVm p;
  EXPECT_EQ(p.result("proxy_set_effective_context", {p.vm->rootContextId()}), WasmResult::kOk);
  EXPECT_EQ(p.result("proxy_set_effective_context", {p.streamId}, p.vm->rootContextId()),
            WasmResult::kOk);
  FakeStream other;
  auto otherId = p.vm->createStream(other);
  ASSERT_TRUE(otherId.isOk());
  EXPECT_EQ(p.result("proxy_set_effective_context", {*otherId}), WasmResult::kOk);
}

TEST(SetEffectiveContextTest, ZeroUnknownAndEndedContextsAreBadArgument) {
  ProbeVm p;
  EXPECT_EQ(p.result("proxy_set_effective_context", {0}), WasmResult::kBadArgument);
  EXPECT_EQ(p.result("proxy_set_effective_context", {999}), WasmResult::kBadArgument);
  EXPECT_EQ(p.result("proxy_set_effective_context", {0xffffffffu}), WasmResult::kBadArgument);
  FakeStream other;
  auto otherId = p.vm->createStream(other);
  ASSERT_TRUE(otherId.isOk());
  ASSERT_TRUE(p.vm->endStream(*otherId).isOk());
  EXPECT_EQ(p.result("proxy_set_effective_context", {*otherId}), WasmResult::kBadArgument);
}

TEST(SetEffectiveContextTest, LastsOnlyForTheCallbackThatSetIt) {
  ProbeVm p;
  uint32_t root = p.vm->rootContextId();
  EXPECT_EQ(p.result("proxy_set_effective_context", {p.streamId}, root), WasmResult::kOk);
  // The next callback on the root starts on the root again: no stream to continue.
  EXPECT_EQ(p.result("proxy_continue_stream", {0}, root), WasmResult::kNotFound);
}

TEST(ProxyDoneTest, NotFoundWhenTheRootIsNotWaiting) {
  ProbeVm p;
  EXPECT_EQ(p.result("proxy_done", {}, p.vm->rootContextId()), WasmResult::kNotFound);
  EXPECT_EQ(p.result("proxy_done", {}), WasmResult::kNotFound);
  // The probe exports no proxy_on_done, so shutdown deletes the root at once; proxy_done after
  // that still has nothing to finish.
  ASSERT_TRUE(p.vm->shutdown().isOk());
  EXPECT_EQ(p.result("proxy_done", {}), WasmResult::kNotFound);
}

TEST(CallForeignFunctionTest, NoFunctionsAreRegistered) {
  ProbeVm p;
  p.put(100, "compress");
  p.put(200, "args");
  EXPECT_EQ(p.result("proxy_call_foreign_function", {100, 8, 200, 4, 300, 304}),
            WasmResult::kNotFound);
  EXPECT_EQ(p.result("proxy_call_foreign_function", {100, 8, 0, 0, 0, 0}), WasmResult::kNotFound);
  EXPECT_EQ(p.result("proxy_call_foreign_function", {0, 0, 0, 0, 0, 0}), WasmResult::kNotFound);
}

TEST(CallForeignFunctionTest, BadMemory) {
  ProbeVm p;
  EXPECT_EQ(p.result("proxy_call_foreign_function", {kWrapPtr, 0x200, 200, 4, 300, 304}),
            WasmResult::kInvalidMemoryAccess);
  EXPECT_EQ(p.result("proxy_call_foreign_function", {100, 8, p.memorySize() - 1, 4, 300, 304}),
            WasmResult::kInvalidMemoryAccess);
}

// Context-bound hostcalls with no stream behind the effective context: the VM context 0 (used for
// _initialize and the allocator) and an id that names nothing.
TEST(WrongContextTest, StreamHostcallsWithoutAStream) {
  ProbeVm p;
  p.stream.streamData.requestHeaders = {{"k", "v"}};
  p.stream.streamData.requestBody = "body";
  p.put(100, "k");
  runtime::FuncType one{{runtime::ValType::kI32}, {runtime::ValType::kI32}};
  runtime::FuncType five{std::vector<runtime::ValType>(5, runtime::ValType::kI32),
                         {runtime::ValType::kI32}};
  runtime::FuncType four{std::vector<runtime::ValType>(4, runtime::ValType::kI32),
                         {runtime::ValType::kI32}};
  for (uint32_t context : {0u, 4242u}) {
    auto call = [&](const char* name, const runtime::FuncType& type, std::vector<uint64_t> args) {
      auto r = p.vm->callExport(name, type, args, context, {});
      EXPECT_TRUE(r.isOk()) << r.status().toString();
      return r.isOk() ? static_cast<WasmResult>(*r) : static_cast<WasmResult>(0xdeadbeef);
    };
    EXPECT_EQ(call("call_proxy_get_header_map_value", five, {0, 100, 1, 200, 204}),
              WasmResult::kBadArgument);
    EXPECT_EQ(call("call_proxy_get_buffer_bytes", five, {0, 0, 10, 200, 204}),
              WasmResult::kNotFound);
    EXPECT_EQ(call("call_proxy_set_property", four, {100, 1, 100, 1}), WasmResult::kNotFound);
    EXPECT_EQ(call("call_proxy_continue_stream", one, {0}), WasmResult::kNotFound);
    EXPECT_EQ(call("call_proxy_close_stream", one, {0}), WasmResult::kNotFound);
    EXPECT_EQ(call("call_proxy_set_effective_context", one, {p.streamId}), WasmResult::kOk);
  }
  EXPECT_TRUE(p.stream.continued.empty());
  EXPECT_TRUE(p.stream.closed.empty());
  EXPECT_TRUE(p.stream.streamData.filterState.empty());
}

}  // namespace
}  // namespace wasmgate::testing
