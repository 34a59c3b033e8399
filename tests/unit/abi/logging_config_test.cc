// Section 3.1 and 3.2 hostcalls through the probe: proxy_log, proxy_get_log_level,
// proxy_get_current_time_nanoseconds, proxy_set_tick_period_milliseconds,
// proxy_get_configuration and proxy_get_status.
#include <chrono>

#include "abi/limits.h"
#include "unit/abi/probe_vm.h"

namespace wasmgate::testing {
namespace {

using abi::WasmResult;
using std::chrono_literals::operator""ms;

constexpr uint32_t kWrapPtr = 0xffffff00u;  // with a length of 0x200, ptr + len passes 2^32

abi::PluginSpec specWithConfigurations(std::string vmConfiguration,
                                       std::string pluginConfiguration) {
  abi::PluginSpec spec;
  spec.vmConfiguration = std::move(vmConfiguration);
  spec.pluginConfiguration = std::move(pluginConfiguration);
  return spec;
}

TEST(ProxyLogTest, EveryLevelReachesTheHostAsThatLevel) {
  ProbeVm p;
  p.put(100, "msg");
  for (uint32_t level = 0; level <= 5; ++level) {
    EXPECT_EQ(p.result("proxy_log", {level, 100, 3}), WasmResult::kOk);
    ASSERT_FALSE(p.host.logs.empty());
    EXPECT_EQ(p.host.logs.back().first, static_cast<abi::LogLevel>(level));
  }
  EXPECT_EQ(p.host.logs.size(), 6u);
}

TEST(ProxyLogTest, EmptyMessageAndLevelEdges) {
  ProbeVm p;
  EXPECT_EQ(p.result("proxy_log", {4, 0, 0}), WasmResult::kOk);  // (0, 0) is a valid empty input
  EXPECT_EQ(p.host.logs.back().second, "");
  size_t before = p.host.logs.size();
  EXPECT_EQ(p.result("proxy_log", {0xffffffffu, 100, 1}), WasmResult::kBadArgument);
  EXPECT_EQ(p.result("proxy_log", {2, kWrapPtr, 0x200}), WasmResult::kInvalidMemoryAccess);
  EXPECT_EQ(p.result("proxy_log", {2, p.memorySize(), 1}), WasmResult::kInvalidMemoryAccess);
  EXPECT_EQ(p.host.logs.size(), before);  // nothing logged for refused calls
  EXPECT_EQ(p.result("proxy_log", {2, p.memorySize() - 1, 1}), WasmResult::kOk);  // the last byte
}

TEST(ProxyLogTest, LongMessagesAreCutAtTheLimit) {
  ProbeVm p;
  std::string big(abi::kMaxLogMessageBytes + 100, 'x');
  p.put(0, big);
  EXPECT_EQ(p.result("proxy_log", {2, 0, static_cast<uint32_t>(big.size())}), WasmResult::kOk);
  EXPECT_EQ(p.host.logs.back().second.size(), abi::kMaxLogMessageBytes);
}

TEST(ProxyGetLogLevelTest, WritesTheHostLevelAsU32) {
  ProbeVm p;
  p.host.level = abi::LogLevel::kWarn;
  p.put(200, std::string(8, '\xff'));
  EXPECT_EQ(p.result("proxy_get_log_level", {200}), WasmResult::kOk);
  EXPECT_EQ(p.u32At(200), 3u);
  EXPECT_EQ(p.u32At(204), 0xffffffffu);  // a 4-byte slot: the next word is untouched
  p.host.level = abi::LogLevel::kOff;
  EXPECT_EQ(p.result("proxy_get_log_level", {200}), WasmResult::kOk);
  EXPECT_EQ(p.u32At(200), 6u);
}

TEST(ProxyGetLogLevelTest, BadSlot) {
  ProbeVm p;
  EXPECT_EQ(p.result("proxy_get_log_level", {p.memorySize() - 3}),
            WasmResult::kInvalidMemoryAccess);
  EXPECT_EQ(p.result("proxy_get_log_level", {0xfffffffeu}), WasmResult::kInvalidMemoryAccess);
  EXPECT_EQ(p.result("proxy_get_log_level", {p.memorySize() - 4}), WasmResult::kOk);
}

TEST(ProxyGetCurrentTimeTest, WritesWallClockNanosecondsAsU64) {
  ProbeVm p;
  auto ns = [] {
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count());
  };
  uint64_t before = ns();
  EXPECT_EQ(p.result("proxy_get_current_time_nanoseconds", {200}), WasmResult::kOk);
  uint64_t after = ns();
  EXPECT_GE(p.u64At(200), before);
  EXPECT_LE(p.u64At(200), after);
}

TEST(ProxyGetCurrentTimeTest, NeedsAnEightByteSlot) {
  ProbeVm p;
  EXPECT_EQ(p.result("proxy_get_current_time_nanoseconds", {p.memorySize() - 4}),
            WasmResult::kInvalidMemoryAccess);
  EXPECT_EQ(p.result("proxy_get_current_time_nanoseconds", {0xfffffffcu}),
            WasmResult::kInvalidMemoryAccess);
  EXPECT_EQ(p.result("proxy_get_current_time_nanoseconds", {p.memorySize() - 8}), WasmResult::kOk);
}

TEST(ProxySetTickPeriodTest, SetsReplacesAndCancelsFromAnyContext) {
  ProbeVm p;
  EXPECT_EQ(p.result("proxy_set_tick_period_milliseconds", {250}), WasmResult::kOk);
  EXPECT_EQ(p.host.tickPeriod, 250ms);
  EXPECT_EQ(p.result("proxy_set_tick_period_milliseconds", {1000}, p.vm->rootContextId()),
            WasmResult::kOk);
  EXPECT_EQ(p.host.tickPeriod, 1000ms);
  EXPECT_EQ(p.result("proxy_set_tick_period_milliseconds", {0}), WasmResult::kOk);
  EXPECT_EQ(p.host.tickPeriod, 0ms);
  EXPECT_EQ(p.result("proxy_set_tick_period_milliseconds", {0xffffffffu}), WasmResult::kOk);
  EXPECT_EQ(p.host.tickPeriod, std::chrono::milliseconds(0xffffffffu));
}

TEST(ProxyGetConfigurationTest, VmConfigurationOutsideConfigurePluginConfigurationInside) {
  ProbeVm p(specWithConfigurations("vm-config", "plugin-config"));
  EXPECT_EQ(p.result("proxy_get_configuration", {200, 204}), WasmResult::kOk);
  EXPECT_EQ(p.returned(200, 204), "vm-config");

  abi::PluginVm::Frame configuring;
  configuring.callback = abi::Callback::kOnConfigure;
  configuring.configuration = "candidate";
  EXPECT_EQ(p.result("proxy_get_configuration", {200, 204}, p.vm->rootContextId(), configuring),
            WasmResult::kOk);
  EXPECT_EQ(p.returned(200, 204), "candidate");

  abi::PluginVm::Frame validating;
  validating.callback = abi::Callback::kValidateConfiguration;
  validating.configuration = "to-validate";
  EXPECT_EQ(p.result("proxy_get_configuration", {200, 204}, p.vm->rootContextId(), validating),
            WasmResult::kOk);
  EXPECT_EQ(p.returned(200, 204), "to-validate");
}

TEST(ProxyGetConfigurationTest, EmptyConfigurationIsZeroZeroAndBadSlotsFail) {
  ProbeVm p;
  p.put(200, std::string(8, '\x11'));
  EXPECT_EQ(p.result("proxy_get_configuration", {200, 204}), WasmResult::kOk);
  EXPECT_EQ(p.u32At(200), 0u);
  EXPECT_EQ(p.u32At(204), 0u);
  EXPECT_EQ(p.result("proxy_get_configuration", {0xfffffffcu, 204}),
            WasmResult::kInvalidMemoryAccess);

  ProbeVm q(specWithConfigurations("vm", ""));
  EXPECT_EQ(q.result("proxy_get_configuration", {200, q.memorySize()}),
            WasmResult::kInvalidMemoryAccess);
  EXPECT_EQ(q.result("proxy_get_configuration", {q.memorySize() - 2, 204}),
            WasmResult::kInvalidMemoryAccess);
}

TEST(ProxyGetStatusTest, OutsideACalloutIsCodeZeroAndNoMessage) {
  ProbeVm p;
  p.put(200, std::string(12, '\x22'));
  EXPECT_EQ(p.result("proxy_get_status", {200, 204, 208}), WasmResult::kOk);
  EXPECT_EQ(p.u32At(200), 0u);
  EXPECT_EQ(p.u32At(204), 0u);
  EXPECT_EQ(p.u32At(208), 0u);
}

TEST(ProxyGetStatusTest, ReportsTheFramesCodeAndMessage) {
  ProbeVm p;
  abi::PluginVm::Frame frame;
  frame.callback = abi::Callback::kOnGrpcClose;
  frame.statusCode = 14;
  frame.statusMessage = "upstream unavailable";
  EXPECT_EQ(p.result("proxy_get_status", {200, 204, 208}, p.vm->rootContextId(), frame),
            WasmResult::kOk);
  EXPECT_EQ(p.u32At(200), 14u);
  EXPECT_EQ(p.returned(204, 208), "upstream unavailable");
}

TEST(ProxyGetStatusTest, BadSlots) {
  ProbeVm p;
  abi::PluginVm::Frame frame;
  frame.statusCode = 11;
  frame.statusMessage = "reset";
  uint32_t end = p.memorySize();
  EXPECT_EQ(p.result("proxy_get_status", {end - 3, 204, 208}, 0, frame),
            WasmResult::kInvalidMemoryAccess);
  EXPECT_EQ(p.result("proxy_get_status", {200, end, 208}, 0, frame),
            WasmResult::kInvalidMemoryAccess);
  EXPECT_EQ(p.result("proxy_get_status", {200, 204, 0xffffffffu}, 0, frame),
            WasmResult::kInvalidMemoryAccess);
  // With an empty message only the code slot and the two zeroed slots matter.
  EXPECT_EQ(p.result("proxy_get_status", {200, 204, end - 1}), WasmResult::kInvalidMemoryAccess);
}

}  // namespace
}  // namespace wasmgate::testing
