#include "firebreak/audit/audit_log.h"

#include <fcntl.h>
#include <openssl/rand.h>
#include <unistd.h>

#include <cstring>

#include "firebreak/audit/sqlite.h"
#include "firebreak/base/clock.h"

namespace firebreak::audit {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS records(
  seq INTEGER PRIMARY KEY, kind TEXT NOT NULL, body TEXT NOT NULL, hash BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS checkpoints(
  seq INTEGER PRIMARY KEY, hash BLOB NOT NULL, signature BLOB NOT NULL, time TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS outbox(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  idempotency_key TEXT NOT NULL UNIQUE,
  target TEXT NOT NULL,
  payload TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt INTEGER NOT NULL,
  delivered INTEGER,
  last_error TEXT);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox(delivered, next_attempt);
)sql";

base::Status SetMeta(sqlite3* db, const char* key, std::string_view value) {
  Statement put(db, "INSERT INTO meta(key, value) VALUES(?, ?)");
  put.Bind(1, std::string_view(key)).Bind(2, value);
  return put.Step() == SQLITE_DONE ? base::Status::Ok() : SqliteError(db, "cannot write meta");
}

}  // namespace

std::string_view DurabilityName(Durability d) {
  return d == Durability::kFsync ? "fsync" : "group";
}

std::string CheckpointMessage(std::string_view instance, std::uint64_t seq,
                              const base::Sha256& hash) {
  return "firebreak-audit-checkpoint/1\n" + std::string(instance) + "\n" + std::to_string(seq) +
         "\n" + base::ToHex(hash);
}

base::StatusOr<std::unique_ptr<AuditLog>> AuditLog::Open(AuditOptions options) {
  if (!options.now_micros) {
    options.now_micros = &base::UnixMicros;
  }
  std::error_code ec;
  if (options.db.has_parent_path()) {
    std::filesystem::create_directories(options.db.parent_path(), ec);
  }
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(options.db.c_str(), &db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                      nullptr) != SQLITE_OK) {
    base::Status status = SqliteError(db, "cannot open audit database " + options.db.string());
    sqlite3_close(db);
    return status;
  }
  auto fail = [&](base::Status status) {
    sqlite3_close(db);
    return status.WithContext("audit database " + options.db.string());
  };
  sqlite3_busy_timeout(db, 5000);
  if (base::Status s = Exec(db, "PRAGMA journal_mode=WAL"); !s.ok()) {
    return fail(s);
  }
  if (base::Status s =
          Exec(db, options.durability == Durability::kFsync ? "PRAGMA synchronous=FULL"
                                                            : "PRAGMA synchronous=NORMAL");
      !s.ok()) {
    return fail(s);
  }
  // Schema and identity in one transaction: a process killed here leaves
  // either nothing or a complete, empty log.
  std::string instance;
  if (base::Status s = Exec(db, "BEGIN IMMEDIATE"); !s.ok()) {
    return fail(s);
  }
  if (base::Status s = Exec(db, kSchema); !s.ok()) {
    return fail(s);
  }
  if (base::StatusOr<std::string> v = MetaValue(db, "instance"); v.ok()) {
    instance = *v;
  } else {
    unsigned char random[16];
    RAND_bytes(random, sizeof(random));
    base::Sha256 id{};
    std::memcpy(id.data(), random, sizeof(random));
    instance = base::ToHex(id).substr(0, 32);
    if (base::Status s = SetMeta(db, "instance", instance); !s.ok()) {
      return fail(s);
    }
    if (base::Status s = SetMeta(db, "schema", std::to_string(kSchemaVersion)); !s.ok()) {
      return fail(s);
    }
  }
  if (base::Status s = Exec(db, "COMMIT"); !s.ok()) {
    return fail(s);
  }
  const std::filesystem::path key_path = options.db.string() + ".key";
  base::StatusOr<base::SigningKey> key = base::SigningKey::LoadPem(key_path);
  if (!key.ok() && key.status().code() == base::StatusCode::kNotFound) {
    key = base::SigningKey::Generate();
    if (key.ok()) {
      if (base::Status s = key->SavePem(key_path); !s.ok()) {
        return fail(s);
      }
    }
  }
  if (!key.ok()) {
    return fail(key.status());
  }
  // The public key is kept in the database for convenience; verification
  // with --pubkey does not trust it.
  if (!MetaValue(db, "public_key").ok()) {
    if (base::Status s = SetMeta(db, "public_key", key->PublicPem()); !s.ok()) {
      return fail(s);
    }
  }

  auto log = std::unique_ptr<AuditLog>(
      new AuditLog(std::move(options), db, std::move(instance),
                   std::make_unique<base::SigningKey>(std::move(key).value())));
  Statement head(db, "SELECT seq, hash FROM records ORDER BY seq DESC LIMIT 1");
  if (head.Step() == SQLITE_ROW && head.Blob(1).size() == log->head_hash_.size()) {
    log->head_seq_ = static_cast<std::uint64_t>(head.Int(0));
    std::memcpy(log->head_hash_.data(), head.Blob(1).data(), log->head_hash_.size());
  }
  Statement checkpoint(db, "SELECT MAX(seq) FROM checkpoints");
  if (checkpoint.Step() == SQLITE_ROW) {
    log->checkpoint_seq_ = static_cast<std::uint64_t>(checkpoint.Int(0));
  }
  log->maintenance_ = std::thread([raw = log.get()] { raw->Maintain(); });
  return log;
}

AuditLog::AuditLog(AuditOptions options, sqlite3* db, std::string instance,
                   std::unique_ptr<base::SigningKey> key)
    : options_(std::move(options)),
      db_(db),
      instance_(std::move(instance)),
      key_(std::move(key)),
      begin_(std::make_unique<Statement>(db, "BEGIN IMMEDIATE")),
      commit_(std::make_unique<Statement>(db, "COMMIT")),
      insert_(std::make_unique<Statement>(
          db, "INSERT INTO records(seq, kind, body, hash) VALUES(?, ?, ?, ?)")),
      insert_alert_(std::make_unique<Statement>(
          db,
          "INSERT INTO outbox(idempotency_key, target, payload, next_attempt) "
          "VALUES(?, ?, ?, ?)")),
      checkpoint_time_(std::chrono::steady_clock::now()),
      last_sync_(checkpoint_time_) {}

void AuditLog::Lead(std::unique_lock<std::mutex>& lock) {
  changed_.wait(lock, [&] { return !leading_; });
  leading_ = true;
}

void AuditLog::Unlead() {
  leading_ = false;
  changed_.notify_all();
  if (!queue_.empty()) {
    tick_.notify_one();  // asynchronous records may wait for a leader
  }
}

template <typename Work>
auto AuditLog::AsLeader(Work work) {
  std::unique_lock lock(mutex_);
  Lead(lock);
  lock.unlock();
  auto result = work();
  lock.lock();
  Unlead();
  return result;
}

AuditLog::~AuditLog() {
  {
    std::unique_lock lock(mutex_);
    stopping_ = true;
    changed_.notify_all();
    tick_.notify_all();
  }
  if (maintenance_.joinable()) {
    maintenance_.join();
  }
  {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return !leading_; });
    while (!queue_.empty()) {
      CommitQueued(lock);  // what AppendAsync queued before the close
    }
  }
  // A failed final checkpoint leaves the tail unsigned, as after a crash.
  static_cast<void>(AsLeader([&] {
    if (unsynced_) {
      unsynced_ = false;
      SyncWal();
    }
    return WriteCheckpoint();
  }));
  begin_.reset();
  commit_.reset();
  insert_.reset();
  insert_alert_.reset();
  sqlite3_close(db_);
}

base::StatusOr<Appended> AuditLog::Append(AuditRecord record, std::vector<OutboxAlert> alerts) {
  Pending mine{std::move(record), std::move(alerts)};
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [&] { return queue_.size() < options_.queue_capacity || stopping_; });
  if (stopping_) {
    return base::Status(base::StatusCode::kUnavailable, "the audit log is closing");
  }
  queue_.push_back(&mine);
  while (!mine.done) {
    if (leading_) {
      changed_.wait(lock);
    } else {
      CommitQueued(lock);  // our record included
    }
  }
  return std::move(mine.result);
}

void AuditLog::AppendAsync(AuditRecord record, std::vector<OutboxAlert> alerts, Done done) {
  std::unique_lock lock(mutex_);
  if (stopping_ || queue_.size() >= options_.queue_capacity) {
    lock.unlock();
    done(base::Status(base::StatusCode::kResourceExhausted,
                      stopping_ ? "the audit log is closing" : "the audit queue is full"));
    return;
  }
  queue_.push_back(new Pending{std::move(record), std::move(alerts), std::move(done)});
  if (!leading_ && queue_.size() == 1) {
    tick_.notify_one();  // later arrivals find the writer already woken
  }
}

void AuditLog::CommitQueued(std::unique_lock<std::mutex>& lock) {
  leading_ = true;
  const std::size_t n = std::min(queue_.size(), options_.max_batch);
  std::vector<Pending*> batch(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
  queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
  lock.unlock();
  const base::Status written = WriteBatch(batch);
  // The batch is committed (and, with kFsync, synced): answer it before the
  // timed duties, so that no producer waits for a group fsync it does not need.
  std::vector<Pending*> waiting;  // synchronous producers, marked done under the lock
  for (Pending* p : batch) {
    if (!written.ok()) {
      p->result = written;
    }
    if (p->callback) {
      p->callback(std::move(p->result));
      delete p;
    } else {
      waiting.push_back(p);
    }
  }
  const bool sync = DoTimedDuties();
  lock.lock();
  for (Pending* p : waiting) {
    p->done = true;
  }
  Unlead();
  if (sync) {
    // Outside the leadership: the next batch commits while this one's WAL
    // frames reach the disk.
    lock.unlock();
    SyncWal();
    lock.lock();
  }
}

base::Status AuditLog::Checkpoint() {
  return AsLeader([&] { return WriteCheckpoint(); });
}

// Time-based duties when no producer is leading: fsync the WAL within
// sync_interval of a commit (default durability), and sign a checkpoint every
// checkpoint_interval.
void AuditLog::Maintain() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    tick_.wait_for(lock, options_.sync_interval / 2,
                   [&] { return stopping_ || (!queue_.empty() && !leading_); });
    if (stopping_ || leading_) {
      continue;  // an active leader does these duties after its batch
    }
    if (!queue_.empty()) {
      CommitQueued(lock);  // asynchronous records have no producer to lead
      continue;
    }
    leading_ = true;  // the writer state below belongs to the leader
    lock.unlock();
    const bool sync = DoTimedDuties();
    lock.lock();
    Unlead();
    if (sync) {
      lock.unlock();
      SyncWal();
      lock.lock();
    }
  }
}

bool AuditLog::DoTimedDuties() {
  const auto now = std::chrono::steady_clock::now();
  bool sync = false;
  if (unsynced_ && now - last_sync_ >= options_.sync_interval / 2) {
    // Every commit so far is covered by the fsync the caller runs next.
    unsynced_ = false;
    last_sync_ = now;
    sync = true;
  }
  if (head_seq_ > checkpoint_seq_ && (head_seq_ - checkpoint_seq_ >= options_.checkpoint_every ||
                                      now - checkpoint_time_ >= options_.checkpoint_interval)) {
    static_cast<void>(WriteCheckpoint());  // retried at the next batch or tick
  }
  return sync;
}

base::Status AuditLog::WriteBatch(const std::vector<Pending*>& batch) {
  begin_->Reset();
  if (!begin_->ok() || begin_->Step() != SQLITE_DONE) {
    return SqliteError(db_, "audit append: cannot begin a transaction");
  }
  Statement& insert = *insert_;
  std::uint64_t seq = head_seq_;
  base::Sha256 hash = head_hash_;
  const std::string time = FormatTime(options_.now_micros());
  for (Pending* p : batch) {
    ++seq;
    const std::string body = EncodeRecord(p->record, seq, time, instance_);
    hash = ChainHash(hash, body);
    insert.Bind(1, static_cast<std::int64_t>(seq))
        .Bind(2, std::string_view(p->record.kind))
        .Bind(3, std::string_view(body))
        .BindBlob(4, base::AsBytes(hash));
    if (!insert.ok() || insert.Step() != SQLITE_DONE) {
      base::Status error = SqliteError(db_, "audit append");
      insert.Reset();
      Rollback();
      return error;
    }
    insert.Reset();
    for (const OutboxAlert& alert : p->alerts) {
      const std::string key = instance_ + ":" + std::to_string(seq) + ":" + alert.target;
      Value::Object payload = alert.payload;
      payload["idempotency_key"] = key;
      payload["instance"] = instance_;
      payload["audit_seq"] = seq;
      payload["time"] = time;
      payload["target"] = alert.target;
      std::string json;
      Value(std::move(payload)).AppendCanonical(json);
      insert_alert_->Bind(1, std::string_view(key))
          .Bind(2, std::string_view(alert.target))
          .Bind(3, std::string_view(json))
          .Bind(4, options_.now_micros());
      const int rc = insert_alert_->Step();
      insert_alert_->Reset();
      if (rc != SQLITE_DONE) {
        base::Status error = SqliteError(db_, "audit append: alert outbox");
        Rollback();
        return error;
      }
    }
    p->result = Appended{seq, hash};
  }
  commit_->Reset();
  if (commit_->Step() != SQLITE_DONE) {
    base::Status error = SqliteError(db_, "audit append: commit failed");
    Rollback();
    return error;
  }
  head_seq_ = seq;
  head_hash_ = hash;
  unsynced_ = options_.durability == Durability::kGroup;
  return base::Status::Ok();
}

base::StatusOr<std::vector<OutboxItem>> AuditLog::DueAlerts(std::size_t limit) {
  return AsLeader([&]() -> base::StatusOr<std::vector<OutboxItem>> {
    Statement due(db_,
                  "SELECT id, target, idempotency_key, payload, attempts FROM outbox "
                  "WHERE delivered IS NULL AND next_attempt <= ? ORDER BY id LIMIT ?");
    if (!due.ok()) {
      return SqliteError(db_, "alert outbox");
    }
    due.Bind(1, options_.now_micros()).Bind(2, static_cast<std::int64_t>(limit));
    std::vector<OutboxItem> items;
    int rc = 0;
    while ((rc = due.Step()) == SQLITE_ROW) {
      items.push_back({due.Int(0), std::string(due.Text(1)), std::string(due.Text(2)),
                       std::string(due.Text(3)), static_cast<int>(due.Int(4))});
    }
    if (rc != SQLITE_DONE) {
      return SqliteError(db_, "alert outbox");
    }
    return items;
  });
}

base::Status AuditLog::MarkDelivered(std::int64_t id) {
  return AsLeader([&] {
    Statement done(db_, "UPDATE outbox SET delivered = ?, attempts = attempts + 1 WHERE id = ?");
    done.Bind(1, options_.now_micros()).Bind(2, id);
    return done.ok() && done.Step() == SQLITE_DONE ? base::Status::Ok()
                                                   : SqliteError(db_, "alert outbox");
  });
}

base::Status AuditLog::Reschedule(std::int64_t id, int attempts, std::int64_t next_attempt_micros,
                                  std::string_view error) {
  return AsLeader([&] {
    Statement retry(
        db_, "UPDATE outbox SET attempts = ?, next_attempt = ?, last_error = ? WHERE id = ?");
    retry.Bind(1, static_cast<std::int64_t>(attempts))
        .Bind(2, next_attempt_micros)
        .Bind(3, error)
        .Bind(4, id);
    return retry.ok() && retry.Step() == SQLITE_DONE ? base::Status::Ok()
                                                     : SqliteError(db_, "alert outbox");
  });
}

base::StatusOr<std::int64_t> AuditLog::PendingAlerts() {
  return AsLeader([&]() -> base::StatusOr<std::int64_t> {
    Statement count(db_, "SELECT COUNT(*) FROM outbox WHERE delivered IS NULL");
    if (!count.ok() || count.Step() != SQLITE_ROW) {
      return SqliteError(db_, "alert outbox");
    }
    return count.Int(0);
  });
}

void AuditLog::Rollback() {
  // The append has already failed and is reported; a failed rollback adds
  // nothing the caller could act on (SQLite rolls back on its own then).
  static_cast<void>(Exec(db_, "ROLLBACK"));
}

void AuditLog::SyncWal() {
  // Committed WAL frames sit in the page cache; fsync them to the disk.
  const std::string wal = options_.db.string() + "-wal";
  const int fd = ::open(wal.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    ::fdatasync(fd);
    ::close(fd);
  }
}

base::Status AuditLog::WriteCheckpoint() {
  checkpoint_time_ = std::chrono::steady_clock::now();
  if (head_seq_ == checkpoint_seq_) {
    return base::Status::Ok();
  }
  const std::string signature = key_->Sign(CheckpointMessage(instance_, head_seq_, head_hash_));
  Statement insert(db_, "INSERT INTO checkpoints(seq, hash, signature, time) VALUES(?, ?, ?, ?)");
  insert.Bind(1, static_cast<std::int64_t>(head_seq_))
      .BindBlob(2, base::AsBytes(head_hash_))
      .BindBlob(3, signature)
      .Bind(4, std::string_view(FormatTime(options_.now_micros())));
  if (!insert.ok() || insert.Step() != SQLITE_DONE) {
    return SqliteError(db_, "audit checkpoint");
  }
  checkpoint_seq_ = head_seq_;
  unsynced_ = options_.durability == Durability::kGroup;
  return base::Status::Ok();
}

std::size_t AuditLog::queue_depth() {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

}  // namespace firebreak::audit
