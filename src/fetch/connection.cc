#include "fetch/connection.h"

#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <ctime>

#include "fetch/url.h"

namespace wasmgate::fetch {
namespace {

std::string openSslErrors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "unknown TLS error" : out;
}

// SSL_write() writes with write(2): a peer that closed would raise SIGPIPE. Blocks it in this
// thread for the call and swallows one raised meanwhile.
class SigpipeGuard {
 public:
  SigpipeGuard() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    sigset_t pending;
    sigpending(&pending);
    alreadyPending_ = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
  }
  ~SigpipeGuard() {
    sigset_t pending;
    sigpending(&pending);
    if (!alreadyPending_ && sigismember(&pending, SIGPIPE) == 1) {
      timespec zero{};
      sigtimedwait(&pipe_, nullptr, &zero);
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }

 private:
  sigset_t pipe_;
  sigset_t old_;
  bool alreadyPending_ = false;
};

Result<addrinfo*> resolve(const std::string& host, uint16_t port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* list = nullptr;
  int rc = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &list);
  if (rc != 0) {
    return errorStatus(StatusCode::kUnavailable,
                       "cannot resolve " + host + ": " + gai_strerror(rc));
  }
  return list;
}

}  // namespace

int Deadline::remainingMs() const {
  auto left = at_ - std::chrono::steady_clock::now();
  if (left <= std::chrono::steady_clock::duration::zero()) return 0;
  return static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(left).count());
}

Result<std::unique_ptr<TlsContext>> TlsContext::create(const TlsOptions& options) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == nullptr) return errorStatus(StatusCode::kInternal, "SSL_CTX_new: " + openSslErrors());
  std::unique_ptr<TlsContext> out(new TlsContext(ctx, !options.insecureSkipVerify));
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  static constexpr unsigned char kAlpn[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  SSL_CTX_set_alpn_protos(ctx, kAlpn, sizeof(kAlpn));
  if (options.insecureSkipVerify) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
    return out;
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  if (SSL_CTX_set_default_verify_paths(ctx) != 1) ERR_clear_error();
  if (!options.caFile.empty() &&
      SSL_CTX_load_verify_locations(ctx, options.caFile.c_str(), nullptr) != 1) {
    return errorStatus(StatusCode::kBadArgument,
                       "cannot load CA file " + options.caFile + ": " + openSslErrors());
  }
  return out;
}

TlsContext::~TlsContext() {
  SSL_CTX_free(ctx_);
}

Result<ConnectionPtr> Connection::connectTo(const addrinfo& ai, const std::string& peer,
                                            const Deadline& deadline) {
  int fd = socket(ai.ai_family, ai.ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai.ai_protocol);
  if (fd < 0) return errorStatus(StatusCode::kUnavailable, std::strerror(errno));
  ConnectionPtr conn(new Connection(fd, peer));
  if (connect(fd, ai.ai_addr, ai.ai_addrlen) != 0) {
    if (errno != EINPROGRESS) return errorStatus(StatusCode::kUnavailable, std::strerror(errno));
    WASMGATE_RETURN_IF_ERROR(conn->waitFor(POLLOUT, deadline, "connect"));
  }
  int err = 0;
  socklen_t len = sizeof(err);
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
  if (err != 0) return errorStatus(StatusCode::kUnavailable, std::strerror(err));
  return conn;
}

Result<ConnectionPtr> Connection::open(const std::string& host, uint16_t port,
                                       const TlsContext* tls, const Deadline& deadline) {
  auto list = resolve(host, port);
  if (!list.isOk()) return list.status();
  std::string peer =
      (host.find(':') != host.npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
  Result<ConnectionPtr> conn = errorStatus(StatusCode::kUnavailable, "no address");
  for (addrinfo* ai = *list; ai != nullptr && !conn.isOk(); ai = ai->ai_next) {
    conn = connectTo(*ai, peer, deadline);
  }
  freeaddrinfo(*list);
  if (!conn.isOk()) {
    return errorStatus(conn.status().code(), "connect to " + peer + ": " + conn.status().message());
  }
  if (tls != nullptr) WASMGATE_RETURN_IF_ERROR((*conn)->handshake(host, *tls, deadline));
  return conn;
}

Connection::~Connection() {
  if (ssl_ != nullptr) SSL_free(ssl_);
  if (fd_ >= 0) ::close(fd_);
}

Status Connection::handshake(const std::string& host, const TlsContext& tls,
                             const Deadline& deadline) {
  ssl_ = SSL_new(tls.get());
  if (ssl_ == nullptr || SSL_set_fd(ssl_, fd_) != 1) return tlsError("TLS setup");
  bool ip = isIpLiteral(host);
  if (!ip) SSL_set_tlsext_host_name(ssl_, host.c_str());  // SNI names hosts, never addresses
  if (tls.verifies()) {
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl_);
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    int set = ip ? X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str())
                 : X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size());
    if (set != 1) return tlsError("TLS host check setup");
  }
  while (true) {
    int ret = SSL_connect(ssl_);
    if (ret == 1) return Status::ok();
    long verify = SSL_get_verify_result(ssl_);
    if (verify != X509_V_OK) {
      ERR_clear_error();
      return errorStatus(StatusCode::kProtocolError,
                         "TLS handshake with " + peer_ +
                             ": certificate refused: " + X509_verify_cert_error_string(verify));
    }
    WASMGATE_RETURN_IF_ERROR(waitForTls(ret, deadline, "TLS handshake"));
  }
}

Status Connection::waitFor(short events, const Deadline& deadline, std::string_view what) {
  while (true) {
    pollfd p{fd_, events, 0};
    int rc = poll(&p, 1, deadline.remainingMs());
    if (rc > 0) return Status::ok();  // errors and hang-ups show in the next call
    if (rc == 0) return timedOut(what, deadline);
    if (errno != EINTR) return errorStatus(StatusCode::kUnavailable, std::strerror(errno));
  }
}

Status Connection::waitForTls(int ret, const Deadline& deadline, std::string_view what) {
  int err = SSL_get_error(ssl_, ret);
  if (err == SSL_ERROR_WANT_READ) return waitFor(POLLIN, deadline, what);
  if (err == SSL_ERROR_WANT_WRITE) return waitFor(POLLOUT, deadline, what);
  if (err == SSL_ERROR_SYSCALL && errno != 0) {
    int saved = errno;
    ERR_clear_error();
    return errorStatus(StatusCode::kUnavailable,
                       std::string(what) + " with " + peer_ + ": " + std::strerror(saved));
  }
  return tlsError(what);
}

Status Connection::tlsError(std::string_view what) {
  return errorStatus(StatusCode::kProtocolError,
                     std::string(what) + " with " + peer_ + ": " + openSslErrors());
}

Status Connection::timedOut(std::string_view what, const Deadline& deadline) const {
  return errorStatus(StatusCode::kDeadlineExceeded,
                     std::string(what) + " with " + peer_ + " timed out after " +
                         std::to_string(deadline.budget().count()) + "ms");
}

Result<std::optional<size_t>> Connection::writeOnce(std::string_view data,
                                                    const Deadline& deadline) {
  if (deadline.expired()) return timedOut("write", deadline);
  if (ssl_ != nullptr) {
    SigpipeGuard guard;
    errno = 0;
    int n = SSL_write(ssl_, data.data(), static_cast<int>(data.size()));
    if (n > 0) return std::optional<size_t>(n);
    WASMGATE_RETURN_IF_ERROR(waitForTls(n, deadline, "write"));
    return std::optional<size_t>();
  }
  ssize_t n = send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
  if (n >= 0) return std::optional<size_t>(n);
  if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
    return errorStatus(StatusCode::kUnavailable, "write to " + peer_ + ": " + std::strerror(errno));
  }
  WASMGATE_RETURN_IF_ERROR(waitFor(POLLOUT, deadline, "write"));
  return std::optional<size_t>();
}

Status Connection::writeAll(std::string_view data, const Deadline& deadline) {
  while (!data.empty()) {
    auto n = writeOnce(data, deadline);
    if (!n.isOk()) return n.status();
    if (n->has_value()) data.remove_prefix(**n);
  }
  return Status::ok();
}

Result<std::optional<size_t>> Connection::readOnce(char* buf, size_t max,
                                                   const Deadline& deadline) {
  if (deadline.expired()) return timedOut("read", deadline);
  if (ssl_ != nullptr) {
    errno = 0;
    int n = SSL_read(ssl_, buf, static_cast<int>(max));
    if (n > 0) return std::optional<size_t>(n);
    if (SSL_get_error(ssl_, n) == SSL_ERROR_ZERO_RETURN) return std::optional<size_t>(0);
    WASMGATE_RETURN_IF_ERROR(waitForTls(n, deadline, "read"));
    return std::optional<size_t>();
  }
  ssize_t n = recv(fd_, buf, max, 0);
  if (n >= 0) return std::optional<size_t>(n);
  if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
    return errorStatus(StatusCode::kUnavailable,
                       "read from " + peer_ + ": " + std::strerror(errno));
  }
  WASMGATE_RETURN_IF_ERROR(waitFor(POLLIN, deadline, "read"));
  return std::optional<size_t>();
}

Result<size_t> Connection::read(std::string& out, size_t max, const Deadline& deadline) {
  char buf[16 * 1024];
  max = std::min(max, sizeof(buf));
  while (true) {
    auto n = readOnce(buf, max, deadline);
    if (!n.isOk()) return n.status();
    if (!n->has_value()) continue;
    out.append(buf, **n);
    return **n;
  }
}

}  // namespace wasmgate::fetch
