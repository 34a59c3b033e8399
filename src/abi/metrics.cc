#include "abi/metrics.h"

namespace wasmgate::abi {

uint32_t MetricStore::define(MetricType type, std::string_view name) {
  std::lock_guard lock(mutex_);
  auto key = std::make_pair(std::string(name), type);
  auto it = byName_.find(key);
  if (it != byName_.end()) return it->second;
  uint32_t id = static_cast<uint32_t>(metrics_.size()) << 2 | static_cast<uint32_t>(type);
  Metric& m = metrics_.emplace_back();
  m.name = std::string(name);
  m.type = type;
  byName_.emplace(std::move(key), id);
  return id;
}

MetricStore::Metric* MetricStore::find(uint32_t id) {
  std::lock_guard lock(mutex_);
  size_t index = id >> 2;
  if (index >= metrics_.size() || static_cast<uint32_t>(metrics_[index].type) != (id & 3)) {
    return nullptr;
  }
  return &metrics_[index];
}

WasmResult MetricStore::increment(uint32_t id, int64_t delta) {
  Metric* m = find(id);
  if (!m) return WasmResult::kNotFound;
  if (m->type == MetricType::kHistogram) return WasmResult::kBadArgument;
  if (m->type == MetricType::kCounter && delta <= 0) return WasmResult::kBadArgument;
  m->value.fetch_add(delta, std::memory_order_relaxed);
  return WasmResult::kOk;
}

WasmResult MetricStore::record(uint32_t id, int64_t value) {
  Metric* m = find(id);
  if (!m) return WasmResult::kNotFound;
  switch (m->type) {
    case MetricType::kCounter:
      m->value.fetch_add(value, std::memory_order_relaxed);
      break;
    case MetricType::kGauge:
      m->value.store(value, std::memory_order_relaxed);
      break;
    case MetricType::kHistogram: {
      size_t bucket = 0;
      while (bucket < std::size(kBuckets) && static_cast<double>(value) > kBuckets[bucket])
        ++bucket;
      m->buckets[bucket].fetch_add(1, std::memory_order_relaxed);
      m->count.fetch_add(1, std::memory_order_relaxed);
      m->sum.fetch_add(value, std::memory_order_relaxed);
      break;
    }
  }
  return WasmResult::kOk;
}

WasmResult MetricStore::get(uint32_t id, uint64_t& value) {
  Metric* m = find(id);
  if (!m) return WasmResult::kNotFound;
  if (m->type == MetricType::kHistogram) return WasmResult::kBadArgument;
  value = static_cast<uint64_t>(m->value.load(std::memory_order_relaxed));
  return WasmResult::kOk;
}

std::vector<MetricStore::Snapshot> MetricStore::snapshot() {
  std::lock_guard lock(mutex_);
  std::vector<Snapshot> out;
  for (const Metric& m : metrics_) {
    Snapshot s{m.name, m.type, m.value.load(), m.count.load(), m.sum.load(), {}};
    uint64_t cumulative = 0;
    for (const auto& b : m.buckets) {
      cumulative += b.load();
      s.buckets.push_back(cumulative);
    }
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace wasmgate::abi
