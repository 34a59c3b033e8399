#include "common/sharded_counter.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace wasmgate {
namespace {

TEST(ShardedCounterTest, SumsWhatEveryThreadAdded) {
  ShardedCounter counter;
  constexpr int kThreads = 20;  // more threads than shards: some share one
  constexpr int kAdds = 10000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&counter] {
      for (int i = 0; i < kAdds; ++i) {
        ++counter;
        counter += 2;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(counter.load(), uint64_t{kThreads} * kAdds * 3);
}

TEST(ShardedCounterTest, FetchAddReturnsThisThreadsShardBefore) {
  ShardedCounter counter;
  EXPECT_EQ(counter.fetch_add(5), 0u);
  EXPECT_EQ(counter.fetch_add(1), 5u);
  uint64_t otherBefore = 0;
  std::thread([&] { otherBefore = counter.fetch_add(1); }).join();
  EXPECT_EQ(counter.load(), 7u);
  // Another thread's shard is its own unless the shards ran out; either way it saw at most 6.
  EXPECT_LE(otherBefore, 6u);
}

}  // namespace
}  // namespace wasmgate
