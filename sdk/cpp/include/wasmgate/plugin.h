// The one header a plugin includes. It brings in the whole SDK and defines the module's
// exports: the ABI marker proxy_abi_version_0_2_1, the allocator proxy_on_memory_allocate,
// and every proxy_on_* callback, each dispatching to the registered context classes.
//
//   class MyRoot : public wasmgate::RootContext { using RootContext::RootContext; ... };
//   class MyHttp : public wasmgate::HttpContext { using HttpContext::HttpContext; ... };
//   static wasmgate::RegisterPlugin<MyRoot, MyHttp> registration("my_plugin");
//
// The exports are `inline` and marked used, so several translation units of one plugin
// may include this header.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "wasmgate/api.h"
#include "wasmgate/context.h"
#include "wasmgate/json.h"

namespace wasmgate {

namespace detail {

struct Registration {
  std::string root_id;
  RootFactory make_root = nullptr;
  StreamFactory make_stream = nullptr;
};

inline std::vector<Registration>& registrations() {
  static std::vector<Registration> all;
  return all;
}

// The stream callbacks some registered stream class implements, as bits of the export
// wasmgate_sdk_stream_callbacks. wasmgate does not call the others on stream contexts: the
// defaults below do nothing and answer Continue. (The host lists the same bits in
// src/abi/plugin_vm.h; other hosts ignore the export and call everything.)
enum StreamCallbackBit : uint32_t {
  kStreamRequestHeaders = 1u << 0,
  kStreamRequestBody = 1u << 1,
  kStreamRequestTrailers = 1u << 2,
  kStreamResponseHeaders = 1u << 3,
  kStreamResponseBody = 1u << 4,
  kStreamResponseTrailers = 1u << 5,
  kStreamDone = 1u << 6,
  kStreamLog = 1u << 7,
  kStreamNewConnection = 1u << 8,
  kStreamDownstreamData = 1u << 9,
  kStreamUpstreamData = 1u << 10,
  kStreamDownstreamClose = 1u << 11,
  kStreamUpstreamClose = 1u << 12,
  // Not a callback: some stream class overrides onDelete, so the host calls proxy_on_delete
  // for stream contexts instead of queueing their deletion (see ContextQueue).
  kStreamDelete = 1u << 13,
};

inline uint32_t& streamCallbacksInUse() {
  static uint32_t bits = 0;
  return bits;
}

// inherits_<member><S, Base>: S takes `member` unchanged from Base. A pointer to an inherited
// member names the class that declares it, so the two pointer types match only then. Anything
// that keeps the check from compiling (an override declared private, an overload set) counts
// as an implementation, which only costs a call.
#define WASMGATE_SDK_INHERITS_CHECK(member)                                                     \
  template <class S, class Base, class = void>                                                  \
  struct inherits_##member : std::false_type {};                                                \
  template <class S, class Base>                                                                \
  struct inherits_##member<                                                                     \
      S, Base, std::enable_if_t<std::is_same_v<decltype(&S::member), decltype(&Base::member)>>> \
      : std::true_type {};
WASMGATE_SDK_INHERITS_CHECK(onRequestHeaders)
WASMGATE_SDK_INHERITS_CHECK(onRequestBody)
WASMGATE_SDK_INHERITS_CHECK(onRequestTrailers)
WASMGATE_SDK_INHERITS_CHECK(onResponseHeaders)
WASMGATE_SDK_INHERITS_CHECK(onResponseBody)
WASMGATE_SDK_INHERITS_CHECK(onResponseTrailers)
WASMGATE_SDK_INHERITS_CHECK(onDone)
WASMGATE_SDK_INHERITS_CHECK(onLog)
WASMGATE_SDK_INHERITS_CHECK(onNewConnection)
WASMGATE_SDK_INHERITS_CHECK(onDownstreamData)
WASMGATE_SDK_INHERITS_CHECK(onUpstreamData)
WASMGATE_SDK_INHERITS_CHECK(onDownstreamConnectionClose)
WASMGATE_SDK_INHERITS_CHECK(onUpstreamConnectionClose)
WASMGATE_SDK_INHERITS_CHECK(onDelete)
#undef WASMGATE_SDK_INHERITS_CHECK

template <class Stream>
constexpr uint32_t streamCallbacksOf() {
  uint32_t bits = 0;
  auto use = [&bits](bool inherited, StreamCallbackBit bit) {
    if (!inherited) bits |= bit;
  };
  if constexpr (std::is_base_of_v<HttpContext, Stream>) {
    use(inherits_onRequestHeaders<Stream, HttpContext>::value, kStreamRequestHeaders);
    use(inherits_onRequestBody<Stream, HttpContext>::value, kStreamRequestBody);
    use(inherits_onRequestTrailers<Stream, HttpContext>::value, kStreamRequestTrailers);
    use(inherits_onResponseHeaders<Stream, HttpContext>::value, kStreamResponseHeaders);
    use(inherits_onResponseBody<Stream, HttpContext>::value, kStreamResponseBody);
    use(inherits_onResponseTrailers<Stream, HttpContext>::value, kStreamResponseTrailers);
  } else {
    use(inherits_onNewConnection<Stream, StreamContext>::value, kStreamNewConnection);
    use(inherits_onDownstreamData<Stream, StreamContext>::value, kStreamDownstreamData);
    use(inherits_onUpstreamData<Stream, StreamContext>::value, kStreamUpstreamData);
    use(inherits_onDownstreamConnectionClose<Stream, StreamContext>::value, kStreamDownstreamClose);
    use(inherits_onUpstreamConnectionClose<Stream, StreamContext>::value, kStreamUpstreamClose);
  }
  use(inherits_onDone<Stream, ContextBase>::value, kStreamDone);
  use(inherits_onLog<Stream, ContextBase>::value, kStreamLog);
  use(inherits_onDelete<Stream, ContextBase>::value, kStreamDelete);
  return bits;
}

// Stream contexts wasmgate created or deleted without calling into the module: instead of
// proxy_on_context_create and proxy_on_delete it writes {context_id, parent_context_id}
// (parent 0: delete) here, at the address the export wasmgate_sdk_context_queue gives, and
// raises `count`. The SDK applies them in order before any callback runs, so a stream's class
// is constructed before its first callback and destroyed before the module next runs. Hosts
// that do not know the export make the calls and leave the queue empty.
struct ContextQueue {
  static constexpr uint32_t kCapacity = 64;
  struct Change {
    uint32_t context_id;
    uint32_t parent_context_id;
  };
  uint32_t count = 0;
  uint32_t capacity = kCapacity;  // read by the host
  Change changes[kCapacity] = {};
};

inline ContextQueue& contextQueue() {
  static ContextQueue queue;
  return queue;
}

// Header callbacks of several streams that wasmgate runs in one call of
// wasmgate_sdk_run_header_batch, instead of a call each: it writes the entries and `count` here,
// at the address the export wasmgate_sdk_header_batch gives. `current` tells it which entry runs,
// so that hostcalls act for that entry's stream. Hosts that do not know the exports never use it.
struct HeaderBatch {
  static constexpr uint32_t kCapacity = 64;
  static constexpr uint32_t kRequestHeaders = 1;
  static constexpr uint32_t kResponseHeaders = 2;
  struct Entry {
    uint32_t callback;
    uint32_t context_id;
    uint32_t headers;
    uint32_t end_of_stream;
    uint32_t result;
  };
  uint32_t count = 0;
  uint32_t capacity = kCapacity;  // read by the host
  uint32_t current = 0;
  uint32_t unused = 0;
  Entry entries[kCapacity] = {};
};
static_assert(sizeof(HeaderBatch::Entry) == 20 && offsetof(HeaderBatch, entries) == 16,
              "the layout wasmgate writes");

inline HeaderBatch& headerBatch() {
  static HeaderBatch batch;
  return batch;
}

// Picks the registration for a root id: an exact match; for an empty root id, the
// registration with an empty name or else the only registration.
inline const Registration* findRegistration(std::string_view root_id) {
  const auto& all = registrations();
  for (const Registration& r : all) {
    if (r.root_id == root_id) return &r;
  }
  if (root_id.empty() && all.size() == 1) return &all.front();
  return nullptr;
}

// Stands in for a root id nothing was registered for: refuses to start, so a typo in the
// root id fails loudly instead of letting traffic through unfiltered.
class UnregisteredRootContext : public RootContext {
 public:
  using RootContext::RootContext;
  bool onVmStart(size_t) override {
    logCritical("no plugin registered for root id '{}'", rootId());
    return false;
  }
  bool onConfigure(size_t) override { return false; }
};

struct Dispatcher {
  // Every callback starts here: the queued context changes are applied, then `id` is looked up.
  static ContextBase* find(uint32_t id) {
    applyQueuedContextChanges();
    return findContext(id);
  }

  static void applyQueuedContextChanges() {
    ContextQueue& queue = contextQueue();
    if (queue.count == 0) return;
    const uint32_t n =
        queue.count < ContextQueue::kCapacity ? queue.count : ContextQueue::kCapacity;
    for (uint32_t i = 0; i < n; ++i) {
      const ContextQueue::Change change = queue.changes[i];
      if (change.parent_context_id != 0) {
        createContext(change.context_id, change.parent_context_id);
      } else {
        deleteContext(change.context_id);
      }
    }
    queue.count = 0;
  }

  static void deleteContext(uint32_t id) {
    ContextBase* context = findContext(id);
    if (context == nullptr) return;
    context->onDelete();
    contexts().take(id).reset();  // onDelete may have changed the table; look the id up again
  }

  static void createContext(uint32_t id, uint32_t parent_id) {
    if (parent_id == 0) {
      createRoot(id);
      return;
    }
    ContextBase* parent = findContext(parent_id);
    RootContext* root = parent != nullptr ? parent->asRoot() : nullptr;
    if (root == nullptr || root->stream_factory_ == nullptr) return;  // callbacks pass through
    contexts().insert(id, root->stream_factory_(id, root));
  }

  static void createRoot(uint32_t id) {
    static constexpr std::string_view kRootIdProperty = "plugin_root_id";
    const char* data = nullptr;
    size_t size = 0;
    if (proxy_get_property(kRootIdProperty.data(), kRootIdProperty.size(), &data, &size) !=
        WasmResult::Ok) {
      logMessage(LogLevel::Critical, "wasmgate sdk: the host did not provide plugin_root_id");
      std::abort();
    }
    const Buffer root_id(data, size);
    const Registration* reg = findRegistration(root_id.view());
    std::unique_ptr<RootContext> root;
    if (reg == nullptr) {
      root = std::make_unique<UnregisteredRootContext>(id, root_id.view());
    } else {
      root = reg->make_root(id, root_id.view());
      root->stream_factory_ = reg->make_stream;
    }
    contexts().insert(id, std::move(root));
  }

  static RootContext* root(uint32_t id) {
    ContextBase* c = find(id);
    return c != nullptr ? c->asRoot() : nullptr;
  }
  static HttpContext* http(uint32_t id) {
    ContextBase* c = find(id);
    return c != nullptr ? c->asHttp() : nullptr;
  }
  static StreamContext* stream(uint32_t id) {
    ContextBase* c = find(id);
    return c != nullptr ? c->asStream() : nullptr;
  }

  static void setConfigSize(RootContext* r, uint32_t size) { r->config_size_ = size; }
  static void setVmConfigSize(RootContext* r, uint32_t size) { r->vm_config_size_ = size; }
  static void setRequestBodySize(HttpContext* h, size_t size) { h->request_body_size_ = size; }
  static void setResponseBodySize(HttpContext* h, size_t size) { h->response_body_size_ = size; }
  static void setDownstreamSize(StreamContext* s, size_t size) { s->downstream_size_ = size; }
  static void setUpstreamSize(StreamContext* s, size_t size) { s->upstream_size_ = size; }
  static void httpCallResponse(RootContext* r, uint32_t token, uint32_t headers, size_t body,
                               uint32_t trailers) {
    r->onHttpCallResponse(token, headers, body, trailers);
  }
  static void grpcInitialMetadata(RootContext* r, uint32_t token, uint32_t n) {
    r->onGrpcInitialMetadata(token, n);
  }
  static void grpcReceive(RootContext* r, uint32_t token, size_t size) {
    r->onGrpcReceive(token, size);
  }
  static void grpcTrailingMetadata(RootContext* r, uint32_t token, uint32_t n) {
    r->onGrpcTrailingMetadata(token, n);
  }
  static void grpcClose(RootContext* r, uint32_t token, uint32_t status) {
    r->onGrpcClose(token, status);
  }
};

}  // namespace detail

// Registers a plugin: `Root` derives from RootContext and is constructible from
// (uint32_t id, std::string_view root_id); `Stream`, if given, derives from HttpContext or
// StreamContext and is constructible from (uint32_t id, Root*) or (uint32_t id,
// RootContext*). Declare one as a static object at namespace scope:
//
//   static wasmgate::RegisterPlugin<MyRoot, MyHttp> registration("root_id");
//
// An empty root id (the default) matches a host that passes an empty root id.
template <class Root, class Stream = void>
class RegisterPlugin {
  static_assert(std::is_base_of_v<RootContext, Root>, "Root must derive from RootContext");
  static_assert(std::is_void_v<Stream> || std::is_base_of_v<HttpContext, Stream> ||
                    std::is_base_of_v<StreamContext, Stream>,
                "Stream must derive from HttpContext or StreamContext");

 public:
  explicit RegisterPlugin(std::string_view root_id = {}) {
    detail::Registration r;
    r.root_id = std::string(root_id);
    r.make_root = [](uint32_t id, std::string_view rid) -> std::unique_ptr<RootContext> {
      return std::make_unique<Root>(id, rid);
    };
    if constexpr (!std::is_void_v<Stream>) {
      r.make_stream = [](uint32_t id, RootContext* root) -> std::unique_ptr<ContextBase> {
        if constexpr (std::is_constructible_v<Stream, uint32_t, Root*>) {
          return std::make_unique<Stream>(id, static_cast<Root*>(root));
        } else {
          return std::make_unique<Stream>(id, root);
        }
      };
      detail::streamCallbacksInUse() |= detail::streamCallbacksOf<Stream>();
    }
    detail::registrations().push_back(std::move(r));
  }
};

}  // namespace wasmgate

// ---------------------------------------------------------------------------------------
// Module exports.

#define WASMGATE_EXPORT(name) [[gnu::used, clang::export_name(#name)]] inline

extern "C" {

WASMGATE_EXPORT(proxy_abi_version_0_2_1) void proxy_abi_version_0_2_1() {}

WASMGATE_EXPORT(proxy_on_memory_allocate) void* proxy_on_memory_allocate(size_t size) {
  return std::malloc(size);
}

WASMGATE_EXPORT(wasmgate_sdk_stream_callbacks) uint32_t wasmgate_sdk_stream_callbacks() {
  return wasmgate::detail::streamCallbacksInUse();
}

WASMGATE_EXPORT(wasmgate_sdk_context_queue) uint32_t wasmgate_sdk_context_queue() {
  return static_cast<uint32_t>(reinterpret_cast<uintptr_t>(&wasmgate::detail::contextQueue()));
}

WASMGATE_EXPORT(proxy_on_context_create)
void proxy_on_context_create(uint32_t context_id, uint32_t parent_context_id) {
  using wasmgate::detail::Dispatcher;
  Dispatcher::applyQueuedContextChanges();
  Dispatcher::createContext(context_id, parent_context_id);
}

WASMGATE_EXPORT(proxy_on_vm_start)
uint32_t proxy_on_vm_start(uint32_t root_id, uint32_t vm_configuration_size) {
  using wasmgate::detail::Dispatcher;
  wasmgate::RootContext* root = Dispatcher::root(root_id);
  if (root == nullptr) return 1;
  Dispatcher::setVmConfigSize(root, vm_configuration_size);
  return root->onVmStart(vm_configuration_size) ? 1 : 0;
}

WASMGATE_EXPORT(proxy_validate_configuration)
uint32_t proxy_validate_configuration(uint32_t root_id, uint32_t configuration_size) {
  using wasmgate::detail::Dispatcher;
  wasmgate::RootContext* root = Dispatcher::root(root_id);
  if (root == nullptr) return 1;
  Dispatcher::setConfigSize(root, configuration_size);
  return root->validateConfiguration(configuration_size) ? 1 : 0;
}

WASMGATE_EXPORT(proxy_on_configure)
uint32_t proxy_on_configure(uint32_t root_id, uint32_t configuration_size) {
  using wasmgate::detail::Dispatcher;
  wasmgate::RootContext* root = Dispatcher::root(root_id);
  if (root == nullptr) return 1;
  Dispatcher::setConfigSize(root, configuration_size);
  return root->onConfigure(configuration_size) ? 1 : 0;
}

WASMGATE_EXPORT(proxy_on_tick) void proxy_on_tick(uint32_t root_id) {
  if (auto* root = wasmgate::detail::Dispatcher::root(root_id)) root->onTick();
}

WASMGATE_EXPORT(proxy_on_queue_ready) void proxy_on_queue_ready(uint32_t root_id, uint32_t token) {
  if (auto* root = wasmgate::detail::Dispatcher::root(root_id)) root->onQueueReady(token);
}

WASMGATE_EXPORT(proxy_on_foreign_function)
void proxy_on_foreign_function(uint32_t root_id, uint32_t function_id, uint32_t arguments_size) {
  if (auto* root = wasmgate::detail::Dispatcher::root(root_id)) {
    root->onForeignFunction(function_id, arguments_size);
  }
}

WASMGATE_EXPORT(proxy_on_done) uint32_t proxy_on_done(uint32_t context_id) {
  auto* c = wasmgate::detail::Dispatcher::find(context_id);
  return c == nullptr || c->onDone() ? 1 : 0;
}

WASMGATE_EXPORT(proxy_on_log) void proxy_on_log(uint32_t context_id) {
  if (auto* c = wasmgate::detail::Dispatcher::find(context_id)) c->onLog();
}

WASMGATE_EXPORT(proxy_on_delete) void proxy_on_delete(uint32_t context_id) {
  using wasmgate::detail::Dispatcher;
  Dispatcher::applyQueuedContextChanges();
  Dispatcher::deleteContext(context_id);
}

// TCP.

WASMGATE_EXPORT(proxy_on_new_connection) uint32_t proxy_on_new_connection(uint32_t context_id) {
  auto* s = wasmgate::detail::Dispatcher::stream(context_id);
  return s == nullptr ? 0 : static_cast<uint32_t>(s->onNewConnection());
}

WASMGATE_EXPORT(proxy_on_downstream_data)
uint32_t proxy_on_downstream_data(uint32_t context_id, uint32_t data_size, uint32_t end_of_stream) {
  using wasmgate::detail::Dispatcher;
  auto* s = Dispatcher::stream(context_id);
  if (s == nullptr) return 0;
  Dispatcher::setDownstreamSize(s, data_size);
  return static_cast<uint32_t>(s->onDownstreamData(data_size, end_of_stream != 0));
}

WASMGATE_EXPORT(proxy_on_upstream_data)
uint32_t proxy_on_upstream_data(uint32_t context_id, uint32_t data_size, uint32_t end_of_stream) {
  using wasmgate::detail::Dispatcher;
  auto* s = Dispatcher::stream(context_id);
  if (s == nullptr) return 0;
  Dispatcher::setUpstreamSize(s, data_size);
  return static_cast<uint32_t>(s->onUpstreamData(data_size, end_of_stream != 0));
}

WASMGATE_EXPORT(proxy_on_downstream_connection_close)
void proxy_on_downstream_connection_close(uint32_t context_id, uint32_t peer_type) {
  if (auto* s = wasmgate::detail::Dispatcher::stream(context_id)) {
    s->onDownstreamConnectionClose(static_cast<wasmgate::PeerType>(peer_type));
  }
}

WASMGATE_EXPORT(proxy_on_upstream_connection_close)
void proxy_on_upstream_connection_close(uint32_t context_id, uint32_t peer_type) {
  if (auto* s = wasmgate::detail::Dispatcher::stream(context_id)) {
    s->onUpstreamConnectionClose(static_cast<wasmgate::PeerType>(peer_type));
  }
}

// HTTP.

WASMGATE_EXPORT(proxy_on_request_headers)
uint32_t proxy_on_request_headers(uint32_t context_id, uint32_t headers, uint32_t end_of_stream) {
  auto* h = wasmgate::detail::Dispatcher::http(context_id);
  return h == nullptr ? 0 : static_cast<uint32_t>(h->onRequestHeaders(headers, end_of_stream != 0));
}

WASMGATE_EXPORT(proxy_on_request_body)
uint32_t proxy_on_request_body(uint32_t context_id, uint32_t body_size, uint32_t end_of_stream) {
  using wasmgate::detail::Dispatcher;
  auto* h = Dispatcher::http(context_id);
  if (h == nullptr) return 0;
  Dispatcher::setRequestBodySize(h, body_size);
  return static_cast<uint32_t>(h->onRequestBody(body_size, end_of_stream != 0));
}

WASMGATE_EXPORT(proxy_on_request_trailers)
uint32_t proxy_on_request_trailers(uint32_t context_id, uint32_t trailers) {
  auto* h = wasmgate::detail::Dispatcher::http(context_id);
  return h == nullptr ? 0 : static_cast<uint32_t>(h->onRequestTrailers(trailers));
}

WASMGATE_EXPORT(proxy_on_request_metadata)
uint32_t proxy_on_request_metadata(uint32_t context_id, uint32_t elements) {
  auto* h = wasmgate::detail::Dispatcher::http(context_id);
  return h == nullptr ? 0 : static_cast<uint32_t>(h->onRequestMetadata(elements));
}

WASMGATE_EXPORT(proxy_on_response_headers)
uint32_t proxy_on_response_headers(uint32_t context_id, uint32_t headers, uint32_t end_of_stream) {
  auto* h = wasmgate::detail::Dispatcher::http(context_id);
  return h == nullptr ? 0
                      : static_cast<uint32_t>(h->onResponseHeaders(headers, end_of_stream != 0));
}

WASMGATE_EXPORT(proxy_on_response_body)
uint32_t proxy_on_response_body(uint32_t context_id, uint32_t body_size, uint32_t end_of_stream) {
  using wasmgate::detail::Dispatcher;
  auto* h = Dispatcher::http(context_id);
  if (h == nullptr) return 0;
  Dispatcher::setResponseBodySize(h, body_size);
  return static_cast<uint32_t>(h->onResponseBody(body_size, end_of_stream != 0));
}

WASMGATE_EXPORT(proxy_on_response_trailers)
uint32_t proxy_on_response_trailers(uint32_t context_id, uint32_t trailers) {
  auto* h = wasmgate::detail::Dispatcher::http(context_id);
  return h == nullptr ? 0 : static_cast<uint32_t>(h->onResponseTrailers(trailers));
}

WASMGATE_EXPORT(proxy_on_response_metadata)
uint32_t proxy_on_response_metadata(uint32_t context_id, uint32_t elements) {
  auto* h = wasmgate::detail::Dispatcher::http(context_id);
  return h == nullptr ? 0 : static_cast<uint32_t>(h->onResponseMetadata(elements));
}

// Callout responses, delivered to the root context.

WASMGATE_EXPORT(proxy_on_http_call_response)
void proxy_on_http_call_response(uint32_t root_id, uint32_t token, uint32_t headers,
                                 uint32_t body_size, uint32_t trailers) {
  using wasmgate::detail::Dispatcher;
  if (auto* root = Dispatcher::root(root_id)) {
    Dispatcher::httpCallResponse(root, token, headers, body_size, trailers);
  }
}

WASMGATE_EXPORT(proxy_on_grpc_receive_initial_metadata)
void proxy_on_grpc_receive_initial_metadata(uint32_t root_id, uint32_t token, uint32_t elements) {
  using wasmgate::detail::Dispatcher;
  if (auto* root = Dispatcher::root(root_id))
    Dispatcher::grpcInitialMetadata(root, token, elements);
}

WASMGATE_EXPORT(proxy_on_grpc_receive)
void proxy_on_grpc_receive(uint32_t root_id, uint32_t token, uint32_t message_size) {
  using wasmgate::detail::Dispatcher;
  if (auto* root = Dispatcher::root(root_id)) Dispatcher::grpcReceive(root, token, message_size);
}

WASMGATE_EXPORT(proxy_on_grpc_receive_trailing_metadata)
void proxy_on_grpc_receive_trailing_metadata(uint32_t root_id, uint32_t token, uint32_t elements) {
  using wasmgate::detail::Dispatcher;
  if (auto* root = Dispatcher::root(root_id)) {
    Dispatcher::grpcTrailingMetadata(root, token, elements);
  }
}

WASMGATE_EXPORT(proxy_on_grpc_close)
void proxy_on_grpc_close(uint32_t root_id, uint32_t token, uint32_t status_code) {
  using wasmgate::detail::Dispatcher;
  if (auto* root = Dispatcher::root(root_id)) Dispatcher::grpcClose(root, token, status_code);
}

WASMGATE_EXPORT(wasmgate_sdk_header_batch) uint32_t wasmgate_sdk_header_batch() {
  return static_cast<uint32_t>(reinterpret_cast<uintptr_t>(&wasmgate::detail::headerBatch()));
}

WASMGATE_EXPORT(wasmgate_sdk_run_header_batch) void wasmgate_sdk_run_header_batch() {
  using wasmgate::detail::HeaderBatch;
  HeaderBatch& batch = wasmgate::detail::headerBatch();
  const uint32_t n = batch.count < HeaderBatch::kCapacity ? batch.count : HeaderBatch::kCapacity;
  for (uint32_t i = 0; i < n; ++i) {
    batch.current = i;
    HeaderBatch::Entry& entry = batch.entries[i];
    if (entry.callback == HeaderBatch::kRequestHeaders) {
      entry.result = proxy_on_request_headers(entry.context_id, entry.headers, entry.end_of_stream);
    } else if (entry.callback == HeaderBatch::kResponseHeaders) {
      entry.result =
          proxy_on_response_headers(entry.context_id, entry.headers, entry.end_of_stream);
    }
  }
  batch.count = 0;
}

}  // extern "C"

#undef WASMGATE_EXPORT
