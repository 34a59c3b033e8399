// Section 1.3 (how the host hands data to the plugin, and what happens when the plugin's
// allocator fails) and section 3.13 (restricted capabilities).
#include "unit/abi/probe_vm.h"

namespace wasmgate::testing {
namespace {

using abi::WasmResult;
using runtime::ValType;

// The probe's malloc modes (hostcall_probe.wat).
enum MallocMode : uint32_t { kNormal = 0, kReturnsZero = 1, kTraps = 2, kPastTheEnd = 3 };

void setMallocMode(ProbeVm& p, MallocMode mode) {
  runtime::FuncType type{{ValType::kI32}, {}};
  auto r = p.vm->callExport("set_malloc_mode", type, std::vector<uint64_t>{mode}, p.streamId, {});
  ASSERT_TRUE(r.isOk()) << r.status().toString();
}

abi::PluginSpec namedSpec(std::string vmId) {
  abi::PluginSpec spec = specWithVmId(std::move(vmId));
  spec.name = "a plugin name";
  spec.vmConfiguration = "vm configuration";
  return spec;
}

// Every hostcall that returns variable-length data, set up to return a non-empty result.
class FailingAllocatorTest : public ::testing::TestWithParam<MallocMode> {
 protected:
  FailingAllocatorTest() : p(namedSpec("alloc_test_" + std::to_string(GetParam()))) {
    // Every result is longer than one byte: the past-the-end block has room for exactly one.
    p.stream.streamData.requestHeaders = {{"k", "value"}};
    p.stream.streamData.requestBody = "body";
    p.put(100, "plugin_name");
    p.put(120, "k");
    p.put(130, "value");
    frame.statusCode = 11;
    frame.statusMessage = "reset";
    EXPECT_EQ(p.result("proxy_set_shared_data", {120, 1, 130, 5, 0}), WasmResult::kOk);
    EXPECT_EQ(p.result("proxy_register_shared_queue", {120, 1, 140}), WasmResult::kOk);
    queue = p.u32At(140);
    EXPECT_EQ(p.result("proxy_enqueue_shared_queue", {queue, 130, 5}), WasmResult::kOk);
  }
  struct Call {
    const char* hostcall;
    std::vector<uint64_t> args;
  };
  std::vector<Call> calls() {
    return {{"proxy_get_property", {100, 11, 200, 204}},
            {"proxy_get_header_map_value", {0, 120, 1, 200, 204}},
            {"proxy_get_header_map_pairs", {0, 200, 204}},
            {"proxy_get_buffer_bytes", {0, 0, 100, 200, 204}},
            {"proxy_get_configuration", {200, 204}},
            {"proxy_get_shared_data", {120, 1, 200, 204, 208}},
            {"proxy_dequeue_shared_queue", {queue, 200, 204}},
            {"proxy_get_status", {208, 200, 204}}};
  }
  ProbeVm p;
  abi::PluginVm::Frame frame;
  uint32_t queue = 0;
};

TEST_P(FailingAllocatorTest, DataReturningHostcallsGiveInvalidMemoryAccess) {
  setMallocMode(p, GetParam());
  for (const Call& c : calls()) {
    p.put(200, std::string(12, '\x5e'));
    EXPECT_EQ(p.result(c.hostcall, c.args, 0, frame), WasmResult::kInvalidMemoryAccess)
        << c.hostcall;
    EXPECT_EQ(p.u32At(200), 0x5e5e5e5eu) << c.hostcall;  // no pointer written
    EXPECT_EQ(p.u32At(204), 0x5e5e5e5eu) << c.hostcall;  // no size written
    EXPECT_EQ(p.u32At(208), 0x5e5e5e5eu) << c.hostcall;  // no CAS or status code written
  }
  EXPECT_FALSE(p.vm->failed());
  // With the allocator working again, everything answers.
  setMallocMode(p, kNormal);
  EXPECT_EQ(p.result("proxy_get_property", {100, 11, 200, 204}), WasmResult::kOk);
  EXPECT_EQ(p.returned(200, 204), "a plugin name");
}

INSTANTIATE_TEST_SUITE_P(ZeroOrPastTheEnd, FailingAllocatorTest,
                         ::testing::Values(kReturnsZero, kPastTheEnd));

TEST(AllocatorTest, EmptyResultsNeverCallTheAllocator) {
  ProbeVm p;  // empty plugin_name
  setMallocMode(p, kTraps);
  p.put(100, "plugin_name");
  p.put(200, std::string(8, '\x5e'));
  EXPECT_EQ(p.result("proxy_get_property", {100, 11, 200, 204}), WasmResult::kOk);
  EXPECT_EQ(p.u32At(200), 0u);
  EXPECT_EQ(p.u32At(204), 0u);
  EXPECT_EQ(p.result("proxy_get_buffer_bytes", {0, 0, 100, 200, 204}),
            WasmResult::kOk);  // empty body
  EXPECT_EQ(p.result("proxy_get_status", {208, 200, 204}), WasmResult::kOk);
  EXPECT_FALSE(p.vm->failed());
}

TEST(AllocatorTest, AllocatorTrapFailsTheVm) {
  ProbeVm p(namedSpec("alloc_test_trap"));
  setMallocMode(p, kTraps);
  p.put(100, "plugin_name");
  runtime::FuncType type{std::vector<ValType>(4, ValType::kI32), {ValType::kI32}};
  auto r = p.vm->callExport("call_proxy_get_property", type,
                            std::vector<uint64_t>{100, 11, 200, 204}, p.streamId, {});
  ASSERT_FALSE(r.isOk());
  EXPECT_EQ(r.status().code(), StatusCode::kTrap);
  EXPECT_TRUE(p.vm->failed());
  EXPECT_NE(p.vm->failure().message().find("allocator"), std::string::npos)
      << p.vm->failure().toString();
  // Nothing runs in a failed VM.
  EXPECT_FALSE(p.vm->callExport("call_proxy_get_property", type,
                                std::vector<uint64_t>{100, 11, 200, 204}, p.streamId, {})
                   .isOk());
  EXPECT_FALSE(p.vm->onRequestHeaders(p.streamId, 0, true).isOk());
}

TEST(AllocatorTest, ProxyOnMemoryAllocateWhenThereIsNoMalloc) {
  abi::PluginSpec spec;
  spec.rootId = "root-through-allocate";
  ProbeVm p(spec, "allocate_only.wasm");
  p.put(100, "plugin_root_id");
  EXPECT_EQ(p.result("proxy_get_property", {100, 14, 200, 204}), WasmResult::kOk);
  EXPECT_EQ(p.returned(200, 204), "root-through-allocate");
  EXPECT_GE(p.u32At(200), 0x8000u);
  EXPECT_EQ(p.u32At(0x10), 1u);  // called once
}

TEST(AllocatorTest, MallocIsPreferredWhenBothAreExported) {
  abi::PluginSpec spec;
  spec.rootId = "root";
  ProbeVm p(spec, "both_allocators.wasm");
  p.put(100, "plugin_root_id");
  EXPECT_EQ(p.result("proxy_get_property", {100, 14, 200, 204}), WasmResult::kOk);
  EXPECT_EQ(p.returned(200, 204), "root");
  EXPECT_GE(p.u32At(200), 0x8000u);
  EXPECT_LT(p.u32At(200), 0xc000u);
}

// ---- Restricted capabilities (section 3.13). ----

abi::PluginSpec restrictedSpec(std::set<std::string, std::less<>> allowed) {
  abi::PluginSpec spec;
  spec.allowedHostcalls = std::move(allowed);
  return spec;
}

uint32_t wasiCall(ProbeVm& p, const std::string& name, std::vector<ValType> params,
                  std::vector<uint64_t> args) {
  runtime::FuncType type{std::move(params), {ValType::kI32}};
  auto r = p.vm->callExport("call_" + name, type, args, p.streamId, {});
  EXPECT_TRUE(r.isOk()) << r.status().toString();
  return r.isOk() ? static_cast<uint32_t>(*r) : 0xdeadbeef;
}

TEST(CapabilitiesTest, ProxyHostcallOutsideTheListIsInternalFailureAndLogged) {
  ProbeVm p(restrictedSpec({"proxy_log", "fd_write"}));
  p.host.level = abi::LogLevel::kWarn;
  p.put(200, std::string(4, '\x5e'));
  EXPECT_EQ(p.result("proxy_get_log_level", {200}), WasmResult::kInternalFailure);
  EXPECT_EQ(p.u32At(200), 0x5e5e5e5eu);  // the hostcall did not run
  EXPECT_TRUE(p.host.logged("proxy_get_log_level"));
  EXPECT_EQ(p.host.logs.back().first, abi::LogLevel::kError);

  size_t before = p.host.logs.size();
  p.put(100, "allowed");
  EXPECT_EQ(p.result("proxy_log", {2, 100, 7}), WasmResult::kOk);
  EXPECT_EQ(p.host.logs.size(), before + 1);
  EXPECT_EQ(p.host.logs.back().second, "allowed");
}

TEST(CapabilitiesTest, RefusedCalloutStartsNothing) {
  ProbeVm p(restrictedSpec({"proxy_log"}));
  std::string headers =
      abi::serializePairs({{":method", "GET"}, {":path", "/"}, {":authority", "a"}});
  p.put(100, "cluster");
  p.put(200, headers);
  EXPECT_EQ(p.result("proxy_http_call",
                     {100, 7, 200, static_cast<uint32_t>(headers.size()), 0, 0, 0, 0, 0, 900}),
            WasmResult::kInternalFailure);
  EXPECT_TRUE(p.host.httpCalls.empty());
  p.put(300, "k");
  EXPECT_EQ(p.result("proxy_continue_stream", {0}), WasmResult::kInternalFailure);
  EXPECT_TRUE(p.stream.continued.empty());
}

TEST(CapabilitiesTest, WasiOutsideTheListIsNotCapable) {
  ProbeVm p(restrictedSpec({"proxy_log", "fd_write"}));
  constexpr uint32_t kNotcapable = 76;
  const std::vector<ValType> two(2, ValType::kI32);
  EXPECT_EQ(wasiCall(p, "environ_sizes_get", two, {300, 304}), kNotcapable);
  EXPECT_EQ(wasiCall(p, "unstable_environ_sizes_get", two, {300, 304}), kNotcapable);
  EXPECT_EQ(
      wasiCall(p, "clock_time_get", {ValType::kI32, ValType::kI64, ValType::kI32}, {0, 0, 300}),
      kNotcapable);
  EXPECT_EQ(wasiCall(p, "random_get", two, {300, 8}), kNotcapable);
  EXPECT_TRUE(p.host.logged("environ_sizes_get"));
  // fd_write is on the list, under either module name.
  p.put(100, std::string("\xe8\x03\0\0\x02\0\0\0", 8));  // one iovec: 1000, 2 bytes
  p.put(1000, "ok");
  EXPECT_EQ(wasiCall(p, "fd_write", std::vector<ValType>(4, ValType::kI32), {1, 100, 1, 300}), 0u);
  EXPECT_EQ(
      wasiCall(p, "unstable_fd_write", std::vector<ValType>(4, ValType::kI32), {1, 100, 1, 300}),
      0u);
  EXPECT_EQ(p.host.logs.back().second, "ok");
}

TEST(CapabilitiesTest, AnEmptyListRefusesEverything) {
  ProbeVm p(restrictedSpec({}));
  p.put(100, "x");
  EXPECT_EQ(p.result("proxy_log", {2, 100, 1}), WasmResult::kInternalFailure);
  EXPECT_EQ(p.result("proxy_done", {}), WasmResult::kInternalFailure);
  EXPECT_EQ(wasiCall(p, "sched_yield", {}, {}), 76u);
  for (const auto& [level, message] : p.host.logs) EXPECT_NE(message, "x");
  EXPECT_FALSE(p.vm->failed());
}

}  // namespace
}  // namespace wasmgate::testing
