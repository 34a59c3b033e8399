// How the Proxy-Wasm host reaches the outside world. The proxy and the offline runner implement
// these; nothing in src/abi knows about sockets or event loops.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "abi/abi_types.h"
#include "abi/metrics.h"

namespace wasmgate::abi {

struct HttpCallRequest {
  std::string cluster;
  Headers headers;  // includes :method, :path, :authority
  std::string body;
  Headers trailers;
  std::chrono::milliseconds timeout{0};  // 0: the host's default
};

struct HttpCallResponse {
  Headers headers;  // includes :status
  std::string body;
  Headers trailers;
};

struct GrpcCallRequest {
  std::string cluster;
  std::string service;
  std::string method;
  Headers initialMetadata;
  std::string message;  // unary calls only
  std::chrono::milliseconds timeout{0};
};

struct LocalResponse {
  uint32_t status = 0;
  std::string details;
  std::string body;
  Headers headers;
  uint32_t grpcStatus = kGrpcStatusNone;
};

// The VM-wide outside world, one per plugin VM (per worker). Called on the VM's own thread,
// except postQueueReady which any thread may call.
class PluginHost {
 public:
  virtual ~PluginHost() = default;
  virtual void log(LogLevel level, std::string_view message) = 0;
  virtual LogLevel logLevel() const = 0;
  virtual MetricStore& metrics() = 0;
  // Re-arms the root context's timer; 0 stops it. The embedder calls PluginVm::onTick.
  virtual void setTickPeriod(std::chrono::milliseconds period) = 0;
  // Starts a callout whose answer the embedder delivers later through
  // PluginVm::onHttpCallResponse(token, ...). kBadArgument for an unknown cluster.
  virtual WasmResult httpCall(uint32_t token, const HttpCallRequest& request) = 0;
  // gRPC: answers come back through PluginVm::onGrpc*(token, ...).
  virtual WasmResult grpcCall(uint32_t token, const GrpcCallRequest& request) = 0;
  virtual WasmResult grpcStream(uint32_t token, const GrpcCallRequest& request) = 0;
  virtual WasmResult grpcSend(uint32_t token, std::string_view message, bool endStream) = 0;
  virtual WasmResult grpcClose(uint32_t token) = 0;
  virtual WasmResult grpcCancel(uint32_t token) = 0;
  // A shared-queue item is waiting; deliver PluginVm::onQueueReady(token) on the VM's thread.
  virtual void postQueueReady(uint32_t token) = 0;
  // Properties the VM's surroundings answer (node.*, xds.*, listener and cluster names, ...),
  // already encoded as section 6.1 says. nullopt: not known here.
  virtual std::optional<std::string> property(std::span<const std::string_view> path) = 0;
};

// What one stream (an HTTP request and its response, or a TCP connection) holds. The embedder
// owns it and keeps it alive until the stream context's on_delete; every plugin in a chain sees
// the same one.
struct StreamData {
  Headers requestHeaders;
  Headers requestTrailers;
  Headers responseHeaders;
  Headers responseTrailers;
  std::string requestBody;   // what the current request-body callback exposes
  std::string responseBody;  // what the current response-body callback exposes
  std::string downstreamData;
  std::string upstreamData;
  bool responseHeadersReceived = false;
  // Values plugins store with proxy_set_property, keyed by the raw path bytes.
  std::map<std::string, std::string, std::less<>> filterState;
};

// One stream's side of the outside world.
class StreamHost {
 public:
  virtual ~StreamHost() = default;
  virtual StreamData& data() = 0;
  // These arrive after the plugin's callback returned (never from inside it).
  virtual void continueStream(StreamType type) = 0;
  virtual void closeStream(StreamType type) = 0;
  virtual void sendLocalResponse(LocalResponse response) = 0;
  // Stream properties (source.*, destination.*, connection.*, request.time, response.code_details,
  // upstream.*, ...) already encoded; nullopt: not known.
  virtual std::optional<std::string> property(std::span<const std::string_view> path) = 0;
  // A hostcall is about to read or write the stream buffer `type` in data(): an embedder that
  // keeps the bytes elsewhere until a plugin asks for them (the TCP proxy does) puts them there.
  virtual void prepareBuffer(BufferType type) { (void)type; }
};

}  // namespace wasmgate::abi
