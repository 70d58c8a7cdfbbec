// The tamper-evident audit log of one Firebreak instance: records are
// sequenced, hash-chained (hash_n = SHA-256(hash_{n-1} || canonical bytes_n))
// and kept in SQLite (WAL). Producers encode their records themselves; the
// first producer to find the log idle becomes the leader and writes
// everything queued meanwhile, its own record included, to the journal
// (journal.h) in one write; the others wait for it. Append returns once the
// record is in the journal, so a decision never takes effect before its
// record, and no thread hand-off happens at concurrency 1. An ingest thread
// moves journaled records into SQLite in large transactions and signs
// checkpoints of the chain head with the instance's Ed25519 key every N
// records or T seconds, and hands each signed head to the witnesses outside
// the database (witness.h); a flush thread writes the groups of asynchronous
// producers, which must not block (under load, and in the strict mode); a
// sync thread (default mode) makes records survive a power loss within the
// sync interval, by syncing SQLite's WAL, and the journal when the database
// lags; a WAL thread checkpoints SQLite's WAL and retires the journal
// segments the database covers. AuditLog keeps the producers' path and the
// threads; the database is a Store (store.h), the journal's files a
// JournalWriter (journal_writer.h), and what opening checks recovery.h's.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "firebreak/audit/journal.h"
#include "firebreak/audit/record.h"
#include "firebreak/audit/witness.h"
#include "firebreak/base/digest.h"
#include "firebreak/base/signing.h"
#include "firebreak/base/status.h"

namespace firebreak::audit {

class JournalWriter;
class Store;

enum class Durability {
  // In the journal before Append returns (survives a killed process); its
  // sync starts within sync_interval (it survives a power loss once that
  // sync is done).
  kGroup,
  // Append returns after the fsync of its group's journal write.
  kFsync,
};

std::string_view DurabilityName(Durability d);

struct AuditOptions {
  std::filesystem::path db;
  // The instance's Ed25519 key, which signs checkpoints (PEM; created 0600
  // when missing; refused when group or others may access it, or when it is
  // not the key the database's checkpoints were signed with). Empty: DB.key,
  // beside the database, where whoever can edit the database can read it:
  // give it a path the database's writers cannot read.
  std::filesystem::path key;
  // Where each checkpoint's signed head is published besides the database.
  // The log checks its database against those it can read back (files)
  // when it opens, and refuses to open a database they show was cut short,
  // rewritten or appended to while it was closed.
  std::vector<std::shared_ptr<Witness>> witnesses;
  // Alert targets told (through the outbox) when a witness cannot be written.
  std::vector<std::string> witness_alerts;
  std::chrono::milliseconds witness_retry{1000};  // doubling to a minute
  Durability durability = Durability::kGroup;
  std::uint64_t checkpoint_every = 1000;                  // records
  std::chrono::milliseconds checkpoint_interval{60'000};  // and/or time
  std::chrono::milliseconds sync_interval{10};            // kGroup only
  // kGroup: an asynchronous record that comes within busy_gap of the last
  // group's write is left to the flush thread, which writes what queues
  // meanwhile as one group; else its producer writes it at once.
  std::chrono::microseconds busy_gap{20};
  std::size_t max_batch = 4096;
  // Records waiting to be journaled beyond which producers wait (Append) or
  // are refused (AppendAsync); as many may wait to be moved into SQLite.
  std::size_t queue_capacity = 65536;
  std::size_t segment_bytes = std::size_t{4} << 20;  // a new journal segment after this
  // SQLite's WAL is checkpointed into the database once it holds this much,
  // and made to start over, the writes held up for a moment, past four
  // times as much: its bound under constant writes.
  std::uint64_t wal_checkpoint_bytes = std::uint64_t{16} << 20;
  // Injected clock; default: the system clock. The log and its store each
  // call a copy of it: a clock with state must share it (hold a pointer).
  std::function<std::int64_t()> now_micros;
};

struct Appended {
  std::uint64_t seq = 0;
  base::Sha256 hash{};
};

// An alert a record causes. It is journaled in the record's own entry and
// moved into the outbox in the same transaction as the record, so it exists
// exactly when the record does.
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

// What opening the log found beyond what signed heads vouch for.
struct OpenReport {
  std::uint64_t head_seq = 0;         // the log's last record when opened
  std::uint64_t last_checkpoint = 0;  // the database's last signed checkpoint
  bool witnessed = false;             // a readable witness was checked
  std::uint64_t last_witnessed = 0;   // the witnesses' last head (readable ones)
  // Records after both, which nothing signed vouches for (a run that
  // stopped without its final checkpoint, or records added by someone
  // else): how many, and how many of them the journal holds as well (the
  // rest could not be checked). When there are any, the log appends a
  // "lifecycle.unsigned_tail" record saying so before anything else, and
  // the checkpoints that follow sign over it.
  std::uint64_t unsigned_records = 0;
  std::uint64_t matched_journal = 0;
  std::uint64_t unsigned_tail_seq = 0;  // that record, or 0
};

class AuditLog {
 public:
  // Opens (creating if needed) the database, its instance id and signing key;
  // checks the records the journal also holds against it, and moves into it
  // what the journal holds beyond it (a process killed earlier); checks its
  // head against its last checkpoint and the readable witnesses (DataLoss
  // when they show records deleted, rewritten or added while it was
  // closed); records the unsigned tail (OpenReport); publishes its open
  // head to the witnesses; and starts its threads.
  static base::StatusOr<std::unique_ptr<AuditLog>> Open(AuditOptions options);
  // Moves everything into the database, signs a final checkpoint, publishes
  // it to the witnesses as the close head, and closes. No Append may be
  // running.
  ~AuditLog();

  // Thread-safe; blocks until the record is journaled (see Durability). An
  // error means the record is not in the log: the caller must fail closed.
  // While the database cannot be written, appends fail (the records already
  // journaled wait there, and are moved in once it can be).
  base::StatusOr<Appended> Append(const AuditRecord& record, std::vector<OutboxAlert> alerts = {});

  // For event loops: never blocks on the disk's fsync. `done` is called
  // exactly once, when the record is journaled or has failed, never under
  // the log's lock: on the caller's own thread when it writes the group
  // itself (default mode, the log idle for busy_gap), else on the thread
  // that does; with ResourceExhausted right away when queue_capacity
  // records are already waiting (the caller fails closed).
  using Done = std::function<void(base::StatusOr<Appended>)>;
  void AppendAsync(const AuditRecord& record, std::vector<OutboxAlert> alerts, Done done);

  // The outbox of alerts, for a sender that delivers them at least once.
  // Pending alerts whose next attempt is due, oldest first.
  base::StatusOr<std::vector<OutboxItem>> DueAlerts(std::size_t limit);
  base::Status MarkDelivered(std::int64_t id);
  base::Status Reschedule(std::int64_t id, int attempts, std::int64_t next_attempt_micros,
                          std::string_view error);
  // Pending (undelivered) alerts in the outbox.
  base::StatusOr<std::int64_t> PendingAlerts();

  // Waits until every record journaled so far is in the database (and its
  // alerts in the outbox); the error that keeps them out otherwise.
  base::Status Flush();
  // Flushes, then signs a checkpoint of the head (no-op if nothing new).
  base::Status Checkpoint();

  const std::string& instance_id() const;
  const OpenReport& opened() const { return opened_; }
  std::string public_key_pem() const;
  // Signs checkpoints, and the proxy's receipts. Thread-safe.
  const base::SigningKey& signing_key() const;
  const AuditOptions& options() const { return options_; }
  // Records not yet in the database: waiting to be journaled, or journaled
  // and waiting to be moved in (a gauge for /metrics).
  std::size_t queue_depth();
  // Default mode: the records that survive a power loss, up to this one;
  // and how many times the journal itself had to be synced for that (when
  // the database lagged by more than half the sync interval).
  struct Durable {
    std::uint64_t seq = 0;
    std::uint64_t journal_syncs = 0;
  };
  Durable durable();

 private:
  // One producer's record, owned by its Append call while it waits.
  struct Pending {
    PreparedRecord record;
    std::vector<OutboxAlert> alerts;
    Done callback;  // set: an AppendAsync record, owned by the queue, kept
                    // for reuse once answered (spare_pending_)
    base::StatusOr<Appended> result = base::Internal("not written");
    bool done = false;
    // A synchronous producer waits on its own: woken when its record is
    // written, or when it is to lead the next group.
    std::condition_variable wake;
  };

  AuditLog(AuditOptions options, std::unique_ptr<Store> store, OpenReport opened);
  // Hands the checkpoint just committed to the witness publisher. Under the
  // store's mutex.
  void Announce();
  // Records a witness's failure (with alerts) or recovery.
  void OnWitnessEvent(const WitnessPublisher::Event& event);
  // The records that survive a power loss, up to this one.
  std::uint64_t DurableSeq();
  // The threads (see the top of this file).
  void FlushLoop();
  void SyncLoop();
  void IngestLoop();
  void WalLoop();
  // Sync thread: makes the records up to `due` survive a power loss,
  // through SQLite's WAL for those in the database and the journal for the
  // rest. Lock held; released while syncing.
  void MakeDurable(std::unique_lock<std::mutex>& lock, std::uint64_t due);
  // Writes a group of what is queued to the journal, as the leader. Lock
  // held on entry and exit; no other leader; Room() > 0.
  void CommitQueued(std::unique_lock<std::mutex>& lock);
  // Records the leader may journal now: the database must not fall more
  // than queue_capacity records behind the journal. Lock held.
  std::size_t Room() const;
  void Unlead();
  // Wakes the producer that is to lead what is queued (the flush thread when
  // only asynchronous records wait). Lock held.
  void WakeNextLeader();
  // Answers every queued record with `status`. Lock held.
  void FailQueued(std::unique_lock<std::mutex>& lock, const base::Status& status);
  // Answering a written or failed batch (each result set): the asynchronous
  // records through their callbacks, without the lock, their Pending moved
  // to `answered`; it returns the synchronous producers, which MarkDone
  // wakes under the lock.
  static std::vector<Pending*> AnswerAsync(const std::vector<Pending*>& batch,
                                           std::vector<std::unique_ptr<Pending>>& answered);
  // Keeps the answered asynchronous records' Pending for the next ones (see
  // spare_pending_). Lock held.
  void KeepSpares(std::vector<std::unique_ptr<Pending>>& answered);
  static void MarkDone(const std::vector<Pending*>& waiting);
  // Leader only, without the lock: sequences, chains and journals `batch`.
  base::Status WriteJournal(const std::vector<Pending*>& batch, std::vector<Journaled>& out);

  AuditOptions options_;
  // The database; its writer state is under its mutex.
  std::unique_ptr<Store> store_;
  OpenReport opened_;
  std::unique_ptr<WitnessPublisher> publisher_;  // with witnesses

  // The leader's alone, reused from group to group: its records, and what
  // it wrote.
  std::vector<Pending*> group_;
  std::vector<Journaled> written_;
  std::vector<std::unique_ptr<Pending>> answered_;

  std::mutex mutex_;
  std::condition_variable changed_;  // capacity, ingest progress or stop state changed
  std::condition_variable tick_;     // wakes the flush thread: async work or stop
  std::condition_variable stop_;     // wakes the sync and WAL threads: stop
  std::condition_variable ingest_ready_;
  // The journal's files: its writing is the leader's, the rest under mutex_.
  std::unique_ptr<JournalWriter> journal_;
  std::vector<Pending*> queue_;
  // Reused, so that a record's memory is not allocated by one thread and
  // freed by another (glibc's malloc then contends for its arena's lock: up
  // to a tenth of the CPU with two producers): the Pending of answered
  // asynchronous records (and the journal's writer keeps the bodies of
  // records in the database).
  std::vector<std::unique_ptr<Pending>> spare_pending_;
  bool leading_ = false;
  std::chrono::steady_clock::time_point last_group_;  // when the last group was written
  bool stopping_ = false;
  bool ingest_stopping_ = false;
  enum class IngestWait { kBusy, kIdle, kGathering };
  IngestWait ingest_wait_ = IngestWait::kBusy;
  bool ingest_wanted_ = false;       // Flush() waits for everything to be in
  std::vector<Journaled> ingest_;    // journaled, not yet in the database
  std::uint64_t journaled_seq_ = 0;  // the journal's head, as others may read it
  std::uint64_t ingested_seq_ = 0;   // the database's head, as others may read it
  base::Status ingest_error_;        // why the database cannot be written now
  std::uint64_t durable_seq_ = 0;    // survives a power loss up to here
  std::uint64_t journal_syncs_ = 0;
  // The journal's head at the sync thread's last look.
  std::uint64_t mark_seq_ = 0;
  std::thread flusher_;
  std::thread syncer_;  // default mode
  std::thread wal_thread_;
  std::thread ingester_;
};

}  // namespace firebreak::audit
