#include "firebreak/audit/audit_log.h"

#include <fcntl.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <utility>

#include "firebreak/audit/sqlite.h"
#include "firebreak/base/clock.h"

namespace firebreak::audit {
namespace {

// Past kWalCatchUp times wal_checkpoint_bytes, the WAL thread makes SQLite's
// WAL start over (see CheckpointWal), in at most kWalCatchUpRounds rounds.
constexpr std::uint64_t kWalCatchUp = 4;
constexpr int kWalCatchUpRounds = 4;

std::size_t PageSize() { return static_cast<std::size_t>(::sysconf(_SC_PAGESIZE)); }

// SQLite's commit hook in WAL mode: the frames the WAL now holds (it starts
// over after a complete checkpoint).
int CountWalFrames(void* frames, sqlite3*, const char*, int count) {
  static_cast<std::atomic<int>*>(frames)->store(count, std::memory_order_relaxed);
  return SQLITE_OK;
}

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

// Journal segments kept for reuse once their records are in the database.
constexpr std::size_t kRecycledSegments = 16;

// Spare Pending and bodies kept for reuse (see AuditLog::spare_pending_), and
// the largest buffer kept: a record's, not a long conversation's.
constexpr std::size_t kSpares = 4096;
constexpr std::size_t kSpareBytes = 2048;

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

std::string_view DurabilityName(Durability d) {
  return d == Durability::kFsync ? "fsync" : "group";
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
  if (options.key.empty()) {
    options.key = options.db.string() + ".key";
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

  auto log = std::unique_ptr<AuditLog>(
      new AuditLog(std::move(options), db, std::move(instance),
                   std::make_unique<base::SigningKey>(std::move(key).value())));
  const ChainHead head = LastRecord(db);
  log->db_seq_ = head.seq;
  log->db_hash_ = head.hash;
  Statement checkpoint(db, "SELECT MAX(seq) FROM checkpoints");
  if (checkpoint.Step() == SQLITE_ROW) {
    log->checkpoint_seq_ = static_cast<std::uint64_t>(checkpoint.Int(0));
  }
  // No record is written until everything is checked: the records of a
  // database the log refuses, and its journal, are left as they were found.
  Recovery recovery;
  std::uint64_t attested = 0;
  base::Status opened = log->ReadRecovery(recovery);
  if (opened.ok()) {
    opened = log->CheckHead(recovery, attested);
  }
  if (opened.ok()) {
    opened = log->ApplyRecovery(std::move(recovery.missing));
  }
  if (opened.ok()) {
    opened = log->RecordOpen(recovery, attested);
  }
  if (!opened.ok()) {
    return opened.WithContext("audit database " + log->options_.db.string());
  }
  log->head_seq_ = log->journaled_seq_ = log->ingested_seq_ = log->durable_seq_ = log->mark_seq_ =
      log->db_seq_;
  log->head_hash_ = log->db_hash_;
  // The WAL is checkpointed by the WAL thread, through a connection of its
  // own, not by the ingest thread's commits, which only count its frames.
  if (base::Status s = Exec(db, "PRAGMA wal_autocheckpoint=0"); !s.ok()) {
    return s;
  }
  sqlite3_wal_hook(db, &CountWalFrames, &log->wal_frames_);
  Statement page_size(db, "PRAGMA page_size");
  if (page_size.Step() == SQLITE_ROW) {
    log->page_bytes_ = static_cast<std::uint64_t>(page_size.Int(0));
  }
  if (sqlite3_open_v2(log->options_.db.c_str(), &log->checkpointer_,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK) {
    return SqliteError(log->checkpointer_,
                       "cannot open audit database " + log->options_.db.string());
  }
  sqlite3_busy_timeout(log->checkpointer_, 5000);
  // A connection learns that the database is in WAL mode when it first reads
  // it; until then a checkpoint through it does nothing.
  if (base::Status s = Exec(log->checkpointer_, "PRAGMA journal_mode=WAL"); !s.ok()) {
    return s;
  }
  if (!log->options_.witnesses.empty()) {
    // Before the threads that announce checkpoints to it.
    AuditLog* raw = log.get();
    log->publisher_ = std::make_unique<WitnessPublisher>(
        log->options_.witnesses, [raw] { return raw->DurableSeq(); },
        std::max(log->options_.sync_interval / 2, std::chrono::milliseconds(1)),
        log->options_.witness_retry,
        [raw](const WitnessPublisher::Event& e) { raw->OnWitnessEvent(e); });
  }
  log->flusher_ = std::thread([raw = log.get()] {
    ::pthread_setname_np(::pthread_self(), "fb-audit-flush");
    raw->FlushLoop();
  });
  if (log->options_.durability == Durability::kGroup) {
    log->syncer_ = std::thread([raw = log.get()] {
      ::pthread_setname_np(::pthread_self(), "fb-audit-sync");
      raw->SyncLoop();
    });
  }
  log->wal_thread_ = std::thread([raw = log.get()] {
    ::pthread_setname_np(::pthread_self(), "fb-audit-wal");
    raw->WalLoop();
  });
  log->ingester_ = std::thread([raw = log.get()] {
    ::pthread_setname_np(::pthread_self(), "fb-audit-ingest");
    raw->IngestLoop();
  });
  if (log->publisher_) {
    // The readable witnesses have it already (CheckHead).
    log->publisher_->Offer(log->SignHead(log->db_seq_, log->db_hash_, HeadEvent::kOpen),
                           /*to_readable=*/false);
  }
  return log;
}

// An open journal segment: a file allocated up front (no write can find
// the disk full). A group is journaled by one write into the page cache.
// (Through a mapping instead, the leader took a fault for each page it
// wrote, and syncing mapped pages cost a TLB shootdown each.)
struct AuditLog::Segment {
  std::filesystem::path path;
  int fd = -1;
  std::size_t capacity = 0;
  std::size_t size = 0;
  std::uint64_t last_seq = 0;  // 0: no entry yet

  ~Segment() {
    if (fd >= 0) {
      ::close(fd);
    }
  }
};

namespace {

// fdatasync of a file through a descriptor of its own (SQLite's WAL, a
// directory after a segment was created); false when it failed.
bool SyncPath(const std::filesystem::path& path, bool directory) {
  const int fd = ::open(path.c_str(), (directory ? O_DIRECTORY : 0) | O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return errno == ENOENT;  // nothing to sync
  }
  const bool ok = (directory ? ::fsync(fd) : ::fdatasync(fd)) == 0;
  ::close(fd);
  return ok;
}

std::filesystem::path DirectoryOf(const std::filesystem::path& db) {
  return db.has_parent_path() ? db.parent_path() : std::filesystem::path(".");
}

// Writes all of `bytes` at file offset `at`; false, with errno, if not.
bool WriteAt(int fd, std::string_view bytes, std::size_t at) {
  while (!bytes.empty()) {
    const ssize_t n = ::pwrite(fd, bytes.data(), bytes.size(), static_cast<off_t>(at));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      errno = n == 0 ? EIO : errno;
      return false;
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
    at += static_cast<std::size_t>(n);
  }
  return true;
}

base::Status ErrnoError(std::string what) {
  return base::Status(base::StatusCode::kUnavailable, what + ": " + std::strerror(errno));
}

}  // namespace

AuditLog::AuditLog(AuditOptions options, sqlite3* db, std::string instance,
                   std::unique_ptr<base::SigningKey> key)
    : options_(std::move(options)),
      instance_(std::move(instance)),
      key_(std::move(key)),
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
      checkpoint_time_(std::chrono::steady_clock::now()),
      // None yet: the first record finds the log idle (steady_clock's
      // epoch may be a moment ago, at boot).
      last_group_(checkpoint_time_ - options_.busy_gap - std::chrono::microseconds(1)) {}

base::Status AuditLog::ReadRecovery(Recovery& recovery) {
  base::StatusOr<std::vector<JournalEntry>> entries = ReadJournal(options_.db);
  if (!entries.ok()) {
    return entries.status().WithContext("cannot read the audit journal");
  }
  // What the journal and the database both hold must be the same records:
  // a difference is an edit of the database (or of the journal).
  std::vector<const JournalEntry*> held;
  for (const JournalEntry& e : *entries) {
    if (e.seq <= db_seq_) {
      held.push_back(&e);
    }
  }
  std::sort(held.begin(), held.end(),
            [](const JournalEntry* a, const JournalEntry* b) { return a->seq < b->seq; });
  if (!held.empty()) {
    Statement rows(db_, "SELECT seq, kind, body FROM records WHERE seq >= ? ORDER BY seq");
    rows.Bind(1, static_cast<std::int64_t>(held.front()->seq));
    bool row = rows.ok() && rows.Step() == SQLITE_ROW;
    for (const JournalEntry* e : held) {
      while (row && static_cast<std::uint64_t>(rows.Int(0)) < e->seq) {
        row = rows.Step() == SQLITE_ROW;
      }
      const std::string at = "record " + std::to_string(e->seq);
      if (!row || static_cast<std::uint64_t>(rows.Int(0)) != e->seq) {
        return base::DataLoss(at +
                              " is in the audit journal but not in the database: it was deleted; "
                              "run `firebreak audit verify`");
      }
      if (rows.Text(1) != e->kind || rows.Text(2) != e->body) {
        return base::DataLoss(at +
                              " in the database is not the one the audit journal holds: the "
                              "database (or the journal) was edited; run `firebreak audit verify`");
      }
      recovery.journaled.push_back(e->seq);
    }
  }
  std::uint64_t seq = db_seq_;
  for (ChainedEntry& c : ChainAfter(std::move(entries).value(), db_seq_, db_hash_)) {
    JournalEntry& e = c.entry;
    if (e.seq != seq + 1) {
      return base::DataLoss("the audit journal continues at record " + std::to_string(e.seq) +
                            " but the log ends at record " + std::to_string(seq) +
                            ": records are missing; run `firebreak audit verify`");
    }
    seq = e.seq;
    recovery.journaled.push_back(e.seq);
    recovery.missing.push_back(
        {e.seq, std::move(e.kind), std::move(e.body), c.hash, std::move(e.alerts)});
  }
  return base::Status::Ok();
}

base::Status AuditLog::ApplyRecovery(std::vector<Journaled> missing) {
  if (!missing.empty()) {
    // No checkpoint signs these until the unsigned tail is recorded.
    recovering_ = true;
    base::Status inserted = Insert(missing);
    recovering_ = false;
    FB_RETURN_IF_ERROR(inserted);
  }
  if (!DropSegments(JournalSegments(options_.db))) {
    return ErrnoError("cannot sync the audit database");
  }
  std::error_code ec;
  std::filesystem::remove(SparePath(), ec);  // left by a killed process; holds nothing
  return base::Status::Ok();
}

std::optional<base::Sha256> AuditLog::StoredHash(std::uint64_t seq,
                                                 const std::vector<Journaled>& missing) {
  if (seq > db_seq_) {
    if (seq - db_seq_ <= missing.size()) {
      return missing[seq - db_seq_ - 1].hash;
    }
    return std::nullopt;
  }
  Statement get(db_, "SELECT hash FROM records WHERE seq = ?");
  get.Bind(1, static_cast<std::int64_t>(seq));
  base::Sha256 hash{};
  if (!get.ok() || get.Step() != SQLITE_ROW || get.Blob(0).size() != hash.size()) {
    return std::nullopt;
  }
  std::memcpy(hash.data(), get.Blob(0).data(), hash.size());
  return hash;
}

SignedHead AuditLog::SignHead(std::uint64_t seq, const base::Sha256& hash, HeadEvent event) const {
  SignedHead head{instance_, seq, hash, FormatTime(options_.now_micros()), event, {}};
  head.signature = key_->Sign(HeadMessage(instance_, seq, hash, head.time, event));
  return head;
}

base::Status AuditLog::CheckHead(const Recovery& recovery, std::uint64_t& attested) {
  const std::string pem = key_->PublicPem();
  const std::uint64_t head = recovery.missing.empty() ? db_seq_ : recovery.missing.back().seq;
  const std::string ends = "the database ends at record " + std::to_string(head);
  const std::string what_now =
      "; run `firebreak audit verify` to see what changed (to start anyway, move the database "
      "aside: a new one starts a new chain)";
  attested = 0;
  Statement last(db_,
                 "SELECT seq, hash, signature, time FROM checkpoints ORDER BY seq DESC LIMIT 1");
  if (last.ok() && last.Step() == SQLITE_ROW) {
    const auto seq = static_cast<std::uint64_t>(last.Int(0));
    const std::string at = "checkpoint " + std::to_string(seq);
    if (seq > head) {
      return base::DataLoss(at + " signs records up to " + std::to_string(seq) + " but " + ends +
                            ": records were deleted" + what_now);
    }
    const std::optional<base::Sha256> hash = StoredHash(seq, recovery.missing);
    if (!hash || base::AsBytes(*hash) != last.Blob(1)) {
      return base::DataLoss(at + " does not match record " + std::to_string(seq) +
                            "'s hash: the database was edited" + what_now);
    }
    bool legacy = false;
    if (!CheckpointSignatureValid(pem, instance_, seq, *hash, last.Text(3), last.Blob(2), legacy)) {
      return base::DataLoss(at + "'s signature does not verify with the signing key " +
                            options_.key.string() + ": the database was edited" + what_now);
    }
    attested = seq;
    opened_.last_checkpoint = seq;
  }
  for (const std::shared_ptr<Witness>& w : options_.witnesses) {
    if (!w->Readable()) {
      continue;
    }
    opened_.witnessed = true;
    base::StatusOr<std::optional<SignedHead>> last_head = w->LastHead(instance_);
    if (!last_head.ok()) {
      return last_head.status().WithContext("the audit witness " + w->Name());
    }
    if (!last_head->has_value()) {
      continue;
    }
    const SignedHead& h = **last_head;
    const std::string says = "the witness " + w->Name() + " attests record " +
                             std::to_string(h.seq) + " (" + h.time + ")";
    if (!HeadSignatureValid(h, pem)) {
      return base::DataLoss("the last head of the witness " + w->Name() + " (record " +
                            std::to_string(h.seq) + ") does not verify with the signing key " +
                            options_.key.string() + ": the witness holds another key's heads" +
                            what_now);
    }
    if (h.seq > head) {
      return base::DataLoss(says + " but " + ends + ": records were deleted" + what_now);
    }
    if (h.seq > 0 && StoredHash(h.seq, recovery.missing) != h.hash) {
      return base::DataLoss(says + " with another hash than the database's: the database was " +
                            "rewritten" + what_now);
    }
    if (h.event == HeadEvent::kClose && head > h.seq) {
      return base::DataLoss("records " + std::to_string(h.seq + 1) + ".." + std::to_string(head) +
                            " were added after the log was closed at record " +
                            std::to_string(h.seq) + " (" + h.time + ", the witness " + w->Name() +
                            "): not by Firebreak" + what_now);
    }
    attested = std::max(attested, h.seq);
    opened_.last_witnessed = std::max(opened_.last_witnessed, h.seq);
  }
  return base::Status::Ok();
}

base::Status AuditLog::RecordOpen(const Recovery& recovery, std::uint64_t attested) {
  opened_.head_seq = db_seq_;
  // The tail nothing signed vouches for: recorded before anything else, so
  // that the checkpoints to come do not sign over it silently.
  if (db_seq_ > attested) {
    opened_.unsigned_records = db_seq_ - attested;
    opened_.matched_journal = static_cast<std::uint64_t>(
        std::count_if(recovery.journaled.begin(), recovery.journaled.end(),
                      [&](std::uint64_t seq) { return seq > attested; }));
    AuditRecord record{"lifecycle.unsigned_tail", {}};
    Value::Object& f = record.fields;
    f["first"] = attested + 1;
    f["last"] = db_seq_;
    f["records"] = opened_.unsigned_records;
    f["matched_journal"] = opened_.matched_journal;
    f["unchecked"] = opened_.unsigned_records - opened_.matched_journal;
    f["last_checkpoint"] = opened_.last_checkpoint;
    if (opened_.witnessed) {
      f["last_witnessed"] = opened_.last_witnessed;
    }
    Journaled j{db_seq_ + 1, record.kind, {}, {}, {}};
    FinishRecord(PrepareRecord(record, instance_), j.seq, FormatTime(options_.now_micros()),
                 j.body);
    j.hash = ChainHash(db_hash_, j.body);
    FB_RETURN_IF_ERROR(Insert({std::move(j)}));
    opened_.unsigned_tail_seq = db_seq_;
    if (!SyncWal()) {
      return ErrnoError("cannot sync the audit database");
    }
  }
  signed_head_.reset();  // a checkpoint the record's insert wrote: the open head covers it
  // The open head goes to the readable witnesses before anything is
  // appended: records after a close head with no open head after it were
  // not appended by a run of the log.
  const SignedHead head = SignHead(db_seq_, db_hash_, HeadEvent::kOpen);
  for (const std::shared_ptr<Witness>& w : options_.witnesses) {
    if (w->Readable()) {
      FB_RETURN_IF_ERROR(w->Publish(head));
    }
  }
  return base::Status::Ok();
}

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
    // Open failed: the journal keeps what it holds for the next attempt.
    CloseDatabase();
    return;
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
  if (spare_) {
    std::error_code ec;
    std::filesystem::remove(spare_->path, ec);
    spare_.reset();
  }
  if (ingested_seq_ == journaled_seq_) {
    // A failed final checkpoint leaves the tail unsigned, as after a crash.
    bool signed_all = false;
    {
      std::lock_guard db(db_mutex_);
      signed_all = WriteCheckpoint(db_seq_, db_hash_).ok();
      signed_head_.reset();
    }
    DropIngestedSegments(lock, true);
    // The close head, once the database survives a power loss: a record
    // after it that no open head follows was not appended by the log. Best
    // effort (the log can record nothing more): a witness that misses it
    // keeps the last checkpoint it got.
    if (signed_all && !options_.witnesses.empty()) {
      lock.unlock();
      if (SyncWal()) {
        const SignedHead head = SignHead(db_seq_, db_hash_, HeadEvent::kClose);
        for (const std::shared_ptr<Witness>& w : options_.witnesses) {
          static_cast<void>(w->Publish(head));
        }
      }
      lock.lock();
    }
  } else {
    // The journal keeps what the database lacks for the next open.
    for (const std::shared_ptr<Segment>& segment : unsynced_) {
      ::fdatasync(segment->fd);
    }
    if (segment_) {
      ::fdatasync(segment_->fd);
    }
  }
  lock.unlock();
  CloseDatabase();
}

void AuditLog::CloseDatabase() {
  begin_.reset();
  commit_.reset();
  insert_.reset();
  insert_many_.reset();
  insert_alert_.reset();
  sqlite3_close(checkpointer_);
  sqlite3_close(db_);
}

base::StatusOr<Appended> AuditLog::Append(const AuditRecord& record,
                                          std::vector<OutboxAlert> alerts) {
  Pending mine{PrepareRecord(record, instance_), std::move(alerts)};
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
  PrepareRecord(record, instance_, prepared);
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

void AuditLog::KeepSpares(std::vector<Journaled>& ingested) {
  for (Journaled& j : ingested) {
    if (spare_bodies_.size() < kSpares && j.body.capacity() <= kSpareBytes) {
      spare_bodies_.push_back(std::move(j.body));
    }
  }
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
  while (bodies_.size() < n && !spare_bodies_.empty()) {
    bodies_.push_back(std::move(spare_bodies_.back()));
    spare_bodies_.pop_back();
  }
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
  for (std::shared_ptr<Segment>& r : retired_) {
    if (r->last_seq > 0) {
      closed_.emplace_back(r->path, r->last_seq);
    }
    if (options_.durability == Durability::kGroup) {
      unsynced_.push_back(std::move(r));
    }
  }
  retired_.clear();
  if (segment_ != sync_segment_) {
    sync_segment_ = segment_;
    dir_unsynced_ = dir_unsynced_ || (options_.durability == Durability::kGroup && segment_);
  }
  if (written.ok() && !journaled.empty()) {
    journaled_seq_ = head_seq_;
    journal_unsynced_ = options_.durability == Durability::kGroup;
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

std::filesystem::path AuditLog::SparePath() const {
  return options_.db.string() + ".journal-spare";
}

std::size_t AuditLog::SegmentCapacity(std::size_t needed) const {
  const std::size_t page = PageSize();
  return (std::max(options_.segment_bytes, kJournalMagic.size() + needed) + page - 1) / page * page;
}

base::StatusOr<std::shared_ptr<AuditLog::Segment>> AuditLog::CreateSegment(
    const std::filesystem::path& path, std::size_t capacity) {
  auto segment = std::make_shared<Segment>();
  segment->path = path;
  segment->capacity = capacity;
  // A file of that name holds no acknowledged record (they would have
  // advanced the head): it is a segment whose first write failed.
  segment->fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (segment->fd < 0) {
    return ErrnoError("audit journal: cannot create " + path.string());
  }
  if (const int e = ::posix_fallocate(segment->fd, 0, static_cast<off_t>(capacity)); e != 0) {
    errno = e;
    return ErrnoError("audit journal: cannot allocate " + std::to_string(capacity) + " bytes for " +
                      path.string());
  }
  return segment;
}

base::StatusOr<std::shared_ptr<AuditLog::Segment>> AuditLog::ReuseSegment(
    const std::filesystem::path& from, const std::filesystem::path& path, std::size_t capacity) {
  if (::rename(from.c_str(), path.c_str()) != 0) {
    return ErrnoError("audit journal: cannot rename " + from.string());
  }
  auto segment = std::make_shared<Segment>();
  segment->path = path;
  segment->capacity = capacity;
  segment->fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  struct stat st {};
  if (segment->fd < 0 || ::fstat(segment->fd, &st) != 0 ||
      static_cast<std::size_t>(st.st_size) != capacity) {
    return ErrnoError("audit journal: cannot reuse " + from.string());  // created anew
  }
  return segment;
}

void AuditLog::PrepareSpare(std::unique_lock<std::mutex>& lock) {
  spare_state_ = SpareState::kPreparing;
  std::filesystem::path recycled;
  if (!recycle_.empty()) {
    recycled = std::move(recycle_.back());
    recycle_.pop_back();
  }
  lock.unlock();
  const std::size_t capacity = SegmentCapacity(0);
  base::StatusOr<std::shared_ptr<Segment>> spare =
      recycled.empty() ? base::NotFound("no segment to reuse")
                       : ReuseSegment(recycled, SparePath(), capacity);
  if (!spare.ok()) {
    spare = CreateSegment(SparePath(), capacity);
    if (spare.ok()) {
      // Its pages in the page cache (zeroes: nothing is read), so that the
      // leader's writes do not allocate them (best effort).
      ::posix_fadvise((*spare)->fd, 0, static_cast<off_t>(capacity), POSIX_FADV_WILLNEED);
    }
  }
  lock.lock();
  if (spare.ok()) {
    spare_ = std::move(spare).value();
    spare_state_ = SpareState::kReady;
  } else {
    spare_state_ = SpareState::kNone;  // the leader creates its segments itself; it asks again
  }
}

base::Status AuditLog::OpenSegment(std::size_t needed) {
  const std::filesystem::path path = JournalSegmentPath(options_.db, head_seq_ + 1);
  std::shared_ptr<Segment> segment;
  {
    std::lock_guard lock(mutex_);
    if (spare_state_ == SpareState::kReady && spare_->capacity >= kJournalMagic.size() + needed) {
      segment = std::move(spare_);
      spare_state_ = SpareState::kTaken;
    }
  }
  const bool renamed = segment && ::rename(segment->path.c_str(), path.c_str()) == 0;
  {
    // Only now that the spare's name is free (or none is being made): the
    // next spare is made under the same name.
    std::lock_guard lock(mutex_);
    if (spare_state_ == SpareState::kTaken || spare_state_ == SpareState::kNone) {
      spare_state_ = SpareState::kWanted;
      ingest_ready_.notify_one();
    }
  }
  if (renamed) {
    segment->path = path;
  } else {
    base::StatusOr<std::shared_ptr<Segment>> created = CreateSegment(path, SegmentCapacity(needed));
    if (!created.ok()) {
      return created.status();
    }
    segment = std::move(created).value();
  }
  if (!WriteAt(segment->fd, kJournalMagic, 0)) {
    return ErrnoError("audit journal: cannot write " + path.string());
  }
  segment->size = kJournalMagic.size();
  if (options_.durability == Durability::kFsync &&
      (::fdatasync(segment->fd) != 0 || !SyncPath(DirectoryOf(options_.db), true))) {
    return ErrnoError("audit journal: cannot sync " + path.string());
  }
  segment_ = std::move(segment);
  return base::Status::Ok();
}

std::string AuditLog::AlertKey(std::uint64_t seq, std::string_view target) const {
  return instance_ + ":" + std::to_string(seq) + ":" + std::string(target);
}

base::Status AuditLog::WriteJournal(const std::vector<Pending*>& batch,
                                    std::vector<Journaled>& out) {
  buffer_.clear();
  out.reserve(batch.size());
  std::uint64_t seq = head_seq_;
  base::Sha256 hash = head_hash_;
  const std::int64_t now = options_.now_micros();
  const std::string time = FormatTime(now);
  for (Pending* p : batch) {
    ++seq;
    Journaled j{seq, std::move(p->record.kind), {}, {}, {}};
    if (!bodies_.empty()) {
      j.body = std::move(bodies_.back());
      bodies_.pop_back();
      j.body.clear();
    }
    FinishRecord(p->record, seq, time, j.body);
    hash = ChainHash(hash, j.body);
    j.hash = hash;
    for (OutboxAlert& alert : p->alerts) {
      Value::Object& payload = alert.payload;
      payload["idempotency_key"] = AlertKey(seq, alert.target);
      payload["instance"] = instance_;
      payload["audit_seq"] = seq;
      payload["time"] = time;
      payload["target"] = alert.target;
      std::string json;
      Value(std::move(payload)).AppendCanonical(json);
      j.alerts.push_back({std::move(alert.target), std::move(json)});
    }
    AppendJournalEntry(seq, j.kind, j.body, j.alerts, buffer_);
    p->result = Appended{seq, hash};
    out.push_back(std::move(j));
  }
  if (!segment_ || segment_->capacity - segment_->size < buffer_.size()) {
    if (segment_) {
      retired_.push_back(std::move(segment_));
    }
    FB_RETURN_IF_ERROR(OpenSegment(buffer_.size()));
  }
  Segment& segment = *segment_;
  const bool written = WriteAt(segment.fd, buffer_, segment.size);
  if (!written || (options_.durability == Durability::kFsync && ::fdatasync(segment.fd) != 0)) {
    base::Status error = ErrnoError(std::string("audit journal: cannot ") +
                                    (written ? "sync " : "write ") + segment.path.string());
    // Not acknowledged: zeroes in its place, so that a later, shorter group
    // leaves none of its entries behind its own (best effort).
    buffer_.assign(buffer_.size(), '\0');
    static_cast<void>(WriteAt(segment.fd, buffer_, segment.size));
    return error;
  }
  segment.size += buffer_.size();
  segment.last_seq = seq;
  head_seq_ = seq;
  head_hash_ = hash;
  return base::Status::Ok();
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
    const bool synced = SyncWal();
    lock.lock();
    if (synced) {
      durable_seq_ = std::max(durable_seq_, in_database);
    }
  }
  std::erase_if(unsynced_, [&](const std::shared_ptr<Segment>& segment) {
    return segment->last_seq <= durable_seq_;
  });
  if (durable_seq_ >= due) {
    return;
  }
  // The database lags: the journal itself, up to its head.
  std::vector<std::shared_ptr<Segment>> segments = std::move(unsynced_);
  unsynced_.clear();
  if (journal_unsynced_ && sync_segment_) {
    segments.push_back(sync_segment_);
  }
  const bool dir = dir_unsynced_;
  const std::uint64_t journaled = journaled_seq_;
  journal_unsynced_ = dir_unsynced_ = false;
  ++journal_syncs_;
  lock.unlock();
  bool synced = true;
  for (const std::shared_ptr<Segment>& segment : segments) {
    synced = ::fdatasync(segment->fd) == 0 && synced;
  }
  if (dir) {
    synced = SyncPath(DirectoryOf(options_.db), true) && synced;
  }
  if (synced) {
    segments.clear();  // the last reference to a retired segment closes it: not under the lock
  }
  lock.lock();
  if (synced) {
    durable_seq_ = std::max(durable_seq_, journaled);
  } else {
    // Synced again at the next tick, not taken for done.
    std::move(segments.begin(), segments.end(), std::back_inserter(unsynced_));
    journal_unsynced_ = true;
    dir_unsynced_ = dir_unsynced_ || dir;
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
    CheckpointWal();
    lock.lock();
    DropIngestedSegments(lock, false);
  }
}

void AuditLog::CheckpointWal() {
  const std::uint64_t bytes =
      static_cast<std::uint64_t>(wal_frames_.load(std::memory_order_relaxed)) * page_bytes_;
  if (bytes < options_.wal_checkpoint_bytes) {
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
      bytes < kWalCatchUp * options_.wal_checkpoint_bytes) {
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
    if (!SyncPath(options_.db, false) ||
        sqlite3_wal_checkpoint_v2(checkpointer_, nullptr, SQLITE_CHECKPOINT_PASSIVE, &frames,
                                  &copied) != SQLITE_OK ||
        copied != frames) {
      break;
    }
    const std::uint64_t wal = static_cast<std::uint64_t>(frames) * page_bytes_;
    if (frames - before >= added || wal >= 2 * bytes ||
        static_cast<std::uint64_t>(frames - before) * page_bytes_ <=
            options_.wal_checkpoint_bytes) {
      break;
    }
    added = frames - before;
  }
  if (!SyncPath(options_.db, false)) {
    return;
  }
  std::lock_guard db(db_mutex_);
  if (sqlite3_wal_checkpoint_v2(checkpointer_, nullptr, SQLITE_CHECKPOINT_PASSIVE, &frames,
                                &copied) == SQLITE_OK &&
      copied == frames) {
    wal_frames_.store(0, std::memory_order_relaxed);
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
        return ingest_stopping_ || ingest_wanted_ || !ingest_.empty() ||
               spare_state_ == SpareState::kWanted;
      });
      ingest_wait_ = IngestWait::kGathering;
      ingest_ready_.wait_for(lock, kIngestGather, [&] {
        return ingest_stopping_ || ingest_wanted_ || ingest_.size() >= kIngestBatch;
      });
      ingest_wait_ = IngestWait::kBusy;
      ingest_wanted_ = false;
    }
    if (spare_state_ == SpareState::kWanted && !ingest_stopping_) {
      PrepareSpare(lock);
    }
    if (ingest_.empty() && ingest_stopping_) {
      break;
    }
    batch.clear();
    batch.swap(ingest_);
    lock.unlock();
    base::Status status = base::Status::Ok();
    {
      std::lock_guard db(db_mutex_);
      if (!batch.empty()) {
        status = Insert(batch);
      }
      if (status.ok() && db_seq_ > checkpoint_seq_ &&
          std::chrono::steady_clock::now() - checkpoint_time_ >= options_.checkpoint_interval &&
          WriteCheckpoint(db_seq_, db_hash_).ok()) {  // else retried at the next tick
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
    KeepSpares(batch);
    if (!batch.empty()) {
      ingested_seq_ = batch.back().seq;
      changed_.notify_all();
      WakeNextLeader();  // there may be room now
    }
  }
}

void AuditLog::DropIngestedSegments(std::unique_lock<std::mutex>& lock, bool all) {
  std::vector<std::filesystem::path> drop;
  if (all) {
    drop = JournalSegments(options_.db);
  } else {
    for (const auto& [path, last_seq] : closed_) {
      if (last_seq <= ingested_seq_) {
        drop.push_back(path);
      }
    }
  }
  if (drop.empty()) {
    return;
  }
  // A few are kept for the next spares: their pages are allocated and
  // likely cached, where a new file's must be allocated and zeroed.
  std::vector<std::filesystem::path> keep;
  while (!all && !drop.empty() && recycle_.size() + keep.size() < kRecycledSegments) {
    keep.push_back(std::move(drop.back()));
    drop.pop_back();
  }
  lock.unlock();
  const bool dropped = DropSegments(drop);
  lock.lock();
  if (dropped) {  // else they are tried again at the next tick
    std::erase_if(closed_, [&](const auto& c) {
      return std::find(drop.begin(), drop.end(), c.first) != drop.end() ||
             std::find(keep.begin(), keep.end(), c.first) != keep.end();
    });
    std::move(keep.begin(), keep.end(), std::back_inserter(recycle_));
  }
}

bool AuditLog::SyncWal() const { return SyncPath(options_.db.string() + "-wal", false); }

bool AuditLog::DropSegments(const std::vector<std::filesystem::path>& segments) const {
  // The database's copy must survive a power loss before the journal's goes.
  if (!SyncWal()) {
    return false;
  }
  for (const std::filesystem::path& path : segments) {
    std::error_code ec;
    std::filesystem::remove(path, ec);
  }
  return true;
}

base::Status AuditLog::Insert(const std::vector<Journaled>& batch) {
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
  const std::int64_t now = options_.now_micros();
  for (const Journaled& j : batch) {
    for (const JournalAlert& alert : j.alerts) {
      const std::string key = AlertKey(j.seq, alert.target);
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
    if (!recovering_ && j.seq - checkpoint_seq_ >= options_.checkpoint_every &&
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
  Announce();
  return base::Status::Ok();
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
  std::lock_guard db(db_mutex_);
  FB_RETURN_IF_ERROR(WriteCheckpoint(db_seq_, db_hash_));
  Announce();
  return base::Status::Ok();
}

void AuditLog::Announce() {
  if (publisher_ && signed_head_) {
    publisher_->Offer(*signed_head_);
  }
  signed_head_.reset();
}

std::uint64_t AuditLog::DurableSeq() {
  std::lock_guard lock(mutex_);
  return options_.durability == Durability::kFsync ? journaled_seq_ : durable_seq_;
}

void AuditLog::OnWitnessEvent(const WitnessPublisher::Event& event) {
  const std::string name = event.witness->Name();
  AuditRecord record{event.failed ? "witness.failed" : "witness.recovered", {}};
  record.fields["witness"] = name;
  record.fields["head_seq"] = event.head->seq;
  std::vector<OutboxAlert> alerts;
  if (event.failed) {
    record.fields["error"] = event.error.message();
    for (const std::string& target : options_.witness_alerts) {
      alerts.push_back(
          {target,
           Value::Object{{"kind", "witness_failure"},
                         {"severity", "critical"},
                         {"witness", name},
                         {"summary", "the audit witness " + name + " cannot be written (" +
                                         event.error.message() +
                                         "); signed heads are retried, no record is lost"}}});
    }
  } else {
    record.fields["failures"] = event.failures;
  }
  // Refused only when the log is closing or failing, which is told otherwise.
  AppendAsync(record, std::move(alerts), [](const base::StatusOr<Appended>&) {});
}

base::StatusOr<std::vector<OutboxItem>> AuditLog::DueAlerts(std::size_t limit) {
  std::lock_guard db(db_mutex_);
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
}

base::Status AuditLog::MarkDelivered(std::int64_t id) {
  std::lock_guard db(db_mutex_);
  Statement done(db_, "UPDATE outbox SET delivered = ?, attempts = attempts + 1 WHERE id = ?");
  done.Bind(1, options_.now_micros()).Bind(2, id);
  return done.ok() && done.Step() == SQLITE_DONE ? base::Status::Ok()
                                                 : SqliteError(db_, "alert outbox");
}

base::Status AuditLog::Reschedule(std::int64_t id, int attempts, std::int64_t next_attempt_micros,
                                  std::string_view error) {
  std::lock_guard db(db_mutex_);
  Statement retry(db_,
                  "UPDATE outbox SET attempts = ?, next_attempt = ?, last_error = ? WHERE id = ?");
  retry.Bind(1, static_cast<std::int64_t>(attempts))
      .Bind(2, next_attempt_micros)
      .Bind(3, error)
      .Bind(4, id);
  return retry.ok() && retry.Step() == SQLITE_DONE ? base::Status::Ok()
                                                   : SqliteError(db_, "alert outbox");
}

base::StatusOr<std::int64_t> AuditLog::PendingAlerts() {
  std::lock_guard db(db_mutex_);
  Statement count(db_, "SELECT COUNT(*) FROM outbox WHERE delivered IS NULL");
  if (!count.ok() || count.Step() != SQLITE_ROW) {
    return SqliteError(db_, "alert outbox");
  }
  return count.Int(0);
}

void AuditLog::Rollback() {
  // The insert has already failed and is reported; a failed rollback adds
  // nothing the caller could act on (SQLite rolls back on its own then).
  static_cast<void>(Exec(db_, "ROLLBACK"));
}

base::Status AuditLog::WriteCheckpoint(std::uint64_t seq, const base::Sha256& hash) {
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

AuditLog::Durable AuditLog::durable() {
  std::lock_guard lock(mutex_);
  return {durable_seq_, journal_syncs_};
}

std::size_t AuditLog::queue_depth() {
  std::lock_guard lock(mutex_);
  return queue_.size() + static_cast<std::size_t>(journaled_seq_ - ingested_seq_);
}

}  // namespace firebreak::audit
