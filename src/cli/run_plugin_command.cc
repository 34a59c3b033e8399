#include "cli/run_plugin_command.h"

#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <nlohmann/json.hpp>

#include "abi/pairs.h"
#include "cli/plugin_runner.h"

namespace wasmgate::cli {
namespace {

using nlohmann::json;

struct RawFlags {
  std::string plugin;
  std::string config, vmConfig, body, responseBody, httpCallResponse, logLevel = "trace";
  bool hasBody = false, hasResponseBody = false;
  std::vector<std::string> env, headers, trailers, responseHeaders, responseTrailers;
  bool json = false;
};

std::optional<std::string> readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// TEXT, or the contents of FILE for @FILE.
Result<std::string> textOrFile(const std::string& value, const char* flag) {
  if (value.empty() || value[0] != '@') return value;
  auto contents = readFile(value.substr(1));
  if (!contents)
    return errorStatus(StatusCode::kNotFound,
                       std::string(flag) + ": cannot read " + value.substr(1));
  return *contents;
}

Result<abi::Headers> parseHeaderFlags(const std::vector<std::string>& values, const char* flag) {
  abi::Headers out;
  for (const auto& v : values) {
    size_t colon = v.find(':', v.empty() || v[0] != ':' ? 0 : 1);
    if (colon == std::string::npos || colon == 0) {
      return errorStatus(StatusCode::kBadArgument,
                         std::string(flag) + " '" + v + "': expected 'name: value'");
    }
    size_t start = v.find_first_not_of(" \t", colon + 1);
    abi::addHeader(out, v.substr(0, colon), start == std::string::npos ? "" : v.substr(start));
  }
  return out;
}

Result<abi::HttpCallResponse> parseCallResponse(const std::string& text) {
  json doc = json::parse(text, nullptr, false);
  auto bad = [](const std::string& why) {
    return errorStatus(StatusCode::kBadArgument, "--http-call-response: " + why);
  };
  if (doc.is_discarded() || !doc.is_object()) return bad("not a JSON object");
  abi::HttpCallResponse response;
  int status = 200;
  if (doc.contains("status")) {
    if (!doc["status"].is_number_integer()) return bad("status must be an integer");
    status = doc["status"].get<int>();
  }
  response.headers.emplace_back(":status", std::to_string(status));
  for (const char* field : {"headers", "trailers"}) {
    if (!doc.contains(field)) continue;
    if (!doc[field].is_array())
      return bad(std::string(field) + " must be an array of [name, value]");
    for (const auto& pair : doc[field]) {
      if (!pair.is_array() || pair.size() != 2 || !pair[0].is_string() || !pair[1].is_string()) {
        return bad(std::string(field) + " must be an array of [name, value]");
      }
      abi::addHeader(std::string(field) == "headers" ? response.headers : response.trailers,
                     pair[0].get<std::string>(), pair[1].get<std::string>());
    }
  }
  if (doc.contains("body")) {
    if (!doc["body"].is_string()) return bad("body must be a string");
    response.body = doc["body"].get<std::string>();
  }
  return response;
}

std::optional<abi::LogLevel> parseLogLevel(const std::string& name) {
  for (uint32_t i = 0; i <= static_cast<uint32_t>(abi::LogLevel::kOff); ++i) {
    if (abi::logLevelName(static_cast<abi::LogLevel>(i)) == name)
      return static_cast<abi::LogLevel>(i);
  }
  return std::nullopt;
}

Result<RunnerOptions> buildOptions(const RawFlags& f, RunnerOptions options) {
  auto config = textOrFile(f.config, "--config");
  auto vmConfig = textOrFile(f.vmConfig, "--vm-config");
  if (!config.isOk()) return config.status();
  if (!vmConfig.isOk()) return vmConfig.status();
  options.spec.pluginConfiguration = *config;
  options.spec.vmConfiguration = *vmConfig;
  if (options.spec.name.empty()) options.spec.name = options.spec.rootId;
  for (const auto& kv : f.env) {
    size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0)
      return errorStatus(StatusCode::kBadArgument, "--env '" + kv + "': expected K=V");
    options.spec.environment.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
  }
  auto headers = parseHeaderFlags(f.headers, "-H");
  auto trailers = parseHeaderFlags(f.trailers, "--trailer");
  auto respHeaders = parseHeaderFlags(f.responseHeaders, "--response-header");
  auto respTrailers = parseHeaderFlags(f.responseTrailers, "--response-trailer");
  for (auto* r : {&headers, &trailers, &respHeaders, &respTrailers}) {
    if (!r->isOk()) return r->status();
  }
  options.requestHeaders = *headers;
  options.requestTrailers = *trailers;
  options.responseHeaders = *respHeaders;
  options.responseTrailers = *respTrailers;
  if (f.hasBody) {
    auto body = textOrFile(f.body, "--body");
    if (!body.isOk()) return body.status();
    options.requestBody = *body;
  }
  if (f.hasResponseBody) {
    auto body = textOrFile(f.responseBody, "--response-body");
    if (!body.isOk()) return body.status();
    options.responseBody = *body;
  }
  if (!f.httpCallResponse.empty()) {
    auto response = parseCallResponse(f.httpCallResponse);
    if (!response.isOk()) return response.status();
    options.httpCallResponse = *response;
  }
  auto level = parseLogLevel(f.logLevel);
  if (!level)
    return errorStatus(StatusCode::kBadArgument, "--log-level '" + f.logLevel + "': unknown level");
  options.logLevel = *level;
  return options;
}

json pairsJson(const abi::Headers& headers) {
  json out = json::array();
  for (const auto& [k, v] : headers) out.push_back({k, v});
  return out;
}

json reportJson(const RunReport& r) {
  json out;
  out["abi_version"] = r.abiVersion;
  out["request_headers"] = pairsJson(r.last.requestHeaders);
  out["request_body"] = r.last.requestBody;
  out["request_trailers"] = pairsJson(r.last.requestTrailers);
  out["response_headers"] = pairsJson(r.last.responseHeaders);
  out["response_body"] = r.last.responseBody;
  out["response_trailers"] = pairsJson(r.last.responseTrailers);
  out["local_response"] = nullptr;
  if (r.localResponse) {
    out["local_response"] = {{"status", r.localResponse->status},
                             {"headers", pairsJson(r.localResponse->headers)},
                             {"body", r.localResponse->body},
                             {"details", r.localResponse->details}};
  }
  out["statuses"] = r.statuses;
  out["logs"] = json::array();
  for (const auto& l : r.logs)
    out["logs"].push_back({{"level", abi::logLevelName(l.level)}, {"message", l.message}});
  out["metrics"] = json::object();
  for (const auto& m : r.metrics) {
    out["metrics"][m.name] = m.type == abi::MetricType::kHistogram
                                 ? json{{"count", m.count}, {"sum", m.sum}}
                                 : json(m.value);
  }
  out["http_calls"] = json::array();
  for (const auto& c : r.httpCalls) {
    out["http_calls"].push_back({{"cluster", c.request.cluster},
                                 {"headers", pairsJson(c.request.headers)},
                                 {"body", c.request.body},
                                 {"trailers", pairsJson(c.request.trailers)},
                                 {"timeout_ms", c.request.timeout.count()}});
  }
  out["paused"] = r.paused ? json(*r.paused) : json(nullptr);
  out["stream_closed"] = r.streamClosed;
  out["trap"] = r.trap ? json(*r.trap) : json(nullptr);
  return out;
}

void printPairs(std::ostream& os, const char* title, const abi::Headers& headers) {
  if (headers.empty()) return;
  os << title << ":\n";
  for (const auto& [k, v] : headers) os << "  " << k << ": " << v << "\n";
}

void printReport(std::ostream& os, const RunReport& r) {
  os << "ABI " << r.abiVersion << "\n";
  for (const auto& l : r.logs) os << "[" << abi::logLevelName(l.level) << "] " << l.message << "\n";
  printPairs(os, "request headers", r.last.requestHeaders);
  if (!r.last.requestBody.empty()) os << "request body: " << r.last.requestBody << "\n";
  printPairs(os, "request trailers", r.last.requestTrailers);
  for (const auto& c : r.httpCalls) os << "http call to cluster '" << c.request.cluster << "'\n";
  if (r.localResponse) {
    os << "local response: " << r.localResponse->status << " " << r.localResponse->body << "\n";
  }
  printPairs(os, "response headers", r.last.responseHeaders);
  if (!r.last.responseBody.empty()) os << "response body: " << r.last.responseBody << "\n";
  printPairs(os, "response trailers", r.last.responseTrailers);
  for (const auto& m : r.metrics) {
    os << "metric " << m.name << " = "
       << (m.type == abi::MetricType::kHistogram ? static_cast<int64_t>(m.count) : m.value)
       << (m.type == abi::MetricType::kHistogram ? " samples" : "") << "\n";
  }
  if (r.paused) os << "stream stayed paused after " << *r.paused << "\n";
  if (r.trap) os << "plugin trapped: " << *r.trap << "\n";
  os << "statuses:";
  for (uint32_t s : r.statuses) os << " " << s;
  os << "\n";
}

int runCommand(const RawFlags& flags, const RunnerOptions& base) {
  auto options = buildOptions(flags, base);
  if (!options.isOk()) {
    std::cerr << "wasmgate: error: " << options.status().message() << "\n";
    return 1;
  }
  auto bytes = readFile(flags.plugin);
  if (!bytes) {
    std::cerr << "wasmgate: error: cannot read plugin " << flags.plugin << "\n";
    return 1;
  }
  auto report =
      runPlugin({reinterpret_cast<const uint8_t*>(bytes->data()), bytes->size()}, *options);
  if (!report.isOk()) {
    std::cerr << "wasmgate: error: " << flags.plugin << ": " << report.status().message() << "\n";
    return 1;
  }
  if (flags.json) {
    std::cout << reportJson(*report).dump(-1, ' ', false, json::error_handler_t::replace) << "\n";
  } else {
    printReport(std::cout, *report);
  }
  return 0;
}

}  // namespace

void addRunPluginCommand(CLI::App& app, int& exitCode) {
  auto flags = std::make_shared<RawFlags>();
  auto options = std::make_shared<RunnerOptions>();
  CLI::App* cmd = app.add_subcommand(
      "run-plugin", "Run a Proxy-Wasm plugin offline through whole request lifecycles");
  cmd->add_option("plugin", flags->plugin, "The plugin's .wasm file")->required();
  cmd->add_option("--root-id", options->spec.rootId, "Root id (WasmPlugin pluginName)");
  cmd->add_option("--vm-id", options->spec.vmId, "VM id");
  cmd->add_option("--config", flags->config, "Plugin configuration: TEXT or @FILE");
  cmd->add_option("--vm-config", flags->vmConfig, "VM configuration: TEXT or @FILE");
  cmd->add_option("--env", flags->env, "VM environment variable K=V (repeatable)");
  cmd->add_option("--method", options->method, "Request method");
  cmd->add_option("--path", options->path, "Request path");
  cmd->add_option("--authority", options->authority, "Request authority");
  cmd->add_option("--scheme", options->scheme, "Request scheme");
  cmd->add_option("-H,--header", flags->headers, "Request header 'name: value' (repeatable)");
  cmd->add_option("--body", flags->body, "Request body: TEXT or @FILE")
      ->each([f = flags.get()](const std::string&) { f->hasBody = true; });
  cmd->add_option("--trailer", flags->trailers, "Request trailer 'name: value' (repeatable)");
  cmd->add_option("--response-status", options->responseStatus, "Upstream response status");
  cmd->add_option("--response-header", flags->responseHeaders,
                  "Upstream response header (repeatable)");
  cmd->add_option("--response-body", flags->responseBody, "Upstream response body: TEXT or @FILE")
      ->each([f = flags.get()](const std::string&) { f->hasResponseBody = true; });
  cmd->add_option("--response-trailer", flags->responseTrailers,
                  "Upstream response trailer (repeatable)");
  cmd->add_option("--http-call-response", flags->httpCallResponse,
                  "Canned JSON answer to every HTTP callout");
  cmd->add_option("--ticks", options->ticks, "Fire proxy_on_tick N times after configuration");
  cmd->add_option("--requests", options->requests, "Run N requests through the same VM");
  cmd->add_option("--log-level", flags->logLevel, "Level proxy_get_log_level reports");
  cmd->add_flag("--json", flags->json, "Print one JSON object");
  cmd->callback([flags, options, &exitCode] { exitCode = runCommand(*flags, *options); });
}

}  // namespace wasmgate::cli
