// IdTable<T>: objects owned by non-zero 32-bit ids, as the SDK keeps its contexts. The host numbers
// contexts 1, 2, 3, ... and a stream's context is made and dropped for every request, so the
// table is one array with open addressing and linear probing: no allocation per entry, as a
// node-based map would make, and a look-up is a few compares. Deleting shifts the entries behind
// back into place, so there are no tombstones to clean up. Free of host calls: it compiles and is
// tested natively too.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

namespace wasmgate::detail {

template <class T>
class IdTable {
 public:
  // The object of `id`, or nullptr.
  T* find(uint32_t id) const {
    if (id == 0 || slots_.empty()) return nullptr;
    for (size_t i = home(id);; i = next(i)) {
      if (slots_[i].id == id) return slots_[i].object.get();
      if (slots_[i].id == 0) return nullptr;
    }
  }

  // Stores `object` under `id` (not 0), destroying what was there before.
  void insert(uint32_t id, std::unique_ptr<T> object) {
    if (id == 0) return;
    if ((size_ + 1) * 2 > slots_.size()) grow();
    size_t i = home(id);
    while (slots_[i].id != 0 && slots_[i].id != id) i = next(i);
    if (slots_[i].id == 0) ++size_;
    std::unique_ptr<T> previous = std::exchange(slots_[i].object, std::move(object));
    slots_[i].id = id;
    previous.reset();  // last: its destructor may use the table
  }

  // Takes the object of `id` out of the table (nullptr if there is none).
  std::unique_ptr<T> take(uint32_t id) {
    if (id == 0 || slots_.empty()) return nullptr;
    size_t i = home(id);
    while (slots_[i].id != id) {
      if (slots_[i].id == 0) return nullptr;
      i = next(i);
    }
    std::unique_ptr<T> object = std::move(slots_[i].object);
    slots_[i].id = 0;
    --size_;
    // Entries after the hole that probed past it move back into it, so that every entry stays
    // reachable from its home slot without crossing an empty one.
    for (size_t hole = i, j = next(i); slots_[j].id != 0; j = next(j)) {
      size_t want = home(slots_[j].id);
      bool reachable = hole <= j ? (want > hole && want <= j) : (want > hole || want <= j);
      if (reachable) continue;
      slots_[hole] = std::move(slots_[j]);
      slots_[j].id = 0;
      hole = j;
    }
    return object;
  }

  size_t size() const { return size_; }

 private:
  struct Slot {
    uint32_t id = 0;
    std::unique_ptr<T> object;
  };

  size_t home(uint32_t id) const { return (id * 2654435769u) & (slots_.size() - 1); }
  size_t next(size_t i) const { return (i + 1) & (slots_.size() - 1); }

  void grow() {
    std::vector<Slot> old =
        std::exchange(slots_, std::vector<Slot>(slots_.empty() ? 16 : 2 * slots_.size()));
    for (Slot& s : old) {
      if (s.id == 0) continue;
      size_t i = home(s.id);
      while (slots_[i].id != 0) i = next(i);
      slots_[i] = std::move(s);
    }
  }

  std::vector<Slot> slots_;  // a power of two long, at most half full
  size_t size_ = 0;
};

}  // namespace wasmgate::detail
