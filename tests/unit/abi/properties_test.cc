// Section 3.3 and 6: proxy_get_property and proxy_set_property, path encodings, the attributes
// wasmgate derives itself, filter state, and what the stream and VM hosts answer.
#include <cstring>

#include "abi/limits.h"
#include "unit/abi/probe_vm.h"

namespace wasmgate::testing {
namespace {

using abi::WasmResult;
using namespace std::string_literals;

constexpr uint32_t kWrapPtr = 0xffffff00u;  // with a length of 0x200, ptr + len passes 2^32

abi::PluginSpec identitySpec() {
  abi::PluginSpec spec;
  spec.name = "my-plugin";
  spec.rootId = "my-root";
  spec.vmId = "my-vm";
  return spec;
}

class PropertiesTest : public ::testing::Test {
 protected:
  PropertiesTest() : p(identitySpec()) {}
  // get_property(path) into slots 200/204 in `context` (0: the stream).
  WasmResult get(std::string_view path, uint32_t context = 0) {
    p.put(1000, path);
    p.put(200, std::string(8, '\x5c'));
    return p.result("proxy_get_property", {1000, static_cast<uint32_t>(path.size()), 200, 204},
                    context);
  }
  std::string value() { return p.returned(200, 204); }
  WasmResult set(std::string_view path, std::string_view value, uint32_t context = 0) {
    p.put(1000, path);
    p.put(3000, value);
    return p.result(
        "proxy_set_property",
        {1000, static_cast<uint32_t>(path.size()), 3000, static_cast<uint32_t>(value.size())},
        context);
  }
  static int64_t decodeInt(const std::string& bytes) {
    int64_t v = 0;
    EXPECT_EQ(bytes.size(), 8u);
    if (bytes.size() == 8) std::memcpy(&v, bytes.data(), 8);
    return v;
  }
  ProbeVm p;
};

TEST_F(PropertiesTest, PluginIdentityWithAndWithoutTrailingNul) {
  ASSERT_EQ(get("plugin_root_id"), WasmResult::kOk);
  EXPECT_EQ(value(), "my-root");
  ASSERT_EQ(get("plugin_root_id\0"s), WasmResult::kOk);
  EXPECT_EQ(value(), "my-root");
  ASSERT_EQ(get("plugin_name"), WasmResult::kOk);
  EXPECT_EQ(value(), "my-plugin");
  ASSERT_EQ(get("plugin_vm_id\0"s), WasmResult::kOk);
  EXPECT_EQ(value(), "my-vm");
  // In the root context and in the VM context too.
  ASSERT_EQ(get("plugin_root_id", p.vm->rootContextId()), WasmResult::kOk);
  EXPECT_EQ(value(), "my-root");
}

TEST_F(PropertiesTest, EmptyValueIsZeroZeroOk) {
  ProbeVm anonymous;  // no name, root id or vm id
  anonymous.put(1000, "plugin_name");
  anonymous.put(200, std::string(8, '\x5c'));
  EXPECT_EQ(anonymous.result("proxy_get_property", {1000, 11, 200, 204}), WasmResult::kOk);
  EXPECT_EQ(anonymous.u32At(200), 0u);
  EXPECT_EQ(anonymous.u32At(204), 0u);
}

TEST_F(PropertiesTest, RequestAttributesFromTheHeaders) {
  p.stream.streamData.requestHeaders = {
      {":method", "POST"},           {":scheme", "https"},
      {":authority", "example.com"}, {":path", "/a/b?x=1&y=2#frag"},
      {"referer", "https://r/"},     {"user-agent", "curl/8"},
      {"x-request-id", "req-1"}};
  const std::pair<std::string, std::string> expected[] = {{"request\0path"s, "/a/b?x=1&y=2#frag"},
                                                          {"request\0url_path"s, "/a/b"},
                                                          {"request\0query"s, "x=1&y=2"},
                                                          {"request\0host"s, "example.com"},
                                                          {"request\0scheme"s, "https"},
                                                          {"request\0method"s, "POST"},
                                                          {"request\0referer"s, "https://r/"},
                                                          {"request\0useragent"s, "curl/8"},
                                                          {"request\0id"s, "req-1"}};
  for (const auto& [path, want] : expected) {
    // Section 8.14: without the trailing NUL and with it (the C++ SDK).
    ASSERT_EQ(get(path), WasmResult::kOk) << path;
    EXPECT_EQ(value(), want) << path;
    ASSERT_EQ(get(path + '\0'), WasmResult::kOk) << path;
    EXPECT_EQ(value(), want) << path;
  }
}

TEST_F(PropertiesTest, QueryEdges) {
  p.stream.streamData.requestHeaders = {{":path", "/plain"}};
  ASSERT_EQ(get("request\0query"s), WasmResult::kOk);
  EXPECT_EQ(p.u32At(204), 0u);  // no '?': empty
  ASSERT_EQ(get("request\0url_path"s), WasmResult::kOk);
  EXPECT_EQ(value(), "/plain");
  p.stream.streamData.requestHeaders = {{":path", "/p?q"}};
  ASSERT_EQ(get("request\0query"s), WasmResult::kOk);
  EXPECT_EQ(value(), "q");
  p.stream.streamData.requestHeaders = {};
  EXPECT_EQ(get("request\0path"s), WasmResult::kNotFound);
  EXPECT_EQ(get("request\0query"s), WasmResult::kNotFound);
}

TEST_F(PropertiesTest, RequestHeadersMapJoinsRepeatsAndKeepsOrder) {
  p.stream.streamData.requestHeaders = {
      {":path", "/"}, {"accept", "a"}, {"x-b", "1"}, {"accept", "b"}};
  ASSERT_EQ(get("request\0headers"s), WasmResult::kOk);
  EXPECT_EQ(value(), abi::serializePairs({{":path", "/"}, {"accept", "a,b"}, {"x-b", "1"}}));
  ASSERT_EQ(get("request\0headers\0accept"s), WasmResult::kOk);
  EXPECT_EQ(value(), "a,b");
  ASSERT_EQ(get("request\0headers\0Accept\0"s), WasmResult::kOk);  // names are case-insensitive
  EXPECT_EQ(value(), "a,b");
  EXPECT_EQ(get("request\0headers\0missing"s), WasmResult::kNotFound);
  p.stream.streamData.requestHeaders = {};
  ASSERT_EQ(get("request\0headers"s), WasmResult::kOk);
  EXPECT_EQ(value(), abi::serializePairs({}));
}

TEST_F(PropertiesTest, ResponseAttributesOnceTheResponseArrived) {
  p.stream.streamData.responseHeaders = {
      {":status", "404"}, {"grpc-status", "5"}, {"via", "a"}, {"via", "b"}};
  p.stream.streamData.responseTrailers = {{"grpc-status", "7"}};
  EXPECT_EQ(get("response\0code"s), WasmResult::kNotFound);  // not received yet
  p.stream.streamData.responseHeadersReceived = true;
  ASSERT_EQ(get("response\0code"s), WasmResult::kOk);
  EXPECT_EQ(value(), std::string("\x94\x01\0\0\0\0\0\0", 8));  // 404 as an 8-byte little-endian int
  EXPECT_EQ(decodeInt(value()), 404);
  ASSERT_EQ(get("response\0grpc_status"s), WasmResult::kOk);
  EXPECT_EQ(decodeInt(value()), 7);  // trailers win over headers
  p.stream.streamData.responseTrailers = {};
  ASSERT_EQ(get("response\0grpc_status\0"s), WasmResult::kOk);
  EXPECT_EQ(decodeInt(value()), 5);
  ASSERT_EQ(get("response\0headers\0via"s), WasmResult::kOk);
  EXPECT_EQ(value(), "a,b");
  ASSERT_EQ(get("response\0trailers"s), WasmResult::kOk);
  EXPECT_EQ(value(), abi::serializePairs({}));
}

TEST_F(PropertiesTest, FilterStateSetThenGet) {
  ASSERT_EQ(set("my_key", "my value"), WasmResult::kOk);
  EXPECT_EQ(p.stream.streamData.filterState.at("my_key"), "my value");
  ASSERT_EQ(get("my_key"), WasmResult::kOk);
  EXPECT_EQ(value(), "my value");
  ASSERT_EQ(get("my_key\0"s), WasmResult::kOk);
  EXPECT_EQ(value(), "my value");
  // A trailing NUL on the set is not part of the key; setting again replaces.
  ASSERT_EQ(set("my_key\0"s, "second"), WasmResult::kOk);
  ASSERT_EQ(get("my_key"), WasmResult::kOk);
  EXPECT_EQ(value(), "second");
  EXPECT_EQ(p.stream.streamData.filterState.size(), 1u);
  // Multi-segment keys are stored as given.
  ASSERT_EQ(set("wasm\0custom"s, "v"), WasmResult::kOk);
  ASSERT_EQ(get("wasm\0custom"s), WasmResult::kOk);
  EXPECT_EQ(value(), "v");
  ASSERT_EQ(set("empty", ""), WasmResult::kOk);
  ASSERT_EQ(get("empty"), WasmResult::kOk);
  EXPECT_EQ(p.u32At(204), 0u);
}

TEST_F(PropertiesTest, FilterStateIsPerStream) {
  ASSERT_EQ(set("k", "v"), WasmResult::kOk);
  FakeStream other;
  auto otherId = p.vm->createStream(other);
  ASSERT_TRUE(otherId.isOk());
  EXPECT_EQ(get("k", *otherId), WasmResult::kNotFound);
  EXPECT_EQ(get("k", p.vm->rootContextId()), WasmResult::kNotFound);
}

TEST_F(PropertiesTest, SetPropertyErrorStatuses) {
  EXPECT_EQ(set("k", "v", p.vm->rootContextId()), WasmResult::kNotFound);  // no stream
  EXPECT_TRUE(p.stream.streamData.filterState.empty());
  EXPECT_EQ(p.result("proxy_set_property", {kWrapPtr, 0x200, 3000, 1}),
            WasmResult::kInvalidMemoryAccess);
  EXPECT_EQ(p.result("proxy_set_property", {1000, 1, p.memorySize() - 1, 2}),
            WasmResult::kInvalidMemoryAccess);
  EXPECT_TRUE(p.stream.streamData.filterState.empty());
}

TEST_F(PropertiesTest, StreamAndVmHostsAnswerTheRest) {
  p.stream.properties["source.address."] = "10.0.0.1:5555";
  p.host.properties["xds.node.id."] = "node-1";
  ASSERT_EQ(get("source\0address"s), WasmResult::kOk);
  EXPECT_EQ(value(), "10.0.0.1:5555");
  ASSERT_EQ(get("xds\0node\0id\0"s), WasmResult::kOk);
  EXPECT_EQ(value(), "node-1");
  // A root context has no stream: only the VM host answers.
  EXPECT_EQ(get("source\0address"s, p.vm->rootContextId()), WasmResult::kNotFound);
  ASSERT_EQ(get("xds\0node\0id"s, p.vm->rootContextId()), WasmResult::kOk);
  EXPECT_EQ(value(), "node-1");
  EXPECT_EQ(get("request\0path"s, p.vm->rootContextId()), WasmResult::kNotFound);
}

TEST_F(PropertiesTest, UnknownPathsAreNotFound) {
  p.stream.streamData.requestHeaders = {{":path", "/"}};
  for (std::string path : {"nothing"s, "request\0nope"s, "request\0path\0extra"s, "request"s, "\0"s,
                           "plugin_name\0extra"s, "response\0code"s}) {
    EXPECT_EQ(get(path), WasmResult::kNotFound) << path;
  }
  EXPECT_EQ(p.result("proxy_get_property", {0, 0, 200, 204}), WasmResult::kNotFound);  // empty path
}

TEST_F(PropertiesTest, GetPropertyErrorStatuses) {
  EXPECT_EQ(p.result("proxy_get_property", {kWrapPtr, 0x200, 200, 204}),
            WasmResult::kInvalidMemoryAccess);
  EXPECT_EQ(p.result("proxy_get_property", {p.memorySize() - 2, 4, 200, 204}),
            WasmResult::kInvalidMemoryAccess);
  EXPECT_EQ(p.result("proxy_get_property", {0, abi::kMaxPropertyPathBytes + 1, 200, 204}),
            WasmResult::kBadArgument);
  // The slots are checked before the path is resolved, so a bad slot wins over NotFound.
  p.put(1000, "plugin_name");
  EXPECT_EQ(p.result("proxy_get_property", {1000, 11, p.memorySize() - 3, 204}),
            WasmResult::kInvalidMemoryAccess);
  EXPECT_EQ(p.result("proxy_get_property", {1000, 11, 200, 0xffffffffu}),
            WasmResult::kInvalidMemoryAccess);
  p.put(1000, "nothing");
  EXPECT_EQ(p.result("proxy_get_property", {1000, 7, 200, 0xffffffffu}),
            WasmResult::kInvalidMemoryAccess);
}

// Every plugin in a chain sees the same stream: one must not be able to spoof request.path or
// source.address for the plugins after it.
TEST_F(PropertiesTest, SetPropertyCannotShadowBuiltInAttributes) {
  p.stream.streamData.requestHeaders = {{":path", "/real"}};
  p.stream.properties["source.address."] = "10.0.0.1:5555";
  ASSERT_EQ(set("request\0path"s, "/spoofed"), WasmResult::kOk);
  ASSERT_EQ(set("source\0address"s, "127.0.0.1:1"), WasmResult::kOk);
  ASSERT_EQ(get("request\0path"s), WasmResult::kOk);
  EXPECT_EQ(value(), "/real");
  ASSERT_EQ(get("source\0address"s), WasmResult::kOk);
  EXPECT_EQ(value(), "10.0.0.1:5555");
}

}  // namespace
}  // namespace wasmgate::testing
