// The audit journal: the write-ahead log of the audit database. A record is
// acknowledged once its entry is in the journal (one write per group of
// records; fsynced first in the strict mode); the log then moves entries into
// SQLite in large transactions in the background, and deletes (or reuses) a
// journal segment once everything in it is in SQLite and synced. At open,
// entries the database lacks are moved in first, so a killed process loses
// nothing it acknowledged.
//
// Segments are files beside the database named DB.journal-<first seq, 20
// digits>, allocated whole when created (zeros past the last entry). Each
// starts with the 8 bytes "FBJRNL2\n"; then entries:
//   u32 size of the payload, little-endian
//   payload: u64 seq | u32 n, kind | u32 n, body | u32 alerts | per alert:
//            u32 n, target, u32 n, payload JSON
//   u32 CRC-32C of the payload, little-endian
// Entries are consecutive records, the first the one the name gives. A torn
// or damaged entry, the zeros after the last, or an entry out of sequence (a
// reused segment's older entries) ends its segment. The checksum only finds
// torn writes, as in PostgreSQL's WAL: tampering is the chain hash's to
// find, which covers every record's body.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "firebreak/base/digest.h"
#include "firebreak/base/status.h"

namespace firebreak::audit {

inline constexpr std::string_view kJournalMagic = "FBJRNL2\n";

struct JournalAlert {
  std::string target;
  std::string payload;  // canonical JSON, as the outbox stores it
};

struct JournalEntry {
  std::uint64_t seq = 0;
  std::string kind;
  std::string body;  // the record's canonical bytes
  std::vector<JournalAlert> alerts;
};

// CRC-32C (Castagnoli): with SSE 4.2 where the CPU has it, else portable.
std::uint32_t Crc32c(std::string_view bytes);
std::uint32_t Crc32cPortable(std::string_view bytes);

// Appends the encoding of an entry to `out`.
void AppendJournalEntry(std::uint64_t seq, std::string_view kind, std::string_view body,
                        const std::vector<JournalAlert>& alerts, std::string& out);

std::filesystem::path JournalSegmentPath(const std::filesystem::path& db, std::uint64_t first_seq);

// The segments of a database's journal, oldest first.
std::vector<std::filesystem::path> JournalSegments(const std::filesystem::path& db);

// The entries of one segment's bytes (the segment named for record
// `first_seq`), appended to `out` up to the first one that is not intact or
// not the next record (a reused segment holds older entries after its own).
// False when the bytes are in a format this version cannot read; empty or
// zero bytes are a segment whose creation was cut short, holding nothing.
bool ParseJournalSegment(std::string_view bytes, std::uint64_t first_seq,
                         std::vector<JournalEntry>& out);

// Every intact entry of every segment, in file order (a segment ends at its
// first torn or damaged entry). Segments that vanish while being listed were
// moved into the database and are skipped.
base::StatusOr<std::vector<JournalEntry>> ReadJournal(const std::filesystem::path& db);

// An entry with its chain hash.
struct ChainedEntry {
  JournalEntry entry;
  base::Sha256 hash{};
};
// The entries after record `seq` with hash `hash` (a database's head), in
// order, each hash chained on from the one before: what the journal holds
// beyond the database. Whether their sequence numbers follow on is the
// caller's to check.
std::vector<ChainedEntry> ChainAfter(std::vector<JournalEntry> entries, std::uint64_t seq,
                                     base::Sha256 hash);

// A journaled record on its way into the database: the journal's writer
// makes them, opening reads them back, the store inserts them.
struct Journaled {
  std::uint64_t seq = 0;
  std::string kind;
  std::string body;
  base::Sha256 hash{};
  std::vector<JournalAlert> alerts;
};

// fdatasync (fsync for a directory) of a file through a descriptor of its
// own: SQLite's WAL, a directory after a segment was created. False when it
// failed; a file that does not exist has nothing to sync.
bool SyncPath(const std::filesystem::path& path, bool directory);

// Unavailable: `what`, and errno's message.
base::Status ErrnoError(std::string what);

}  // namespace firebreak::audit
