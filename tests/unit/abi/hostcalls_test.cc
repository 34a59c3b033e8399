// Each hostcall through the probe fixture: success, and every error status it can give.
#include "unit/abi/probe_vm.h"

namespace wasmgate::testing {
namespace {

using abi::WasmResult;
constexpr uint32_t kOutOfBounds = 0xfffffff0u;

TEST(ProxyLogTest, LogsAtTheGivenLevel) {
  ProbeVm p;
  p.put(100, "hello");
  EXPECT_EQ(p.result("proxy_log", {2, 100, 5}), WasmResult::kOk);
  ASSERT_FALSE(p.host.logs.empty());
  EXPECT_EQ(p.host.logs.back().first, abi::LogLevel::kInfo);
  EXPECT_EQ(p.host.logs.back().second, "hello");
}

TEST(ProxyLogTest, RejectsUnknownLevelAndBadMemory) {
  ProbeVm p;
  EXPECT_EQ(p.result("proxy_log", {6, 100, 5}), WasmResult::kBadArgument);
  EXPECT_EQ(p.result("proxy_log", {2, kOutOfBounds, 100}), WasmResult::kInvalidMemoryAccess);
  EXPECT_EQ(p.result("proxy_log", {2, p.memorySize() - 2, 3}), WasmResult::kInvalidMemoryAccess);
}

TEST(HeaderMapTest, GetAddReplaceRemoveOnRequestHeaders) {
  ProbeVm p;
  p.stream.streamData.requestHeaders = {{":path", "/a"}, {"x-a", "1"}, {"x-a", "2"}};
  p.put(100, "X-A");
  EXPECT_EQ(p.result("proxy_get_header_map_value", {0, 100, 3, 200, 204}), WasmResult::kOk);
  EXPECT_EQ(p.returned(200, 204), "1");  // the first value only
  p.put(110, "v");
  EXPECT_EQ(p.result("proxy_replace_header_map_value", {0, 100, 3, 110, 1}), WasmResult::kOk);
  EXPECT_EQ(p.stream.streamData.requestHeaders, (abi::Headers{{":path", "/a"}, {"x-a", "v"}}));
  EXPECT_EQ(p.result("proxy_remove_header_map_value", {0, 100, 3}), WasmResult::kOk);
  EXPECT_EQ(p.result("proxy_get_header_map_value", {0, 100, 3, 200, 204}), WasmResult::kNotFound);
}

TEST(HeaderMapTest, ErrorStatuses) {
  ProbeVm p;
  p.put(100, "x-a");
  EXPECT_EQ(p.result("proxy_get_header_map_value", {8, 100, 3, 200, 204}),
            WasmResult::kBadArgument);
  EXPECT_EQ(p.result("proxy_get_header_map_value", {0, kOutOfBounds, 3, 200, 204}),
            WasmResult::kInvalidMemoryAccess);
  // Response headers do not exist before the response arrives.
  EXPECT_EQ(p.result("proxy_add_header_map_value", {2, 100, 3, 100, 3}), WasmResult::kBadArgument);
  // Callout response maps are only readable inside the callout's callback.
  EXPECT_EQ(p.result("proxy_get_header_map_value", {6, 100, 3, 200, 204}),
            WasmResult::kBadArgument);
  // A root context has no request headers.
  EXPECT_EQ(p.result("proxy_get_header_map_value", {0, 100, 3, 200, 204}, p.vm->rootContextId()),
            WasmResult::kBadArgument);
}

TEST(HeaderMapTest, MalformedSerializedMapIsRefusedAndLeavesTheMap) {
  ProbeVm p;
  p.stream.streamData.requestHeaders = {{"keep", "me"}};
  std::string pairs = abi::serializePairs({{"a", "1"}});
  pairs.pop_back();  // drop the final NUL
  p.put(100, pairs);
  EXPECT_EQ(p.result("proxy_set_header_map_pairs", {0, 100, static_cast<uint32_t>(pairs.size())}),
            WasmResult::kBadArgument);
  EXPECT_EQ(p.stream.streamData.requestHeaders, (abi::Headers{{"keep", "me"}}));
}

TEST(SharedDataTest, CasMismatchAndNotFound) {
  ProbeVm p(specWithVmId("hostcalls_test_cas"));
  p.put(100, "key");
  EXPECT_EQ(p.result("proxy_get_shared_data", {100, 3, 200, 204, 208}), WasmResult::kNotFound);
  p.put(120, "v1");
  EXPECT_EQ(p.result("proxy_set_shared_data", {100, 3, 120, 2, 12345}),
            WasmResult::kOk);  // new key
  EXPECT_EQ(p.result("proxy_get_shared_data", {100, 3, 200, 204, 208}), WasmResult::kOk);
  EXPECT_EQ(p.returned(200, 204), "v1");
  uint32_t cas = p.u32At(208);
  EXPECT_NE(cas, 0u);
  EXPECT_EQ(p.result("proxy_set_shared_data", {100, 3, 120, 2, cas + 1}), WasmResult::kCasMismatch);
  EXPECT_EQ(p.result("proxy_set_shared_data", {100, 3, 120, 2, cas}), WasmResult::kOk);
  EXPECT_EQ(p.result("proxy_set_shared_data", {100, 3, 120, 2, cas}), WasmResult::kCasMismatch);
}

}  // namespace
}  // namespace wasmgate::testing
