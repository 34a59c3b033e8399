// Enumerations of the Proxy-Wasm ABI 0.2.1, as the host sees them.
//
// Plain header, no Wasm imports: usable from native code (tests, tools).
#pragma once

#include <cstdint>
#include <string_view>

namespace wasmgate {

// Status returned by every hostcall.
enum class WasmResult : uint32_t {
  Ok = 0,
  NotFound = 1,
  BadArgument = 2,
  SerializationFailure = 3,
  ParseFailure = 4,
  BadExpression = 5,
  InvalidMemoryAccess = 6,
  Empty = 7,
  CasMismatch = 8,
  ResultMismatch = 9,
  InternalFailure = 10,
  BrokenConnection = 11,
  Unimplemented = 12,
};

constexpr std::string_view toString(WasmResult r) {
  switch (r) {
    case WasmResult::Ok:
      return "Ok";
    case WasmResult::NotFound:
      return "NotFound";
    case WasmResult::BadArgument:
      return "BadArgument";
    case WasmResult::SerializationFailure:
      return "SerializationFailure";
    case WasmResult::ParseFailure:
      return "ParseFailure";
    case WasmResult::BadExpression:
      return "BadExpression";
    case WasmResult::InvalidMemoryAccess:
      return "InvalidMemoryAccess";
    case WasmResult::Empty:
      return "Empty";
    case WasmResult::CasMismatch:
      return "CasMismatch";
    case WasmResult::ResultMismatch:
      return "ResultMismatch";
    case WasmResult::InternalFailure:
      return "InternalFailure";
    case WasmResult::BrokenConnection:
      return "BrokenConnection";
    case WasmResult::Unimplemented:
      return "Unimplemented";
  }
  return "Unknown";
}

enum class HeaderMapType : uint32_t {
  RequestHeaders = 0,
  RequestTrailers = 1,
  ResponseHeaders = 2,
  ResponseTrailers = 3,
  GrpcInitialMetadata = 4,
  GrpcTrailingMetadata = 5,
  HttpCallResponseHeaders = 6,
  HttpCallResponseTrailers = 7,
};

enum class BufferType : uint32_t {
  RequestBody = 0,
  ResponseBody = 1,
  DownstreamData = 2,
  UpstreamData = 3,
  HttpCallResponseBody = 4,
  GrpcReceiveBuffer = 5,
  VmConfiguration = 6,
  PluginConfiguration = 7,
  ForeignFunctionArguments = 8,
};

// Result of proxy_on_request_headers / proxy_on_response_headers.
enum class FilterHeadersStatus : uint32_t {
  Continue = 0,
  StopIteration = 1,  // the host normally treats this like StopAllIterationAndWatermark
  ContinueAndEndStream = 2,
  StopAllIterationAndBuffer = 3,
  StopAllIterationAndWatermark = 4,
};

// Result of proxy_on_request_body / proxy_on_response_body.
enum class FilterDataStatus : uint32_t {
  Continue = 0,
  StopIterationAndBuffer = 1,  // keep buffering; the next call sees the whole body so far
  StopIterationAndWatermark = 2,
  StopIterationNoBuffer = 3,
};

enum class FilterTrailersStatus : uint32_t { Continue = 0, StopIteration = 1 };
enum class FilterMetadataStatus : uint32_t { Continue = 0 };

// Result of the TCP callbacks.
enum class FilterStatus : uint32_t { Continue = 0, StopIteration = 1 };

enum class LogLevel : uint32_t {
  Trace = 0,
  Debug = 1,
  Info = 2,
  Warn = 3,
  Error = 4,
  Critical = 5,
};

enum class MetricType : uint32_t { Counter = 0, Gauge = 1, Histogram = 2 };

// Who closed a TCP connection side.
enum class PeerType : uint32_t { Unknown = 0, Local = 1, Remote = 2 };

enum class StreamType : uint32_t { Request = 0, Response = 1, Downstream = 2, Upstream = 3 };

enum class GrpcStatus : int32_t {
  Ok = 0,
  Canceled = 1,
  Unknown = 2,
  InvalidArgument = 3,
  DeadlineExceeded = 4,
  NotFound = 5,
  AlreadyExists = 6,
  PermissionDenied = 7,
  ResourceExhausted = 8,
  FailedPrecondition = 9,
  Aborted = 10,
  OutOfRange = 11,
  Unimplemented = 12,
  Internal = 13,
  Unavailable = 14,
  DataLoss = 15,
  Unauthenticated = 16,
  InvalidCode = -1,  // "no gRPC status" in proxy_send_local_response
};

}  // namespace wasmgate
