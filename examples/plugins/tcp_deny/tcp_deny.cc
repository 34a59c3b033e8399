// tcp_deny: a TCP (network) plugin that closes connections whose first bytes from the client
// start with a denied prefix, before any of those bytes reach the upstream.
//
// Configuration:
//   {
//     "deny_prefixes": ["BAD", "\u0016\u0003"],   // byte strings (JSON escapes below 0x80)
//     "deny_prefixes_hex": ["16030100"]           // optional: the same, as hex (any byte)
//   }
// At least one prefix in total; every prefix is non-empty.
//
// The client's bytes are held (StopIteration) only while they are still a proper prefix of
// some denied prefix, so an allowed connection waits at most until its first byte that rules
// every prefix out. End of stream decides with what has arrived.
// Metrics: tcp_deny_connections_denied_total, tcp_deny_connections_allowed_total.
#include <algorithm>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "wasmgate/plugin.h"

namespace {

namespace json = wasmgate::json;

int hexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool decodeHex(std::string_view hex, std::string& out) {
  if (hex.size() % 2 != 0) return false;
  out.clear();
  for (size_t i = 0; i < hex.size(); i += 2) {
    const int hi = hexDigit(hex[i]);
    const int lo = hexDigit(hex[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out.push_back(static_cast<char>(hi * 16 + lo));
  }
  return true;
}

// Reads an optional array of non-empty strings into `out`, hex-decoding when `hex` is set.
bool readPrefixes(const json::Value& doc, std::string_view key, bool hex,
                  std::vector<std::string>& out) {
  const json::Value& list = doc[key];
  if (list.isNull()) return true;
  if (!list.isArray()) {
    wasmgate::logError("tcp_deny: '{}' must be an array of strings", key);
    return false;
  }
  for (const json::Value& item : list.items()) {
    if (!item.isString() || item.asString().empty()) {
      wasmgate::logError("tcp_deny: '{}' must hold non-empty strings", key);
      return false;
    }
    std::string prefix(item.asString());
    if (hex && !decodeHex(item.asString(), prefix)) {
      wasmgate::logError("tcp_deny: '{}': '{}' is not an even number of hex digits", key,
                         item.asString());
      return false;
    }
    out.push_back(std::move(prefix));
  }
  return true;
}

class TcpDenyRoot : public wasmgate::RootContext {
 public:
  using RootContext::RootContext;

  bool onConfigure(size_t) override {
    std::string error;
    auto doc = json::parse(configuration().view(), &error);
    if (!doc || !doc->isObject()) {
      wasmgate::logError("tcp_deny: configuration must be a JSON object {}", error);
      return false;
    }
    std::vector<std::string> prefixes;
    if (!readPrefixes(*doc, "deny_prefixes", false, prefixes) ||
        !readPrefixes(*doc, "deny_prefixes_hex", true, prefixes)) {
      return false;
    }
    if (prefixes.empty()) {
      wasmgate::logError(
          "tcp_deny: configure at least one of 'deny_prefixes' or 'deny_prefixes_hex'");
      return false;
    }
    prefixes_ = std::move(prefixes);
    longest_ = 0;
    for (const std::string& p : prefixes_) longest_ = std::max(longest_, p.size());
    denied_ = wasmgate::Counter("tcp_deny_connections_denied_total");
    allowed_ = wasmgate::Counter("tcp_deny_connections_allowed_total");
    return true;
  }

  std::vector<std::string> prefixes_;
  size_t longest_ = 0;
  wasmgate::Counter denied_;
  wasmgate::Counter allowed_;
};

class TcpDenyStream : public wasmgate::StreamContext {
 public:
  TcpDenyStream(uint32_t id, TcpDenyRoot* root) : StreamContext(id, root), root_(root) {}

  // data_size is everything the host holds for this direction, including bytes it kept for
  // us when we returned StopIteration earlier.
  wasmgate::FilterStatus onDownstreamData(size_t data_size, bool end_of_stream) override {
    if (state_ == State::kAllowed) return wasmgate::FilterStatus::Continue;
    if (state_ == State::kDenied) return wasmgate::FilterStatus::StopIteration;
    const size_t want = std::min(data_size, root_->longest_);
    std::string head;
    if (want != 0) {
      auto bytes = wasmgate::getBufferBytes(wasmgate::BufferType::DownstreamData, 0,
                                            static_cast<uint32_t>(want));
      if (bytes) head = bytes->toString();
    }
    bool undecided = false;
    for (const std::string& prefix : root_->prefixes_) {
      if (head.size() >= prefix.size()) {
        if (std::string_view(head).starts_with(prefix)) return deny(prefix);
      } else if (std::string_view(prefix).starts_with(head)) {
        undecided = true;  // the next bytes could still complete this prefix
      }
    }
    if (undecided && !end_of_stream) return wasmgate::FilterStatus::StopIteration;
    state_ = State::kAllowed;
    root_->allowed_.increment();
    return wasmgate::FilterStatus::Continue;
  }

 private:
  enum class State { kUndecided, kAllowed, kDenied };

  wasmgate::FilterStatus deny(std::string_view prefix) {
    state_ = State::kDenied;
    root_->denied_.increment();
    auto source = wasmgate::getProperty<std::string>({"source", "address"});
    wasmgate::logInfo(
        "tcp_deny: connection {} from {} starts with a denied prefix ({} bytes); closing", id(),
        source ? std::string_view(*source) : std::string_view("?"), prefix.size());
    closeDownstream();
    closeUpstream();
    return wasmgate::FilterStatus::StopIteration;
  }

  TcpDenyRoot* root_;
  State state_ = State::kUndecided;
};

wasmgate::RegisterPlugin<TcpDenyRoot, TcpDenyStream> registration("tcp_deny");

}  // namespace
