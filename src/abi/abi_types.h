// The Proxy-Wasm ABI's enumerations, with the values of ../shared/docs/proxy-wasm-abi.md section 2.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace wasmgate::abi {

enum class AbiVersion { k0_1_0, k0_2_0, k0_2_1 };
std::string_view abiVersionName(AbiVersion version);

// proxy_status_t / WasmResult.
enum class WasmResult : uint32_t {
  kOk = 0,
  kNotFound = 1,
  kBadArgument = 2,
  kSerializationFailure = 3,
  kParseFailure = 4,
  kBadExpression = 5,
  kInvalidMemoryAccess = 6,
  kEmpty = 7,
  kCasMismatch = 8,
  kResultMismatch = 9,
  kInternalFailure = 10,
  kBrokenConnection = 11,
  kUnimplemented = 12,
};

enum class MapType : uint32_t {
  kRequestHeaders = 0,
  kRequestTrailers = 1,
  kResponseHeaders = 2,
  kResponseTrailers = 3,
  kGrpcInitialMetadata = 4,
  kGrpcTrailingMetadata = 5,
  kHttpCallResponseHeaders = 6,
  kHttpCallResponseTrailers = 7,
};
inline constexpr uint32_t kMaxMapType = 7;

enum class BufferType : uint32_t {
  kRequestBody = 0,
  kResponseBody = 1,
  kDownstreamData = 2,
  kUpstreamData = 3,
  kHttpCallResponseBody = 4,
  kGrpcReceiveBuffer = 5,
  kVmConfiguration = 6,
  kPluginConfiguration = 7,
  kCallData = 8,
};
inline constexpr uint32_t kMaxBufferType = 8;

enum class StreamType : uint32_t {
  kHttpRequest = 0,
  kHttpResponse = 1,
  kDownstream = 2,
  kUpstream = 3
};
inline constexpr uint32_t kMaxStreamType = 3;

enum class LogLevel : uint32_t { kTrace = 0, kDebug, kInfo, kWarn, kError, kCritical, kOff };
std::string_view logLevelName(LogLevel level);

enum class MetricType : uint32_t { kCounter = 0, kGauge = 1, kHistogram = 2 };

enum class PeerType : uint32_t { kUnknown = 0, kLocal = 1, kRemote = 2 };

// What a header callback asked for, after the conversions of section 2.4.
enum class HeadersStatus {
  kContinue,
  kContinueAndEndStream,
  kStopAllAndBuffer,
  kStopAllAndWatermark
};
// What a body callback asked for.
enum class DataStatus { kContinue, kStopAndBuffer, kStopAndWatermark, kStopNoBuffer };
// Trailers and TCP data: continue or stop.
enum class FilterStatus { kContinue, kStop };

inline constexpr uint32_t kGrpcStatusNone = 0xffffffffu;

using Headers = std::vector<std::pair<std::string, std::string>>;

}  // namespace wasmgate::abi
