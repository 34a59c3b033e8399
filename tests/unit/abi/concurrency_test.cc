// One compiled plugin instantiated on several threads at once, all incrementing one shared-data
// counter with compare-and-swap: no update is lost.
#include <thread>

#include "unit/abi/probe_vm.h"

namespace wasmgate::testing {
namespace {

TEST(ConcurrencyTest, SharedDataCasFromManyThreadsLosesNoUpdate) {
  constexpr int kThreads = 4;
  constexpr int kIncrements = 500;
  std::atomic<int> casRetries{0};
  // The vm_id's data lives while one of its VMs does: the test holds it as a VM would, from the
  // first write to the last read.
  abi::retainVmId("concurrency_test");
  // A key that does not exist yet is written whatever CAS is given (as in cpp-host), so two first
  // writers would both win: the counter exists before the threads race on it.
  ASSERT_EQ(abi::sharedData().set("concurrency_test", "counter", "0", 0), abi::WasmResult::kOk);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      ProbeVm p(specWithVmId("concurrency_test"));
      p.put(100, "counter");
      for (int i = 0; i < kIncrements; ++i) {
        while (true) {
          uint32_t value = 0, cas = 0;
          auto got = p.result("proxy_get_shared_data", {100, 7, 200, 204, 208});
          if (got == abi::WasmResult::kOk) {
            value = static_cast<uint32_t>(std::stoul(p.returned(200, 204)));
            cas = p.u32At(208);
          }
          ASSERT_EQ(got, abi::WasmResult::kOk);
          ASSERT_NE(cas, 0u);  // 0 would mean "write unconditionally"
          std::string next = std::to_string(value + 1);
          p.put(300, next);
          auto set = p.result("proxy_set_shared_data",
                              {100, 7, 300, static_cast<uint32_t>(next.size()), cas});
          if (set == abi::WasmResult::kOk) break;
          ASSERT_EQ(set, abi::WasmResult::kCasMismatch);
          ++casRetries;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  auto final = abi::sharedData().get("concurrency_test", "counter");
  ASSERT_TRUE(final.has_value());
  EXPECT_EQ(final->value, std::to_string(kThreads * kIncrements));
  abi::releaseVmId("concurrency_test");
}

}  // namespace
}  // namespace wasmgate::testing
