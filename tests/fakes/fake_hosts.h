// In-memory PluginHost and StreamHost that record what a plugin asked of them, so src/abi tests
// run with no sockets and no event loop.
#pragma once

#include <deque>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "abi/host.h"

namespace wasmgate::testing {

class FakePluginHost : public abi::PluginHost {
 public:
  struct GrpcOp {
    std::string kind;  // call, stream, send, close, cancel
    uint32_t token;
    abi::GrpcCallRequest request;
    std::string message;
    bool endStream = false;
  };

  void log(abi::LogLevel level, std::string_view message) override {
    logs.emplace_back(level, std::string(message));
  }
  abi::LogLevel logLevel() const override { return level; }
  abi::MetricStore& metrics() override { return metricStore; }
  void setTickPeriod(std::chrono::milliseconds period) override { tickPeriod = period; }
  abi::WasmResult httpCall(uint32_t token, const abi::HttpCallRequest& request) override {
    if (request.cluster == "unknown") return abi::WasmResult::kBadArgument;
    httpCalls.emplace_back(token, request);
    return abi::WasmResult::kOk;
  }
  abi::WasmResult grpcCall(uint32_t token, const abi::GrpcCallRequest& request) override {
    return recordGrpc("call", token, request);
  }
  abi::WasmResult grpcStream(uint32_t token, const abi::GrpcCallRequest& request) override {
    return recordGrpc("stream", token, request);
  }
  abi::WasmResult grpcSend(uint32_t token, std::string_view message, bool endStream) override {
    grpcOps.push_back({"send", token, {}, std::string(message), endStream});
    return abi::WasmResult::kOk;
  }
  abi::WasmResult grpcClose(uint32_t token) override {
    grpcOps.push_back({"close", token, {}, {}, false});
    return abi::WasmResult::kOk;
  }
  abi::WasmResult grpcCancel(uint32_t token) override {
    grpcOps.push_back({"cancel", token, {}, {}, false});
    return abi::WasmResult::kOk;
  }
  void postQueueReady(uint32_t token) override { queueReady.push_back(token); }
  std::optional<std::string> property(std::span<const std::string_view> path) override {
    std::string key;
    for (auto segment : path) key.append(segment).push_back('.');
    auto it = properties.find(key);
    return it == properties.end() ? std::nullopt : std::optional(it->second);
  }

  bool logged(std::string_view needle) const {
    for (const auto& [lvl, msg] : logs) {
      if (msg.find(needle) != std::string::npos) return true;
    }
    return false;
  }

  abi::LogLevel level = abi::LogLevel::kInfo;
  abi::MetricStore metricStore;
  std::vector<std::pair<abi::LogLevel, std::string>> logs;
  std::chrono::milliseconds tickPeriod{0};
  std::vector<std::pair<uint32_t, abi::HttpCallRequest>> httpCalls;
  std::vector<GrpcOp> grpcOps;
  std::vector<uint32_t> queueReady;
  std::map<std::string, std::string> properties;  // "node.id." style keys: segments joined by '.'

 private:
  abi::WasmResult recordGrpc(const char* kind, uint32_t token,
                             const abi::GrpcCallRequest& request) {
    if (request.cluster == "unknown") return abi::WasmResult::kParseFailure;
    grpcOps.push_back({kind, token, request, {}, false});
    return abi::WasmResult::kOk;
  }
};

class FakeStream : public abi::StreamHost {
 public:
  abi::StreamData& data() override { return streamData; }
  void continueStream(abi::StreamType type) override { continued.push_back(type); }
  void closeStream(abi::StreamType type) override { closed.push_back(type); }
  void sendLocalResponse(abi::LocalResponse response) override {
    localResponses.push_back(std::move(response));
  }
  std::optional<std::string> property(std::span<const std::string_view> path) override {
    std::string key;
    for (auto segment : path) key.append(segment).push_back('.');
    auto it = properties.find(key);
    return it == properties.end() ? std::nullopt : std::optional(it->second);
  }

  abi::StreamData streamData;
  std::vector<abi::StreamType> continued;
  std::vector<abi::StreamType> closed;
  std::vector<abi::LocalResponse> localResponses;
  std::map<std::string, std::string> properties;
};

}  // namespace wasmgate::testing
