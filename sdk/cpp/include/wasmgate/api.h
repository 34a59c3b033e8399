// Typed wrappers over the hostcalls: logging, time, properties, header maps, buffers,
// stream control, local responses, shared data and queues, metrics.
//
// Every function acts on the host's *effective context*: the context whose callback is
// running, or the one a callout callback switched to (the SDK does that switch for you
// when a callout was started from a stream context).
#pragma once

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "wasmgate/format.h"
#include "wasmgate/hostcalls.h"
#include "wasmgate/metric_name.h"
#include "wasmgate/pairs.h"
#include "wasmgate/types.h"

namespace wasmgate {

// Bytes the host allocated in plugin memory (through proxy_on_memory_allocate); freed when
// the Buffer goes away. Move-only. Empty results have no allocation.
class Buffer {
 public:
  Buffer() = default;
  Buffer(const char* data, size_t size) : data_(const_cast<char*>(data)), size_(size) {}
  Buffer(Buffer&& other) noexcept : data_(other.data_), size_(other.size_) {
    other.data_ = nullptr;
    other.size_ = 0;
  }
  Buffer& operator=(Buffer&& other) noexcept {
    if (this != &other) {
      std::free(data_);
      data_ = std::exchange(other.data_, nullptr);
      size_ = std::exchange(other.size_, 0);
    }
    return *this;
  }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  ~Buffer() { std::free(data_); }

  const char* data() const { return data_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  std::string_view view() const { return {data_ == nullptr ? "" : data_, size_}; }
  operator std::string_view() const { return view(); }
  std::string toString() const { return std::string(view()); }

 private:
  char* data_ = nullptr;
  size_t size_ = 0;
};

// A serialized header map returned by the host, parsed into views that point into the
// owned bytes (they stay valid when the HeaderMap is moved).
class HeaderMap {
 public:
  HeaderMap() = default;
  explicit HeaderMap(Buffer raw) : raw_(std::move(raw)) {
    valid_ = parsePairs(raw_.view(), pairs_);
  }

  bool valid() const { return valid_; }
  const HeaderViews& pairs() const { return pairs_; }
  size_t size() const { return pairs_.size(); }
  bool empty() const { return pairs_.empty(); }
  HeaderViews::const_iterator begin() const { return pairs_.begin(); }
  HeaderViews::const_iterator end() const { return pairs_.end(); }
  // First value of `name` (names are lowercase).
  std::optional<std::string_view> get(std::string_view name) const {
    return findPair(pairs_, name);
  }

 private:
  Buffer raw_;
  HeaderViews pairs_;
  bool valid_ = true;
};

// ---------------------------------------------------------------------------------------
// Logging. log() skips formatting when the host's level is above `level`.

inline LogLevel hostLogLevel() {
  LogLevel level = LogLevel::Trace;
  if (proxy_get_log_level(&level) != WasmResult::Ok) return LogLevel::Trace;
  return level;
}

inline WasmResult logMessage(LogLevel level, std::string_view message) {
  return proxy_log(level, message.data(), message.size());
}

template <class... Args>
void log(LogLevel level, std::string_view fmt, const Args&... args) {
  if (level < hostLogLevel()) return;
  logMessage(level, format(fmt, args...));
}
template <class... Args>
void logTrace(std::string_view fmt, const Args&... args) {
  log(LogLevel::Trace, fmt, args...);
}
template <class... Args>
void logDebug(std::string_view fmt, const Args&... args) {
  log(LogLevel::Debug, fmt, args...);
}
template <class... Args>
void logInfo(std::string_view fmt, const Args&... args) {
  log(LogLevel::Info, fmt, args...);
}
template <class... Args>
void logWarn(std::string_view fmt, const Args&... args) {
  log(LogLevel::Warn, fmt, args...);
}
template <class... Args>
void logError(std::string_view fmt, const Args&... args) {
  log(LogLevel::Error, fmt, args...);
}
template <class... Args>
void logCritical(std::string_view fmt, const Args&... args) {
  log(LogLevel::Critical, fmt, args...);
}

// ---------------------------------------------------------------------------------------
// Time and timers.

// Wall-clock nanoseconds since the Unix epoch (0 if the host refuses).
inline uint64_t currentTimeNanoseconds() {
  uint64_t t = 0;
  if (proxy_get_current_time_nanoseconds(&t) != WasmResult::Ok) return 0;
  return t;
}

// Arms the periodic proxy_on_tick of the current root context; 0 cancels.
inline WasmResult setTickPeriodMilliseconds(uint32_t period_ms) {
  return proxy_set_tick_period_milliseconds(period_ms);
}

// ---------------------------------------------------------------------------------------
// Properties. Paths are segment lists: getProperty<std::string>({"request", "path"}).
// Integers are 8 bytes little-endian, booleans 1 byte, maps serialized pairs.

using PropertyPath = std::initializer_list<std::string_view>;

// Segments joined by NUL bytes (no trailing NUL, so one segment has none).
inline std::string encodePropertyPath(PropertyPath path) {
  std::string out;
  bool first = true;
  for (std::string_view segment : path) {
    if (!first) out += '\0';
    out += segment;
    first = false;
  }
  return out;
}

inline std::optional<Buffer> getPropertyBytes(PropertyPath path) {
  const std::string encoded = encodePropertyPath(path);
  const char* data = nullptr;
  size_t size = 0;
  if (proxy_get_property(encoded.data(), encoded.size(), &data, &size) != WasmResult::Ok) {
    return std::nullopt;
  }
  return Buffer(data, size);
}

namespace detail {
inline uint64_t readU64(std::string_view bytes) {
  unsigned char b[8];
  std::memcpy(b, bytes.data(), 8);
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = v << 8 | b[i];
  return v;
}
}  // namespace detail

// T is one of: std::string, int64_t, uint64_t, bool, double, Buffer (raw bytes),
// HeaderPairs (a map property). Missing, unavailable or ill-sized values give nullopt.
template <class T>
std::optional<T> getProperty(PropertyPath path) {
  std::optional<Buffer> raw = getPropertyBytes(path);
  if (!raw) return std::nullopt;
  if constexpr (std::is_same_v<T, Buffer>) {
    return raw;
  } else if constexpr (std::is_same_v<T, std::string>) {
    return raw->toString();
  } else if constexpr (std::is_same_v<T, bool>) {
    if (raw->size() != 1) return std::nullopt;
    return raw->data()[0] != 0;
  } else if constexpr (std::is_same_v<T, int64_t> || std::is_same_v<T, uint64_t>) {
    if (raw->size() != 8) return std::nullopt;
    return static_cast<T>(detail::readU64(raw->view()));
  } else if constexpr (std::is_same_v<T, double>) {
    if (raw->size() != 8) return std::nullopt;
    const uint64_t bits = detail::readU64(raw->view());
    double d;
    std::memcpy(&d, &bits, 8);
    return d;
  } else if constexpr (std::is_same_v<T, HeaderPairs>) {
    HeaderPairs pairs;
    if (!parsePairs(raw->view(), pairs)) return std::nullopt;
    return pairs;
  } else {
    static_assert(sizeof(T) == 0, "getProperty: unsupported type");
  }
}

inline WasmResult setProperty(PropertyPath path, std::string_view value) {
  const std::string encoded = encodePropertyPath(path);
  return proxy_set_property(encoded.data(), encoded.size(), value.data(), value.size());
}

// ---------------------------------------------------------------------------------------
// Header maps (request/response headers and trailers, callout metadata).

inline std::optional<Buffer> getHeaderMapValue(HeaderMapType type, std::string_view key) {
  const char* data = nullptr;
  size_t size = 0;
  if (proxy_get_header_map_value(type, key.data(), key.size(), &data, &size) != WasmResult::Ok) {
    return std::nullopt;
  }
  return Buffer(data, size);
}
inline WasmResult addHeaderMapValue(HeaderMapType type, std::string_view key,
                                    std::string_view value) {
  return proxy_add_header_map_value(type, key.data(), key.size(), value.data(), value.size());
}
inline WasmResult replaceHeaderMapValue(HeaderMapType type, std::string_view key,
                                        std::string_view value) {
  return proxy_replace_header_map_value(type, key.data(), key.size(), value.data(), value.size());
}
inline WasmResult removeHeaderMapValue(HeaderMapType type, std::string_view key) {
  return proxy_remove_header_map_value(type, key.data(), key.size());
}
inline HeaderMap getHeaderMapPairs(HeaderMapType type) {
  const char* data = nullptr;
  size_t size = 0;
  if (proxy_get_header_map_pairs(type, &data, &size) != WasmResult::Ok) return HeaderMap();
  return HeaderMap(Buffer(data, size));
}
template <class Range>
WasmResult setHeaderMapPairs(HeaderMapType type, const Range& pairs) {
  const std::string bytes = serializePairs(pairs);
  return proxy_set_header_map_pairs(type, bytes.data(), bytes.size());
}
inline WasmResult setHeaderMapPairs(HeaderMapType type, std::initializer_list<HeaderView> pairs) {
  return setHeaderMapPairs<std::initializer_list<HeaderView>>(type, pairs);
}

// Shorthands for the four HTTP maps.
inline std::optional<Buffer> getRequestHeader(std::string_view key) {
  return getHeaderMapValue(HeaderMapType::RequestHeaders, key);
}
inline WasmResult addRequestHeader(std::string_view key, std::string_view value) {
  return addHeaderMapValue(HeaderMapType::RequestHeaders, key, value);
}
inline WasmResult replaceRequestHeader(std::string_view key, std::string_view value) {
  return replaceHeaderMapValue(HeaderMapType::RequestHeaders, key, value);
}
inline WasmResult removeRequestHeader(std::string_view key) {
  return removeHeaderMapValue(HeaderMapType::RequestHeaders, key);
}
inline HeaderMap getRequestHeaders() {
  return getHeaderMapPairs(HeaderMapType::RequestHeaders);
}

inline std::optional<Buffer> getRequestTrailer(std::string_view key) {
  return getHeaderMapValue(HeaderMapType::RequestTrailers, key);
}
inline WasmResult addRequestTrailer(std::string_view key, std::string_view value) {
  return addHeaderMapValue(HeaderMapType::RequestTrailers, key, value);
}
inline WasmResult replaceRequestTrailer(std::string_view key, std::string_view value) {
  return replaceHeaderMapValue(HeaderMapType::RequestTrailers, key, value);
}
inline WasmResult removeRequestTrailer(std::string_view key) {
  return removeHeaderMapValue(HeaderMapType::RequestTrailers, key);
}
inline HeaderMap getRequestTrailers() {
  return getHeaderMapPairs(HeaderMapType::RequestTrailers);
}

inline std::optional<Buffer> getResponseHeader(std::string_view key) {
  return getHeaderMapValue(HeaderMapType::ResponseHeaders, key);
}
inline WasmResult addResponseHeader(std::string_view key, std::string_view value) {
  return addHeaderMapValue(HeaderMapType::ResponseHeaders, key, value);
}
inline WasmResult replaceResponseHeader(std::string_view key, std::string_view value) {
  return replaceHeaderMapValue(HeaderMapType::ResponseHeaders, key, value);
}
inline WasmResult removeResponseHeader(std::string_view key) {
  return removeHeaderMapValue(HeaderMapType::ResponseHeaders, key);
}
inline HeaderMap getResponseHeaders() {
  return getHeaderMapPairs(HeaderMapType::ResponseHeaders);
}

inline std::optional<Buffer> getResponseTrailer(std::string_view key) {
  return getHeaderMapValue(HeaderMapType::ResponseTrailers, key);
}
inline WasmResult addResponseTrailer(std::string_view key, std::string_view value) {
  return addHeaderMapValue(HeaderMapType::ResponseTrailers, key, value);
}
inline WasmResult replaceResponseTrailer(std::string_view key, std::string_view value) {
  return replaceHeaderMapValue(HeaderMapType::ResponseTrailers, key, value);
}
inline WasmResult removeResponseTrailer(std::string_view key) {
  return removeHeaderMapValue(HeaderMapType::ResponseTrailers, key);
}
inline HeaderMap getResponseTrailers() {
  return getHeaderMapPairs(HeaderMapType::ResponseTrailers);
}

// ---------------------------------------------------------------------------------------
// Buffers. Body and TCP data callbacks get the buffered size; HttpContext/StreamContext
// keep it and offer requestBody()/setResponseBody()/downstreamData() on top of these.

constexpr uint32_t kWholeBuffer = 0xFFFFFFFF;

// Up to `length` bytes from `start`; nullopt when the buffer does not exist here.
inline std::optional<Buffer> getBufferBytes(BufferType type, uint32_t start, uint32_t length) {
  const char* data = nullptr;
  size_t size = 0;
  if (proxy_get_buffer_bytes(type, start, length, &data, &size) != WasmResult::Ok) {
    return std::nullopt;
  }
  return Buffer(data, size);
}

inline std::optional<size_t> getBufferSize(BufferType type) {
  size_t size = 0;
  uint32_t flags = 0;
  if (proxy_get_buffer_status(type, &size, &flags) != WasmResult::Ok) return std::nullopt;
  return size;
}

// Replaces bytes [start, start + length) with `data`: (0, 0) prepends, (0, size) replaces
// everything, (size, 0) appends.
inline WasmResult setBufferBytes(BufferType type, uint32_t start, uint32_t length,
                                 std::string_view data) {
  return proxy_set_buffer_bytes(type, start, length, data.data(), data.size());
}

// ---------------------------------------------------------------------------------------
// Stream control and local responses.

inline WasmResult continueStream(StreamType type) {
  return proxy_continue_stream(type);
}
inline WasmResult closeStream(StreamType type) {
  return proxy_close_stream(type);
}
inline WasmResult continueRequest() {
  return continueStream(StreamType::Request);
}
inline WasmResult continueResponse() {
  return continueStream(StreamType::Response);
}

// Answers the client directly. `headers` are extra response headers; `details` is the
// reason recorded with the reply (access logs, run-plugin's local_response.details).
// Return a Stop status from the current callback after calling this.
inline WasmResult sendLocalResponse(uint32_t status, std::string_view body,
                                    const HeaderViews& headers = {}, std::string_view details = {},
                                    GrpcStatus grpc_status = GrpcStatus::InvalidCode) {
  const std::string serialized = serializePairs(headers);
  return proxy_send_local_response(status, details.data(), details.size(), body.data(), body.size(),
                                   serialized.data(), serialized.size(),
                                   static_cast<int32_t>(grpc_status));
}

// ---------------------------------------------------------------------------------------
// Shared data: a key-value store shared by every VM with the same vm_id. Every successful
// write gives the key a new CAS; a write with cas 0 is unconditional.

inline WasmResult getSharedData(std::string_view key, Buffer* value, uint32_t* cas = nullptr) {
  const char* data = nullptr;
  size_t size = 0;
  uint32_t c = 0;
  const WasmResult r = proxy_get_shared_data(key.data(), key.size(), &data, &size, &c);
  Buffer owned(data, size);  // freed here unless handed out
  if (r != WasmResult::Ok) return r;
  if (cas != nullptr) *cas = c;
  if (value != nullptr) *value = std::move(owned);
  return r;
}

inline WasmResult setSharedData(std::string_view key, std::string_view value, uint32_t cas = 0) {
  return proxy_set_shared_data(key.data(), key.size(), value.data(), value.size(), cas);
}

// Read-modify-write with compare-and-swap, retried on CasMismatch up to `max_attempts`.
// `update` gets the current value (nullopt if the key does not exist yet) and returns the
// new one, or nullopt to leave the key alone. Returns Ok when written or left alone,
// CasMismatch when every attempt lost a race, or the error of the failing hostcall.
// A key that does not exist yet is written unconditionally (the ABI ignores the CAS of a
// missing key), so two VMs creating the same key at once may both succeed.
template <class Update>
WasmResult updateSharedData(std::string_view key, Update&& update, int max_attempts = 16) {
  for (int attempt = 0; attempt < max_attempts; ++attempt) {
    Buffer current;
    uint32_t cas = 0;
    const WasmResult got = getSharedData(key, &current, &cas);
    if (got != WasmResult::Ok && got != WasmResult::NotFound) return got;
    std::optional<std::string_view> old;
    if (got == WasmResult::Ok) old = current.view();
    std::optional<std::string> next = update(old);
    if (!next) return WasmResult::Ok;
    const WasmResult set = setSharedData(key, *next, cas);
    if (set != WasmResult::CasMismatch) return set;
  }
  return WasmResult::CasMismatch;
}

// ---------------------------------------------------------------------------------------
// Shared queues. Items enqueued on a queue this root context registered arrive as
// RootContext::onQueueReady(token); drain with dequeueSharedQueue until it returns Empty.

inline std::optional<uint32_t> registerSharedQueue(std::string_view name) {
  uint32_t token = 0;
  if (proxy_register_shared_queue(name.data(), name.size(), &token) != WasmResult::Ok) {
    return std::nullopt;
  }
  return token;
}
// An empty vm_id means this VM's.
inline std::optional<uint32_t> resolveSharedQueue(std::string_view vm_id, std::string_view name) {
  uint32_t token = 0;
  if (proxy_resolve_shared_queue(vm_id.data(), vm_id.size(), name.data(), name.size(), &token) !=
      WasmResult::Ok) {
    return std::nullopt;
  }
  return token;
}
inline WasmResult enqueueSharedQueue(uint32_t token, std::string_view data) {
  return proxy_enqueue_shared_queue(token, data.data(), data.size());
}
// Ok (item in *out), Empty, or NotFound for an unknown token.
inline WasmResult dequeueSharedQueue(uint32_t token, Buffer* out) {
  const char* data = nullptr;
  size_t size = 0;
  const WasmResult r = proxy_dequeue_shared_queue(token, &data, &size);
  Buffer owned(data, size);
  if (r == WasmResult::Ok && out != nullptr) *out = std::move(owned);
  return r;
}

// ---------------------------------------------------------------------------------------
// Metrics. Handles are cheap to copy. Define them in onVmStart/onConfigure or later, never
// in a static initializer (the host refuses hostcalls during start-up). Tags are encoded
// into the name, see metric_name.h.

class Metric {
 public:
  uint32_t id() const { return id_; }
  bool valid() const { return valid_; }

 protected:
  Metric() = default;
  Metric(MetricType type, std::string_view name) {
    valid_ = proxy_define_metric(type, name.data(), name.size(), &id_) == WasmResult::Ok;
  }
  uint64_t read() const {
    uint64_t v = 0;
    if (valid_) proxy_get_metric(id_, &v);
    return v;
  }

  uint32_t id_ = 0;
  bool valid_ = false;
};

class Counter : public Metric {
 public:
  Counter() = default;
  explicit Counter(std::string_view name) : Metric(MetricType::Counter, name) {}
  Counter(std::string_view name, std::initializer_list<MetricTag> tags)
      : Counter(metricName(name, tags)) {}
  void increment(uint64_t delta = 1) const {
    if (valid_) proxy_increment_metric(id_, static_cast<int64_t>(delta));
  }
  uint64_t value() const { return read(); }
};

class Gauge : public Metric {
 public:
  Gauge() = default;
  explicit Gauge(std::string_view name) : Metric(MetricType::Gauge, name) {}
  Gauge(std::string_view name, std::initializer_list<MetricTag> tags)
      : Gauge(metricName(name, tags)) {}
  void set(int64_t value) const {
    if (valid_) proxy_record_metric(id_, static_cast<uint64_t>(value));
  }
  void add(int64_t delta) const {
    if (valid_) proxy_increment_metric(id_, delta);
  }
  int64_t value() const { return static_cast<int64_t>(read()); }
};

class Histogram : public Metric {
 public:
  Histogram() = default;
  explicit Histogram(std::string_view name) : Metric(MetricType::Histogram, name) {}
  Histogram(std::string_view name, std::initializer_list<MetricTag> tags)
      : Histogram(metricName(name, tags)) {}
  void record(uint64_t value) const {
    if (valid_) proxy_record_metric(id_, value);
  }
};

// A metric with tag *names* fixed up front and values chosen per use; one host metric per
// distinct combination of values, defined on first use and cached:
//
//   MetricFamily<Counter> requests("requests_total", {"method", "status"});
//   requests.get({"GET", "200"}).increment();
template <class M>
class MetricFamily {
 public:
  MetricFamily() = default;
  MetricFamily(std::string_view name, std::initializer_list<std::string_view> tag_names)
      : name_(name), tag_names_(tag_names.begin(), tag_names.end()) {}

  // Values pair up with the tag names in order; missing values are empty.
  const M& get(std::initializer_list<std::string_view> values) {
    std::string key;
    for (std::string_view v : values) {
      key += v;
      key += '\0';
    }
    auto it = cache_.find(key);
    if (it != cache_.end()) return it->second;
    std::vector<MetricTag> tags;
    auto value = values.begin();
    for (const std::string& tag : tag_names_) {
      tags.emplace_back(tag, value != values.end() ? *value++ : std::string_view());
    }
    return cache_.emplace(std::move(key), M(metricName(name_, tags))).first->second;
  }

 private:
  std::string name_;
  std::vector<std::string> tag_names_;
  std::unordered_map<std::string, M> cache_;
};

// ---------------------------------------------------------------------------------------
// Foreign functions (host extensions called by name).

inline WasmResult callForeignFunction(std::string_view name, std::string_view args,
                                      Buffer* result = nullptr) {
  const char* data = nullptr;
  size_t size = 0;
  const WasmResult r =
      proxy_call_foreign_function(name.data(), name.size(), args.data(), args.size(), &data, &size);
  Buffer owned(data, size);
  if (r == WasmResult::Ok && result != nullptr) *result = std::move(owned);
  return r;
}

}  // namespace wasmgate
