// tcp_bytes: a TCP (network) plugin that counts the bytes flowing each way and closes the
// connection once it has carried more than a configured number of bytes.
//
// Configuration: {"max_bytes": 1048576} (both directions together; 0 or absent = no limit).
// Metrics: tcp_downstream_bytes_total (client to upstream), tcp_upstream_bytes_total
// (upstream to client), tcp_connections_total, tcp_connections_over_limit_total.
#include <string>

#include "wasmgate/plugin.h"

namespace {

class TcpBytesRoot : public wasmgate::RootContext {
 public:
  using RootContext::RootContext;

  bool onConfigure(size_t size) override {
    int64_t max_bytes = 0;
    if (size != 0) {
      std::string error;
      auto doc = wasmgate::json::parse(configuration().view(), &error);
      const wasmgate::json::Value* max = doc ? doc->find("max_bytes") : nullptr;
      if (!doc || !doc->isObject() || (max != nullptr && (!max->isInt() || max->asInt() < 0))) {
        wasmgate::logError("tcp_bytes: configuration must be {{\"max_bytes\": N}} with N >= 0 {}",
                           error);
        return false;
      }
      if (max != nullptr) max_bytes = max->asInt();
    }
    max_bytes_ = static_cast<uint64_t>(max_bytes);
    downstream_bytes_ = wasmgate::Counter("tcp_downstream_bytes_total");
    upstream_bytes_ = wasmgate::Counter("tcp_upstream_bytes_total");
    connections_ = wasmgate::Counter("tcp_connections_total");
    over_limit_ = wasmgate::Counter("tcp_connections_over_limit_total");
    return true;
  }

  uint64_t max_bytes_ = 0;
  wasmgate::Counter downstream_bytes_;
  wasmgate::Counter upstream_bytes_;
  wasmgate::Counter connections_;
  wasmgate::Counter over_limit_;
};

class TcpBytesStream : public wasmgate::StreamContext {
 public:
  TcpBytesStream(uint32_t id, TcpBytesRoot* root) : StreamContext(id, root), root_(root) {}

  wasmgate::FilterStatus onNewConnection() override {
    root_->connections_.increment();
    return wasmgate::FilterStatus::Continue;
  }

  // data_size is everything buffered for this direction; count only what is new.
  wasmgate::FilterStatus onDownstreamData(size_t data_size, bool) override {
    return account(data_size, root_->downstream_bytes_);
  }
  wasmgate::FilterStatus onUpstreamData(size_t data_size, bool) override {
    return account(data_size, root_->upstream_bytes_);
  }

 private:
  wasmgate::FilterStatus account(size_t bytes, const wasmgate::Counter& counter) {
    if (closed_) return wasmgate::FilterStatus::StopIteration;
    if (bytes != 0) counter.increment(bytes);
    total_ += bytes;
    if (root_->max_bytes_ == 0 || total_ <= root_->max_bytes_) {
      return wasmgate::FilterStatus::Continue;
    }
    wasmgate::logInfo("tcp_bytes: connection {} carried {} bytes, over the limit of {}; closing",
                      id(), total_, root_->max_bytes_);
    root_->over_limit_.increment();
    closed_ = true;
    closeDownstream();
    closeUpstream();
    return wasmgate::FilterStatus::StopIteration;
  }

  TcpBytesRoot* root_;
  uint64_t total_ = 0;
  bool closed_ = false;
};

wasmgate::RegisterPlugin<TcpBytesRoot, TcpBytesStream> registration("tcp_bytes");

}  // namespace
