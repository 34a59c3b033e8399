// One blocking client connection for the fetch layer: TCP over a non-blocking socket driven by
// poll(), so every step (connect, TLS handshake, read, write) honours one deadline, and TLS with
// OpenSSL (SNI, chain verification against the system store plus a CA file, host name check).
#pragma once

#include <openssl/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

struct addrinfo;

namespace wasmgate::fetch {

// A point in time every step of one request must finish before.
class Deadline {
 public:
  explicit Deadline(std::chrono::milliseconds budget)
      : budget_(budget), at_(std::chrono::steady_clock::now() + budget) {}
  // Milliseconds left, rounded up, 0 once passed (a poll() timeout).
  int remainingMs() const;
  bool expired() const { return std::chrono::steady_clock::now() >= at_; }
  std::chrono::milliseconds budget() const { return budget_; }

 private:
  std::chrono::milliseconds budget_;
  std::chrono::steady_clock::time_point at_;
};

struct TlsOptions {
  std::string caFile;  // PEM bundle trusted beside the system store; empty: system store only
  bool insecureSkipVerify = false;
};

// An OpenSSL client context: trust store, minimum TLS 1.2, peer verification.
class TlsContext {
 public:
  static Result<std::unique_ptr<TlsContext>> create(const TlsOptions& options);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  SSL_CTX* get() const { return ctx_; }
  bool verifies() const { return verify_; }

 private:
  TlsContext(SSL_CTX* ctx, bool verify) : ctx_(ctx), verify_(verify) {}
  SSL_CTX* ctx_;
  bool verify_;
};

class Connection;
using ConnectionPtr = std::unique_ptr<Connection>;

class Connection {
 public:
  // Connects to host:port, trying each address the resolver gives in turn; with `tls`, also
  // completes a verified TLS handshake for `host`. Failures: kUnavailable (resolve, connect,
  // reset), kDeadlineExceeded, kProtocolError (TLS handshake or certificate refused).
  static Result<ConnectionPtr> open(const std::string& host, uint16_t port, const TlsContext* tls,
                                    const Deadline& deadline);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  Status writeAll(std::string_view data, const Deadline& deadline);
  // Appends at most `max` bytes to `out` and returns how many; 0 means the peer closed.
  Result<size_t> read(std::string& out, size_t max, const Deadline& deadline);
  const std::string& peer() const { return peer_; }

 private:
  Connection(int fd, std::string peer) : fd_(fd), peer_(std::move(peer)) {}
  static Result<ConnectionPtr> connectTo(const addrinfo& ai, const std::string& peer,
                                         const Deadline& deadline);
  Status handshake(const std::string& host, const TlsContext& tls, const Deadline& deadline);
  // Waits until the socket is ready for `events` (POLLIN, POLLOUT).
  Status waitFor(short events, const Deadline& deadline, std::string_view what);
  // After an SSL call returned `ret`: waits as OpenSSL asks, or returns the error.
  Status waitForTls(int ret, const Deadline& deadline, std::string_view what);
  Status tlsError(std::string_view what);
  Status timedOut(std::string_view what, const Deadline& deadline) const;
  // One attempt: bytes moved (0 from readOnce: the peer closed), or none after waiting.
  Result<std::optional<size_t>> writeOnce(std::string_view data, const Deadline& deadline);
  Result<std::optional<size_t>> readOnce(char* buf, size_t max, const Deadline& deadline);

  int fd_ = -1;
  SSL* ssl_ = nullptr;
  std::string peer_;  // "host:port", for messages
};

}  // namespace wasmgate::fetch
