// A worker's event loop: libevent's event_base, timers, and tasks posted from other threads.
#pragma once

#include <event2/event.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

namespace wasmgate::proxy {

// Objects destroyed by the loop after the current callback returns (see EventLoop::deferDelete).
class Deletable {
 public:
  virtual ~Deletable() = default;
};

class EventLoop {
 public:
  // How the loop's thread locks the plugin VMs it calls. kPerTurn (worker loops) keeps each VM
  // locked from its first call in a loop turn to the end of the turn (runtime::CallBatch); only a
  // loop whose tasks never wait on another thread may use it, or the two could wait on each other.
  enum class VmLocking { kPerCall, kPerTurn };

  explicit EventLoop(VmLocking vmLocking = VmLocking::kPerCall);
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  event_base* base() const { return base_; }
  void run();   // until stop()
  void stop();  // from any thread
  // Runs `task` on the loop's thread soon; callable from any thread.
  void post(std::function<void()> task);
  // Runs `task` on the loop's thread after the current callback: never re-entrantly.
  void defer(std::function<void()> task) { post(std::move(task)); }
  // Destroys `object` after the current callback: objects that may be on the call stack (a
  // connection inside its own read callback) are never deleted under it.
  void deferDelete(std::unique_ptr<Deletable> object);

 private:
  static void onWake(evutil_socket_t, short, void* self);
  event_base* base_;
  VmLocking vmLocking_;
  event* wake_;
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  std::vector<std::function<void()>> tasks_;
  std::vector<std::unique_ptr<Deletable>> toDelete_;  // loop thread only
};

// A one-shot or repeating timer on a loop; cancelled when destroyed.
class Timer {
 public:
  Timer(EventLoop& loop, std::function<void()> onFire);
  ~Timer();
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  void arm(std::chrono::milliseconds after);  // replaces any earlier arming
  void cancel();
  bool armed() const;

 private:
  static void onTimer(evutil_socket_t, short, void* self);
  event* event_;
  std::function<void()> onFire_;
};

// Work gathered over a loop pass and done once after the callbacks already due in it: libevent
// runs active events first in, first out, so a request() made from those callbacks runs after
// all of them, and what the work in turn activates (a deferred deletion, a read) still runs in
// the same pass. Requests before it runs are one. Loop thread only.
class PassEndCall {
 public:
  PassEndCall(EventLoop& loop, std::function<void()> run);
  ~PassEndCall();
  PassEndCall(const PassEndCall&) = delete;
  PassEndCall& operator=(const PassEndCall&) = delete;

  void request();

 private:
  static void onActive(evutil_socket_t, short, void* self);
  event* event_;
  std::function<void()> run_;
  bool requested_ = false;
};

}  // namespace wasmgate::proxy
