// Section 3.5 hostcalls: proxy_get_buffer_bytes, proxy_get_buffer_status and
// proxy_set_buffer_bytes on every buffer type, in and out of the callbacks that may see them.
#include "unit/abi/probe_vm.h"

namespace wasmgate::testing {
namespace {

using abi::WasmResult;

constexpr uint32_t kWrapPtr = 0xffffff00u;  // with a length of 0x200, ptr + len passes 2^32

uint32_t len(std::string_view s) {
  return static_cast<uint32_t>(s.size());
}

class GetBufferBytesTest : public ::testing::Test {
 protected:
  void SetUp() override { p.stream.streamData.requestBody = "0123456789"; }
  // get_buffer_bytes(0, start, maxLen) into slots 200/204.
  WasmResult get(uint32_t start, uint32_t maxLen) {
    p.put(200, std::string(8, '\x55'));
    return p.result("proxy_get_buffer_bytes", {0, start, maxLen, 200, 204});
  }
  ProbeVm p;
};

TEST_F(GetBufferBytesTest, WholeAndPart) {
  EXPECT_EQ(get(0, 10), WasmResult::kOk);
  EXPECT_EQ(p.returned(200, 204), "0123456789");
  EXPECT_EQ(get(3, 4), WasmResult::kOk);
  EXPECT_EQ(p.returned(200, 204), "3456");
}

TEST_F(GetBufferBytesTest, ClampsToTheEnd) {
  EXPECT_EQ(get(7, 100), WasmResult::kOk);
  EXPECT_EQ(p.returned(200, 204), "789");
  EXPECT_EQ(get(0, 0xffffffffu), WasmResult::kOk);  // the SDKs' "everything"
  EXPECT_EQ(p.returned(200, 204), "0123456789");
  EXPECT_EQ(get(9, 0xffffffffu), WasmResult::kOk);  // start + max_len wraps in 32 bits
  EXPECT_EQ(p.returned(200, 204), "9");
}

TEST_F(GetBufferBytesTest, NothingLeftIsZeroZeroOk) {
  for (uint32_t start : {10u, 11u, 0xffffffffu}) {
    EXPECT_EQ(get(start, 5), WasmResult::kOk) << start;
    EXPECT_EQ(p.u32At(200), 0u) << start;
    EXPECT_EQ(p.u32At(204), 0u) << start;
  }
  EXPECT_EQ(get(2, 0), WasmResult::kOk);
  EXPECT_EQ(p.u32At(204), 0u);
}

TEST_F(GetBufferBytesTest, ErrorStatuses) {
  EXPECT_EQ(p.result("proxy_get_buffer_bytes", {9, 0, 10, 200, 204}), WasmResult::kBadArgument);
  EXPECT_EQ(p.result("proxy_get_buffer_bytes", {0xffffffffu, 0, 10, 200, 204}),
            WasmResult::kBadArgument);
  EXPECT_EQ(p.result("proxy_get_buffer_bytes", {0, 0, 10, p.memorySize() - 3, 204}),
            WasmResult::kInvalidMemoryAccess);
  EXPECT_EQ(p.result("proxy_get_buffer_bytes", {0, 0, 10, 200, 0xfffffffeu}),
            WasmResult::kInvalidMemoryAccess);
  // The slots are checked even when nothing would be returned.
  EXPECT_EQ(p.result("proxy_get_buffer_bytes", {0, 50, 10, 200, 0xfffffffeu}),
            WasmResult::kInvalidMemoryAccess);
  // Buffers that exist only inside their callbacks, and stream buffers in a root context.
  for (uint32_t type : {4u, 5u, 7u, 8u}) {
    EXPECT_EQ(p.result("proxy_get_buffer_bytes", {type, 0, 10, 200, 204}), WasmResult::kNotFound)
        << type;
  }
  for (uint32_t type : {0u, 1u, 2u, 3u}) {
    EXPECT_EQ(p.result("proxy_get_buffer_bytes", {type, 0, 10, 200, 204}, p.vm->rootContextId()),
              WasmResult::kNotFound)
        << type;
  }
}

TEST(BufferTypesTest, EachStreamBufferIsItsOwnField) {
  ProbeVm p;
  p.stream.streamData.requestBody = "req";
  p.stream.streamData.responseBody = "resp";
  p.stream.streamData.downstreamData = "down";
  p.stream.streamData.upstreamData = "up";
  const char* expected[] = {"req", "resp", "down", "up"};
  for (uint32_t type = 0; type < 4; ++type) {
    EXPECT_EQ(p.result("proxy_get_buffer_bytes", {type, 0, 100, 200, 204}), WasmResult::kOk)
        << type;
    EXPECT_EQ(p.returned(200, 204), expected[type]) << type;
  }
}

TEST(BufferTypesTest, CalloutConfigurationAndForeignBuffersInTheirCallbacks) {
  abi::PluginSpec spec;
  spec.vmConfiguration = "vm-cfg";
  ProbeVm p(spec);
  uint32_t root = p.vm->rootContextId();
  EXPECT_EQ(p.result("proxy_get_buffer_bytes", {6, 0, 100, 200, 204}, root), WasmResult::kOk);
  EXPECT_EQ(p.returned(200, 204), "vm-cfg");

  abi::HttpCallResponse response{{}, "callout body", {}};
  abi::PluginVm::Frame http;
  http.callback = abi::Callback::kOnHttpCallResponse;
  http.httpCallResponse = &response;
  EXPECT_EQ(p.result("proxy_get_buffer_bytes", {4, 8, 100, 200, 204}, root, http), WasmResult::kOk);
  EXPECT_EQ(p.returned(200, 204), "body");

  abi::PluginVm::Frame grpc;
  grpc.callback = abi::Callback::kOnGrpcReceive;
  grpc.grpcMessage = "grpc message";
  EXPECT_EQ(p.result("proxy_get_buffer_bytes", {5, 0, 4, 200, 204}, root, grpc), WasmResult::kOk);
  EXPECT_EQ(p.returned(200, 204), "grpc");

  abi::PluginVm::Frame configure;
  configure.callback = abi::Callback::kOnConfigure;
  configure.configuration = "{\"a\":1}";
  EXPECT_EQ(p.result("proxy_get_buffer_bytes", {7, 0, 100, 200, 204}, root, configure),
            WasmResult::kOk);
  EXPECT_EQ(p.returned(200, 204), "{\"a\":1}");
  abi::PluginVm::Frame validate;
  validate.callback = abi::Callback::kValidateConfiguration;
  validate.configuration = "v";
  EXPECT_EQ(p.result("proxy_get_buffer_bytes", {7, 0, 100, 200, 204}, root, validate),
            WasmResult::kOk);
  EXPECT_EQ(p.returned(200, 204), "v");

  abi::PluginVm::Frame foreign;
  foreign.callback = abi::Callback::kOnForeignFunction;
  foreign.callData = "args";
  EXPECT_EQ(p.result("proxy_get_buffer_bytes", {8, 0, 100, 200, 204}, root, foreign),
            WasmResult::kOk);
  EXPECT_EQ(p.returned(200, 204), "args");
  // The gRPC buffer is not there in other gRPC callbacks.
  abi::PluginVm::Frame close;
  close.callback = abi::Callback::kOnGrpcClose;
  close.grpcMessage = "stale";
  EXPECT_EQ(p.result("proxy_get_buffer_bytes", {5, 0, 4, 200, 204}, root, close),
            WasmResult::kNotFound);
}

TEST(GetBufferStatusTest, SizeAndZeroFlags) {
  ProbeVm p;
  p.stream.streamData.responseBody = "hello";
  p.put(200, std::string(8, '\x66'));
  EXPECT_EQ(p.result("proxy_get_buffer_status", {1, 200, 204}), WasmResult::kOk);
  EXPECT_EQ(p.u32At(200), 5u);
  EXPECT_EQ(p.u32At(204), 0u);
  EXPECT_EQ(p.result("proxy_get_buffer_status", {0, 200, 204}), WasmResult::kOk);  // empty body
  EXPECT_EQ(p.u32At(200), 0u);
}

TEST(GetBufferStatusTest, ErrorStatuses) {
  ProbeVm p;
  EXPECT_EQ(p.result("proxy_get_buffer_status", {9, 200, 204}), WasmResult::kBadArgument);
  EXPECT_EQ(p.result("proxy_get_buffer_status", {4, 200, 204}), WasmResult::kNotFound);
  EXPECT_EQ(p.result("proxy_get_buffer_status", {2, 200, 204}, p.vm->rootContextId()),
            WasmResult::kNotFound);
  EXPECT_EQ(p.result("proxy_get_buffer_status", {0, p.memorySize() - 2, 204}),
            WasmResult::kInvalidMemoryAccess);
  p.put(200, std::string(4, '\x77'));
  EXPECT_EQ(p.result("proxy_get_buffer_status", {0, 200, 0xffffffffu}),
            WasmResult::kInvalidMemoryAccess);
  EXPECT_EQ(p.u32At(200), 0x77777777u);  // neither slot is written when one is bad
}

class SetBufferBytesTest : public ::testing::Test {
 protected:
  void SetUp() override { body() = "0123456789"; }
  std::string& body() { return p.stream.streamData.requestBody; }
  WasmResult set(uint32_t start, uint32_t length, std::string_view data) {
    p.put(100, data);
    return p.result("proxy_set_buffer_bytes", {0, start, length, 100, len(data)});
  }
  ProbeVm p;
};

TEST_F(SetBufferBytesTest, Prepend) {
  EXPECT_EQ(set(0, 0, "ab"), WasmResult::kOk);
  EXPECT_EQ(body(), "ab0123456789");
}

TEST_F(SetBufferBytesTest, ReplaceTheFirstBytes) {
  EXPECT_EQ(set(0, 3, "X"), WasmResult::kOk);
  EXPECT_EQ(body(), "X3456789");
}

TEST_F(SetBufferBytesTest, ReplaceEverything) {
  EXPECT_EQ(set(0, 10, "new"), WasmResult::kOk);
  EXPECT_EQ(body(), "new");
  EXPECT_EQ(set(0, 0xffffffffu, "all"), WasmResult::kOk);
  EXPECT_EQ(body(), "all");
  EXPECT_EQ(set(0, 0xffffffffu, ""), WasmResult::kOk);  // emptied
  EXPECT_EQ(body(), "");
}

TEST_F(SetBufferBytesTest, Append) {
  EXPECT_EQ(set(10, 0, "ab"), WasmResult::kOk);
  EXPECT_EQ(body(), "0123456789ab");
  EXPECT_EQ(set(0xffffffffu, 0xffffffffu, "c"), WasmResult::kOk);  // start past the end appends
  EXPECT_EQ(body(), "0123456789abc");
}

TEST_F(SetBufferBytesTest, InsertAndReplaceInTheMiddle) {
  EXPECT_EQ(set(2, 0, "__"), WasmResult::kOk);
  EXPECT_EQ(body(), "01__23456789");
  EXPECT_EQ(set(4, 3, "-"), WasmResult::kOk);
  EXPECT_EQ(body(), "01__-56789");
  EXPECT_EQ(set(8, 0xffffffffu, "!"), WasmResult::kOk);  // start + length wraps: to the end
  EXPECT_EQ(body(), "01__-567!");
}

TEST_F(SetBufferBytesTest, WritesTheBufferTheTypeNames) {
  p.put(100, "x");
  for (uint32_t type = 1; type <= 3; ++type) {
    EXPECT_EQ(p.result("proxy_set_buffer_bytes", {type, 0, 0, 100, 1}), WasmResult::kOk) << type;
  }
  EXPECT_EQ(p.stream.streamData.responseBody, "x");
  EXPECT_EQ(p.stream.streamData.downstreamData, "x");
  EXPECT_EQ(p.stream.streamData.upstreamData, "x");
  EXPECT_EQ(body(), "0123456789");
}

TEST_F(SetBufferBytesTest, ErrorStatusesLeaveTheBufferAlone) {
  p.put(100, "x");
  EXPECT_EQ(p.result("proxy_set_buffer_bytes", {9, 0, 0, 100, 1}), WasmResult::kBadArgument);
  EXPECT_EQ(p.result("proxy_set_buffer_bytes", {0, 0, 0, kWrapPtr, 0x200}),
            WasmResult::kInvalidMemoryAccess);
  EXPECT_EQ(p.result("proxy_set_buffer_bytes", {0, 0, 0, p.memorySize(), 1}),
            WasmResult::kInvalidMemoryAccess);
  // Not available here: callout, gRPC, configuration and foreign-function buffers outside their
  // callbacks, and stream buffers in a root context.
  for (uint32_t type : {4u, 5u, 7u, 8u}) {
    EXPECT_EQ(p.result("proxy_set_buffer_bytes", {type, 0, 0, 100, 1}), WasmResult::kNotFound)
        << type;
  }
  EXPECT_EQ(p.result("proxy_set_buffer_bytes", {0, 0, 0, 100, 1}, p.vm->rootContextId()),
            WasmResult::kNotFound);
  // Readable but read-only.
  EXPECT_EQ(p.result("proxy_set_buffer_bytes", {6, 0, 0, 100, 1}), WasmResult::kBadArgument);
  abi::HttpCallResponse response{{}, "callout", {}};
  abi::PluginVm::Frame http;
  http.callback = abi::Callback::kOnHttpCallResponse;
  http.httpCallResponse = &response;
  EXPECT_EQ(p.result("proxy_set_buffer_bytes", {4, 0, 0, 100, 1}, 0, http),
            WasmResult::kBadArgument);
  EXPECT_EQ(response.body, "callout");
  abi::PluginVm::Frame configure;
  configure.callback = abi::Callback::kOnConfigure;
  configure.configuration = "cfg";
  EXPECT_EQ(p.result("proxy_set_buffer_bytes", {7, 0, 0, 100, 1}, 0, configure),
            WasmResult::kBadArgument);
  EXPECT_EQ(body(), "0123456789");
}

}  // namespace
}  // namespace wasmgate::testing
