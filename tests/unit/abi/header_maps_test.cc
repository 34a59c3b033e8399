// Section 3.4 hostcalls: every header-map call on every map type, with what each callback may
// see (section 5.2), and their error statuses. The 0.1.0 missing-key answer is in
// lifecycle_test.cc (it needs a 0.1.0 module).
#include "unit/abi/probe_vm.h"

namespace wasmgate::testing {
namespace {

using abi::WasmResult;

constexpr uint32_t kWrapPtr = 0xffffff00u;  // with a length of 0x200, ptr + len passes 2^32

uint32_t len(std::string_view s) {
  return static_cast<uint32_t>(s.size());
}

TEST(GetHeaderMapPairsTest, SerializesEveryEntryInOrderWithRepeats) {
  ProbeVm p;
  abi::Headers headers = {{":method", "GET"}, {"set-cookie", "a=1"}, {"set-cookie", "b=2"}};
  p.stream.streamData.requestHeaders = headers;
  EXPECT_EQ(p.result("proxy_get_header_map_pairs", {0, 200, 204}), WasmResult::kOk);
  EXPECT_EQ(p.returned(200, 204), abi::serializePairs(headers));
  auto parsed = abi::parsePairs(p.returned(200, 204));
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(*parsed, headers);
}

TEST(GetHeaderMapPairsTest, EmptyOrUnavailableMapIsZeroZero) {
  ProbeVm p;
  p.put(200, std::string(8, '\x33'));
  EXPECT_EQ(p.result("proxy_get_header_map_pairs", {0, 200, 204}), WasmResult::kOk);  // empty map
  EXPECT_EQ(p.u32At(200), 0u);
  EXPECT_EQ(p.u32At(204), 0u);
  p.put(200, std::string(8, '\x33'));
  // Response headers before the response, and callout maps outside their callbacks.
  for (uint32_t type : {2u, 3u, 4u, 5u, 6u, 7u}) {
    EXPECT_EQ(p.result("proxy_get_header_map_pairs", {type, 200, 204}), WasmResult::kOk) << type;
    EXPECT_EQ(p.u32At(204), 0u) << type;
  }
  // A root context has no request headers either.
  EXPECT_EQ(p.result("proxy_get_header_map_pairs", {0, 200, 204}, p.vm->rootContextId()),
            WasmResult::kOk);
}

TEST(GetHeaderMapPairsTest, ErrorStatuses) {
  ProbeVm p;
  p.stream.streamData.requestHeaders = {{"a", "1"}};
  EXPECT_EQ(p.result("proxy_get_header_map_pairs", {8, 200, 204}), WasmResult::kBadArgument);
  EXPECT_EQ(p.result("proxy_get_header_map_pairs", {0xffffffffu, 200, 204}),
            WasmResult::kBadArgument);
  EXPECT_EQ(p.result("proxy_get_header_map_pairs", {0, p.memorySize() - 2, 204}),
            WasmResult::kInvalidMemoryAccess);
  EXPECT_EQ(p.result("proxy_get_header_map_pairs", {0, 200, 0xffffffffu}),
            WasmResult::kInvalidMemoryAccess);
  // Empty results still write their zeroes: a bad slot is refused there too.
  p.stream.streamData.requestHeaders.clear();
  EXPECT_EQ(p.result("proxy_get_header_map_pairs", {0, 200, p.memorySize()}),
            WasmResult::kInvalidMemoryAccess);
}

TEST(SetHeaderMapPairsTest, ReplacesTheWholeMapLowercasingNames) {
  ProbeVm p;
  p.stream.streamData.requestHeaders = {{"old", "x"}, {"other", "y"}};
  std::string pairs = abi::serializePairs({{"X-New", "1"}, {"x-new", "2"}, {":path", "/p"}});
  p.put(100, pairs);
  EXPECT_EQ(p.result("proxy_set_header_map_pairs", {0, 100, len(pairs)}), WasmResult::kOk);
  EXPECT_EQ(p.stream.streamData.requestHeaders,
            (abi::Headers{{"x-new", "1"}, {"x-new", "2"}, {":path", "/p"}}));
}

TEST(SetHeaderMapPairsTest, ZeroBytesOrAZeroCountClearTheMap) {
  ProbeVm p;
  p.stream.streamData.requestHeaders = {{"a", "1"}};
  EXPECT_EQ(p.result("proxy_set_header_map_pairs", {0, 0, 0}), WasmResult::kOk);
  EXPECT_TRUE(p.stream.streamData.requestHeaders.empty());
  p.stream.streamData.requestTrailers = {{"t", "1"}};
  p.put(100, std::string(4, '\0'));
  EXPECT_EQ(p.result("proxy_set_header_map_pairs", {1, 100, 4}), WasmResult::kOk);
  EXPECT_TRUE(p.stream.streamData.requestTrailers.empty());
}

TEST(SetHeaderMapPairsTest, ErrorStatusesLeaveTheMapAlone) {
  ProbeVm p;
  const abi::Headers keep = {{"keep", "me"}};
  p.stream.streamData.requestHeaders = keep;
  std::string pairs = abi::serializePairs({{"a", "1"}});
  p.put(100, pairs);
  EXPECT_EQ(p.result("proxy_set_header_map_pairs", {8, 100, len(pairs)}), WasmResult::kBadArgument);
  EXPECT_EQ(p.result("proxy_set_header_map_pairs", {0, kWrapPtr, 0x200}),
            WasmResult::kInvalidMemoryAccess);
  EXPECT_EQ(p.result("proxy_set_header_map_pairs", {0, p.memorySize() - 4, 8}),
            WasmResult::kInvalidMemoryAccess);
  // Trailing bytes, a count larger than the data, and more pairs than the limit.
  std::string trailing = pairs + "x";
  p.put(300, trailing);
  EXPECT_EQ(p.result("proxy_set_header_map_pairs", {0, 300, len(trailing)}),
            WasmResult::kBadArgument);
  std::string lying = pairs;
  lying[0] = 5;
  p.put(300, lying);
  EXPECT_EQ(p.result("proxy_set_header_map_pairs", {0, 300, len(lying)}), WasmResult::kBadArgument);
  std::string tooMany(4 + 1025 * 8, '\0');
  tooMany[0] = 1025 & 0xff;
  tooMany[1] = 1025 >> 8;
  p.put(1000, tooMany);
  EXPECT_EQ(p.result("proxy_set_header_map_pairs", {0, 1000, len(tooMany)}),
            WasmResult::kBadArgument);
  // Response headers before the response, and the read-only callout maps.
  EXPECT_EQ(p.result("proxy_set_header_map_pairs", {2, 100, len(pairs)}), WasmResult::kBadArgument);
  abi::HttpCallResponse response{{{":status", "200"}}, "", {}};
  abi::PluginVm::Frame frame;
  frame.callback = abi::Callback::kOnHttpCallResponse;
  frame.httpCallResponse = &response;
  EXPECT_EQ(
      p.result("proxy_set_header_map_pairs", {6, 100, len(pairs)}, p.vm->rootContextId(), frame),
      WasmResult::kBadArgument);
  EXPECT_EQ(response.headers, (abi::Headers{{":status", "200"}}));
  EXPECT_EQ(p.stream.streamData.requestHeaders, keep);
}

TEST(GetHeaderMapValueTest, CaseInsensitiveFirstValueAndEmptyValue) {
  ProbeVm p;
  p.stream.streamData.requestHeaders = {{"x-a", "first"}, {"x-a", "second"}, {"x-empty", ""}};
  p.put(100, "X-a");
  EXPECT_EQ(p.result("proxy_get_header_map_value", {0, 100, 3, 200, 204}), WasmResult::kOk);
  EXPECT_EQ(p.returned(200, 204), "first");
  p.put(100, "x-empty");
  p.put(200, std::string(8, '\x44'));
  EXPECT_EQ(p.result("proxy_get_header_map_value", {0, 100, 7, 200, 204}), WasmResult::kOk);
  EXPECT_EQ(p.u32At(200), 0u);
  EXPECT_EQ(p.u32At(204), 0u);
}

TEST(GetHeaderMapValueTest, ErrorStatuses) {
  ProbeVm p;
  p.stream.streamData.requestHeaders = {{"x-a", "1"}};
  p.put(100, "x-a");
  EXPECT_EQ(p.result("proxy_get_header_map_value", {0xffffffffu, 100, 3, 200, 204}),
            WasmResult::kBadArgument);
  EXPECT_EQ(p.result("proxy_get_header_map_value", {0, kWrapPtr, 0x200, 200, 204}),
            WasmResult::kInvalidMemoryAccess);
  EXPECT_EQ(p.result("proxy_get_header_map_value", {0, 100, 3, 0xfffffffdu, 204}),
            WasmResult::kInvalidMemoryAccess);
  EXPECT_EQ(p.result("proxy_get_header_map_value", {0, 100, 3, 200, p.memorySize() - 1}),
            WasmResult::kInvalidMemoryAccess);
  p.put(100, "x-b");
  EXPECT_EQ(p.result("proxy_get_header_map_value", {0, 100, 3, 200, 204}), WasmResult::kNotFound);
  // Maps that are not available: response maps before the response, trailers with no stream.
  EXPECT_EQ(p.result("proxy_get_header_map_value", {3, 100, 3, 200, 204}),
            WasmResult::kBadArgument);
  EXPECT_EQ(p.result("proxy_get_header_map_value", {1, 100, 3, 200, 204}, p.vm->rootContextId()),
            WasmResult::kBadArgument);
  EXPECT_EQ(p.result("proxy_get_header_map_value", {4, 100, 3, 200, 204}),
            WasmResult::kBadArgument);
}

TEST(ModifyHeaderMapTest, AddAppendsReplaceCollapsesRemoveRemovesAll) {
  ProbeVm p;
  p.stream.streamData.requestHeaders = {{"x-a", "1"}};
  p.put(100, "X-A");
  p.put(110, "2");
  EXPECT_EQ(p.result("proxy_add_header_map_value", {0, 100, 3, 110, 1}), WasmResult::kOk);
  EXPECT_EQ(p.stream.streamData.requestHeaders, (abi::Headers{{"x-a", "1"}, {"x-a", "2"}}));
  p.put(120, "New-Header");
  EXPECT_EQ(p.result("proxy_replace_header_map_value", {0, 120, 10, 110, 1}),
            WasmResult::kOk);  // adds
  EXPECT_EQ(p.stream.streamData.requestHeaders.back(),
            (std::pair<std::string, std::string>{"new-header", "2"}));
  p.put(110, "3");
  EXPECT_EQ(p.result("proxy_replace_header_map_value", {0, 100, 3, 110, 1}), WasmResult::kOk);
  EXPECT_EQ(p.stream.streamData.requestHeaders, (abi::Headers{{"x-a", "3"}, {"new-header", "2"}}));
  EXPECT_EQ(p.result("proxy_add_header_map_value", {0, 100, 3, 0, 0}),
            WasmResult::kOk);  // empty value
  EXPECT_EQ(p.result("proxy_remove_header_map_value", {0, 100, 3}), WasmResult::kOk);
  EXPECT_EQ(p.stream.streamData.requestHeaders, (abi::Headers{{"new-header", "2"}}));
  EXPECT_EQ(p.result("proxy_remove_header_map_value", {0, 100, 3}),
            WasmResult::kOk);  // absent: still Ok
}

TEST(ModifyHeaderMapTest, EachWritableMapIsItsOwnStreamField) {
  ProbeVm p;
  p.stream.streamData.responseHeadersReceived = true;
  p.put(100, "k");
  p.put(110, "v");
  for (uint32_t type = 0; type <= 3; ++type) {
    EXPECT_EQ(p.result("proxy_add_header_map_value", {type, 100, 1, 110, 1}), WasmResult::kOk)
        << type;
  }
  const abi::Headers one = {{"k", "v"}};
  EXPECT_EQ(p.stream.streamData.requestHeaders, one);
  EXPECT_EQ(p.stream.streamData.requestTrailers, one);
  EXPECT_EQ(p.stream.streamData.responseHeaders, one);
  EXPECT_EQ(p.stream.streamData.responseTrailers, one);
  EXPECT_EQ(p.result("proxy_get_header_map_value", {3, 100, 1, 200, 204}), WasmResult::kOk);
  EXPECT_EQ(p.returned(200, 204), "v");
}

TEST(ModifyHeaderMapTest, ErrorStatuses) {
  ProbeVm p;
  p.put(100, "k");
  p.put(110, "v");
  for (const char* call : {"proxy_add_header_map_value", "proxy_replace_header_map_value"}) {
    EXPECT_EQ(p.result(call, {8, 100, 1, 110, 1}), WasmResult::kBadArgument) << call;
    EXPECT_EQ(p.result(call, {0, kWrapPtr, 0x200, 110, 1}), WasmResult::kInvalidMemoryAccess)
        << call;
    EXPECT_EQ(p.result(call, {0, 100, 1, p.memorySize(), 1}), WasmResult::kInvalidMemoryAccess)
        << call;
    EXPECT_EQ(p.result(call, {2, 100, 1, 110, 1}), WasmResult::kBadArgument)
        << call;  // no response yet
    for (uint32_t readOnly : {4u, 5u, 6u, 7u}) {
      EXPECT_EQ(p.result(call, {readOnly, 100, 1, 110, 1}), WasmResult::kBadArgument)
          << call << readOnly;
    }
    EXPECT_EQ(p.result(call, {0, 100, 1, 110, 1}, p.vm->rootContextId()), WasmResult::kBadArgument)
        << call;
  }
  EXPECT_EQ(p.result("proxy_remove_header_map_value", {8, 100, 1}), WasmResult::kBadArgument);
  EXPECT_EQ(p.result("proxy_remove_header_map_value", {0, 0xffffffffu, 2}),
            WasmResult::kInvalidMemoryAccess);
  EXPECT_EQ(p.result("proxy_remove_header_map_value", {6, 100, 1}), WasmResult::kBadArgument);
  EXPECT_TRUE(p.stream.streamData.requestHeaders.empty());
}

TEST(HeaderMapAccessTest, OnLogReadsButDoesNotWrite) {
  ProbeVm p;
  p.stream.streamData.requestHeaders = {{"k", "v"}};
  p.stream.streamData.responseHeadersReceived = true;
  p.stream.streamData.responseHeaders = {{":status", "200"}};
  abi::PluginVm::Frame logging;
  logging.callback = abi::Callback::kOnLog;
  p.put(100, "k");
  EXPECT_EQ(p.result("proxy_get_header_map_value", {0, 100, 1, 200, 204}, 0, logging),
            WasmResult::kOk);
  EXPECT_EQ(p.returned(200, 204), "v");
  EXPECT_EQ(p.result("proxy_add_header_map_value", {0, 100, 1, 100, 1}, 0, logging),
            WasmResult::kBadArgument);
  EXPECT_EQ(p.result("proxy_remove_header_map_value", {2, 100, 1}, 0, logging),
            WasmResult::kBadArgument);
  EXPECT_EQ(p.result("proxy_set_header_map_pairs", {0, 0, 0}, 0, logging),
            WasmResult::kBadArgument);
  EXPECT_EQ(p.stream.streamData.requestHeaders, (abi::Headers{{"k", "v"}}));
}

TEST(HeaderMapAccessTest, GrpcMetadataMapsOnlyInTheirCallbacks) {
  ProbeVm p;
  abi::Headers metadata = {{"grpc-encoding", "identity"}};
  p.put(100, "grpc-encoding");
  abi::PluginVm::Frame initial;
  initial.callback = abi::Callback::kOnGrpcReceiveInitialMetadata;
  initial.grpcMetadata = &metadata;
  uint32_t root = p.vm->rootContextId();
  EXPECT_EQ(p.result("proxy_get_header_map_value", {4, 100, 13, 200, 204}, root, initial),
            WasmResult::kOk);
  EXPECT_EQ(p.returned(200, 204), "identity");
  EXPECT_EQ(p.result("proxy_get_header_map_value", {5, 100, 13, 200, 204}, root, initial),
            WasmResult::kBadArgument);
  EXPECT_EQ(p.result("proxy_get_header_map_pairs", {4, 200, 204}, root, initial), WasmResult::kOk);
  EXPECT_EQ(p.returned(200, 204), abi::serializePairs(metadata));

  abi::PluginVm::Frame trailing;
  trailing.callback = abi::Callback::kOnGrpcReceiveTrailingMetadata;
  trailing.grpcMetadata = &metadata;
  EXPECT_EQ(p.result("proxy_get_header_map_value", {5, 100, 13, 200, 204}, root, trailing),
            WasmResult::kOk);
  EXPECT_EQ(p.result("proxy_get_header_map_value", {4, 100, 13, 200, 204}, root, trailing),
            WasmResult::kBadArgument);
  EXPECT_EQ(p.result("proxy_get_header_map_size", {5, 200}, root, trailing), WasmResult::kOk);
  EXPECT_EQ(p.u32At(200), 13u + 8u);
}

TEST(HeaderMapAccessTest, HttpCalloutMapsOnlyWithAResponse) {
  ProbeVm p;
  abi::HttpCallResponse response{{{":status", "503"}}, "body", {{"grpc-status", "14"}}};
  abi::PluginVm::Frame frame;
  frame.callback = abi::Callback::kOnHttpCallResponse;
  frame.httpCallResponse = &response;
  uint32_t root = p.vm->rootContextId();
  p.put(100, ":status");
  EXPECT_EQ(p.result("proxy_get_header_map_value", {6, 100, 7, 200, 204}, root, frame),
            WasmResult::kOk);
  EXPECT_EQ(p.returned(200, 204), "503");
  p.put(100, "grpc-status");
  EXPECT_EQ(p.result("proxy_get_header_map_value", {7, 100, 11, 200, 204}, root, frame),
            WasmResult::kOk);
  EXPECT_EQ(p.returned(200, 204), "14");
  // A failed callout: the callback runs with no response, and the maps are not there.
  abi::PluginVm::Frame failed;
  failed.callback = abi::Callback::kOnHttpCallResponse;
  EXPECT_EQ(p.result("proxy_get_header_map_value", {6, 100, 7, 200, 204}, root, failed),
            WasmResult::kBadArgument);
}

TEST(GetHeaderMapSizeTest, SumOfNameAndValueLengths) {
  ProbeVm p;
  p.stream.streamData.requestHeaders = {{":path", "/abc"}, {"x", ""}};
  EXPECT_EQ(p.result("proxy_get_header_map_size", {0, 200}), WasmResult::kOk);
  EXPECT_EQ(p.u32At(200), 5u + 4u + 1u);
  EXPECT_EQ(p.result("proxy_get_header_map_size", {1, 200}), WasmResult::kOk);  // empty map
  EXPECT_EQ(p.u32At(200), 0u);
}

TEST(GetHeaderMapSizeTest, ErrorStatuses) {
  ProbeVm p;
  EXPECT_EQ(p.result("proxy_get_header_map_size", {8, 200}), WasmResult::kBadArgument);
  EXPECT_EQ(p.result("proxy_get_header_map_size", {2, 200}),
            WasmResult::kBadArgument);  // no response yet
  EXPECT_EQ(p.result("proxy_get_header_map_size", {6, 200}), WasmResult::kBadArgument);
  EXPECT_EQ(p.result("proxy_get_header_map_size", {0, p.memorySize() - 3}),
            WasmResult::kInvalidMemoryAccess);
  EXPECT_EQ(p.result("proxy_get_header_map_size", {0, 200}, p.vm->rootContextId()),
            WasmResult::kBadArgument);
}

}  // namespace
}  // namespace wasmgate::testing
