// The audit journal's writer (journal.h has the format): sequences and
// chains each group of records on from the journal's head and writes it to
// the current segment in one write, and keeps the segment files: the spare
// the ingest thread makes ahead of the leader, the segments the sync thread
// is to sync, and those deleted, or kept for reuse, once the database holds
// their records. AuditLog owns one.
//
// Threads: Begin, Add and Write are the leader's alone and run without the
// log's lock; every other call is made under the log's mutex, which guards
// the state the log's threads share here.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "firebreak/audit/audit_log.h"
#include "firebreak/audit/journal.h"
#include "firebreak/audit/record.h"
#include "firebreak/audit/sqlite.h"
#include "firebreak/base/digest.h"
#include "firebreak/base/status.h"

namespace firebreak::audit {

// Deletes every segment of the journal of `db`, and the spare a killed
// process left, once SQLite's WAL is synced: opening, once the database
// holds what they do. False when the sync failed (nothing is deleted then).
bool DropJournal(const std::filesystem::path& db);

class JournalWriter {
 public:
  // `head`: the database's, which holds every record when the log opens.
  // `mutex`: the log's; `spare_wanted` (the ingest thread's) is notified
  // under it when the spare is to be made.
  JournalWriter(const AuditOptions& options, std::string instance, ChainHead head,
                std::mutex& mutex, std::condition_variable& spare_wanted);
  ~JournalWriter();
  JournalWriter(const JournalWriter&) = delete;
  JournalWriter& operator=(const JournalWriter&) = delete;

  // The leader's. The last record written.
  const ChainHead& head() const { return head_; }
  // A group: Begin, then Add for each record, then Write.
  void Begin();
  // Sequences and chains `record` (its kind moved out), completes the
  // payloads of its `alerts`, and appends it to `out`.
  Appended Add(PreparedRecord& record, std::vector<OutboxAlert>& alerts,
               std::vector<Journaled>& out);
  // Writes the group in one write, to a new segment when the current one
  // lacks room; nothing of it is acknowledged on an error.
  base::Status Write();

  // The bodies of records the database holds are kept for the records to
  // come, so that a body is not allocated by one thread and freed by another
  // (see AuditLog::spare_pending_): the ingest thread keeps them, the leader
  // takes enough for a group of `n` before it starts.
  void KeepBodies(std::vector<Journaled>& ingested);
  void TakeBodies(std::size_t n);

  // After a group (`written`: it wrote records): the segments it retired
  // wait to be synced (default mode) and dropped; the current one is the
  // one to sync.
  void GroupDone(bool written);

  // The ingest thread makes the spare, off the leader's path: the segment
  // to reuse, if any, else a new one. The lock is released meanwhile.
  bool spare_wanted() const { return spare_state_ == SpareState::kWanted; }
  void PrepareSpare(std::unique_lock<std::mutex>& lock);

  // The sync thread (default mode): forgets the segments whose records
  // survive a power loss through the database; syncs the journal up to its
  // head, the lock released meanwhile (false: it failed, and is tried again
  // at the next call).
  void ForgetSynced(std::uint64_t durable_seq);
  bool Sync(std::unique_lock<std::mutex>& lock);

  // The WAL thread: deletes the closed segments whose records are all in
  // the database (`all`: every segment, at close), keeping a few for reuse.
  // The lock is released while the files go.
  void DropIngested(std::unique_lock<std::mutex>& lock, std::uint64_t ingested_seq, bool all);

  // At close: the spare's file goes; the segments not yet synced are synced
  // (the journal keeps what the database lacks for the next open).
  void RemoveSpare();
  void SyncUnsynced();

  struct Segment;  // an open segment file

 private:
  // A new segment with room for at least `needed` bytes of entries: the
  // spare, renamed, when it is big enough.
  base::Status OpenSegment(std::size_t needed);
  // The size of a segment for `needed` bytes of entries.
  std::size_t SegmentCapacity(std::size_t needed) const;

  const AuditOptions& options_;
  const std::string instance_;
  std::mutex& mutex_;
  std::condition_variable& spare_wanted_;

  // The leader's alone.
  ChainHead head_;
  std::shared_ptr<Segment> segment_;
  std::vector<std::shared_ptr<Segment>> retired_;  // replaced since the last group
  std::vector<std::string> bodies_;                // taken for the group
  // The group being written: its entries, last record and time.
  std::string buffer_;
  ChainHead group_;
  std::string time_;

  // Under the log's mutex.
  std::vector<std::string> spare_bodies_;
  std::shared_ptr<Segment> sync_segment_;           // the segment the sync thread syncs
  std::vector<std::shared_ptr<Segment>> unsynced_;  // retired, not yet synced (default mode)
  bool journal_unsynced_ = false;
  bool dir_unsynced_ = false;
  // The next segment, made ahead by the ingest thread under one name: only
  // one thread at a time may touch that file.
  std::shared_ptr<Segment> spare_;  // kReady only
  enum class SpareState {
    kNone,       // none made (it failed); the leader asks again
    kWanted,     // the ingest thread is to make one
    kPreparing,  // the ingest thread is making it
    kReady,      // spare_ is it
    kTaken,      // the leader took it and is renaming it
  };
  SpareState spare_state_ = SpareState::kWanted;
  std::vector<std::filesystem::path> recycle_;  // segments all in the database, kept for reuse
  // Closed segments: deleted once their last record is in the database.
  std::vector<std::pair<std::filesystem::path, std::uint64_t>> closed_;
};

}  // namespace firebreak::audit
