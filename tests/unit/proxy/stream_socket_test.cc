// StreamSocket against real loopback TCP peers: reads up to a FIN (also one queued before the
// socket is watched), bounded reads per wake-up, writes the kernel refuses, read pausing, connect
// success, refusal and timeout, and errors reported from the loop.
#include "proxy/stream_socket.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "proxy/limits.h"

namespace wasmgate::proxy {
namespace {

using namespace std::chrono_literals;

// A file descriptor closed on destruction.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    std::swap(fd_, other.fd_);
    return *this;
  }
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

Fd listenOn(uint16_t& port, int backlog = 16) {
  Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  EXPECT_EQ(::listen(fd.get(), backlog), 0);
  socklen_t length = sizeof(address);
  getsockname(fd.get(), reinterpret_cast<sockaddr*>(&address), &length);
  port = ntohs(address.sin_port);
  return fd;
}

Fd connectTo(uint16_t port) {
  Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(port);
  EXPECT_EQ(::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  return fd;
}

// A connected pair: `ours` non-blocking (for a StreamSocket), `peer` blocking (for the test).
struct Pair {
  Fd ours;
  Fd peer;
};

Pair connectedPair() {
  uint16_t port = 0;
  Fd listener = listenOn(port);
  Pair pair;
  pair.peer = connectTo(port);
  pair.ours = Fd(::accept4(listener.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
  return pair;
}

// A pair whose peer takes little into its receive buffer, so that the kernel soon refuses ours.
Pair connectedPairWithSmallPeerBuffer() {
  Pair pair = connectedPair();
  int small = 64 * 1024;
  setsockopt(pair.peer.get(), SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
  return pair;
}

void sendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t sent = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    ASSERT_GT(sent, 0);
    data.remove_prefix(static_cast<size_t>(sent));
  }
}

// `size` bytes of a pattern that repeats every `period` bytes (a prime, so chunk boundaries
// never line up with it).
std::string patterned(size_t size, unsigned step, unsigned period) {
  std::string out(size, '\0');
  for (size_t i = 0; i < size; ++i) out[i] = static_cast<char>(i * step % period);
  return out;
}

// Reads from `fd` on another thread into `out` until `want` bytes came or the peer closed.
std::thread readOnAnotherThread(int fd, size_t want, std::string& out) {
  return std::thread([fd, want, &out] {
    char chunk[65536];
    while (out.size() < want) {
      ssize_t got = ::recv(fd, chunk, sizeof(chunk), 0);
      if (got <= 0) break;
      out.append(chunk, static_cast<size_t>(got));
    }
  });
}

std::string takeAll(evbuffer* buffer) {
  std::string out(evbuffer_get_length(buffer), '\0');
  evbuffer_remove(buffer, out.data(), out.size());
  return out;
}

// Records what the socket reports; each callback may run an extra action.
struct Recorder : StreamSocket::Handler {
  void onConnected() override { events.push_back("connected"); }
  void onReadable() override {
    events.push_back("readable");
    size_t now = evbuffer_get_length(socket->input());
    largestRead = std::max(largestRead, now - lastInputLength);
    lastInputLength = now;
    if (whenReadable) whenReadable();
    lastInputLength = evbuffer_get_length(socket->input());
  }
  void onWritable() override { events.push_back("writable"); }
  void onEndOfStream() override { events.push_back("eof"); }
  void onError(SocketError e) override {
    events.push_back("error");
    error = e;
  }
  bool saw(const std::string& event) const {
    return std::find(events.begin(), events.end(), event) != events.end();
  }

  StreamSocket* socket = nullptr;
  std::vector<std::string> events;
  std::optional<SocketError> error;
  std::function<void()> whenReadable;
  size_t lastInputLength = 0;
  size_t largestRead = 0;
};

// Turns the loop until `done` or the deadline; false on the deadline.
bool runUntil(EventLoop& loop, const std::function<bool()>& done,
              std::chrono::milliseconds limit = 5s) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    event_base_loop(loop.base(), EVLOOP_NONBLOCK);
    if (!done()) usleep(1000);
  }
  return true;
}

TEST(StreamSocketTest, ReadsUntilTheFinAndReportsTheEndAfterTheBytes) {
  EventLoop loop;
  Pair pair = connectedPair();
  Recorder recorder;
  StreamSocket socket(loop, recorder, pair.ours.release());
  recorder.socket = &socket;
  std::string received;
  recorder.whenReadable = [&] { received += takeAll(socket.input()); };
  sendAll(pair.peer.get(), "GET / HTTP/1.1\r\n\r\n");
  ASSERT_TRUE(runUntil(loop, [&] { return received.size() == 18; }));
  sendAll(pair.peer.get(), "more");
  ::shutdown(pair.peer.get(), SHUT_WR);
  ASSERT_TRUE(runUntil(loop, [&] { return recorder.saw("eof"); }));
  EXPECT_EQ(received, "GET / HTTP/1.1\r\n\r\nmore");
  EXPECT_EQ(recorder.events.back(), "eof");
  EXPECT_FALSE(recorder.error);
}

TEST(StreamSocketTest, BytesAndFinQueuedBeforeWatchingAreBothSeen) {
  EventLoop loop;
  Pair pair = connectedPair();
  sendAll(pair.peer.get(), "early bytes");
  ::shutdown(pair.peer.get(), SHUT_WR);
  usleep(20000);
  Recorder recorder;
  StreamSocket socket(loop, recorder, pair.ours.release());
  recorder.socket = &socket;
  ASSERT_TRUE(runUntil(loop, [&] { return recorder.saw("eof"); }));
  EXPECT_EQ(takeAll(socket.input()), "early bytes");
  EXPECT_EQ(recorder.events, (std::vector<std::string>{"readable", "eof"}));
}

TEST(StreamSocketTest, ReadsAreBoundedPerWakeUpAndNothingIsLost) {
  EventLoop loop;
  Pair pair = connectedPair();
  int big = 4 * 1024 * 1024;
  setsockopt(pair.peer.get(), SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
  Recorder recorder;
  StreamSocket socket(loop, recorder, pair.ours.release());
  recorder.socket = &socket;
  std::string payload = patterned(3 * 1024 * 1024, 7, 251);
  std::thread sender([&] {
    sendAll(pair.peer.get(), payload);
    ::shutdown(pair.peer.get(), SHUT_WR);
  });
  ASSERT_TRUE(runUntil(
      loop, [&] { return recorder.saw("eof"); }, 20s));
  sender.join();
  EXPECT_EQ(takeAll(socket.input()), payload);
  // One wake-up reads its budget plus at most one more read's worth.
  EXPECT_LE(recorder.largestRead, kMaxSingleReadBytes + 64 * 1024);
}

TEST(StreamSocketTest, WritesWhatTheKernelRefusesWhenThePeerReads) {
  EventLoop loop;
  Pair pair = connectedPairWithSmallPeerBuffer();
  Recorder recorder;
  StreamSocket socket(loop, recorder, pair.ours.release());
  recorder.socket = &socket;
  std::string payload = patterned(8 * 1024 * 1024, 13, 241);
  socket.write(payload.substr(0, 1000));
  socket.write(payload.substr(1000));
  EXPECT_GT(socket.outputLength(), 0u);  // the kernel cannot hold 8 MiB for a peer not reading
  std::string received;
  std::thread reader = readOnAnotherThread(pair.peer.get(), payload.size(), received);
  ASSERT_TRUE(runUntil(
      loop, [&] { return socket.outputLength() == 0; }, 20s));
  reader.join();
  EXPECT_TRUE(recorder.saw("writable"));
  EXPECT_TRUE(received == payload);
}

TEST(StreamSocketTest, AHandedOverStringWaitsInPlaceUntilThePeerReads) {
  EventLoop loop;
  Pair pair = connectedPairWithSmallPeerBuffer();
  Recorder recorder;
  StreamSocket socket(loop, recorder, pair.ours.release());
  recorder.socket = &socket;
  std::string payload = patterned(8 * 1024 * 1024, 17, 239);
  socket.writeOwned(payload);
  socket.write("tail");
  EXPECT_GT(socket.outputLength(), 4u);
  std::string received;
  std::thread reader = readOnAnotherThread(pair.peer.get(), payload.size() + 4, received);
  ASSERT_TRUE(runUntil(
      loop, [&] { return socket.outputLength() == 0; }, 20s));
  reader.join();
  EXPECT_TRUE(received == payload + "tail");
}

TEST(StreamSocketTest, TakeBytesCopiesAcrossChainsAndLeavesTheRest) {
  std::unique_ptr<evbuffer, decltype(&evbuffer_free)> buffer(evbuffer_new(), &evbuffer_free);
  static constexpr std::string_view kReferenced = "defgh";
  evbuffer_add(buffer.get(), "abc", 3);
  evbuffer_add_reference(buffer.get(), kReferenced.data(), kReferenced.size(), nullptr, nullptr);
  EXPECT_EQ(takeBytes(buffer.get(), 6), "abcdef");
  EXPECT_EQ(takeAll(buffer.get()), "gh");
  EXPECT_EQ(takeBytes(buffer.get(), 0), "");
}

TEST(StreamSocketTest, FlushSoonSendsOnceTheCallbackReturns) {
  EventLoop loop;
  Pair pair = connectedPair();
  Recorder recorder;
  StreamSocket socket(loop, recorder, pair.ours.release());
  recorder.socket = &socket;
  evbuffer_add(socket.output(), "head ", 5);
  socket.flushSoon();
  EXPECT_EQ(socket.outputLength(), 5u);  // held until the loop runs
  evbuffer_add(socket.output(), "body", 4);
  ASSERT_TRUE(runUntil(loop, [&] { return socket.outputLength() == 0; }));
  char buffer[16] = {};
  ASSERT_EQ(::recv(pair.peer.get(), buffer, sizeof(buffer), 0), 9);
  EXPECT_EQ(std::string(buffer), "head body");
}

TEST(StreamSocketTest, FlushSoonInsideASocketCallbackSendsAsTheCallbackReturns) {
  EventLoop loop;
  Pair inbound = connectedPair();
  Pair outbound = connectedPair();
  Recorder inRecorder;
  Recorder outRecorder;
  StreamSocket in(loop, inRecorder, inbound.ours.release());
  StreamSocket out(loop, outRecorder, outbound.ours.release());
  inRecorder.socket = &in;
  outRecorder.socket = &out;
  size_t heldDuringCallback = 0;
  inRecorder.whenReadable = [&] {
    evbuffer_add(out.output(), "head ", 5);
    out.flushSoon();
    evbuffer_add_buffer(out.output(), in.input());
    heldDuringCallback = out.outputLength();
  };
  sendAll(inbound.peer.get(), "body");
  ASSERT_TRUE(runUntil(loop, [&] { return inRecorder.saw("readable"); }));
  EXPECT_EQ(heldDuringCallback, 9u);
  EXPECT_EQ(out.outputLength(), 0u);  // sent when the callback returned, not on a later turn
  char buffer[16] = {};
  ASSERT_EQ(::recv(outbound.peer.get(), buffer, sizeof(buffer), 0), 9);
  EXPECT_EQ(std::string(buffer), "head body");
}

TEST(StreamSocketTest, PausedReadingHoldsBytesAndTheFinUntilResumed) {
  EventLoop loop;
  Pair pair = connectedPair();
  Recorder recorder;
  StreamSocket socket(loop, recorder, pair.ours.release());
  recorder.socket = &socket;
  recorder.whenReadable = [&] { socket.pauseReading(); };
  sendAll(pair.peer.get(), "first");
  ASSERT_TRUE(runUntil(loop, [&] { return recorder.saw("readable"); }));
  EXPECT_TRUE(socket.readingPaused());
  sendAll(pair.peer.get(), "second");
  ::shutdown(pair.peer.get(), SHUT_WR);
  EXPECT_FALSE(runUntil(
      loop, [&] { return recorder.events.size() > 1; }, 200ms));
  EXPECT_EQ(takeAll(socket.input()), "first");
  recorder.whenReadable = nullptr;
  socket.resumeReading();
  ASSERT_TRUE(runUntil(loop, [&] { return recorder.saw("eof"); }));
  EXPECT_EQ(takeAll(socket.input()), "second");
  EXPECT_EQ(recorder.events, (std::vector<std::string>{"readable", "readable", "eof"}));
}

TEST(StreamSocketTest, ConnectsAndSendsWhatWasWrittenBefore) {
  EventLoop loop;
  uint16_t port = 0;
  Fd listener = listenOn(port);
  Recorder recorder;
  StreamSocket socket(loop, recorder);
  recorder.socket = &socket;
  ASSERT_TRUE(socket.connect(SocketAddress{"127.0.0.1", port}, 1000ms));
  socket.write("before connect");
  EXPECT_TRUE(socket.connecting());
  ASSERT_TRUE(runUntil(loop, [&] { return recorder.saw("connected"); }));
  EXPECT_TRUE(socket.connected());
  // What waited for the connection went out with it, as after any wait for the kernel.
  EXPECT_EQ(recorder.events, (std::vector<std::string>{"connected", "writable"}));
  Fd accepted(::accept(listener.get(), nullptr, nullptr));
  char buffer[32] = {};
  ASSERT_EQ(::recv(accepted.get(), buffer, sizeof(buffer), 0), 14);
  EXPECT_EQ(std::string(buffer), "before connect");
  sendAll(accepted.get(), "answer");
  ASSERT_TRUE(runUntil(loop, [&] { return recorder.saw("readable"); }));
  EXPECT_EQ(takeAll(socket.input()), "answer");
}

TEST(StreamSocketTest, ARefusedConnectIsAnErrorFromTheLoop) {
  EventLoop loop;
  uint16_t port = 0;
  { Fd closedAgain = listenOn(port); }
  Recorder recorder;
  StreamSocket socket(loop, recorder);
  recorder.socket = &socket;
  ASSERT_TRUE(socket.connect(SocketAddress{"127.0.0.1", port}, 1000ms));
  EXPECT_TRUE(recorder.events.empty());
  ASSERT_TRUE(runUntil(loop, [&] { return recorder.error.has_value(); }));
  EXPECT_EQ(*recorder.error, SocketError::kConnectFailed);
  EXPECT_EQ(recorder.events, (std::vector<std::string>{"error"}));
}

TEST(StreamSocketTest, AnUnparsableAddressDoesNotStart) {
  EventLoop loop;
  Recorder recorder;
  StreamSocket socket(loop, recorder);
  EXPECT_FALSE(socket.connect(SocketAddress{"not an address", 80}, 1000ms));
}

TEST(StreamSocketTest, ConnectTimesOutWhenThePeerNeverAnswers) {
  EventLoop loop;
  uint16_t port = 0;
  // A full accept queue makes the kernel drop further SYNs: the connect hangs.
  Fd listener = listenOn(port, 0);
  std::vector<Fd> filling;
  for (int i = 0; i < 2; ++i) {
    Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(port);
    ::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address));
    filling.push_back(std::move(fd));
  }
  usleep(50000);
  Recorder recorder;
  StreamSocket socket(loop, recorder);
  recorder.socket = &socket;
  auto started = std::chrono::steady_clock::now();
  ASSERT_TRUE(socket.connect(SocketAddress{"127.0.0.1", port}, 150ms));
  ASSERT_TRUE(runUntil(loop, [&] { return recorder.error.has_value(); }));
  EXPECT_EQ(*recorder.error, SocketError::kConnectTimedOut);
  EXPECT_GE(std::chrono::steady_clock::now() - started, 140ms);
}

TEST(StreamSocketTest, AWriteToAResetPeerFailsFromTheLoopNotTheCaller) {
  EventLoop loop;
  Pair pair = connectedPair();
  Recorder recorder;
  StreamSocket socket(loop, recorder, pair.ours.release());
  recorder.socket = &socket;
  socket.pauseReading();  // the read side would see the reset first
  linger abort{1, 0};
  setsockopt(pair.peer.get(), SOL_SOCKET, SO_LINGER, &abort, sizeof(abort));
  pair.peer = Fd();  // closed with RST
  EXPECT_FALSE(runUntil(
      loop, [&] { return !recorder.events.empty(); }, 100ms));
  socket.write("too late");
  EXPECT_TRUE(recorder.events.empty());
  ASSERT_TRUE(runUntil(loop, [&] { return recorder.error.has_value(); }));
  EXPECT_EQ(*recorder.error, SocketError::kConnectionFailed);
  EXPECT_EQ(recorder.events, (std::vector<std::string>{"error"}));
}

}  // namespace
}  // namespace wasmgate::proxy
