#include "firebreak/audit/audit_log.h"

#include <pthread.h>

#include <algorithm>
#include <iterator>
#include <utility>

#include "firebreak/audit/journal_writer.h"
#include "firebreak/audit/recovery.h"
#include "firebreak/audit/store.h"
#include "firebreak/base/clock.h"

namespace firebreak::audit {
namespace {

// The ingest thread gathers records for up to kIngestGather after the first
// arrives, or until kIngestBatch records wait, before it writes them. A
// transaction rewrites SQLite's first page, the table's root and its last
// leaf, whatever its size: 4 ms and 4,096 records rather than 2 ms and
// 1,024 gave 3-8 % more records/s. Under constant load a transaction takes
// 3 ms and more (up to tens of them while the WAL thread holds the writes
// up), so that records are not always in the database, and covered by its
// synced WAL, when they are due to survive a power loss: the journal itself
// is then synced, 15-23 times per million records (audit_bench's
// journal_syncs). Gathering for 1 or 2 ms did not make that rarer (measured
// when the flush thread synced between groups).
constexpr std::chrono::milliseconds kIngestGather{4};
constexpr std::size_t kIngestBatch = 4096;

// Spare Pending kept for reuse (see AuditLog::spare_pending_), and the
// largest buffer kept: a record's, not a long conversation's.
constexpr std::size_t kSpares = 4096;
constexpr std::size_t kSpareBytes = 2048;

// A thread that runs `loop`, named so that top and gdb tell the log's apart.
template <typename Loop>
std::thread NamedThread(const char* name, Loop loop) {
  return std::thread([name, loop] {
    ::pthread_setname_np(::pthread_self(), name);
    loop();
  });
}

}  // namespace

std::string_view DurabilityName(Durability d) {
  return d == Durability::kFsync ? "fsync" : "group";
}

base::StatusOr<std::unique_ptr<AuditLog>> AuditLog::Open(AuditOptions options) {
  if (!options.now_micros) {
    options.now_micros = &base::UnixMicros;
  }
  if (options.key.empty()) {
    options.key = options.db.string() + ".key";
  }
  base::StatusOr<std::unique_ptr<Store>> store = Store::Open(options);
  if (!store.ok()) {
    return store.status();
  }
  OpenReport opened;
  if (base::Status s = Recover(**store, options, opened); !s.ok()) {
    return s.WithContext("audit database " + options.db.string());
  }
  FB_RETURN_IF_ERROR((*store)->StartWalCheckpoints());
  auto log = std::unique_ptr<AuditLog>(
      new AuditLog(std::move(options), std::move(store).value(), std::move(opened)));
  AuditLog* raw = log.get();
  if (!log->options_.witnesses.empty()) {
    // Before the threads that announce checkpoints to it.
    log->publisher_ = std::make_unique<WitnessPublisher>(
        log->options_.witnesses, [raw] { return raw->DurableSeq(); },
        std::max(log->options_.sync_interval / 2, std::chrono::milliseconds(1)),
        log->options_.witness_retry,
        [raw](const WitnessPublisher::Event& e) { raw->OnWitnessEvent(e); });
  }
  log->flusher_ = NamedThread("fb-audit-flush", [raw] { raw->FlushLoop(); });
  if (log->options_.durability == Durability::kGroup) {
    log->syncer_ = NamedThread("fb-audit-sync", [raw] { raw->SyncLoop(); });
  }
  log->wal_thread_ = NamedThread("fb-audit-wal", [raw] { raw->WalLoop(); });
  log->ingester_ = NamedThread("fb-audit-ingest", [raw] { raw->IngestLoop(); });
  if (log->publisher_) {
    // The readable witnesses have it already (CheckHead).
    log->publisher_->Offer(log->store_->SignHead(HeadEvent::kOpen), /*to_readable=*/false);
  }
  return log;
}

AuditLog::AuditLog(AuditOptions options, std::unique_ptr<Store> store, OpenReport opened)
    : options_(std::move(options)),
      store_(std::move(store)),
      opened_(std::move(opened)),
      journal_(std::make_unique<JournalWriter>(options_, store_->instance(), store_->head(), mutex_,
                                               ingest_ready_)),
      // None yet: the first record finds the log idle (steady_clock's
      // epoch may be a moment ago, at boot).
      last_group_(std::chrono::steady_clock::now() - options_.busy_gap -
                  std::chrono::microseconds(1)) {
  journaled_seq_ = ingested_seq_ = durable_seq_ = mark_seq_ = store_->head().seq;
}

const std::string& AuditLog::instance_id() const { return store_->instance(); }

std::string AuditLog::public_key_pem() const { return store_->key().PublicPem(); }

const base::SigningKey& AuditLog::signing_key() const { return store_->key(); }

std::size_t AuditLog::Room() const {
  const std::uint64_t behind = journaled_seq_ - ingested_seq_;
  return behind >= options_.queue_capacity ? 0 : options_.queue_capacity - behind;
}

void AuditLog::Unlead() {
  leading_ = false;
  WakeNextLeader();
  if (stopping_) {
    changed_.notify_all();  // the close waits for the last leader
  }
}

void AuditLog::WakeNextLeader() {
  if (leading_ || queue_.empty()) {
    return;
  }
  for (Pending* p : queue_) {
    if (!p->callback) {
      p->wake.notify_one();
      return;
    }
  }
  tick_.notify_one();
}

AuditLog::~AuditLog() {
  if (!ingester_.joinable()) {
    return;  // its threads did not start: the journal keeps what it holds
  }
  if (publisher_) {
    publisher_->Stop();  // before the close: its failures are records
  }
  {
    std::unique_lock lock(mutex_);
    stopping_ = true;
    changed_.notify_all();
    tick_.notify_all();
    stop_.notify_all();
  }
  for (std::thread* t : {&flusher_, &syncer_, &wal_thread_}) {
    if (t->joinable()) {
      t->join();
    }
  }
  {
    // What AppendAsync queued before the close.
    std::unique_lock lock(mutex_);
    while (!queue_.empty()) {
      if (!leading_ && Room() > 0) {
        CommitQueued(lock);
      } else if (Room() == 0 && !ingest_error_.ok()) {
        FailQueued(lock, ingest_error_);
      } else {
        changed_.wait(lock);
      }
    }
    changed_.wait(lock, [&] { return !leading_; });
    ingest_stopping_ = true;
    ingest_ready_.notify_all();
  }
  if (ingester_.joinable()) {
    ingester_.join();
  }
  std::unique_lock lock(mutex_);
  journal_->RemoveSpare();
  if (ingested_seq_ == journaled_seq_) {
    // A failed final checkpoint leaves the tail unsigned, as after a crash.
    bool signed_all = false;
    {
      std::lock_guard db(store_->mutex());
      signed_all = store_->CheckpointHead().ok();
      static_cast<void>(store_->TakeSignedHead());
    }
    journal_->DropIngested(lock, ingested_seq_, true);
    // The close head, once the database survives a power loss: a record
    // after it that no open head follows was not appended by the log. Best
    // effort (the log can record nothing more): a witness that misses it
    // keeps the last checkpoint it got.
    if (signed_all && !options_.witnesses.empty()) {
      lock.unlock();
      if (SyncWal(options_.db)) {
        const SignedHead head = store_->SignHead(HeadEvent::kClose);
        for (const std::shared_ptr<Witness>& w : options_.witnesses) {
          static_cast<void>(w->Publish(head));
        }
      }
      lock.lock();
    }
  } else {
    // The journal keeps what the database lacks for the next open.
    journal_->SyncUnsynced();
  }
  lock.unlock();
  store_.reset();  // the database closes before the journal's files
}

base::StatusOr<Appended> AuditLog::Append(const AuditRecord& record,
                                          std::vector<OutboxAlert> alerts) {
  Pending mine{PrepareRecord(record, store_->instance()), std::move(alerts)};
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [&] { return queue_.size() < options_.queue_capacity || stopping_; });
  if (stopping_) {
    return base::Status(base::StatusCode::kUnavailable, "the audit log is closing");
  }
  if (!ingest_error_.ok()) {
    return ingest_error_;
  }
  queue_.push_back(&mine);
  while (!mine.done) {
    if (!leading_ && Room() > 0) {
      CommitQueued(lock);  // our record included
    } else if (Room() == 0 && !ingest_error_.ok()) {
      std::erase(queue_, &mine);  // the database is failing and full: fail closed
      return ingest_error_;
    } else {
      mine.wake.wait(lock);
    }
  }
  return std::move(mine.result);
}

void AuditLog::AppendAsync(const AuditRecord& record, std::vector<OutboxAlert> alerts, Done done) {
  // Encoded outside the lock into this thread's buffer, which a spare
  // Pending's takes the place of under it: no allocation once both grew.
  thread_local PreparedRecord prepared;
  PrepareRecord(record, store_->instance(), prepared);
  std::unique_lock lock(mutex_);
  base::Status refused =
      !ingest_error_.ok() ? ingest_error_
      : stopping_ ? base::Status(base::StatusCode::kResourceExhausted, "the audit log is closing")
      : queue_.size() >= options_.queue_capacity
          ? base::Status(base::StatusCode::kResourceExhausted, "the audit queue is full")
          : base::Status::Ok();
  if (!refused.ok()) {
    lock.unlock();
    done(std::move(refused));
    return;
  }
  std::unique_ptr<Pending> mine;
  if (spare_pending_.empty()) {
    mine = std::make_unique<Pending>();
  } else {
    mine = std::move(spare_pending_.back());
    spare_pending_.pop_back();
  }
  std::swap(mine->record, prepared);
  mine->alerts = std::move(alerts);
  mine->callback = std::move(done);
  queue_.push_back(mine.release());
  if (leading_ || Room() == 0) {
    return;  // the current leader, or the flush thread once there is room, takes it
  }
  if (options_.durability == Durability::kFsync) {
    tick_.notify_one();  // the fsync is the flush thread's
    return;
  }
  // A record that finds the log idle, the last group written over busy_gap
  // ago, is written by its producer at once (a write to the page cache,
  // cheap enough for an event loop): no hand-off when decisions come one at
  // a time. Under load the flush thread writes: what queues while it wakes
  // and writes makes one group. With two producers at 200,000 records/s that
  // is about 25 records to a write instead of 4, and a fifth less CPU per
  // record. Records queued before this one have woken it already.
  if (queue_.size() == 1 && std::chrono::steady_clock::now() - last_group_ > options_.busy_gap) {
    CommitQueued(lock);
  } else if (queue_.size() == 1) {
    tick_.notify_one();
  }
}

std::vector<AuditLog::Pending*> AuditLog::AnswerAsync(
    const std::vector<Pending*>& batch, std::vector<std::unique_ptr<Pending>>& answered) {
  std::vector<Pending*> waiting;
  for (Pending* p : batch) {
    if (p->callback) {
      std::unique_ptr<Pending> owned(p);
      owned->callback(std::move(owned->result));
      owned->callback = nullptr;  // what it holds goes now, not at reuse
      answered.push_back(std::move(owned));
    } else {
      waiting.push_back(p);
    }
  }
  return waiting;
}

void AuditLog::KeepSpares(std::vector<std::unique_ptr<Pending>>& answered) {
  for (std::unique_ptr<Pending>& p : answered) {
    if (spare_pending_.size() < kSpares && p->record.text.capacity() <= kSpareBytes) {
      p->alerts.clear();
      spare_pending_.push_back(std::move(p));
    }
  }
  answered.clear();  // the others are freed (under the lock: rare)
}

void AuditLog::MarkDone(const std::vector<Pending*>& waiting) {
  for (Pending* p : waiting) {
    p->done = true;
    p->wake.notify_one();
  }
}

void AuditLog::FailQueued(std::unique_lock<std::mutex>& lock, const base::Status& status) {
  std::vector<Pending*> failed = std::move(queue_);
  queue_.clear();
  for (Pending* p : failed) {
    p->result = status;
  }
  lock.unlock();
  std::vector<std::unique_ptr<Pending>> answered;
  const std::vector<Pending*> waiting = AnswerAsync(failed, answered);
  lock.lock();
  KeepSpares(answered);
  MarkDone(waiting);
}

void AuditLog::CommitQueued(std::unique_lock<std::mutex>& lock) {
  leading_ = true;
  const std::size_t n = std::min({queue_.size(), options_.max_batch, Room()});
  std::vector<Pending*>& batch = group_;
  batch.assign(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
  if (queue_.size() >= options_.queue_capacity) {
    changed_.notify_all();  // producers wait for capacity
  }
  queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
  journal_->TakeBodies(n);
  lock.unlock();
  std::vector<Journaled>& journaled = written_;
  journaled.clear();
  const base::Status written = WriteJournal(batch, journaled);
  // Answer the batch first, so that no producer waits for bookkeeping.
  if (!written.ok()) {
    for (Pending* p : batch) {
      p->result = written;
    }
  }
  const std::vector<Pending*> waiting = AnswerAsync(batch, answered_);
  lock.lock();
  KeepSpares(answered_);
  const bool wrote = written.ok() && !journaled.empty();
  journal_->GroupDone(wrote);
  if (wrote) {
    journaled_seq_ = journal_->head().seq;
    std::move(journaled.begin(), journaled.end(), std::back_inserter(ingest_));
    // Wake the ingest thread when it sleeps with nothing to do, or when
    // the records it gathers make a full batch: not once per group.
    if (ingest_wait_ == IngestWait::kIdle ||
        (ingest_wait_ == IngestWait::kGathering && ingest_.size() >= kIngestBatch)) {
      ingest_ready_.notify_one();
    }
  }
  MarkDone(waiting);
  last_group_ = std::chrono::steady_clock::now();
  Unlead();
}

base::Status AuditLog::WriteJournal(const std::vector<Pending*>& batch,
                                    std::vector<Journaled>& out) {
  out.reserve(batch.size());
  journal_->Begin();
  for (Pending* p : batch) {
    p->result = journal_->Add(p->record, p->alerts, out);
  }
  return journal_->Write();
}

// The flush thread: writes the groups of asynchronous records that no
// producer leads (strict mode, the log busy, or the database without room).
void AuditLog::FlushLoop() {
  std::unique_lock lock(mutex_);
  while (true) {
    tick_.wait(lock, [&] { return stopping_ || (!queue_.empty() && !leading_ && Room() > 0); });
    if (stopping_) {
      return;
    }
    CommitQueued(lock);
  }
}

// The sync thread (default mode): makes every record survive a power loss
// within sync_interval of its write, plus the time its sync takes. (The
// flush thread did, when it had no group to write: under constant load it
// always had one, and nothing was synced for up to a second. Syncing
// between groups instead, the producers wrote their records one at a time
// while it synced: 20-30 % fewer records/s.)
void AuditLog::SyncLoop() {
  std::unique_lock lock(mutex_);
  while (true) {
    stop_.wait_for(lock, options_.sync_interval / 2, [&] { return stopping_; });
    if (stopping_) {
      return;
    }
    // What was journaled by the last look, half an interval and a sync
    // ago, is due now.
    const std::uint64_t due = mark_seq_;
    mark_seq_ = journaled_seq_;
    MakeDurable(lock, due);
  }
}

void AuditLog::MakeDurable(std::unique_lock<std::mutex>& lock, std::uint64_t due) {
  if (durable_seq_ >= due) {
    return;
  }
  // SQLite's WAL holds what is in the database: usually all but the last
  // milliseconds' worth. Once it is synced, the journal's copy of those
  // records need never reach the disk (their pages go with the segment).
  const std::uint64_t in_database = ingested_seq_;
  if (in_database > durable_seq_) {
    lock.unlock();
    const bool synced = SyncWal(options_.db);
    lock.lock();
    if (synced) {
      durable_seq_ = std::max(durable_seq_, in_database);
    }
  }
  journal_->ForgetSynced(durable_seq_);
  if (durable_seq_ >= due) {
    return;
  }
  // The database lags: the journal itself, up to its head.
  const std::uint64_t journaled = journaled_seq_;
  ++journal_syncs_;
  if (journal_->Sync(lock)) {
    durable_seq_ = std::max(durable_seq_, journaled);
  }
}

// The WAL thread: checkpoints SQLite's WAL into the database and hands on
// (or deletes) the journal segments the database covers. Its syncs may take
// long under load, so that they must not hold up the journal's.
void AuditLog::WalLoop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    stop_.wait_for(lock, options_.sync_interval / 2, [&] { return stopping_; });
    if (stopping_) {
      break;
    }
    lock.unlock();
    store_->CheckpointWal();
    lock.lock();
    journal_->DropIngested(lock, ingested_seq_, false);
  }
}

// The ingest thread: moves journaled records into the database, signs
// checkpoints and creates the next journal segment ahead of the leader.
void AuditLog::IngestLoop() {
  std::unique_lock lock(mutex_);
  std::chrono::milliseconds retry{0};
  // Swapped with ingest_ each round, so that neither grows from nothing.
  std::vector<Journaled> batch;
  while (true) {
    if (retry.count() > 0) {
      ingest_ready_.wait_for(lock, retry, [&] { return ingest_stopping_; });
    } else {
      // Sleep until there is work (or a timed checkpoint may be due), then
      // gather records for up to kIngestGather into one transaction.
      ingest_wait_ = IngestWait::kIdle;
      ingest_ready_.wait_for(lock, std::chrono::seconds(1), [&] {
        return ingest_stopping_ || ingest_wanted_ || !ingest_.empty() || journal_->spare_wanted();
      });
      ingest_wait_ = IngestWait::kGathering;
      ingest_ready_.wait_for(lock, kIngestGather, [&] {
        return ingest_stopping_ || ingest_wanted_ || ingest_.size() >= kIngestBatch;
      });
      ingest_wait_ = IngestWait::kBusy;
      ingest_wanted_ = false;
    }
    if (journal_->spare_wanted() && !ingest_stopping_) {
      journal_->PrepareSpare(lock);
    }
    if (ingest_.empty() && ingest_stopping_) {
      break;
    }
    batch.clear();
    batch.swap(ingest_);
    lock.unlock();
    base::Status status = base::Status::Ok();
    {
      std::lock_guard db(store_->mutex());
      if (!batch.empty()) {
        status = store_->Insert(batch);
        if (status.ok()) {
          Announce();
        }
      }
      if (status.ok() && store_->CheckpointDue() &&
          store_->CheckpointHead().ok()) {  // else retried at the next tick
        Announce();
      }
    }
    lock.lock();
    if (!status.ok()) {
      // The records stay journaled; appends fail closed until they are in.
      ingest_error_ = status;
      changed_.notify_all();
      for (Pending* p : queue_) {
        p->wake.notify_one();  // those waiting for room fail closed
      }
      std::move(ingest_.begin(), ingest_.end(), std::back_inserter(batch));
      batch.swap(ingest_);
      if (ingest_stopping_) {
        break;  // the journal keeps them for the next open
      }
      retry = std::chrono::milliseconds(100);
      continue;
    }
    retry = std::chrono::milliseconds(0);
    ingest_error_ = base::Status::Ok();
    journal_->KeepBodies(batch);
    if (!batch.empty()) {
      ingested_seq_ = batch.back().seq;
      changed_.notify_all();
      WakeNextLeader();  // there may be room now
    }
  }
}

base::Status AuditLog::Flush() {
  std::unique_lock lock(mutex_);
  const std::uint64_t target = journaled_seq_;
  ingest_wanted_ = true;
  ingest_ready_.notify_one();
  changed_.wait(lock, [&] { return ingested_seq_ >= target || !ingest_error_.ok(); });
  return ingested_seq_ >= target ? base::Status::Ok() : ingest_error_;
}

base::Status AuditLog::Checkpoint() {
  FB_RETURN_IF_ERROR(Flush());
  std::lock_guard db(store_->mutex());
  FB_RETURN_IF_ERROR(store_->CheckpointHead());
  Announce();
  return base::Status::Ok();
}

void AuditLog::Announce() {
  const std::optional<SignedHead> head = store_->TakeSignedHead();
  if (publisher_ && head) {
    publisher_->Offer(*head);
  }
}

std::uint64_t AuditLog::DurableSeq() {
  std::lock_guard lock(mutex_);
  return options_.durability == Durability::kFsync ? journaled_seq_ : durable_seq_;
}

void AuditLog::OnWitnessEvent(const WitnessPublisher::Event& event) {
  WitnessNotice notice = NoticeOf(event);
  std::vector<OutboxAlert> alerts;
  if (notice.alert) {
    for (const std::string& target : options_.witness_alerts) {
      alerts.push_back({target, *notice.alert});
    }
  }
  // Refused only when the log is closing or failing, which is told otherwise.
  AppendAsync(notice.record, std::move(alerts), [](const base::StatusOr<Appended>&) {});
}

base::StatusOr<std::vector<OutboxItem>> AuditLog::DueAlerts(std::size_t limit) {
  return store_->DueAlerts(limit);
}

base::Status AuditLog::MarkDelivered(std::int64_t id) { return store_->MarkDelivered(id); }

base::Status AuditLog::Reschedule(std::int64_t id, int attempts, std::int64_t next_attempt_micros,
                                  std::string_view error) {
  return store_->Reschedule(id, attempts, next_attempt_micros, error);
}

base::StatusOr<std::int64_t> AuditLog::PendingAlerts() { return store_->PendingAlerts(); }

AuditLog::Durable AuditLog::durable() {
  std::lock_guard lock(mutex_);
  return {durable_seq_, journal_syncs_};
}

std::size_t AuditLog::queue_depth() {
  std::lock_guard lock(mutex_);
  return queue_.size() + static_cast<std::size_t>(journaled_seq_ - ingested_seq_);
}

}  // namespace firebreak::audit
