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
          std::string next = std::to_string(value + 1);
          p.put(300, next);
          // cas 0 would overwrite unconditionally; the first writer of the key uses a fake CAS,
          // which a missing key ignores, so two first writers cannot both win blindly.
          auto set = p.result("proxy_set_shared_data",
                              {100, 7, 300, static_cast<uint32_t>(next.size()), cas ? cas : 1});
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
}

}  // namespace
}  // namespace wasmgate::testing
