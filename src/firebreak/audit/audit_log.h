// The tamper-evident audit log of one Firebreak instance: records are
// sequenced, hash-chained (hash_n = SHA-256(hash_{n-1} || canonical bytes_n))
// and committed to SQLite (WAL) with group commit: the first producer to find
// the log idle becomes the leader and commits everything queued meanwhile,
// its own record included; the others wait for it. No thread hand-off at
// concurrency 1, one transaction per group under load. Append returns only
// when the record is committed, so a decision never takes effect before its
// record. Checkpoints sign the chain head with the instance's Ed25519 key
// every N records or T seconds; a maintenance thread keeps the time-based
// duties (WAL fsync in the default mode, timed checkpoints).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "firebreak/audit/record.h"
#include "firebreak/base/digest.h"
#include "firebreak/base/signing.h"
#include "firebreak/base/status.h"

struct sqlite3;

namespace firebreak::audit {

class Statement;

enum class Durability {
  // Committed to the WAL before Append returns (survives a killed process);
  // fsync follows within sync_interval (survives power loss after it).
  kGroup,
  // Append returns after the fsync of its group commit.
  kFsync,
};

std::string_view DurabilityName(Durability d);

struct AuditOptions {
  std::filesystem::path db;  // the signing key lives beside it, as DB.key (0600)
  Durability durability = Durability::kGroup;
  std::uint64_t checkpoint_every = 1000;                  // records
  std::chrono::milliseconds checkpoint_interval{60'000};  // and/or time
  std::chrono::milliseconds sync_interval{10};            // kGroup only
  std::size_t max_batch = 4096;
  std::size_t queue_capacity = 65536;        // producers wait beyond this
  std::function<std::int64_t()> now_micros;  // injected clock; default: system clock
};

struct Appended {
  std::uint64_t seq = 0;
  base::Sha256 hash{};
};

// An alert a record causes. It is written to the outbox in the same
// transaction as the record, so it exists exactly when the record does.
struct OutboxAlert {
  std::string target;     // an alert target name from the server config
  Value::Object payload;  // what happened; the log adds idempotency_key,
                          // instance, audit_seq, time and target
};

// A pending alert of the outbox.
struct OutboxItem {
  std::int64_t id = 0;
  std::string target;
  std::string idempotency_key;  // "<instance>:<seq>:<target>": stable across retries
  std::string payload;          // canonical JSON
  int attempts = 0;
};

// The message a checkpoint signs.
std::string CheckpointMessage(std::string_view instance, std::uint64_t seq,
                              const base::Sha256& hash);

class AuditLog {
 public:
  // Opens (creating if needed) the database, its instance id and signing key,
  // and starts the maintenance thread.
  static base::StatusOr<std::unique_ptr<AuditLog>> Open(AuditOptions options);
  // Signs a final checkpoint and closes. No Append may be running.
  ~AuditLog();

  // Thread-safe; blocks until the record is committed (see Durability). An
  // error means the record is not in the log: the caller must fail closed.
  base::StatusOr<Appended> Append(AuditRecord record, std::vector<OutboxAlert> alerts = {});

  // For event loops: never waits. `done` is called exactly once, when the
  // record is committed or has failed, on a thread of the log and never
  // under its lock; with ResourceExhausted right away when queue_capacity
  // records are already waiting (the caller fails closed).
  using Done = std::function<void(base::StatusOr<Appended>)>;
  void AppendAsync(AuditRecord record, std::vector<OutboxAlert> alerts, Done done);

  // The outbox of alerts, for a sender that delivers them at least once.
  // Pending alerts whose next attempt is due, oldest first.
  base::StatusOr<std::vector<OutboxItem>> DueAlerts(std::size_t limit);
  base::Status MarkDelivered(std::int64_t id);
  base::Status Reschedule(std::int64_t id, int attempts, std::int64_t next_attempt_micros,
                          std::string_view error);
  // Pending (undelivered) alerts.
  base::StatusOr<std::int64_t> PendingAlerts();

  // Signs a checkpoint of the current head now (no-op if nothing new).
  base::Status Checkpoint();

  const std::string& instance_id() const { return instance_; }
  std::string public_key_pem() const { return key_->PublicPem(); }
  // Signs checkpoints, and the proxy's receipts. Thread-safe.
  const base::SigningKey& signing_key() const { return *key_; }
  const AuditOptions& options() const { return options_; }
  // Records waiting to be committed (a gauge for /metrics).
  std::size_t queue_depth();

 private:
  // One producer's record, owned by its Append call while it waits.
  struct Pending {
    AuditRecord record;
    std::vector<OutboxAlert> alerts;
    Done callback;  // set: an AppendAsync record, owned by the queue
    base::StatusOr<Appended> result = base::Internal("not written");
    bool done = false;
  };
  AuditLog(AuditOptions options, sqlite3* db, std::string instance,
           std::unique_ptr<base::SigningKey> key);
  void Maintain();
  // Leader only: signs a checkpoint when due; true when the WAL fsync is due,
  // which the caller then runs (SyncWal) after giving up the leadership.
  bool DoTimedDuties();
  // Leads one group commit of what is queued. Lock held on entry and exit;
  // no other leader.
  void CommitQueued(std::unique_lock<std::mutex>& lock);
  // Waits until no leader is writing and becomes the leader. Called with the
  // lock held; returns with it held.
  void Lead(std::unique_lock<std::mutex>& lock);
  // Gives up leadership and wakes the waiting producers. Lock held.
  void Unlead();
  // Leader only, without the lock.
  base::Status WriteBatch(const std::vector<Pending*>& batch);
  base::Status WriteCheckpoint();
  // fdatasync of the WAL through a descriptor of its own: needs no leadership.
  void SyncWal();
  void Rollback();
  // Runs `work` as the leader (exclusive use of the database).
  template <typename Work>
  auto AsLeader(Work work);

  AuditOptions options_;
  sqlite3* db_;
  std::string instance_;
  std::unique_ptr<base::SigningKey> key_;
  // Prepared once; used by the leader only.
  std::unique_ptr<Statement> begin_;
  std::unique_ptr<Statement> commit_;
  std::unique_ptr<Statement> insert_;
  std::unique_ptr<Statement> insert_alert_;

  // Writer state: read and written only by the current leader.
  std::uint64_t head_seq_ = 0;
  base::Sha256 head_hash_{};
  std::uint64_t checkpoint_seq_ = 0;
  std::chrono::steady_clock::time_point checkpoint_time_;
  bool unsynced_ = false;  // committed WAL frames not yet fsynced
  std::chrono::steady_clock::time_point last_sync_;

  std::mutex mutex_;
  std::condition_variable changed_;  // queue, leadership or stop state changed
  std::condition_variable tick_;     // wakes the maintenance thread: async work or stop
  std::vector<Pending*> queue_;
  bool leading_ = false;
  bool stopping_ = false;
  std::thread maintenance_;
};

}  // namespace firebreak::audit
