#include "firebreak/audit/store.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "firebreak/base/test_dir.h"

namespace firebreak::audit {
namespace {

namespace fs = std::filesystem;

constexpr std::int64_t kNow = 1795910399123456;

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = base::FreshTestDir("fb-store");
    options_.db = dir_ / "audit.db";
    options_.key = dir_ / "audit.db.key";
    options_.checkpoint_every = 3;
    options_.now_micros = [] { return kNow; };
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<Store> Open() {
    base::StatusOr<std::unique_ptr<Store>> store = Store::Open(options_);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(store).value() : nullptr;
  }

  // Records first..last, chained on from `store`'s head, each with an alert
  // to each of `targets`.
  static std::vector<Journaled> Records(Store& store, std::uint64_t first, std::uint64_t last,
                                        std::vector<std::string> targets = {}) {
    std::vector<Journaled> records;
    base::Sha256 hash = store.head().hash;
    for (std::uint64_t seq = first; seq <= last; ++seq) {
      Journaled j{seq, "decision", "{\"seq\":" + std::to_string(seq) + "}", {}, {}};
      hash = ChainHash(hash, j.body);
      j.hash = hash;
      for (const std::string& target : targets) {
        j.alerts.push_back({target, "{\"n\":" + std::to_string(seq) + "}"});
      }
      records.push_back(std::move(j));
    }
    return records;
  }

  fs::path dir_;
  AuditOptions options_;
};

TEST_F(StoreTest, InsertSignsACheckpointEveryNRecordsInItsTransaction) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Insert(Records(*store, 1, 7)).ok());
  EXPECT_EQ(store->head().seq, 7u);
  ASSERT_TRUE(store->LastCheckpoint().has_value());
  EXPECT_EQ(store->LastCheckpoint()->seq, 6u);
  std::optional<SignedHead> head = store->TakeSignedHead();
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(head->seq, 6u);
  EXPECT_EQ(head->hash, store->StoredHash(6));
  EXPECT_TRUE(HeadSignatureValid(*head, store->key().PublicPem()));
  EXPECT_FALSE(store->TakeSignedHead().has_value());  // taken once

  // What opening moves in from the journal is not signed over.
  ASSERT_TRUE(store->InsertUnsigned(Records(*store, 8, 10)).ok());
  EXPECT_EQ(store->LastCheckpoint()->seq, 6u);
  EXPECT_FALSE(store->TakeSignedHead().has_value());

  ASSERT_TRUE(store->CheckpointHead().ok());
  EXPECT_EQ(store->LastCheckpoint()->seq, 10u);
  EXPECT_EQ(store->TakeSignedHead()->seq, 10u);
  ASSERT_TRUE(store->CheckpointHead().ok());  // signed already: nothing new
  EXPECT_FALSE(store->TakeSignedHead().has_value());
}

TEST_F(StoreTest, AFailedInsertLeavesNothingOfItsBatch) {
  options_.checkpoint_every = 1;
  auto store = Open();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Insert(Records(*store, 1, 3, {"soc"})).ok());
  static_cast<void>(store->TakeSignedHead());
  // Record 4 and its checkpoint go in first; record 5's second alert to the
  // same target repeats its idempotency key, and the whole batch fails.
  std::vector<Journaled> batch = Records(*store, 4, 5, {"pager"});
  batch[1].alerts.push_back(batch[1].alerts[0]);
  EXPECT_FALSE(store->Insert(batch).ok());
  EXPECT_EQ(store->head().seq, 3u);
  EXPECT_FALSE(store->StoredHash(4).has_value());
  EXPECT_EQ(store->LastCheckpoint()->seq, 3u);
  EXPECT_FALSE(store->TakeSignedHead().has_value());
  EXPECT_EQ(*store->PendingAlerts(), 3);

  // It went as if it had never been tried: record 4 gets its checkpoint.
  ASSERT_TRUE(store->Insert(Records(*store, 4, 4, {"pager"})).ok());
  EXPECT_EQ(store->LastCheckpoint()->seq, 4u);
  EXPECT_EQ(store->TakeSignedHead()->seq, 4u);
  EXPECT_EQ(*store->PendingAlerts(), 4);
}

TEST_F(StoreTest, TheOutboxHandsOutDueAlertsOldestFirstWithStableKeys) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Insert(Records(*store, 1, 2, {"soc", "pager"})).ok());
  base::StatusOr<std::vector<OutboxItem>> due = store->DueAlerts(3);
  ASSERT_TRUE(due.ok()) << due.status().ToString();
  ASSERT_EQ(due->size(), 3u);
  EXPECT_EQ((*due)[0].idempotency_key, store->instance() + ":1:soc");
  EXPECT_EQ((*due)[1].idempotency_key, store->instance() + ":1:pager");
  EXPECT_EQ((*due)[2].idempotency_key, store->instance() + ":2:soc");
  EXPECT_EQ((*due)[2].payload, "{\"n\":2}");
  EXPECT_EQ((*due)[2].attempts, 0);

  ASSERT_TRUE(store->MarkDelivered((*due)[0].id).ok());
  ASSERT_TRUE(store->Reschedule((*due)[1].id, 1, kNow + 1, "503").ok());
  due = store->DueAlerts(10);
  ASSERT_TRUE(due.ok());
  ASSERT_EQ(due->size(), 2u);  // one delivered, one not due yet
  EXPECT_EQ((*due)[0].idempotency_key, store->instance() + ":2:soc");
  EXPECT_EQ(*store->PendingAlerts(), 3);
}

}  // namespace
}  // namespace firebreak::audit
