// IdTable (sdk/cpp/include/wasmgate/id_table.h), the SDK's table of contexts by id, against a
// std::map model: look-ups after every insertion and removal, including removals that must move
// the entries probed past a hole back, and growth.
#include "wasmgate/id_table.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <random>

namespace wasmgate::detail {
namespace {

struct Tracked {
  explicit Tracked(uint32_t v, int* live) : value(v), live(live) { ++*live; }
  ~Tracked() { --*live; }
  uint32_t value;
  int* live;
};

TEST(IdTableTest, FindsWhatWasInsertedAndNothingElse) {
  int live = 0;
  IdTable<Tracked> table;
  EXPECT_EQ(table.find(1), nullptr);
  EXPECT_EQ(table.take(1), nullptr);
  table.insert(7, std::make_unique<Tracked>(70, &live));
  table.insert(8, std::make_unique<Tracked>(80, &live));
  ASSERT_NE(table.find(7), nullptr);
  EXPECT_EQ(table.find(7)->value, 70u);
  EXPECT_EQ(table.find(8)->value, 80u);
  EXPECT_EQ(table.find(9), nullptr);
  EXPECT_EQ(table.find(0), nullptr);
  EXPECT_EQ(table.size(), 2u);
  table.insert(7, std::make_unique<Tracked>(71, &live));  // replaces, destroying the old one
  EXPECT_EQ(table.find(7)->value, 71u);
  EXPECT_EQ(table.size(), 2u);
  EXPECT_EQ(live, 2);
  std::unique_ptr<Tracked> taken = table.take(7);
  ASSERT_NE(taken, nullptr);
  EXPECT_EQ(taken->value, 71u);
  EXPECT_EQ(table.find(7), nullptr);
  EXPECT_EQ(table.size(), 1u);
  taken.reset();
  EXPECT_EQ(live, 1);
}

TEST(IdTableTest, IdZeroIsNeverStored) {
  int live = 0;
  IdTable<Tracked> table;
  table.insert(0, std::make_unique<Tracked>(1, &live));
  EXPECT_EQ(table.size(), 0u);
  EXPECT_EQ(live, 0);
}

// Requests come and go: a sliding window of consecutive ids with some long-lived ones, and random
// operations, each checked against a model.
TEST(IdTableTest, MatchesAModelUnderRandomInsertionsAndRemovals) {
  int live = 0;
  IdTable<Tracked> table;
  std::map<uint32_t, uint32_t> model;
  std::mt19937 random(42);
  uint32_t nextId = 1;
  for (int step = 0; step < 200000; ++step) {
    uint32_t roll = random() % 100;
    if (roll < 45 || model.empty()) {
      uint32_t id = roll < 5 ? 1 + random() % (nextId + 10) : nextId++;
      uint32_t value = random();
      table.insert(id, std::make_unique<Tracked>(value, &live));
      model[id] = value;
    } else {
      auto it = model.begin();
      // Mostly the oldest (a request that ended), sometimes any.
      if (roll >= 90) std::advance(it, random() % model.size());
      std::unique_ptr<Tracked> taken = table.take(it->first);
      ASSERT_NE(taken, nullptr) << "id " << it->first << " at step " << step;
      EXPECT_EQ(taken->value, it->second);
      model.erase(it);
    }
    ASSERT_EQ(table.size(), model.size());
    if (step % 997 == 0) {
      for (const auto& [id, value] : model) {
        Tracked* found = table.find(id);
        ASSERT_NE(found, nullptr) << "id " << id << " at step " << step;
        EXPECT_EQ(found->value, value);
      }
      EXPECT_EQ(table.find(nextId + 100), nullptr);
    }
  }
  EXPECT_EQ(live, static_cast<int>(model.size()));
}

}  // namespace
}  // namespace wasmgate::detail
