// A thread that interrupts guest calls running past their deadline. Arming and disarming are a
// store and a compare-and-swap on the caller's own slot: no lock and no wake-up on the call path;
// the watchdog thread scans the slots every few milliseconds.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <list>
#include <mutex>
#include <thread>

namespace wasmgate::runtime {

// CLOCK_MONOTONIC_COARSE: a few nanoseconds to read where a precise clock costs ~20 ns, and
// arming happens on every guest call. It advances once per kernel tick (1-4 ms), which the
// watchdog's own scan period already rounds away.
struct CoarseMonotonicClock {
  using duration = std::chrono::nanoseconds;
  using rep = duration::rep;
  using period = duration::period;
  using time_point = std::chrono::time_point<CoarseMonotonicClock>;
  static constexpr bool is_steady = true;
  static time_point now() noexcept;
};

class Watchdog {
 public:
  using Clock = CoarseMonotonicClock;
  // How late past its deadline a call may be interrupted: the scan period plus a clock tick.
  static constexpr std::chrono::milliseconds kResolution{5};

  class Slot {
   public:
    void arm(Clock::time_point deadline);
    // True if the deadline fired (onExpire ran). After this returns onExpire is not running.
    bool disarm();

   private:
    friend class Watchdog;
    static constexpr int64_t kDisarmed = 0, kFiring = -1, kFired = -2;
    std::atomic<int64_t> state_{kDisarmed};  // > 0: the deadline, in clock ticks
    std::function<void()> onExpire_;
  };

  Watchdog();
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  // One slot per instance; `onExpire` runs on the watchdog thread.
  Slot* addSlot(std::function<void()> onExpire);
  void removeSlot(Slot* slot);

 private:
  void run();

  std::mutex mutex_;
  std::condition_variable wake_;
  std::list<Slot> slots_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace wasmgate::runtime
