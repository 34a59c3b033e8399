#include "runtime/watchdog.h"

#include <time.h>

namespace wasmgate::runtime {

CoarseMonotonicClock::time_point CoarseMonotonicClock::now() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return time_point(std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec));
}

void Watchdog::Slot::arm(Clock::time_point deadline) {
  state_.store(std::max<int64_t>(1, deadline.time_since_epoch().count()),
               std::memory_order_release);
}

bool Watchdog::Slot::disarm() {
  while (true) {
    int64_t state = state_.load(std::memory_order_acquire);
    if (state == kFiring) {
      std::this_thread::yield();  // the watchdog is interrupting this call right now
      continue;
    }
    if (state_.compare_exchange_weak(state, kDisarmed, std::memory_order_acq_rel))
      return state == kFired;
  }
}

Watchdog::Watchdog() : thread_([this] { run(); }) {}

Watchdog::~Watchdog() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

Watchdog::Slot* Watchdog::addSlot(std::function<void()> onExpire) {
  std::lock_guard lock(mutex_);
  Slot& slot = slots_.emplace_back();
  slot.onExpire_ = std::move(onExpire);
  if (slots_.size() == 1) wake_.notify_all();  // the thread sleeps while there is nothing to watch
  return &slot;
}

void Watchdog::removeSlot(Slot* slot) {
  std::lock_guard lock(mutex_);
  slots_.remove_if([slot](const Slot& s) { return &s == slot; });
}

void Watchdog::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    if (slots_.empty()) {
      wake_.wait(lock, [this] { return stopping_ || !slots_.empty(); });
      continue;
    }
    wake_.wait_for(lock, kResolution);
    int64_t now = Clock::now().time_since_epoch().count();
    for (Slot& slot : slots_) {
      int64_t state = slot.state_.load(std::memory_order_acquire);
      if (state <= 0 || state > now) continue;
      if (!slot.state_.compare_exchange_strong(state, Slot::kFiring, std::memory_order_acq_rel))
        continue;
      slot.onExpire_();
      slot.state_.store(Slot::kFired, std::memory_order_release);
    }
  }
}

}  // namespace wasmgate::runtime
