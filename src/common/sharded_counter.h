// A counter that many threads bump without sharing a cache line: each thread adds to a shard of
// its own (threads beyond kShards share), readers sum the shards. For counters that every worker
// increments on every request; a plain std::atomic there would bounce one line between cores.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace wasmgate {

class ShardedCounter {
 public:
  static constexpr size_t kShards = 16;

  // Adds `n` to this thread's shard; returns the shard's value before (per-thread sampling).
  uint64_t fetch_add(uint64_t n, std::memory_order order = std::memory_order_relaxed) {
    return shards_[shardOfThisThread()].value.fetch_add(n, order);
  }
  ShardedCounter& operator++() {
    fetch_add(1);
    return *this;
  }
  ShardedCounter& operator+=(uint64_t n) {
    fetch_add(n);
    return *this;
  }
  // The sum over all threads; concurrent additions may or may not be in it.
  uint64_t load() const {
    uint64_t sum = 0;
    for (const Shard& shard : shards_) sum += shard.value.load(std::memory_order_relaxed);
    return sum;
  }

 private:
  struct alignas(64) Shard {
    std::atomic<uint64_t> value{0};
  };

  static size_t shardOfThisThread() {
    static std::atomic<size_t> nextShard{0};
    thread_local const size_t shard = nextShard.fetch_add(1, std::memory_order_relaxed) % kShards;
    return shard;
  }

  std::array<Shard, kShards> shards_;
};

}  // namespace wasmgate
