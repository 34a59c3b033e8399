#include "proxy/stream_socket.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "proxy/limits.h"

namespace wasmgate::proxy {
namespace {

// The first read of a wake-up is small, as most requests and many responses are, unless the
// previous wake-up brought more: it goes into an evbuffer chain a little under 1 KiB, so that
// the chain with its 48-byte header comes from malloc's per-thread cache. Further reads of the
// same wake-up go into 64 KiB blocks kept in a per-thread pool: allocating and freeing that much
// per read would have malloc return the memory to the kernel and fault it back in every time.
constexpr size_t kSmallReadBytes = 1024 - 64;
constexpr size_t kReadBlockBytes = 64 * 1024;
// Free blocks a thread keeps; blocks in use are bounded by the proxy's buffer limits.
constexpr size_t kMaxPooledReadBlocks = 32;
// Below this, what the kernel refuses of a string is copied into the output rather than held
// by reference.
constexpr size_t kCopyRatherThanHoldBytes = 4 * 1024;
// Buffers in one writev; output holds a few dozen chains at most.
constexpr int kMaxWriteVecs = 64;

bool wouldBlock(int error) {
  return error == EAGAIN || error == EWOULDBLOCK;
}

// Free read blocks of this thread, or nullptr once the pool is destroyed at thread exit (evbuffers
// destroyed after it still release their blocks). The flag is trivially destructible, so it can
// be read at any time.
thread_local bool readBlockPoolDestroyed = false;
struct ReadBlockPool {
  ~ReadBlockPool() { readBlockPoolDestroyed = true; }
  std::vector<std::unique_ptr<char[]>> blocks;
};
ReadBlockPool* readBlockPool() {
  if (readBlockPoolDestroyed) return nullptr;
  thread_local ReadBlockPool pool;
  return &pool;
}

// The sockets that asked for flushSoon during a socket callback on this thread, flushed when the
// outermost socket callback returns.
struct DeferredFlushes {
  int callbackDepth = 0;
  std::vector<StreamSocket*> sockets;
};
thread_local DeferredFlushes deferredFlushes;

}  // namespace

StreamSocket::StreamSocket(EventLoop& loop, Handler& handler, evutil_socket_t connectedFd)
    : StreamSocket(loop, handler) {
  fd_ = connectedFd;
  state_ = State::kOpen;
  watch();
}

StreamSocket::StreamSocket(EventLoop& loop, Handler& handler)
    : loop_(loop), handler_(handler), input_(evbuffer_new()), output_(evbuffer_new()) {}

StreamSocket::~StreamSocket() {
  if (flushDeferred_) std::erase(deferredFlushes.sockets, this);
  event_.reset();
  if (fd_ >= 0) ::close(fd_);
}

bool StreamSocket::connect(const SocketAddress& endpoint, milliseconds timeout) {
  if (state_ != State::kIdle) return false;
  sockaddr_storage address{};
  int length = sizeof(address);
  std::string target = endpoint.host == "localhost" ? "127.0.0.1:" + std::to_string(endpoint.port)
                                                    : endpoint.toString();
  if (evutil_parse_sockaddr_port(target.c_str(), reinterpret_cast<sockaddr*>(&address), &length) !=
      0) {
    return false;
  }
  fd_ = ::socket(address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return false;
  int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  state_ = State::kConnecting;
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&address), static_cast<socklen_t>(length)) != 0 &&
      errno != EINPROGRESS) {
    connectErrno_ = errno;
  }
  watch();
  if (connectErrno_ != 0) {
    event_active(event_.get(), EV_WRITE, 0);  // reported from the loop, like a later failure
  } else if (timeout.count() > 0) {
    connectTimer_ = std::make_unique<Timer>(loop_, [this] { fail(SocketError::kConnectTimedOut); });
    connectTimer_->arm(timeout);
  }
  return true;
}

void StreamSocket::watch() {
  // Registered once, edge-triggered, both directions: readiness changes never need epoll_ctl.
  event_.reset(event_new(loop_.base(), fd_, EV_READ | EV_WRITE | EV_CLOSED | EV_PERSIST | EV_ET,
                         &StreamSocket::onEvent, this));
  event_add(event_.get(), nullptr);
}

void StreamSocket::onEvent(evutil_socket_t, short what, void* self) {
  FlushScope scope;
  static_cast<StreamSocket*>(self)->handleEvent(what);
}

StreamSocket::FlushScope::FlushScope() {
  ++deferredFlushes.callbackDepth;
}

StreamSocket::FlushScope::~FlushScope() {
  if (--deferredFlushes.callbackDepth == 0 && !deferredFlushes.sockets.empty()) flushDeferred();
}

std::unique_ptr<char[]> StreamSocket::takeReadBlock() {
  ReadBlockPool* pool = readBlockPool();
  if (pool && !pool->blocks.empty()) {
    std::unique_ptr<char[]> block = std::move(pool->blocks.back());
    pool->blocks.pop_back();
    return block;
  }
  return std::make_unique_for_overwrite<char[]>(kReadBlockBytes);
}

void StreamSocket::returnReadBlock(const void* data, size_t, void*) {
  std::unique_ptr<char[]> block(static_cast<char*>(const_cast<void*>(data)));
  ReadBlockPool* pool = readBlockPool();
  if (pool && pool->blocks.size() < kMaxPooledReadBlocks) pool->blocks.push_back(std::move(block));
}

void StreamSocket::flushDeferred() {
  // flush() neither reports nor destroys anything synchronously: the list stays as it is.
  for (StreamSocket* socket : deferredFlushes.sockets) {
    socket->flushDeferred_ = false;
    socket->flush();
  }
  deferredFlushes.sockets.clear();
}

void StreamSocket::handleEvent(short what) {
  if (state_ == State::kConnecting) {
    // Only the kernel's writability edge (or an immediate failure) ends a connect; a read
    // activation from resumeReading waits for it.
    if (!(what & EV_WRITE)) return;
    finishConnect();
  }
  if (state_ != State::kOpen) return;
  if (writeFailed_) {
    fail(SocketError::kConnectionFailed);
    return;
  }
  if (what & EV_CLOSED) peerClosed_ = true;
  if ((what & EV_WRITE) && outputLength() > 0) {
    if (!writeOutput()) {
      fail(SocketError::kConnectionFailed);
      return;
    }
    if (outputLength() <= writeLowWatermark_) {
      handler_.onWritable();
      if (state_ != State::kOpen) return;
    }
  }
  if ((what & (EV_READ | EV_CLOSED)) && !readPaused_ && !endOfStream_) readAvailable();
}

void StreamSocket::finishConnect() {
  int error = connectErrno_;
  if (error == 0) {
    socklen_t length = sizeof(error);
    if (getsockopt(fd_, SOL_SOCKET, SO_ERROR, &error, &length) != 0) error = errno;
  }
  if (error != 0) {
    fail(SocketError::kConnectFailed);
    return;
  }
  state_ = State::kOpen;
  if (connectTimer_) connectTimer_->cancel();
  bool wrote = outputLength() > 0;
  if (wrote && !writeOutput()) {
    fail(SocketError::kConnectionFailed);
    return;
  }
  handler_.onConnected();
  // Output that waited for the connection went out: as after any wait for the kernel.
  if (wrote && state_ == State::kOpen && outputLength() <= writeLowWatermark_)
    handler_.onWritable();
}

// Reads into the free space at the end of input(): for the small first read of a wake-up.
ssize_t StreamSocket::readIntoInput(size_t& offered) {
  evbuffer_iovec space[2];
  int count =
      evbuffer_reserve_space(input_.get(), static_cast<ev_ssize_t>(kSmallReadBytes), space, 2);
  if (count <= 0) {
    errno = ENOMEM;
    return -1;
  }
  iovec vecs[2];
  offered = 0;
  for (int i = 0; i < count; ++i) {
    vecs[i] = iovec{space[i].iov_base, space[i].iov_len};
    offered += space[i].iov_len;
  }
  // recv() spares the kernel readv's iovec import when there is one buffer, the usual case.
  ssize_t got =
      count == 1 ? ::recv(fd_, vecs[0].iov_base, vecs[0].iov_len, 0) : ::readv(fd_, vecs, count);
  if (got > 0) {
    size_t left = static_cast<size_t>(got);
    for (int i = 0; i < count; ++i) {
      space[i].iov_len = std::min(space[i].iov_len, left);
      left -= space[i].iov_len;
    }
    evbuffer_commit_space(input_.get(), space, count);
  }
  return got;
}

// Reads into a block from the thread's pool, which input() then holds by reference.
ssize_t StreamSocket::readIntoBlock(size_t& offered) {
  std::unique_ptr<char[]> block = takeReadBlock();
  offered = kReadBlockBytes;
  ssize_t got = ::recv(fd_, block.get(), kReadBlockBytes, 0);
  if (got <= 0) {
    returnReadBlock(block.release(), 0, nullptr);
    return got;
  }
  // From here the evbuffer owns the block: returnReadBlock runs once its last byte is drained,
  // wherever the chain went (evbuffer_add_buffer moves it to another socket's output as is).
  char* data = block.release();
  if (evbuffer_add_reference(input_.get(), data, static_cast<size_t>(got), &returnReadBlock,
                             nullptr) != 0) {
    returnReadBlock(data, 0, nullptr);
    errno = ENOMEM;
    return -1;
  }
  return got;
}

void StreamSocket::readAvailable() {
  size_t total = 0;
  bool endOfStream = false;
  bool failed = false;
  bool capped = false;
  for (;;) {
    if (total >= kMaxSingleReadBytes) {
      capped = true;
      break;
    }
    size_t offered = 0;
    bool small = total == 0 && lastWakeupBytes_ <= kSmallReadBytes;
    ssize_t got = small ? readIntoInput(offered) : readIntoBlock(offered);
    if (got > 0) {
      total += static_cast<size_t>(got);
      // Less than asked: nothing more is queued, and new bytes bring a new edge. Unless a FIN
      // is known to wait: then read on until it shows.
      if (static_cast<size_t>(got) < offered && !peerClosed_) break;
      continue;
    }
    if (got == 0) {
      endOfStream = true;
      break;
    }
    if (errno == EINTR) continue;
    failed = !wouldBlock(errno);
    break;
  }
  lastWakeupBytes_ = total;
  if (total > 0) {
    handler_.onReadable();
    if (state_ != State::kOpen) return;
  }
  if (failed) {
    fail(SocketError::kConnectionFailed);
    return;
  }
  if (endOfStream) {
    if (readPaused_) {
      peerClosed_ = true;  // read again, and seen, once resumed
      return;
    }
    endOfStream_ = true;
    handler_.onEndOfStream();
    return;
  }
  // Out of budget for this wake-up, not drained: come back on the next loop turn.
  if (capped && !readPaused_) event_active(event_.get(), EV_READ, 0);
}

bool StreamSocket::writeOutput() {
  while (outputLength() > 0) {
    evbuffer_iovec chunks[kMaxWriteVecs];
    int count =
        std::min(evbuffer_peek(output_.get(), -1, nullptr, chunks, kMaxWriteVecs), kMaxWriteVecs);
    iovec vecs[kMaxWriteVecs];
    size_t offered = 0;
    for (int i = 0; i < count; ++i) {
      vecs[i] = iovec{chunks[i].iov_base, chunks[i].iov_len};
      offered += chunks[i].iov_len;
    }
    ssize_t sent;
    if (count == 1) {
      sent = ::send(fd_, vecs[0].iov_base, vecs[0].iov_len, MSG_NOSIGNAL);
    } else {
      msghdr message{};
      message.msg_iov = vecs;
      message.msg_iovlen = static_cast<size_t>(count);
      sent = ::sendmsg(fd_, &message, MSG_NOSIGNAL);
    }
    if (sent < 0) {
      if (errno == EINTR) continue;
      return wouldBlock(errno);
    }
    evbuffer_drain(output_.get(), static_cast<size_t>(sent));
    // The kernel took less: it is full, and the EV_WRITE edge comes when it has room.
    if (static_cast<size_t>(sent) < offered) return true;
  }
  return true;
}

size_t StreamSocket::sendNow(std::string_view data) {
  if (state_ != State::kOpen || writeFailed_ || outputLength() > 0) return 0;
  ssize_t sent;
  do {
    sent = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
  } while (sent < 0 && errno == EINTR);
  if (sent >= 0) return static_cast<size_t>(sent);
  if (!wouldBlock(errno)) {
    writeFailed_ = true;
    event_active(event_.get(), EV_WRITE, 0);  // reported from the loop, not to this caller
  }
  return 0;
}

void StreamSocket::write(std::string_view data) {
  if (state_ == State::kClosed || writeFailed_ || data.empty()) return;
  data.remove_prefix(sendNow(data));
  if (!data.empty() && !writeFailed_) evbuffer_add(output_.get(), data.data(), data.size());
}

void StreamSocket::writeOwned(std::string data) {
  if (state_ == State::kClosed || writeFailed_ || data.empty()) return;
  size_t sent = sendNow(data);
  size_t rest = data.size() - sent;
  if (rest == 0 || writeFailed_) return;
  if (rest <= kCopyRatherThanHoldBytes) {
    evbuffer_add(output_.get(), data.data() + sent, rest);
    return;
  }
  // The output holds the rest where it is; the string goes when its last byte is sent.
  auto held = std::make_unique<std::string>(std::move(data));
  const char* restStart = held->data() + sent;
  auto release = [](const void*, size_t, void* string) {
    std::unique_ptr<std::string> owned(static_cast<std::string*>(string));
  };
  if (evbuffer_add_reference(output_.get(), restStart, rest, release, held.get()) == 0) {
    held.release();  // the output's now
  } else {
    evbuffer_add(output_.get(), restStart, rest);
  }
}

void StreamSocket::flush() {
  if (state_ != State::kOpen || writeFailed_ || outputLength() == 0) return;
  if (!writeOutput()) {
    writeFailed_ = true;
    event_active(event_.get(), EV_WRITE, 0);
  }
}

void StreamSocket::flushSoon() {
  if (state_ != State::kOpen || writeFailed_ || outputLength() == 0) return;
  if (deferredFlushes.callbackDepth > 0) {
    if (!flushDeferred_) {
      flushDeferred_ = true;
      deferredFlushes.sockets.push_back(this);
    }
    return;
  }
  // Active events queued during a callback run in the same loop turn, right after it.
  event_active(event_.get(), EV_WRITE, 0);
}

void StreamSocket::pauseReading() {
  readPaused_ = true;
}

void StreamSocket::resumeReading() {
  if (!readPaused_) return;
  readPaused_ = false;
  // The edge for bytes that came while paused may be spent: look now.
  if (state_ == State::kOpen && !endOfStream_) event_active(event_.get(), EV_READ, 0);
}

void StreamSocket::shutdownWrite() {
  if (state_ == State::kOpen) ::shutdown(fd_, SHUT_WR);
}

void StreamSocket::close() {
  if (state_ == State::kClosed) return;
  state_ = State::kClosed;
  if (event_) event_del(event_.get());
  if (connectTimer_) connectTimer_->cancel();
}

void StreamSocket::fail(SocketError error) {
  close();
  handler_.onError(error);
}

std::string takeBytes(evbuffer* buffer, size_t length) {
  std::string bytes;
  bytes.reserve(length);
  while (bytes.size() < length) {
    evbuffer_iovec first;
    if (evbuffer_peek(buffer, -1, nullptr, &first, 1) < 1) break;
    size_t take = std::min(first.iov_len, length - bytes.size());
    bytes.append(static_cast<const char*>(first.iov_base), take);
    evbuffer_drain(buffer, take);  // frees (or returns to the pool) each chain once copied
  }
  return bytes;
}

}  // namespace wasmgate::proxy
