// A plugin that traps, loops, overflows its stack or eats memory fails alone: its VM reports the
// failure and refuses further work, while another plugin in the same process keeps answering.
#include <thread>

#include "unit/abi/probe_vm.h"

namespace wasmgate::testing {
namespace {

using std::chrono_literals::operator""ms;

struct FailureCase {
  uint32_t selector;
  StatusCode expected;
  const char* messagePart;
};

class IsolationTest : public ::testing::TestWithParam<FailureCase> {};

TEST_P(IsolationTest, FailingPluginFailsAloneAndNeighbourKeepsAnswering) {
  const FailureCase& c = GetParam();
  ProbeVm neighbour;
  abi::VmLimits limits{.maxMemoryPages = 16, .callDeadline = 100ms};
  auto module = abi::PluginModule::load(testEngine(), readFixture("failing_plugin.wasm"), limits);
  ASSERT_TRUE(module.isOk()) << module.status().toString();
  FakePluginHost host;
  auto vm = abi::PluginVm::create(*module, {}, host);
  ASSERT_TRUE(vm.isOk());
  ASSERT_TRUE((*vm)->start().isOk());
  FakeStream stream;
  auto ctx = (*vm)->createStream(stream);
  ASSERT_TRUE(ctx.isOk());

  // A healthy call first: the selector 0 continues.
  auto ok = (*vm)->onRequestHeaders(*ctx, 0, true);
  ASSERT_TRUE(ok.isOk());
  EXPECT_EQ(*ok, abi::HeadersStatus::kContinue);

  auto failed = (*vm)->onRequestHeaders(*ctx, c.selector, true);
  ASSERT_FALSE(failed.isOk());
  EXPECT_EQ(failed.status().code(), c.expected) << failed.status().toString();
  EXPECT_NE(failed.status().message().find(c.messagePart), std::string::npos)
      << failed.status().toString();
  EXPECT_TRUE((*vm)->failed());
  // The failed VM refuses further callbacks with the same failure instead of running the guest.
  auto again = (*vm)->onRequestHeaders(*ctx, 0, true);
  ASSERT_FALSE(again.isOk());
  EXPECT_EQ(again.status().code(), c.expected);

  // The neighbour is untouched.
  neighbour.put(100, "still here");
  EXPECT_EQ(neighbour.result("proxy_log", {2, 100, 10}), abi::WasmResult::kOk);
  EXPECT_EQ(neighbour.host.logs.back().second, "still here");
}

INSTANTIATE_TEST_SUITE_P(
    EveryFailure, IsolationTest,
    ::testing::Values(FailureCase{1, StatusCode::kTrap, "unreachable"},
                      FailureCase{2, StatusCode::kTrap, "out of bounds"},
                      FailureCase{3, StatusCode::kTrap, "call stack"},
                      FailureCase{4, StatusCode::kDeadlineExceeded, "deadline"},
                      FailureCase{5, StatusCode::kMemoryCapExceeded, "cap of 16 pages"},
                      FailureCase{6, StatusCode::kTrap, "proc_exit(3)"}));

}  // namespace
}  // namespace wasmgate::testing
