// The tamper-evident audit log of one Firebreak instance: records are
// sequenced, hash-chained (hash_n = SHA-256(hash_{n-1} || canonical bytes_n))
// and committed to SQLite (WAL) by one writer thread that group-commits what
// producers queue. Append returns only when the record is committed, so a
// decision never takes effect before its record. Checkpoints sign the chain
// head with the instance's Ed25519 key every N records or T seconds.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

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
  std::size_t queue_capacity = 65536;  // producers wait beyond this
  std::function<std::int64_t()> now_micros;  // injected clock; default: system clock
};

struct Appended {
  std::uint64_t seq = 0;
  base::Sha256 hash{};
};

// The message a checkpoint signs.
std::string CheckpointMessage(std::string_view instance, std::uint64_t seq,
                              const base::Sha256& hash);

class AuditLog {
 public:
  // Opens (creating if needed) the database, its instance id and signing key,
  // and starts the writer thread.
  static base::StatusOr<std::unique_ptr<AuditLog>> Open(AuditOptions options);
  // Drains the queue, signs a final checkpoint, stops the writer.
  ~AuditLog();

  // Thread-safe; blocks until the record is committed (see Durability). An
  // error means the record is not in the log: the caller must fail closed.
  base::StatusOr<Appended> Append(AuditRecord record);

  // Signs a checkpoint of the current head now (no-op if nothing new).
  base::Status Checkpoint();

  const std::string& instance_id() const { return instance_; }
  std::string public_key_pem() const { return key_->PublicPem(); }
  const AuditOptions& options() const { return options_; }

 private:
  struct Pending {
    AuditRecord record;
    std::promise<base::StatusOr<Appended>> done;
  };
  AuditLog(AuditOptions options, sqlite3* db, std::string instance,
           std::unique_ptr<base::SigningKey> key);
  void Run();
  base::Status WriteBatch(std::deque<Pending>& batch);
  base::Status WriteCheckpoint();
  void SyncWal();
  void Rollback();

  AuditOptions options_;
  sqlite3* db_;
  std::string instance_;
  std::unique_ptr<base::SigningKey> key_;
  // Prepared once, used by the writer thread only.
  std::unique_ptr<Statement> begin_;
  std::unique_ptr<Statement> commit_;
  std::unique_ptr<Statement> insert_;

  // Writer-thread state.
  std::uint64_t head_seq_ = 0;
  base::Sha256 head_hash_{};
  std::uint64_t checkpoint_seq_ = 0;
  std::chrono::steady_clock::time_point checkpoint_time_;
  bool unsynced_ = false;
  std::chrono::steady_clock::time_point last_commit_;

  std::mutex mutex_;
  std::condition_variable wake_writer_;
  std::condition_variable wake_producers_;
  std::deque<Pending> queue_;
  bool checkpoint_requested_ = false;
  std::promise<base::Status>* checkpoint_done_ = nullptr;
  bool stopping_ = false;
  std::thread writer_;
};

}  // namespace firebreak::audit
