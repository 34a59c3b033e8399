// PluginVm::callExport, the entry tests and fuzzers drive hostcalls through: calling the same
// export again and again must not make the host hold more and more memory.
#include <malloc.h>

#include "unit/abi/probe_vm.h"

namespace wasmgate::testing {
namespace {

TEST(CallExportTest, RepeatedCallsDoNotGrowTheHeap) {
  // glibc's own accounting: meaningful in the plain build (the sanitizers use their own allocator,
  // where this reads as no growth).
  auto heapInUse = [] { return mallinfo2().uordblks; };
  ProbeVm p;
  for (int i = 0; i < 100; ++i)
    ASSERT_EQ(p.result("proxy_get_log_level", {200}), abi::WasmResult::kOk);
  size_t before = heapInUse();
  for (int i = 0; i < 20000; ++i)
    ASSERT_EQ(p.result("proxy_get_log_level", {200}), abi::WasmResult::kOk);
  size_t after = heapInUse();
  EXPECT_LT(after > before ? after - before : 0, 64u * 1024)
      << "grew by " << after - before << " bytes";
}

}  // namespace
}  // namespace wasmgate::testing
