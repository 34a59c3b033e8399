// A thread that interrupts guest calls running past their deadline.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

namespace wasmgate::runtime {

class Watchdog {
 public:
  using Clock = std::chrono::steady_clock;
  Watchdog();
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  // Calls `onExpire` from the watchdog thread if `disarm(token)` has not happened by `deadline`.
  uint64_t arm(Clock::time_point deadline, std::function<void()> onExpire);
  // Returns true if the deadline had already fired. After this returns, onExpire never runs.
  bool disarm(uint64_t token);

 private:
  struct Entry {
    Clock::time_point deadline;
    std::function<void()> onExpire;
  };
  void run();

  std::mutex mutex_;
  std::condition_variable wake_;
  std::map<uint64_t, Entry> armed_;
  std::map<uint64_t, bool> fired_;
  uint64_t nextToken_ = 1;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace wasmgate::runtime
