#include "firebreak/audit/store.h"

#include <openssl/rand.h>
#include <sys/stat.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <utility>

namespace firebreak::audit {
namespace {

// Past kWalCatchUp times wal_checkpoint_bytes, the WAL thread makes SQLite's
// WAL start over (see CheckpointWal), in at most kWalCatchUpRounds rounds.
constexpr std::uint64_t kWalCatchUp = 4;
constexpr int kWalCatchUpRounds = 4;

// SQLite's commit hook in WAL mode: the frames the WAL now holds (it starts
// over after a complete checkpoint).
int CountWalFrames(void* frames, sqlite3*, const char*, int count) {
  static_cast<std::atomic<int>*>(frames)->store(count, std::memory_order_relaxed);
  return SQLITE_OK;
}

// Records inserted by one statement run (a third cheaper per record than one
// at a time).
constexpr std::size_t kRowsPerInsert = 64;

std::string InsertManySql() {
  std::string sql = "INSERT INTO records(seq, kind, body, hash) VALUES(?, ?, ?, ?)";
  for (std::size_t i = 1; i < kRowsPerInsert; ++i) {
    sql += ", (?, ?, ?, ?)";
  }
  return sql;
}

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

// The instance key at `path`: created (0600) when missing; refused when
// group or others may access it.
base::StatusOr<base::SigningKey> LoadInstanceKey(const std::filesystem::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    if ((st.st_mode & 077) != 0) {
      char mode[8];
      std::snprintf(mode, sizeof(mode), "%04o", static_cast<unsigned>(st.st_mode & 07777));
      return base::FailedPrecondition(
          "the audit signing key " + path.string() + " may be accessed by group or others (mode " +
          mode + "): whoever can read it can sign checkpoints; make it readable by the service " +
          "alone (chmod 600 " + path.string() + ")");
    }
    return base::SigningKey::LoadPem(path);
  }
  if (errno != ENOENT) {
    return base::Status(
        base::StatusCode::kUnavailable,
        "cannot read the audit signing key " + path.string() + ": " + std::strerror(errno));
  }
  if (path.has_parent_path()) {
    std::error_code ec;
    std::filesystem::create_directories(path.parent_path(), ec);
  }
  base::StatusOr<base::SigningKey> key = base::SigningKey::Generate();
  if (key.ok()) {
    FB_RETURN_IF_ERROR(key->SavePem(path));
  }
  return key;
}

base::Status SetMeta(sqlite3* db, const char* key, std::string_view value) {
  Statement put(db, "INSERT INTO meta(key, value) VALUES(?, ?)");
  put.Bind(1, std::string_view(key)).Bind(2, value);
  return put.Step() == SQLITE_DONE ? base::Status::Ok() : SqliteError(db, "cannot write meta");
}

}  // namespace

std::string AlertKey(std::string_view instance, std::uint64_t seq, std::string_view target) {
  return std::string(instance) + ":" + std::to_string(seq) + ":" + std::string(target);
}

bool SyncWal(const std::filesystem::path& db) { return SyncPath(db.string() + "-wal", false); }

base::StatusOr<std::unique_ptr<Store>> Store::Open(const AuditOptions& options) {
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
  // 64 KiB pages (SQLite's largest) for a new database: fewer pages to
  // split, chain and checksum per record (no effect on an existing one).
  // A million records from 2 producers: 208,000 -> 227,000 records/s, 4 %
  // less CPU, than with 16 KiB (itself a fifth cheaper than 4 KiB).
  if (base::Status s = Exec(db, "PRAGMA page_size=65536"); !s.ok()) {
    return fail(s);
  }
  if (base::Status s = Exec(db, "PRAGMA journal_mode=WAL"); !s.ok()) {
    return fail(s);
  }
  // synchronous=NORMAL: the journal makes records durable, and the
  // database's WAL is synced before a journal segment is deleted.
  if (base::Status s = Exec(db, "PRAGMA synchronous=NORMAL"); !s.ok()) {
    return fail(s);
  }
  // 16 MiB of page cache (2 MiB by default): a transaction of records then
  // never spills pages before its commit.
  if (base::Status s = Exec(db, "PRAGMA cache_size=-16384"); !s.ok()) {
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
  base::StatusOr<base::SigningKey> key = LoadInstanceKey(options.key);
  if (!key.ok()) {
    return fail(key.status());
  }
  // The public key is kept in the database for convenience; verification
  // with --pubkey does not trust it. A key that is not the one the database
  // names would sign checkpoints no verifier accepts beside the old ones.
  if (base::StatusOr<std::string> named = MetaValue(db, "public_key"); !named.ok()) {
    if (base::Status s = SetMeta(db, "public_key", key->PublicPem()); !s.ok()) {
      return fail(s);
    }
  } else if (*named != key->PublicPem()) {
    return fail(base::FailedPrecondition(
        "the signing key " + options.key.string() +
        " is not the key this database names (its public key differs): give audit.key the key "
        "the database was created with, or, if the database's key entry was changed, run "
        "`firebreak audit verify --pubkey` with a trusted copy"));
  }

  auto store =
      std::unique_ptr<Store>(new Store(options, db, std::move(instance),
                                       std::make_unique<base::SigningKey>(std::move(key).value())));
  const ChainHead head = LastRecord(db);
  store->db_seq_ = head.seq;
  store->db_hash_ = head.hash;
  Statement checkpoint(db, "SELECT MAX(seq) FROM checkpoints");
  if (checkpoint.Step() == SQLITE_ROW) {
    store->checkpoint_seq_ = static_cast<std::uint64_t>(checkpoint.Int(0));
  }
  return store;
}

Store::Store(const AuditOptions& options, sqlite3* db, std::string instance,
             std::unique_ptr<base::SigningKey> key)
    : path_(options.db),
      instance_(std::move(instance)),
      key_(std::move(key)),
      now_micros_(options.now_micros),
      checkpoint_every_(options.checkpoint_every),
      checkpoint_interval_(options.checkpoint_interval),
      wal_checkpoint_bytes_(options.wal_checkpoint_bytes),
      db_(db),
      begin_(std::make_unique<Statement>(db, "BEGIN IMMEDIATE")),
      commit_(std::make_unique<Statement>(db, "COMMIT")),
      insert_(std::make_unique<Statement>(
          db, "INSERT INTO records(seq, kind, body, hash) VALUES(?, ?, ?, ?)")),
      insert_many_(std::make_unique<Statement>(db, InsertManySql().c_str())),
      insert_alert_(std::make_unique<Statement>(
          db,
          "INSERT INTO outbox(idempotency_key, target, payload, next_attempt) "
          "VALUES(?, ?, ?, ?)")),
      checkpoint_time_(std::chrono::steady_clock::now()) {}

Store::~Store() {
  begin_.reset();
  commit_.reset();
  insert_.reset();
  insert_many_.reset();
  insert_alert_.reset();
  sqlite3_close(checkpointer_);
  sqlite3_close(db_);
}

SignedHead Store::SignHead(std::uint64_t seq, const base::Sha256& hash, HeadEvent event) const {
  SignedHead head{instance_, seq, hash, FormatTime(now_micros_()), event, {}};
  head.signature = key_->Sign(HeadMessage(instance_, seq, hash, head.time, event));
  return head;
}

base::Status Store::StartWalCheckpoints() {
  if (base::Status s = Exec(db_, "PRAGMA wal_autocheckpoint=0"); !s.ok()) {
    return s;
  }
  sqlite3_wal_hook(db_, &CountWalFrames, &wal_frames_);
  Statement page_size(db_, "PRAGMA page_size");
  if (page_size.Step() == SQLITE_ROW) {
    page_bytes_ = static_cast<std::uint64_t>(page_size.Int(0));
  }
  if (sqlite3_open_v2(path_.c_str(), &checkpointer_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                      nullptr) != SQLITE_OK) {
    return SqliteError(checkpointer_, "cannot open audit database " + path_.string());
  }
  sqlite3_busy_timeout(checkpointer_, 5000);
  // A connection learns that the database is in WAL mode when it first reads
  // it; until then a checkpoint through it does nothing.
  return Exec(checkpointer_, "PRAGMA journal_mode=WAL");
}

void Store::CheckpointWal() {
  const std::uint64_t bytes =
      static_cast<std::uint64_t>(wal_frames_.load(std::memory_order_relaxed)) * page_bytes_;
  if (bytes < wal_checkpoint_bytes_) {
    return;
  }
  // PASSIVE runs beside the ingest thread's writes, and the WAL starts over
  // at the next commit once one has caught up with them.
  int frames = 0;
  int copied = 0;
  if ((sqlite3_wal_checkpoint_v2(checkpointer_, nullptr, SQLITE_CHECKPOINT_PASSIVE, &frames,
                                 &copied) == SQLITE_OK &&
       copied == frames &&
       wal_frames_.compare_exchange_strong(frames, 0, std::memory_order_relaxed)) ||
      bytes < kWalCatchUp * wal_checkpoint_bytes_) {
    return;
  }
  // Under constant writes none catches up: the ingest thread commits while
  // it runs. Then, once the WAL is large, the WAL thread holds the writes up
  // while a last one copies and syncs what was written since the one
  // before (a RESTART checkpoint would copy and sync everything with the
  // writes held up: hundreds of milliseconds). To keep that short, it first
  // syncs what it copied and copies again, the writes going on, while that
  // copies all there is, leaves less to copy each time, and the WAL stays
  // within twice the size that set it off.
  for (int round = 0, added = INT_MAX; round < kWalCatchUpRounds; ++round) {
    const int before = frames;
    if (!SyncPath(path_, false) ||
        sqlite3_wal_checkpoint_v2(checkpointer_, nullptr, SQLITE_CHECKPOINT_PASSIVE, &frames,
                                  &copied) != SQLITE_OK ||
        copied != frames) {
      break;
    }
    const std::uint64_t wal = static_cast<std::uint64_t>(frames) * page_bytes_;
    if (frames - before >= added || wal >= 2 * bytes ||
        static_cast<std::uint64_t>(frames - before) * page_bytes_ <= wal_checkpoint_bytes_) {
      break;
    }
    added = frames - before;
  }
  if (!SyncPath(path_, false)) {
    return;
  }
  std::lock_guard db(mutex_);
  if (sqlite3_wal_checkpoint_v2(checkpointer_, nullptr, SQLITE_CHECKPOINT_PASSIVE, &frames,
                                &copied) == SQLITE_OK &&
      copied == frames) {
    wal_frames_.store(0, std::memory_order_relaxed);
  }
}

base::Status Store::Insert(const std::vector<Journaled>& batch) { return Insert(batch, true); }

base::Status Store::InsertUnsigned(const std::vector<Journaled>& batch) {
  return Insert(batch, false);
}

base::Status Store::Insert(const std::vector<Journaled>& batch, bool checkpoints) {
  begin_->Reset();
  if (!begin_->ok() || begin_->Step() != SQLITE_DONE) {
    return SqliteError(db_, "audit database: cannot begin a transaction");
  }
  const std::uint64_t checkpoint_before = checkpoint_seq_;
  auto fail = [&](std::string what) {
    base::Status error = SqliteError(db_, what);
    Rollback();
    checkpoint_seq_ = checkpoint_before;
    signed_head_.reset();
    return error;
  };
  // Records kRowsPerInsert at a time (fewer statement runs), then the rest
  // one by one; the bound bytes stay in `batch` until the commit.
  std::size_t i = 0;
  for (; i < batch.size();) {
    const bool full = batch.size() - i >= kRowsPerInsert;
    Statement& insert = full ? *insert_many_ : *insert_;
    const std::size_t rows = full ? kRowsPerInsert : 1;
    for (std::size_t r = 0; r < rows; ++r, ++i) {
      const Journaled& j = batch[i];
      const int at = static_cast<int>(r) * 4;
      insert.Bind(at + 1, static_cast<std::int64_t>(j.seq))
          .BindTextView(at + 2, j.kind)
          .BindTextView(at + 3, j.body)
          .BindBlobView(at + 4, base::AsBytes(j.hash));
    }
    const int rc = insert.ok() ? insert.Step() : SQLITE_ERROR;
    insert.Reset();
    if (rc != SQLITE_DONE) {
      return fail("audit database");
    }
  }
  const std::int64_t now = now_micros_();
  for (const Journaled& j : batch) {
    for (const JournalAlert& alert : j.alerts) {
      const std::string key = AlertKey(instance_, j.seq, alert.target);
      insert_alert_->Bind(1, std::string_view(key))
          .Bind(2, std::string_view(alert.target))
          .Bind(3, std::string_view(alert.payload))
          .Bind(4, now);
      const int rc = insert_alert_->Step();
      insert_alert_->Reset();
      if (rc != SQLITE_DONE) {
        return fail("audit database: alert outbox");
      }
    }
    // Every checkpoint_every records exactly, in the same transaction.
    if (checkpoints && j.seq - checkpoint_seq_ >= checkpoint_every_ &&
        !WriteCheckpoint(j.seq, j.hash).ok()) {
      return fail("audit checkpoint");
    }
  }
  commit_->Reset();
  if (commit_->Step() != SQLITE_DONE) {
    return fail("audit database: commit failed");
  }
  db_seq_ = batch.back().seq;
  db_hash_ = batch.back().hash;
  return base::Status::Ok();
}

void Store::Rollback() {
  // The insert has already failed and is reported; a failed rollback adds
  // nothing the caller could act on (SQLite rolls back on its own then).
  static_cast<void>(Exec(db_, "ROLLBACK"));
}

bool Store::CheckpointDue() const {
  return db_seq_ > checkpoint_seq_ &&
         std::chrono::steady_clock::now() - checkpoint_time_ >= checkpoint_interval_;
}

base::Status Store::CheckpointHead() { return WriteCheckpoint(db_seq_, db_hash_); }

base::Status Store::WriteCheckpoint(std::uint64_t seq, const base::Sha256& hash) {
  checkpoint_time_ = std::chrono::steady_clock::now();
  if (seq == checkpoint_seq_) {
    return base::Status::Ok();
  }
  SignedHead head = SignHead(seq, hash, HeadEvent::kCheckpoint);
  Statement insert(db_, "INSERT INTO checkpoints(seq, hash, signature, time) VALUES(?, ?, ?, ?)");
  insert.Bind(1, static_cast<std::int64_t>(seq))
      .BindBlob(2, base::AsBytes(hash))
      .BindBlob(3, head.signature)
      .Bind(4, std::string_view(head.time));
  if (!insert.ok() || insert.Step() != SQLITE_DONE) {
    return SqliteError(db_, "audit checkpoint");
  }
  checkpoint_seq_ = seq;
  signed_head_ = std::move(head);
  return base::Status::Ok();
}

std::optional<SignedHead> Store::TakeSignedHead() {
  std::optional<SignedHead> head = std::move(signed_head_);
  signed_head_.reset();
  return head;
}

std::optional<base::Sha256> Store::StoredHash(std::uint64_t seq) {
  Statement get(db_, "SELECT hash FROM records WHERE seq = ?");
  get.Bind(1, static_cast<std::int64_t>(seq));
  base::Sha256 hash{};
  if (!get.ok() || get.Step() != SQLITE_ROW || get.Blob(0).size() != hash.size()) {
    return std::nullopt;
  }
  std::memcpy(hash.data(), get.Blob(0).data(), hash.size());
  return hash;
}

std::optional<StoredCheckpoint> Store::LastCheckpoint() {
  Statement last(db_,
                 "SELECT seq, hash, signature, time FROM checkpoints ORDER BY seq DESC LIMIT 1");
  if (!last.ok() || last.Step() != SQLITE_ROW) {
    return std::nullopt;
  }
  return StoredCheckpoint{static_cast<std::uint64_t>(last.Int(0)), std::string(last.Blob(1)),
                          std::string(last.Blob(2)), std::string(last.Text(3))};
}

std::unique_ptr<Statement> Store::RecordsFrom(std::uint64_t seq) {
  auto rows = std::make_unique<Statement>(
      db_, "SELECT seq, kind, body FROM records WHERE seq >= ? ORDER BY seq");
  rows->Bind(1, static_cast<std::int64_t>(seq));
  return rows;
}

base::StatusOr<std::vector<OutboxItem>> Store::DueAlerts(std::size_t limit) {
  std::lock_guard db(mutex_);
  Statement due(db_,
                "SELECT id, target, idempotency_key, payload, attempts FROM outbox "
                "WHERE delivered IS NULL AND next_attempt <= ? ORDER BY id LIMIT ?");
  if (!due.ok()) {
    return SqliteError(db_, "alert outbox");
  }
  due.Bind(1, now_micros_()).Bind(2, static_cast<std::int64_t>(limit));
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
}

base::Status Store::MarkDelivered(std::int64_t id) {
  std::lock_guard db(mutex_);
  Statement done(db_, "UPDATE outbox SET delivered = ?, attempts = attempts + 1 WHERE id = ?");
  done.Bind(1, now_micros_()).Bind(2, id);
  return done.ok() && done.Step() == SQLITE_DONE ? base::Status::Ok()
                                                 : SqliteError(db_, "alert outbox");
}

base::Status Store::Reschedule(std::int64_t id, int attempts, std::int64_t next_attempt_micros,
                               std::string_view error) {
  std::lock_guard db(mutex_);
  Statement retry(db_,
                  "UPDATE outbox SET attempts = ?, next_attempt = ?, last_error = ? WHERE id = ?");
  retry.Bind(1, static_cast<std::int64_t>(attempts))
      .Bind(2, next_attempt_micros)
      .Bind(3, error)
      .Bind(4, id);
  return retry.ok() && retry.Step() == SQLITE_DONE ? base::Status::Ok()
                                                   : SqliteError(db_, "alert outbox");
}

base::StatusOr<std::int64_t> Store::PendingAlerts() {
  std::lock_guard db(mutex_);
  Statement count(db_, "SELECT COUNT(*) FROM outbox WHERE delivered IS NULL");
  if (!count.ok() || count.Step() != SQLITE_ROW) {
    return SqliteError(db_, "alert outbox");
  }
  return count.Int(0);
}

}  // namespace firebreak::audit
