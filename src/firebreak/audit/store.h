// The audit log's SQLite database: its schema and identity, the instance key
// that signs its checkpoints, the insert of journaled records in large
// transactions (their alerts into the outbox, and a signed checkpoint every
// N records, in the same transaction), the outbox's queries, and the
// checkpointing of SQLite's WAL through a connection of its own. AuditLog
// owns one; what opening checks against it is recovery.h's.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "firebreak/audit/audit_log.h"
#include "firebreak/audit/journal.h"
#include "firebreak/audit/sqlite.h"
#include "firebreak/audit/witness.h"
#include "firebreak/base/digest.h"
#include "firebreak/base/signing.h"
#include "firebreak/base/status.h"

namespace firebreak::audit {

// The idempotency key of record `seq`'s alert to `target`, in the outbox
// and in the alert's payload: "<instance>:<seq>:<target>".
std::string AlertKey(std::string_view instance, std::uint64_t seq, std::string_view target);

// fdatasync of SQLite's WAL beside the database `db`; false when it failed.
bool SyncWal(const std::filesystem::path& db);

// A signed checkpoint as the database holds it.
struct StoredCheckpoint {
  std::uint64_t seq = 0;
  std::string hash;  // bytes
  std::string signature;
  std::string time;
};

// Not thread-safe but where said: the log holds mutex() around every other
// call once its threads run (the ingest thread's transactions, Checkpoint,
// the close).
class Store {
 public:
  // Opens (creating) the database at options.db with its schema and instance
  // id, then the instance key at options.key (created 0600 when missing;
  // refused when group or others may access it, or when it is not the key
  // the database names). `options` as AuditLog::Open completes them: a
  // clock and a key path are given.
  static base::StatusOr<std::unique_ptr<Store>> Open(const AuditOptions& options);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  const std::string& instance() const { return instance_; }
  // Thread-safe.
  const base::SigningKey& key() const { return *key_; }
  // A head of the chain, signed at the clock's time. Thread-safe.
  SignedHead SignHead(std::uint64_t seq, const base::Sha256& hash, HeadEvent event) const;
  // The database's head, signed: the open and close heads.
  SignedHead SignHead(HeadEvent event) const { return SignHead(db_seq_, db_hash_, event); }
  std::mutex& mutex() { return mutex_; }

  // The database's last record.
  ChainHead head() const { return {db_seq_, db_hash_}; }
  // Moves `batch` into the database in one transaction, its alerts into the
  // outbox, with a checkpoint every checkpoint_every records exactly (see
  // TakeSignedHead); nothing of it on an error.
  base::Status Insert(const std::vector<Journaled>& batch);
  // As Insert, but no checkpoint signs these records: what opening moves in
  // from the journal, unsigned until the unsigned tail is recorded.
  base::Status InsertUnsigned(const std::vector<Journaled>& batch);
  // Records came since the last checkpoint, checkpoint_interval ago or more.
  bool CheckpointDue() const;
  // Signs a checkpoint of the head (no-op if it has one).
  base::Status CheckpointHead();
  // The checkpoint the last Insert or CheckpointHead committed, for the
  // witnesses; cleared by an insert that failed.
  std::optional<SignedHead> TakeSignedHead();

  // What opening reads: the hash of record `seq`, the last checkpoint, and
  // the records from `seq` on (seq, kind, body; in order).
  std::optional<base::Sha256> StoredHash(std::uint64_t seq);
  std::optional<StoredCheckpoint> LastCheckpoint();
  std::unique_ptr<Statement> RecordsFrom(std::uint64_t seq);

  // Once opened: SQLite's WAL is checkpointed by CheckpointWal alone,
  // through a connection of its own, not by the inserts' commits, which
  // only count its frames.
  base::Status StartWalCheckpoints();
  // The WAL thread: checkpoints SQLite's WAL into the database once it is
  // big. Takes mutex() itself for its last step.
  void CheckpointWal();

  // The outbox of alerts (see AuditLog). Thread-safe: they take mutex().
  base::StatusOr<std::vector<OutboxItem>> DueAlerts(std::size_t limit);
  base::Status MarkDelivered(std::int64_t id);
  base::Status Reschedule(std::int64_t id, int attempts, std::int64_t next_attempt_micros,
                          std::string_view error);
  base::StatusOr<std::int64_t> PendingAlerts();

 private:
  Store(const AuditOptions& options, sqlite3* db, std::string instance,
        std::unique_ptr<base::SigningKey> key);
  base::Status Insert(const std::vector<Journaled>& batch, bool checkpoints);
  base::Status WriteCheckpoint(std::uint64_t seq, const base::Sha256& hash);
  void Rollback();

  const std::filesystem::path path_;
  const std::string instance_;
  const std::unique_ptr<base::SigningKey> key_;
  const std::function<std::int64_t()> now_micros_;
  const std::uint64_t checkpoint_every_;
  const std::chrono::milliseconds checkpoint_interval_;
  const std::uint64_t wal_checkpoint_bytes_;

  std::mutex mutex_;
  sqlite3* db_;
  sqlite3* checkpointer_ = nullptr;  // the WAL thread's connection
  std::atomic<int> wal_frames_{0};   // in SQLite's WAL, as of the last commit
  std::uint64_t page_bytes_ = 65536;
  std::unique_ptr<Statement> begin_;
  std::unique_ptr<Statement> commit_;
  std::unique_ptr<Statement> insert_;
  std::unique_ptr<Statement> insert_many_;
  std::unique_ptr<Statement> insert_alert_;
  std::uint64_t db_seq_ = 0;  // the database's head
  base::Sha256 db_hash_{};
  std::uint64_t checkpoint_seq_ = 0;
  std::chrono::steady_clock::time_point checkpoint_time_;
  std::optional<SignedHead> signed_head_;  // written, not yet taken
};

}  // namespace firebreak::audit
