// A non-blocking TCP connection on a worker's event loop: the proxy's data path uses it in place
// of libevent's bufferevent to spend fewer system calls per request.
//
// - One edge-triggered event (EV_READ | EV_WRITE | EV_CLOSED) is registered for the connection's
//   whole life: no epoll_ctl per request or per write.
// - Reads go straight into the input evbuffer (no FIONREAD): the small first read of a wake-up
//   into its free space, further ones into pooled 64 KiB blocks it holds by reference. A read
//   that returns less than it asked for means the socket is drained: the next edge comes when new
//   bytes arrive, so a small request costs one read. EV_CLOSED (EPOLLRDHUP) says a FIN is queued
//   behind the data, and then reading goes on until it is seen.
// - Writes go to the socket at once; only what the kernel refuses waits in the output evbuffer,
//   and the edge that says the kernel has room again sends it.
#pragma once

#include <event2/buffer.h>
#include <event2/event.h>

#include <memory>
#include <string>
#include <string_view>

#include "proxy/event_loop.h"
#include "proxy/server_config.h"

namespace wasmgate::proxy {

enum class SocketError {
  kConnectFailed,     // refused, unreachable, ...
  kConnectTimedOut,   // no answer within the connect timeout
  kConnectionFailed,  // reset, or any read or write error on an established connection
};

class StreamSocket {
 public:
  // What the socket reports, always from the event loop, never from inside a StreamSocket method
  // the owner called. A handler may call the socket's methods (close() included) but must not
  // destroy it: owners go through EventLoop::deferDelete.
  class Handler {
   public:
    // A connect() finished; output written before it is on its way (onWritable follows when it
    // is down to the low watermark).
    virtual void onConnected() {}
    // New bytes are in input().
    virtual void onReadable() = 0;
    // Output that waited for the kernel went out, and at most the write low watermark is left.
    virtual void onWritable() {}
    // The peer sent FIN, after every byte before it went through onReadable. Reading ends there;
    // writing may go on (a half-close).
    virtual void onEndOfStream() = 0;
    // The connection failed; nothing more is reported.
    virtual void onError(SocketError error) = 0;

   protected:
    ~Handler() = default;
  };

  // Work outside socket callbacks that writes to several sockets (plugin callbacks run at the end
  // of a loop turn) opens one of these: flushSoon then waits for its end, as in a callback.
  class FlushScope {
   public:
    FlushScope();
    ~FlushScope();
    FlushScope(const FlushScope&) = delete;
    FlushScope& operator=(const FlushScope&) = delete;
  };

  // Takes a connected non-blocking socket (accepted by a listener) and starts watching it.
  StreamSocket(EventLoop& loop, Handler& handler, evutil_socket_t connectedFd);
  // A socket to connect() next.
  StreamSocket(EventLoop& loop, Handler& handler);
  ~StreamSocket();  // closes the socket
  StreamSocket(const StreamSocket&) = delete;
  StreamSocket& operator=(const StreamSocket&) = delete;

  // Starts a non-blocking connect with TCP_NODELAY; completion comes as onConnected or onError
  // (a zero timeout waits as long as the kernel does). False if it could not even start (an
  // address that does not parse, no socket): then nothing is reported.
  bool connect(const SocketAddress& endpoint, milliseconds timeout);

  bool connecting() const { return state_ == State::kConnecting; }
  bool connected() const { return state_ == State::kOpen; }

  evbuffer* input() const { return input_.get(); }
  evbuffer* output() const { return output_.get(); }
  size_t outputLength() const { return evbuffer_get_length(output_.get()); }

  // Sends `data` now, or as much as the kernel takes; the rest waits in output(). Before the
  // connection is up everything waits for it.
  void write(std::string_view data);
  // The same for a string handed over: a large rest waits in the string itself, not in a copy.
  void writeOwned(std::string data);
  // Sends what was added to output() directly.
  void flush();
  // Sends output() once the current event-loop callback has returned, so that bytes written next
  // in the same callback (a response body after its head) leave in the same system call.
  // Inside a StreamSocket callback that is when the outermost one returns; elsewhere an event
  // activation brings it right after the callback.
  void flushSoon();
  // onWritable comes once output() is at most this long (default 0: empty).
  void setWriteLowWatermark(size_t bytes) { writeLowWatermark_ = bytes; }

  // Back-pressure: stops reading (bytes and a FIN wait in the kernel) until resumed.
  void pauseReading();
  void resumeReading();
  bool readingPaused() const { return readPaused_; }

  // Sends FIN (after what the kernel already holds); reading goes on.
  void shutdownWrite();
  // Stops all reporting and I/O; what waits in output() stays unsent. The socket itself is closed
  // when the object is destroyed.
  void close();

 private:
  enum class State { kIdle, kConnecting, kOpen, kClosed };
  struct EvbufferFree {
    void operator()(evbuffer* b) const { evbuffer_free(b); }
  };
  struct EventFree {
    void operator()(event* e) const { event_free(e); }
  };

  static void onEvent(evutil_socket_t, short what, void* self);
  static void flushDeferred();
  void watch();
  void handleEvent(short what);
  void finishConnect();
  void readAvailable();
  ssize_t readIntoInput(size_t& offered);
  ssize_t readIntoBlock(size_t& offered);
  static std::unique_ptr<char[]> takeReadBlock();
  static void returnReadBlock(const void* data, size_t length, void* unused);
  bool writeOutput();  // false on a write error
  // Sends what the kernel takes of `data` if nothing waits before it; what it sent.
  size_t sendNow(std::string_view data);
  void fail(SocketError error);

  EventLoop& loop_;
  Handler& handler_;
  evutil_socket_t fd_ = -1;
  State state_ = State::kIdle;
  std::unique_ptr<event, EventFree> event_;
  std::unique_ptr<evbuffer, EvbufferFree> input_;
  std::unique_ptr<evbuffer, EvbufferFree> output_;
  std::unique_ptr<Timer> connectTimer_;
  size_t writeLowWatermark_ = 0;
  size_t lastWakeupBytes_ = 0;  // what the previous wake-up read: sizes the next first read
  int connectErrno_ = 0;        // an immediate connect failure, reported from the loop
  bool writeFailed_ = false;    // a write from a method call failed, reported from the loop
  bool flushDeferred_ = false;  // on the per-thread list of flushes for the end of the callback
  bool readPaused_ = false;
  bool peerClosed_ = false;  // EPOLLRDHUP seen: a FIN waits behind the data
  bool endOfStream_ = false;
};

// Moves the first `length` bytes of `buffer` into a string: one copy, however many chains they
// span (evbuffer_pullup would first join them in a new chain), and no zero-filling first.
std::string takeBytes(evbuffer* buffer, size_t length);

}  // namespace wasmgate::proxy
