// grpc_probe: a test plugin that makes one gRPC callout per HTTP request and answers the
// request with a JSON report of everything the host delivered for it.
//
// It implements the Proxy-Wasm exports itself (no plugin.h) so it sees every callback exactly
// as the host makes it, including the trailing metadata of unary calls, which the SDK's
// grpcCall() helper does not surface. It uses the SDK's hostcall declarations, buffers,
// header-map format and JSON reader.
//
// Request:  GET /unary/<Method>?...   one proxy_grpc_call
//           GET /stream/<Method>?...  one proxy_grpc_stream, then proxy_grpc_send per message
// Query parameters (all optional):
//   m=<text>          a message (repeatable; unary uses the first, default empty)
//   cluster=, service= override the configuration
//   timeout=<ms>      unary timeout (default: configuration timeout_ms)
//   half=last|close|none   stream half-close: end_stream on the last send (default), or a
//                          separate proxy_grpc_close after the sends, or none
//   pingpong=1        stream: send the first message at once, each next one after a reply
//   cancel_after=<k>  after k received messages (0: right after starting) call
//                     proxy_grpc_cancel (or proxy_grpc_close with cancel_with=close) and answer
//   send_after_close=1   stream: one more proxy_grpc_send after the half-close (its result
//                        is reported as "late_send")
//   repeat=<n>        each message is m repeated n times (at most 8 MiB), for large messages
//   trap=1            trap (the VM fails) right after starting the call
// Request headers named x-md-<key> become call metadata <key>.
//
// The answer (200, application/json) is sent when the call is over: at proxy_on_grpc_close,
// at a cancel, or (a unary call that succeeded) after its message and trailing metadata, or
// ~100 ms after its message when no trailing metadata comes. Its shape:
//   {"kind":"unary","token":2,"start":0,"sends":[0,0],"close":null,"cancel":null,
//    "late_send":null,"done":"close",
//    "events":[{"type":"initial_metadata","token":2,"count":2,"metadata":[["k","v"],...]},
//              {"type":"message","token":2,"size":5,"data":"..."},
//              {"type":"trailing_metadata",...},
//              {"type":"close","token":2,"status":7,"get_status":0,"code":7,"message":"..."}]}
// Strings are bytes: 0x00-0x1f, '"', '\\' and bytes >= 0x7f are written as \u00XX.
//
// Callbacks for a token whose request was already answered (or cancelled) increment the
// counter grpc_probe_late_callbacks and are logged at warn level.
//
// Configuration: {"cluster": "grpc", "service": "wasmgate.test.v1.Probe", "timeout_ms": 2000,
//                 "prefix": ""}   (prefix: the probe answers <prefix>/unary/... and
//                 <prefix>/stream/...)
#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "wasmgate/api.h"
#include "wasmgate/json.h"

namespace {

using wasmgate::Buffer;
using wasmgate::BufferType;
using wasmgate::HeaderMap;
using wasmgate::HeaderMapType;
using wasmgate::WasmResult;

constexpr uint32_t kTickMs = 25;
constexpr uint32_t kGraceTicks = 4;  // ~100 ms after a unary message without trailing metadata
constexpr size_t kMaxMessageBytes = 8 * 1024 * 1024;

struct Config {
  std::string cluster = "grpc";
  std::string service = "wasmgate.test.v1.Probe";
  uint32_t timeout_ms = 2000;
  std::string prefix;
};

// ---- JSON output ----

void appendJsonString(std::string& out, std::string_view s) {
  static const char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
      out.append("\\u00");
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  out.push_back('"');
}

void appendInt(std::string& out, int64_t v) {
  if (v < 0) {
    out.push_back('-');
    v = -v;
  }
  char digits[24];
  int n = 0;
  do {
    digits[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  while (n > 0) out.push_back(digits[--n]);
}

void appendOptionalInt(std::string& out, const std::optional<int64_t>& v) {
  if (v) {
    appendInt(out, *v);
  } else {
    out.append("null");
  }
}

// ---- request parsing ----

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percentDecode(std::string_view in) {
  std::string out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '+') {
      out.push_back(' ');
    } else if (in[i] == '%' && i + 2 < in.size() && hexValue(in[i + 1]) >= 0 &&
               hexValue(in[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hexValue(in[i + 1]) * 16 + hexValue(in[i + 2])));
      i += 2;
    } else {
      out.push_back(in[i]);
    }
  }
  return out;
}

std::optional<uint32_t> parseUint(std::string_view s) {
  if (s.empty() || s.size() > 9) return std::nullopt;
  uint32_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint32_t>(c - '0');
  }
  return v;
}

using Query = std::vector<std::pair<std::string, std::string>>;

Query parseQuery(std::string_view q) {
  Query out;
  while (!q.empty()) {
    size_t amp = q.find('&');
    std::string_view item = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view() : q.substr(amp + 1);
    if (item.empty()) continue;
    size_t eq = item.find('=');
    if (eq == std::string_view::npos) {
      out.emplace_back(percentDecode(item), "");
    } else {
      out.emplace_back(percentDecode(item.substr(0, eq)), percentDecode(item.substr(eq + 1)));
    }
  }
  return out;
}

const std::string* queryValue(const Query& q, std::string_view key) {
  for (const auto& [k, v] : q) {
    if (k == key) return &v;
  }
  return nullptr;
}

// ---- state ----

enum class HalfClose { kLast, kClose, kNone };

struct Probe {
  uint32_t context_id = 0;
  bool stream = false;
  uint32_t token = 0;
  std::vector<std::string> messages;  // to send (stream) or the unary message
  size_t next_send = 0;
  HalfClose half = HalfClose::kLast;
  bool half_closed = false;
  bool pingpong = false;
  bool send_after_close = false;
  std::optional<uint32_t> cancel_after;
  bool cancel_with_close = false;

  std::optional<int64_t> start_result;
  std::vector<int64_t> send_results;
  std::optional<int64_t> close_result;
  std::optional<int64_t> cancel_result;
  std::optional<int64_t> late_send_result;
  std::string events;  // JSON objects separated by commas
  uint32_t received = 0;
  bool trailing_seen = false;
  uint32_t ticks_since_message = 0;
  bool waiting_grace = false;
};

Config g_config;
std::map<uint32_t, std::unique_ptr<Probe>> g_probes;  // by HTTP context id
std::map<uint32_t, uint32_t> g_tokens;                // token -> HTTP context id
uint32_t g_root_id = 0;
uint32_t g_late_metric = 0;
bool g_late_metric_ok = false;
bool g_ticking = false;

void logAt(wasmgate::LogLevel level, std::string_view text) {
  wasmgate::logMessage(level, text);
}

std::string_view kindName(const Probe& p) {
  return p.stream ? "stream" : "unary";
}

std::string report(const Probe& p, std::string_view done) {
  std::string out = "{\"kind\":\"";
  out.append(kindName(p)).append("\",\"token\":");
  appendInt(out, p.token);
  out.append(",\"start\":");
  appendOptionalInt(out, p.start_result);
  out.append(",\"sends\":[");
  for (size_t i = 0; i < p.send_results.size(); ++i) {
    if (i) out.push_back(',');
    appendInt(out, p.send_results[i]);
  }
  out.append("],\"close\":");
  appendOptionalInt(out, p.close_result);
  out.append(",\"cancel\":");
  appendOptionalInt(out, p.cancel_result);
  out.append(",\"late_send\":");
  appendOptionalInt(out, p.late_send_result);
  out.append(",\"done\":");
  appendJsonString(out, done);
  out.append(",\"events\":[").append(p.events).append("]}");
  return out;
}

// Answers the request of `context_id` with the report and forgets the probe. Switches the
// effective context to the HTTP stream first when called from a root callback.
void finish(uint32_t context_id, std::string_view done, bool from_root) {
  auto it = g_probes.find(context_id);
  if (it == g_probes.end()) return;
  std::unique_ptr<Probe> probe = std::move(it->second);
  g_probes.erase(it);
  g_tokens.erase(probe->token);
  std::string body = report(*probe, done);
  if (from_root && proxy_set_effective_context(context_id) != WasmResult::Ok) {
    logAt(wasmgate::LogLevel::Warn, "grpc_probe: the request is gone; report dropped");
    return;
  }
  wasmgate::sendLocalResponse(200, body, {{"content-type", "application/json"}}, "grpc_probe");
}

void appendMetadataEvent(Probe& p, std::string_view type, uint32_t count, HeaderMapType map) {
  HeaderMap md = count != 0 ? wasmgate::getHeaderMapPairs(map) : HeaderMap();
  if (!p.events.empty()) p.events.push_back(',');
  p.events.append("{\"type\":\"").append(type).append("\",\"token\":");
  appendInt(p.events, p.token);
  p.events.append(",\"count\":");
  appendInt(p.events, count);
  p.events.append(",\"metadata\":[");
  bool first = true;
  for (const auto& [k, v] : md) {
    if (!first) p.events.push_back(',');
    first = false;
    p.events.push_back('[');
    appendJsonString(p.events, k);
    p.events.push_back(',');
    appendJsonString(p.events, v);
    p.events.push_back(']');
  }
  p.events.append("]}");
}

void setTicking(bool on) {
  if (on == g_ticking) return;
  g_ticking = on;
  proxy_set_tick_period_milliseconds(on ? kTickMs : 0);
}

// Sends the next message of a stream; half-closes after the last one as configured.
void sendNext(Probe& p) {
  if (p.next_send >= p.messages.size()) return;
  const std::string& m = p.messages[p.next_send++];
  bool last = p.next_send == p.messages.size();
  bool end = last && p.half == HalfClose::kLast;
  p.send_results.push_back(
      static_cast<int64_t>(proxy_grpc_send(p.token, m.data(), m.size(), end ? 1 : 0)));
  if (end) p.half_closed = true;
  if (last && p.half == HalfClose::kClose) {
    p.close_result = static_cast<int64_t>(proxy_grpc_close(p.token));
    p.half_closed = true;
  }
  if (p.half_closed && p.send_after_close) {
    static const char kLate[] = "late";
    p.late_send_result = static_cast<int64_t>(proxy_grpc_send(p.token, kLate, 4, 0));
  }
}

void halfCloseWithoutMessages(Probe& p) {
  if (!p.messages.empty() || p.half == HalfClose::kNone) return;
  p.close_result = static_cast<int64_t>(proxy_grpc_close(p.token));
  p.half_closed = true;
  if (p.send_after_close) {
    static const char kLate[] = "late";
    p.late_send_result = static_cast<int64_t>(proxy_grpc_send(p.token, kLate, 4, 0));
  }
}

// Cancels (or closes) the call and answers; true when it did.
bool maybeCancel(Probe& p, bool from_root) {
  if (!p.cancel_after || p.received < *p.cancel_after) return false;
  p.cancel_result = static_cast<int64_t>(p.cancel_with_close ? proxy_grpc_close(p.token)
                                                             : proxy_grpc_cancel(p.token));
  finish(p.context_id, p.cancel_with_close ? "close_call" : "cancel", from_root);
  return true;
}

// Looks up the probe of a callback's token; counts callbacks nobody waits for.
Probe* probeFor(uint32_t token, std::string_view callback) {
  auto t = g_tokens.find(token);
  if (t != g_tokens.end()) {
    auto p = g_probes.find(t->second);
    if (p != g_probes.end()) return p->second.get();
  }
  if (g_late_metric_ok) proxy_increment_metric(g_late_metric, 1);
  std::string text = "grpc_probe: late callback ";
  text.append(callback).append(" for token ");
  appendInt(text, token);
  logAt(wasmgate::LogLevel::Warn, text);
  return nullptr;
}

bool readConfig(uint32_t size) {
  auto bytes = wasmgate::getBufferBytes(BufferType::PluginConfiguration, 0, size);
  if (!bytes || bytes->empty()) return true;
  std::string error;
  auto doc = wasmgate::json::parse(bytes->view(), &error);
  if (!doc || !doc->isObject()) {
    logAt(wasmgate::LogLevel::Error, "grpc_probe: configuration must be a JSON object: " + error);
    return false;
  }
  if ((*doc)["cluster"].isString()) g_config.cluster = std::string((*doc)["cluster"].asString());
  if ((*doc)["service"].isString()) g_config.service = std::string((*doc)["service"].asString());
  if ((*doc)["timeout_ms"].isInt())
    g_config.timeout_ms = static_cast<uint32_t>((*doc)["timeout_ms"].asInt());
  if ((*doc)["prefix"].isString()) g_config.prefix = std::string((*doc)["prefix"].asString());
  return true;
}

uint32_t onRequestHeaders(uint32_t context_id) {
  auto pathHeader = wasmgate::getRequestHeader(":path");
  std::string_view full = pathHeader ? pathHeader->view() : std::string_view("/");
  size_t qmark = full.find('?');
  std::string_view path = full.substr(0, qmark);
  if (!path.starts_with(g_config.prefix)) return 0;
  path.remove_prefix(g_config.prefix.size());
  Query query = qmark == std::string_view::npos ? Query() : parseQuery(full.substr(qmark + 1));

  bool stream;
  std::string_view method;
  if (path.starts_with("/unary/")) {
    stream = false;
    method = path.substr(7);
  } else if (path.starts_with("/stream/")) {
    stream = true;
    method = path.substr(8);
  } else {
    return 0;  // not ours: Continue
  }

  auto probe = std::make_unique<Probe>();
  Probe& p = *probe;
  p.context_id = context_id;
  p.stream = stream;
  for (const auto& [k, v] : query) {
    if (k == "m") p.messages.push_back(v);
  }
  const std::string* v = nullptr;
  if ((v = queryValue(query, "half"))) {
    p.half = *v == "close" ? HalfClose::kClose : *v == "none" ? HalfClose::kNone : HalfClose::kLast;
  }
  if ((v = queryValue(query, "pingpong"))) p.pingpong = *v == "1";
  if ((v = queryValue(query, "send_after_close"))) p.send_after_close = *v == "1";
  if ((v = queryValue(query, "cancel_after"))) p.cancel_after = parseUint(*v);
  if ((v = queryValue(query, "cancel_with"))) p.cancel_with_close = *v == "close";
  if ((v = queryValue(query, "repeat"))) {
    uint32_t n = parseUint(*v).value_or(1);
    for (std::string& m : p.messages) {
      if (m.empty() || n > kMaxMessageBytes / m.size()) continue;
      std::string big;
      big.reserve(m.size() * n);
      for (uint32_t i = 0; i < n; ++i) big.append(m);
      m = std::move(big);
    }
  }
  bool trap = (v = queryValue(query, "trap")) && *v == "1";
  std::string cluster = g_config.cluster;
  std::string service = g_config.service;
  uint32_t timeout = g_config.timeout_ms;
  if ((v = queryValue(query, "cluster"))) cluster = *v;
  if ((v = queryValue(query, "service"))) service = *v;
  if ((v = queryValue(query, "timeout"))) timeout = parseUint(*v).value_or(timeout);

  wasmgate::HeaderViews metadata;
  HeaderMap headers = wasmgate::getRequestHeaders();
  for (const auto& [k, val] : headers) {
    if (k.starts_with("x-md-")) metadata.emplace_back(k.substr(5), val);
  }
  std::string md = wasmgate::serializePairs(metadata);

  uint32_t token = 0;
  WasmResult started;
  if (stream) {
    started = proxy_grpc_stream(cluster.data(), cluster.size(), service.data(), service.size(),
                                method.data(), method.size(), md.data(), md.size(), &token);
  } else {
    std::string message = p.messages.empty() ? std::string() : p.messages.front();
    started = proxy_grpc_call(cluster.data(), cluster.size(), service.data(), service.size(),
                              method.data(), method.size(), md.data(), md.size(), message.data(),
                              message.size(), timeout, &token);
  }
  p.start_result = static_cast<int64_t>(started);
  p.token = started == WasmResult::Ok ? token : 0;
  g_probes[context_id] = std::move(probe);
  if (started != WasmResult::Ok) {
    finish(context_id, "start_failed", false);
    return 1;  // StopIteration after the local response
  }
  g_tokens[p.token] = context_id;
  if (trap) __builtin_trap();
  if (stream) {
    if (p.pingpong) {
      sendNext(p);
    } else {
      while (p.next_send < p.messages.size()) sendNext(p);
    }
    halfCloseWithoutMessages(p);
  }
  if (maybeCancel(p, false)) return 1;
  return 4;  // StopAllIterationAndWatermark until the call is over
}

}  // namespace

#define PROBE_EXPORT(name) extern "C" [[gnu::used, clang::export_name(#name)]]

PROBE_EXPORT(proxy_abi_version_0_2_1) void proxy_abi_version_0_2_1() {}

PROBE_EXPORT(proxy_on_memory_allocate) void* proxy_on_memory_allocate(size_t size) {
  return std::malloc(size);
}

PROBE_EXPORT(proxy_on_context_create)
void proxy_on_context_create(uint32_t context_id, uint32_t parent) {
  if (parent == 0) g_root_id = context_id;
}

PROBE_EXPORT(proxy_on_vm_start) uint32_t proxy_on_vm_start(uint32_t, uint32_t) {
  return 1;
}

PROBE_EXPORT(proxy_on_configure) uint32_t proxy_on_configure(uint32_t, uint32_t size) {
  if (!readConfig(size)) return 0;
  static const char kName[] = "grpc_probe_late_callbacks";
  g_late_metric_ok = proxy_define_metric(wasmgate::MetricType::Counter, kName, sizeof(kName) - 1,
                                         &g_late_metric) == WasmResult::Ok;
  return 1;
}

PROBE_EXPORT(proxy_on_request_headers)
uint32_t proxy_on_request_headers(uint32_t context_id, uint32_t, uint32_t) {
  return onRequestHeaders(context_id);
}

PROBE_EXPORT(proxy_on_done) uint32_t proxy_on_done(uint32_t) {
  return 1;
}

// The request ended (client gone, or answered): a call still running is cancelled.
PROBE_EXPORT(proxy_on_delete) void proxy_on_delete(uint32_t context_id) {
  auto it = g_probes.find(context_id);
  if (it == g_probes.end()) return;
  if (it->second->token != 0) {
    proxy_grpc_cancel(it->second->token);
    g_tokens.erase(it->second->token);
  }
  g_probes.erase(it);
}

PROBE_EXPORT(proxy_on_tick) void proxy_on_tick(uint32_t) {
  std::vector<uint32_t> due;
  bool waiting = false;
  for (auto& [id, p] : g_probes) {
    if (!p->waiting_grace) continue;
    if (++p->ticks_since_message >= kGraceTicks) {
      due.push_back(id);
    } else {
      waiting = true;
    }
  }
  for (uint32_t id : due) finish(id, "message_without_trailing_metadata", true);
  if (!waiting) setTicking(false);
}

PROBE_EXPORT(proxy_on_grpc_receive_initial_metadata)
void proxy_on_grpc_receive_initial_metadata(uint32_t, uint32_t token, uint32_t elements) {
  Probe* p = probeFor(token, "initial_metadata");
  if (!p) return;
  appendMetadataEvent(*p, "initial_metadata", elements, HeaderMapType::GrpcInitialMetadata);
}

PROBE_EXPORT(proxy_on_grpc_receive)
void proxy_on_grpc_receive(uint32_t, uint32_t token, uint32_t size) {
  Probe* p = probeFor(token, "message");
  if (!p) return;
  auto message = size != 0 ? wasmgate::getBufferBytes(BufferType::GrpcReceiveBuffer, 0, size)
                           : std::optional<Buffer>();
  if (!p->events.empty()) p->events.push_back(',');
  p->events.append("{\"type\":\"message\",\"token\":");
  appendInt(p->events, token);
  p->events.append(",\"size\":");
  appendInt(p->events, size);
  p->events.append(",\"data\":");
  appendJsonString(p->events, message ? message->view() : std::string_view());
  p->events.push_back('}');
  ++p->received;
  if (maybeCancel(*p, true)) return;
  if (p->stream) {
    if (p->pingpong) {
      sendNext(*p);
    }
    return;
  }
  // A unary call succeeded; the trailing metadata should follow right away.
  p->waiting_grace = true;
  p->ticks_since_message = 0;
  setTicking(true);
}

PROBE_EXPORT(proxy_on_grpc_receive_trailing_metadata)
void proxy_on_grpc_receive_trailing_metadata(uint32_t, uint32_t token, uint32_t elements) {
  Probe* p = probeFor(token, "trailing_metadata");
  if (!p) return;
  appendMetadataEvent(*p, "trailing_metadata", elements, HeaderMapType::GrpcTrailingMetadata);
  p->trailing_seen = true;
  if (!p->stream && p->received > 0) finish(p->context_id, "trailing_metadata", true);
}

PROBE_EXPORT(proxy_on_grpc_close)
void proxy_on_grpc_close(uint32_t, uint32_t token, uint32_t status) {
  Probe* p = probeFor(token, "close");
  if (!p) return;
  uint32_t code = 0xffffffffu;
  const char* data = nullptr;
  size_t size = 0;
  WasmResult got = proxy_get_status(&code, &data, &size);
  Buffer message(data, size);
  if (!p->events.empty()) p->events.push_back(',');
  p->events.append("{\"type\":\"close\",\"token\":");
  appendInt(p->events, token);
  p->events.append(",\"status\":");
  appendInt(p->events, status);
  p->events.append(",\"get_status\":");
  appendInt(p->events, static_cast<int64_t>(got));
  p->events.append(",\"code\":");
  appendInt(p->events, code);
  p->events.append(",\"message\":");
  appendJsonString(p->events, message.view());
  p->events.push_back('}');
  finish(p->context_id, "close", true);
}
