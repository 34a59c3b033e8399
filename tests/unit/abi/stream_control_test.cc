// Section 3.6 hostcalls through the probe: proxy_continue_stream, proxy_close_stream, the 0.1.0
// proxy_continue_request / proxy_continue_response / proxy_clear_route_cache, and
// proxy_send_local_response. That these act only after the callback returns is checked with a
// real plugin in lifecycle_test.cc.
#include "unit/abi/probe_vm.h"

namespace wasmgate::testing {
namespace {

using abi::StreamType;
using abi::WasmResult;

constexpr uint32_t kWrapPtr = 0xffffff00u;  // with a length of 0x200, ptr + len passes 2^32

uint32_t len(std::string_view s) {
  return static_cast<uint32_t>(s.size());
}

TEST(ContinueStreamTest, ResumesEachDirection) {
  ProbeVm p;
  for (uint32_t type = 0; type <= 2; ++type) {
    EXPECT_EQ(p.result("proxy_continue_stream", {type}), WasmResult::kOk) << type;
  }
  EXPECT_EQ(p.stream.continued,
            (std::vector<StreamType>{StreamType::kHttpRequest, StreamType::kHttpResponse,
                                     StreamType::kDownstream}));
}

TEST(ContinueStreamTest, ErrorStatuses) {
  ProbeVm p;
  EXPECT_EQ(p.result("proxy_continue_stream", {3}), WasmResult::kUnimplemented);  // UPSTREAM
  EXPECT_EQ(p.result("proxy_continue_stream", {4}), WasmResult::kBadArgument);
  EXPECT_EQ(p.result("proxy_continue_stream", {0xffffffffu}), WasmResult::kBadArgument);
  EXPECT_EQ(p.result("proxy_continue_stream", {0}, p.vm->rootContextId()), WasmResult::kNotFound);
  EXPECT_TRUE(p.stream.continued.empty());
}

TEST(CloseStreamTest, ClosesEachDirection) {
  ProbeVm p;
  for (uint32_t type = 0; type <= 3; ++type) {
    EXPECT_EQ(p.result("proxy_close_stream", {type}), WasmResult::kOk) << type;
  }
  EXPECT_EQ(p.stream.closed,
            (std::vector<StreamType>{StreamType::kHttpRequest, StreamType::kHttpResponse,
                                     StreamType::kDownstream, StreamType::kUpstream}));
  EXPECT_TRUE(p.stream.continued.empty());
}

TEST(CloseStreamTest, ErrorStatuses) {
  ProbeVm p;
  EXPECT_EQ(p.result("proxy_close_stream", {4}), WasmResult::kBadArgument);
  EXPECT_EQ(p.result("proxy_close_stream", {1}, p.vm->rootContextId()), WasmResult::kNotFound);
  EXPECT_TRUE(p.stream.closed.empty());
}

TEST(Abi010StreamControlTest, ContinueRequestAndResponse) {
  ProbeVm p;
  EXPECT_EQ(p.result("proxy_continue_request", {}), WasmResult::kOk);
  EXPECT_EQ(p.result("proxy_continue_response", {}), WasmResult::kOk);
  EXPECT_EQ(p.stream.continued,
            (std::vector<StreamType>{StreamType::kHttpRequest, StreamType::kHttpResponse}));
  EXPECT_EQ(p.result("proxy_continue_request", {}, p.vm->rootContextId()), WasmResult::kNotFound);
  EXPECT_EQ(p.result("proxy_continue_response", {}, p.vm->rootContextId()), WasmResult::kNotFound);
}

TEST(Abi010StreamControlTest, ClearRouteCacheIsAlwaysOk) {
  ProbeVm p;
  EXPECT_EQ(p.result("proxy_clear_route_cache", {}), WasmResult::kOk);
  EXPECT_EQ(p.result("proxy_clear_route_cache", {}, p.vm->rootContextId()), WasmResult::kOk);
}

class SendLocalResponseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    headers = abi::serializePairs({{"Content-Type", "text/plain"}, {"x-reason", "policy"}});
    p.put(100, "denied by policy");
    p.put(200, "go away");
    p.put(300, headers);
  }
  std::vector<uint64_t> args(uint32_t grpcStatus = 0xffffffffu) {
    return {403, 100, 16, 200, 7, 300, len(headers), grpcStatus};
  }
  ProbeVm p;
  std::string headers;
};

TEST_F(SendLocalResponseTest, RecordsEveryFieldWithLowercasedHeaders) {
  EXPECT_EQ(p.result("proxy_send_local_response", args()), WasmResult::kOk);
  ASSERT_EQ(p.stream.localResponses.size(), 1u);
  const abi::LocalResponse& r = p.stream.localResponses[0];
  EXPECT_EQ(r.status, 403u);
  EXPECT_EQ(r.details, "denied by policy");
  EXPECT_EQ(r.body, "go away");
  EXPECT_EQ(r.headers, (abi::Headers{{"content-type", "text/plain"}, {"x-reason", "policy"}}));
  EXPECT_EQ(r.grpcStatus, abi::kGrpcStatusNone);
}

TEST_F(SendLocalResponseTest, EmptyPartsAndAGrpcStatus) {
  EXPECT_EQ(p.result("proxy_send_local_response", {200, 0, 0, 0, 0, 0, 0, 7}), WasmResult::kOk);
  ASSERT_EQ(p.stream.localResponses.size(), 1u);
  EXPECT_EQ(p.stream.localResponses[0].status, 200u);
  EXPECT_EQ(p.stream.localResponses[0].body, "");
  EXPECT_TRUE(p.stream.localResponses[0].headers.empty());
  EXPECT_EQ(p.stream.localResponses[0].grpcStatus, 7u);
}

TEST_F(SendLocalResponseTest, ErrorStatusesSendNothing) {
  auto with = [this](size_t index, uint64_t value) {
    auto a = args();
    a[index] = value;
    return a;
  };
  EXPECT_EQ(p.result("proxy_send_local_response", with(1, kWrapPtr)),
            WasmResult::kInvalidMemoryAccess);
  auto wrapped = with(1, kWrapPtr);
  wrapped[2] = 0x200;
  EXPECT_EQ(p.result("proxy_send_local_response", wrapped), WasmResult::kInvalidMemoryAccess);
  EXPECT_EQ(p.result("proxy_send_local_response", with(3, p.memorySize() - 3)),
            WasmResult::kInvalidMemoryAccess);
  EXPECT_EQ(p.result("proxy_send_local_response", with(5, 0xffffffffu)),
            WasmResult::kInvalidMemoryAccess);
  EXPECT_EQ(p.result("proxy_send_local_response", with(6, len(headers) - 1)),
            WasmResult::kBadArgument);
  EXPECT_EQ(p.result("proxy_send_local_response", args(), p.vm->rootContextId()),
            WasmResult::kNotFound);
  EXPECT_TRUE(p.stream.localResponses.empty());
}

}  // namespace
}  // namespace wasmgate::testing
