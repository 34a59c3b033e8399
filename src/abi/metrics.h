// Plugin-defined metrics: one store per plugin, shared by its VMs on every worker.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "abi/abi_types.h"

namespace wasmgate::abi {

class MetricStore {
 public:
  // Histogram bucket upper bounds; a final +Inf bucket is implied.
  static constexpr double kBuckets[] = {0.5,   1,      5,      10,      25,     50,    100,
                                        250,   500,    1000,   2500,    5000,   10000, 30000,
                                        60000, 300000, 600000, 1800000, 3600000};
  static constexpr size_t kBucketCount = std::size(kBuckets) + 1;

  struct Snapshot {
    std::string name;
    MetricType type;
    int64_t value = 0;   // counter and gauge
    uint64_t count = 0;  // histogram
    int64_t sum = 0;
    std::vector<uint64_t> buckets;  // cumulative counts per bound in kBuckets, then +Inf
  };

  // The same name and type give the same id. Ids carry the type in their low two bits.
  uint32_t define(MetricType type, std::string_view name);
  WasmResult increment(uint32_t id, int64_t delta);
  WasmResult record(uint32_t id, int64_t value);
  WasmResult get(uint32_t id, uint64_t& value);
  std::vector<Snapshot> snapshot();

 private:
  struct Metric {
    std::string name;
    MetricType type;
    std::atomic<int64_t> value{0};
    std::atomic<uint64_t> count{0};
    std::atomic<int64_t> sum{0};
    std::atomic<uint64_t> buckets[kBucketCount] = {};
  };
  Metric* find(uint32_t id);

  std::mutex mutex_;
  std::deque<Metric> metrics_;  // stable addresses; never shrinks
  std::map<std::pair<std::string, MetricType>, uint32_t> byName_;
};

}  // namespace wasmgate::abi
