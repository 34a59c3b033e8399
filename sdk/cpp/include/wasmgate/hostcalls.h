// Raw Proxy-Wasm 0.2.1 hostcalls (imports from module "env"). Plugins normally use the
// typed wrappers in <wasmgate/api.h>; these are here for completeness.
//
// Only hostcalls a plugin actually uses end up as imports in its .wasm (the linker drops
// the rest), so a small plugin asks little of its host.
#pragma once

#include <cstddef>
#include <cstdint>

#include "wasmgate/types.h"

#if !defined(__wasm32__)
#error "wasmgate/hostcalls.h is for wasm32 plugins; native code may use pairs.h, json.h, format.h"
#endif

#define WASMGATE_IMPORT(name) __attribute__((import_module("env"), import_name(#name)))

extern "C" {

// Logging, time, timers.
WASMGATE_IMPORT(proxy_log)
wasmgate::WasmResult proxy_log(wasmgate::LogLevel level, const char* msg, size_t len);
WASMGATE_IMPORT(proxy_get_log_level)
wasmgate::WasmResult proxy_get_log_level(wasmgate::LogLevel* level);
WASMGATE_IMPORT(proxy_get_current_time_nanoseconds)
wasmgate::WasmResult proxy_get_current_time_nanoseconds(uint64_t* nanoseconds);
WASMGATE_IMPORT(proxy_set_tick_period_milliseconds)
wasmgate::WasmResult proxy_set_tick_period_milliseconds(uint32_t period_ms);

// Status of the callout whose callback is running.
WASMGATE_IMPORT(proxy_get_status)
wasmgate::WasmResult proxy_get_status(uint32_t* code, const char** msg, size_t* msg_len);

// Properties.
WASMGATE_IMPORT(proxy_get_property)
wasmgate::WasmResult proxy_get_property(const char* path, size_t path_len, const char** value,
                                        size_t* value_len);
WASMGATE_IMPORT(proxy_set_property)
wasmgate::WasmResult proxy_set_property(const char* path, size_t path_len, const char* value,
                                        size_t value_len);

// Header, trailer and metadata maps.
WASMGATE_IMPORT(proxy_get_header_map_value)
wasmgate::WasmResult proxy_get_header_map_value(wasmgate::HeaderMapType type, const char* key,
                                                size_t key_len, const char** value,
                                                size_t* value_len);
WASMGATE_IMPORT(proxy_add_header_map_value)
wasmgate::WasmResult proxy_add_header_map_value(wasmgate::HeaderMapType type, const char* key,
                                                size_t key_len, const char* value,
                                                size_t value_len);
WASMGATE_IMPORT(proxy_replace_header_map_value)
wasmgate::WasmResult proxy_replace_header_map_value(wasmgate::HeaderMapType type, const char* key,
                                                    size_t key_len, const char* value,
                                                    size_t value_len);
WASMGATE_IMPORT(proxy_remove_header_map_value)
wasmgate::WasmResult proxy_remove_header_map_value(wasmgate::HeaderMapType type, const char* key,
                                                   size_t key_len);
WASMGATE_IMPORT(proxy_get_header_map_pairs)
wasmgate::WasmResult proxy_get_header_map_pairs(wasmgate::HeaderMapType type, const char** data,
                                                size_t* size);
WASMGATE_IMPORT(proxy_set_header_map_pairs)
wasmgate::WasmResult proxy_set_header_map_pairs(wasmgate::HeaderMapType type, const char* data,
                                                size_t size);
WASMGATE_IMPORT(proxy_get_header_map_size)
wasmgate::WasmResult proxy_get_header_map_size(wasmgate::HeaderMapType type, size_t* size);

// Buffers: bodies, TCP data, configuration, callout payloads.
WASMGATE_IMPORT(proxy_get_buffer_bytes)
wasmgate::WasmResult proxy_get_buffer_bytes(wasmgate::BufferType type, uint32_t start,
                                            uint32_t max_len, const char** data, size_t* size);
WASMGATE_IMPORT(proxy_get_buffer_status)
wasmgate::WasmResult proxy_get_buffer_status(wasmgate::BufferType type, size_t* size,
                                             uint32_t* flags);
WASMGATE_IMPORT(proxy_set_buffer_bytes)
wasmgate::WasmResult proxy_set_buffer_bytes(wasmgate::BufferType type, uint32_t start,
                                            uint32_t length, const char* data, size_t size);

// Stream control and local responses.
WASMGATE_IMPORT(proxy_continue_stream)
wasmgate::WasmResult proxy_continue_stream(wasmgate::StreamType type);
WASMGATE_IMPORT(proxy_close_stream)
wasmgate::WasmResult proxy_close_stream(wasmgate::StreamType type);
WASMGATE_IMPORT(proxy_send_local_response)
wasmgate::WasmResult proxy_send_local_response(uint32_t status_code, const char* details,
                                               size_t details_len, const char* body,
                                               size_t body_len, const char* headers,
                                               size_t headers_len, int32_t grpc_status);

// HTTP and gRPC callouts.
WASMGATE_IMPORT(proxy_http_call)
wasmgate::WasmResult proxy_http_call(const char* upstream, size_t upstream_len, const char* headers,
                                     size_t headers_len, const char* body, size_t body_len,
                                     const char* trailers, size_t trailers_len, uint32_t timeout_ms,
                                     uint32_t* token);
WASMGATE_IMPORT(proxy_grpc_call)
wasmgate::WasmResult proxy_grpc_call(const char* upstream, size_t upstream_len, const char* service,
                                     size_t service_len, const char* method, size_t method_len,
                                     const char* metadata, size_t metadata_len, const char* message,
                                     size_t message_len, uint32_t timeout_ms, uint32_t* token);
WASMGATE_IMPORT(proxy_grpc_stream)
wasmgate::WasmResult proxy_grpc_stream(const char* upstream, size_t upstream_len,
                                       const char* service, size_t service_len, const char* method,
                                       size_t method_len, const char* metadata, size_t metadata_len,
                                       uint32_t* token);
WASMGATE_IMPORT(proxy_grpc_send)
wasmgate::WasmResult proxy_grpc_send(uint32_t token, const char* message, size_t message_len,
                                     uint32_t end_stream);
WASMGATE_IMPORT(proxy_grpc_close)
wasmgate::WasmResult proxy_grpc_close(uint32_t token);
WASMGATE_IMPORT(proxy_grpc_cancel)
wasmgate::WasmResult proxy_grpc_cancel(uint32_t token);

// Shared data and queues.
WASMGATE_IMPORT(proxy_get_shared_data)
wasmgate::WasmResult proxy_get_shared_data(const char* key, size_t key_len, const char** value,
                                           size_t* value_len, uint32_t* cas);
WASMGATE_IMPORT(proxy_set_shared_data)
wasmgate::WasmResult proxy_set_shared_data(const char* key, size_t key_len, const char* value,
                                           size_t value_len, uint32_t cas);
WASMGATE_IMPORT(proxy_register_shared_queue)
wasmgate::WasmResult proxy_register_shared_queue(const char* name, size_t name_len,
                                                 uint32_t* token);
WASMGATE_IMPORT(proxy_resolve_shared_queue)
wasmgate::WasmResult proxy_resolve_shared_queue(const char* vm_id, size_t vm_id_len,
                                                const char* name, size_t name_len, uint32_t* token);
WASMGATE_IMPORT(proxy_enqueue_shared_queue)
wasmgate::WasmResult proxy_enqueue_shared_queue(uint32_t token, const char* data, size_t size);
WASMGATE_IMPORT(proxy_dequeue_shared_queue)
wasmgate::WasmResult proxy_dequeue_shared_queue(uint32_t token, const char** data, size_t* size);

// Metrics.
WASMGATE_IMPORT(proxy_define_metric)
wasmgate::WasmResult proxy_define_metric(wasmgate::MetricType type, const char* name,
                                         size_t name_len, uint32_t* metric_id);
WASMGATE_IMPORT(proxy_increment_metric)
wasmgate::WasmResult proxy_increment_metric(uint32_t metric_id, int64_t delta);
WASMGATE_IMPORT(proxy_record_metric)
wasmgate::WasmResult proxy_record_metric(uint32_t metric_id, uint64_t value);
WASMGATE_IMPORT(proxy_get_metric)
wasmgate::WasmResult proxy_get_metric(uint32_t metric_id, uint64_t* value);

// Context control and foreign functions.
WASMGATE_IMPORT(proxy_set_effective_context)
wasmgate::WasmResult proxy_set_effective_context(uint32_t context_id);
WASMGATE_IMPORT(proxy_done)
wasmgate::WasmResult proxy_done();
WASMGATE_IMPORT(proxy_call_foreign_function)
wasmgate::WasmResult proxy_call_foreign_function(const char* name, size_t name_len,
                                                 const char* args, size_t args_len,
                                                 const char** result, size_t* result_len);

}  // extern "C"

#undef WASMGATE_IMPORT
