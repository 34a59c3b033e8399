#include "proxy/event_loop.h"

#include <event2/thread.h>

#include <optional>

#include "runtime/wasm_vm.h"

namespace wasmgate::proxy {
namespace {

event_base* newBase() {
  static const int threadsReady = evthread_use_pthreads();  // once, before any base exists
  (void)threadsReady;
  return event_base_new();
}

timeval toTimeval(std::chrono::milliseconds ms) {
  return timeval{static_cast<time_t>(ms.count() / 1000),
                 static_cast<suseconds_t>((ms.count() % 1000) * 1000)};
}

}  // namespace

EventLoop::EventLoop(VmLocking vmLocking) : base_(newBase()), vmLocking_(vmLocking) {
  wake_ = event_new(base_, -1, EV_PERSIST, &EventLoop::onWake, this);
  event_add(wake_, nullptr);  // stays pending so the loop never runs out of events
}

EventLoop::~EventLoop() {
  toDelete_.clear();
  event_free(wake_);
  event_base_free(base_);
}

void EventLoop::run() {
  while (!stopping_.load(std::memory_order_acquire)) {
    // One turn: wait for events, run their callbacks. With kPerTurn, plugin VMs called during the
    // turn stay locked by this thread until it ends, so each pays for its lock once per turn.
    std::optional<runtime::CallBatch> batch;
    if (vmLocking_ == VmLocking::kPerTurn) batch.emplace();
    event_base_loop(base_, EVLOOP_ONCE);
  }
}

void EventLoop::stop() {
  stopping_.store(true, std::memory_order_release);
  event_active(wake_, EV_READ, 0);  // ends the turn the loop may be blocked in
}

void EventLoop::post(std::function<void()> task) {
  {
    std::lock_guard lock(mutex_);
    tasks_.push_back(std::move(task));
  }
  event_active(wake_, EV_READ, 0);
}

void EventLoop::deferDelete(std::unique_ptr<Deletable> object) {
  toDelete_.push_back(std::move(object));
  event_active(wake_, EV_READ, 0);
}

void EventLoop::onWake(evutil_socket_t, short, void* self) {
  auto* loop = static_cast<EventLoop*>(self);
  // Objects doomed before this wake die after its tasks ran: a task queued beside a deletion
  // still finds its object alive (closed, but alive).
  std::vector<std::unique_ptr<Deletable>> doomed = std::move(loop->toDelete_);
  loop->toDelete_.clear();
  std::vector<std::function<void()>> tasks;
  {
    std::lock_guard lock(loop->mutex_);
    tasks.swap(loop->tasks_);
  }
  for (auto& task : tasks) task();
  doomed.clear();
}

Timer::Timer(EventLoop& loop, std::function<void()> onFire)
    : event_(evtimer_new(loop.base(), &Timer::onTimer, this)), onFire_(std::move(onFire)) {}

Timer::~Timer() {
  event_free(event_);
}

void Timer::arm(std::chrono::milliseconds after) {
  timeval tv = toTimeval(after);
  evtimer_add(event_, &tv);
}

void Timer::cancel() {
  evtimer_del(event_);
}

bool Timer::armed() const {
  return evtimer_pending(event_, nullptr) != 0;
}

void Timer::onTimer(evutil_socket_t, short, void* self) {
  static_cast<Timer*>(self)->onFire_();
}

PassEndCall::PassEndCall(EventLoop& loop, std::function<void()> run)
    : event_(event_new(loop.base(), -1, 0, &PassEndCall::onActive, this)), run_(std::move(run)) {}

PassEndCall::~PassEndCall() {
  event_free(event_);
}

void PassEndCall::request() {
  if (requested_) return;
  requested_ = true;
  event_active(event_, EV_READ, 0);
}

void PassEndCall::onActive(evutil_socket_t, short, void* self) {
  auto* call = static_cast<PassEndCall*>(self);
  call->requested_ = false;
  call->run_();
}

}  // namespace wasmgate::proxy
