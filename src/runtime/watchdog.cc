#include "runtime/watchdog.h"

namespace wasmgate::runtime {

Watchdog::Watchdog() : thread_([this] { run(); }) {}

Watchdog::~Watchdog() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

uint64_t Watchdog::arm(Clock::time_point deadline, std::function<void()> onExpire) {
  uint64_t token;
  {
    std::lock_guard lock(mutex_);
    token = nextToken_++;
    armed_.emplace(token, Entry{deadline, std::move(onExpire)});
  }
  wake_.notify_all();
  return token;
}

bool Watchdog::disarm(uint64_t token) {
  std::lock_guard lock(mutex_);
  armed_.erase(token);
  auto it = fired_.find(token);
  if (it == fired_.end()) return false;
  fired_.erase(it);
  return true;
}

void Watchdog::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    auto next = Clock::time_point::max();
    for (const auto& [token, entry] : armed_) next = std::min(next, entry.deadline);
    if (next == Clock::time_point::max()) {
      wake_.wait(lock);
      continue;
    }
    wake_.wait_until(lock, next);
    auto now = Clock::now();
    for (auto it = armed_.begin(); it != armed_.end();) {
      if (it->second.deadline <= now) {
        // Runs under the lock, so a concurrent disarm() either precedes it or sees `fired_`.
        it->second.onExpire();
        fired_[it->first] = true;
        it = armed_.erase(it);
      } else {
        ++it;
      }
    }
  }
}

}  // namespace wasmgate::runtime
