#include "firebreak/audit/audit_log.h"

#include <fcntl.h>
#include <openssl/rand.h>
#include <unistd.h>

#include <cstring>

#include "firebreak/audit/sqlite.h"

namespace firebreak::audit {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS records(
  seq INTEGER PRIMARY KEY, kind TEXT NOT NULL, body TEXT NOT NULL, hash BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS checkpoints(
  seq INTEGER PRIMARY KEY, hash BLOB NOT NULL, signature BLOB NOT NULL, time TEXT NOT NULL);
)sql";

std::int64_t SystemMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

base::Sha256 ChainHash(const base::Sha256& previous, std::string_view body) {
  std::string bytes(reinterpret_cast<const char*>(previous.data()), previous.size());
  bytes.append(body);
  return base::Sha256Of(bytes);
}

std::string_view AsBytes(const base::Sha256& h) {
  return {reinterpret_cast<const char*>(h.data()), h.size()};
}

base::StatusOr<std::string> MetaValue(sqlite3* db, const char* key) {
  Statement get(db, "SELECT value FROM meta WHERE key = ?");
  get.Bind(1, std::string_view(key));
  if (get.Step() == SQLITE_ROW) {
    return std::string(get.Text(0));
  }
  return base::NotFound(key);
}

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
    options.now_micros = &SystemMicros;
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
  if (base::Status s = Exec(db, options.durability == Durability::kFsync ? "PRAGMA synchronous=FULL"
                                                                         : "PRAGMA synchronous=NORMAL");
      !s.ok()) {
    return fail(s);
  }
  if (base::Status s = Exec(db, kSchema); !s.ok()) {
    return fail(s);
  }

  // The instance id and signing key are created on first open and kept.
  std::string instance;
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

  auto log = std::unique_ptr<AuditLog>(new AuditLog(
      std::move(options), db, std::move(instance),
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
  log->writer_ = std::thread([raw = log.get()] { raw->Run(); });
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
      checkpoint_time_(std::chrono::steady_clock::now()),
      last_commit_(checkpoint_time_) {}

AuditLog::~AuditLog() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_writer_.notify_one();
  if (writer_.joinable()) {
    writer_.join();
  }
  begin_.reset();
  commit_.reset();
  insert_.reset();
  sqlite3_close(db_);
}

base::StatusOr<Appended> AuditLog::Append(AuditRecord record) {
  std::future<base::StatusOr<Appended>> done;
  {
    std::unique_lock lock(mutex_);
    wake_producers_.wait(lock, [&] { return queue_.size() < options_.queue_capacity || stopping_; });
    if (stopping_) {
      return base::Status(base::StatusCode::kUnavailable, "the audit log is closing");
    }
    queue_.push_back({std::move(record), {}});
    done = queue_.back().done.get_future();
  }
  wake_writer_.notify_one();
  return done.get();
}

base::Status AuditLog::Checkpoint() {
  std::promise<base::Status> done;
  std::future<base::Status> result = done.get_future();
  {
    std::lock_guard lock(mutex_);
    checkpoint_requested_ = true;
    checkpoint_done_ = &done;
  }
  wake_writer_.notify_one();
  return result.get();
}

void AuditLog::Run() {
  std::deque<Pending> batch;
  for (;;) {
    bool stop = false;
    std::promise<base::Status>* checkpoint_done = nullptr;
    {
      std::unique_lock lock(mutex_);
      auto ready = [&] { return !queue_.empty() || stopping_ || checkpoint_requested_; };
      if (unsynced_) {
        wake_writer_.wait_until(lock, last_commit_ + options_.sync_interval, ready);
      } else {
        wake_writer_.wait(lock, ready);
      }
      const std::size_t n = std::min(queue_.size(), options_.max_batch);
      for (std::size_t i = 0; i < n; ++i) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      stop = stopping_ && queue_.empty();
      if (checkpoint_requested_) {
        checkpoint_requested_ = false;
        checkpoint_done = std::exchange(checkpoint_done_, nullptr);
      }
    }
    wake_producers_.notify_all();

    if (!batch.empty()) {
      const base::Status written = WriteBatch(batch);
      for (Pending& p : batch) {
        if (!written.ok()) {
          p.done.set_value(written);
        }
      }
      batch.clear();
    }
    const auto now = std::chrono::steady_clock::now();
    if (unsynced_ && (now - last_commit_ >= options_.sync_interval || stop)) {
      SyncWal();
    }
    const bool due = head_seq_ > checkpoint_seq_ &&
                     (head_seq_ - checkpoint_seq_ >= options_.checkpoint_every ||
                      now - checkpoint_time_ >= options_.checkpoint_interval);
    if (due || stop || checkpoint_done != nullptr) {
      base::Status s = WriteCheckpoint();
      if (checkpoint_done != nullptr) {
        checkpoint_done->set_value(s);
      }
    }
    if (stop) {
      return;
    }
  }
}

base::Status AuditLog::WriteBatch(std::deque<Pending>& batch) {
  begin_->Reset();
  if (!begin_->ok() || begin_->Step() != SQLITE_DONE) {
    return SqliteError(db_, "audit append: cannot begin a transaction");
  }
  Statement& insert = *insert_;
  std::uint64_t seq = head_seq_;
  base::Sha256 hash = head_hash_;
  std::vector<Appended> appended;
  appended.reserve(batch.size());
  const std::string time = FormatTime(options_.now_micros());
  for (const Pending& p : batch) {
    ++seq;
    const std::string body = EncodeRecord(p.record, seq, time, instance_);
    hash = ChainHash(hash, body);
    insert.Bind(1, static_cast<std::int64_t>(seq))
        .Bind(2, std::string_view(p.record.kind))
        .Bind(3, std::string_view(body))
        .BindBlob(4, AsBytes(hash));
    if (!insert.ok() || insert.Step() != SQLITE_DONE) {
      base::Status error = SqliteError(db_, "audit append");
      insert.Reset();
      Rollback();
      return error;
    }
    insert.Reset();
    appended.push_back({seq, hash});
  }
  commit_->Reset();
  if (commit_->Step() != SQLITE_DONE) {
    base::Status error = SqliteError(db_, "audit append: commit failed");
    Rollback();
    return error;
  }
  head_seq_ = seq;
  head_hash_ = hash;
  last_commit_ = std::chrono::steady_clock::now();
  unsynced_ = options_.durability == Durability::kGroup;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    batch[i].done.set_value(appended[i]);
  }
  return base::Status::Ok();
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
  unsynced_ = false;
}

base::Status AuditLog::WriteCheckpoint() {
  checkpoint_time_ = std::chrono::steady_clock::now();
  if (head_seq_ == checkpoint_seq_) {
    return base::Status::Ok();
  }
  const std::string signature = key_->Sign(CheckpointMessage(instance_, head_seq_, head_hash_));
  Statement insert(db_, "INSERT INTO checkpoints(seq, hash, signature, time) VALUES(?, ?, ?, ?)");
  insert.Bind(1, static_cast<std::int64_t>(head_seq_))
      .BindBlob(2, AsBytes(head_hash_))
      .BindBlob(3, signature)
      .Bind(4, std::string_view(FormatTime(options_.now_micros())));
  if (!insert.ok() || insert.Step() != SQLITE_DONE) {
    return SqliteError(db_, "audit checkpoint");
  }
  checkpoint_seq_ = head_seq_;
  unsynced_ = options_.durability == Durability::kGroup;
  return base::Status::Ok();
}

}  // namespace firebreak::audit
