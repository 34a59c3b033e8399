// The offline harness behind `wasmgate run-plugin`: an in-memory PluginHost and StreamHost that
// drive one plugin through whole request lifecycles and record everything it did.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "abi/plugin_vm.h"

namespace wasmgate::cli {

struct RunnerOptions {
  abi::PluginSpec spec;
  std::string method = "GET";
  std::string path = "/";
  std::string authority = "localhost";
  std::string scheme = "http";
  abi::Headers requestHeaders;
  std::optional<std::string> requestBody;
  abi::Headers requestTrailers;
  uint32_t responseStatus = 200;
  abi::Headers responseHeaders;
  std::optional<std::string> responseBody;
  abi::Headers responseTrailers;
  std::optional<abi::HttpCallResponse> httpCallResponse;  // nullopt: every callout fails
  uint32_t ticks = 0;
  uint32_t requests = 1;
  abi::LogLevel logLevel = abi::LogLevel::kTrace;
};

struct LogEntry {
  abi::LogLevel level;
  std::string message;
};

struct RecordedHttpCall {
  abi::HttpCallRequest request;
};

struct RunReport {
  std::string abiVersion;
  abi::StreamData last;  // the last request's maps and bodies as the plugin left them
  std::optional<abi::LocalResponse> localResponse;
  std::vector<uint32_t> statuses;
  std::vector<LogEntry> logs;
  std::vector<abi::MetricStore::Snapshot> metrics;
  std::vector<RecordedHttpCall> httpCalls;
  std::optional<std::string> paused;  // the callback after which the stream stayed paused
  bool streamClosed = false;
  std::optional<std::string> trap;
};

// Loads and starts the plugin (errors: bad module, missing import, rejected configuration), then
// runs the requests. A trap after start is part of the report, not an error.
Result<RunReport> runPlugin(std::span<const uint8_t> module, const RunnerOptions& options);

}  // namespace wasmgate::cli
