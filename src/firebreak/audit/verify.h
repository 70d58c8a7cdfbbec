// Verification of an audit trail: the hash chain record by record, sequence
// numbers, every stored column against the hashed body, the Ed25519
// signatures of the checkpoints, the journal's copies of records, and the
// signed heads a witness holds (truncation, rewriting, records appended
// after a close). The same verifier checks a live database and an offline
// JSONL export.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "firebreak/audit/witness.h"
#include "firebreak/base/digest.h"
#include "firebreak/base/status.h"

namespace firebreak::audit {

struct VerifyReport {
  bool ok = true;
  std::uint64_t records = 0;
  std::uint64_t last_seq = 0;  // the last record verified
  std::uint64_t checkpoints = 0;
  std::uint64_t legacy_checkpoints = 0;  // signed before their time was: the time is not checked
  std::uint64_t journaled = 0;           // of the records, those only in the journal yet
  std::uint64_t journal_matched = 0;     // records the database and the journal both hold, equal
  std::uint64_t witness_heads = 0;       // witness heads checked against the chain
  std::vector<std::string> witness_other_instances;  // the witness also holds these
  std::vector<std::size_t> witness_other_lines;      // its lines that are not heads
  // The last record a signed head (a checkpoint, or a witness's head)
  // vouches for: those after it are unattested.
  std::uint64_t attested_seq = 0;
  // What the log found unsigned when it was opened ("lifecycle.unsigned_tail"
  // records), one line each.
  std::vector<std::string> unsigned_tails;
  std::uint64_t bad_seq = 0;  // the first record found wrong
  std::string problem;        // what is wrong with it
  std::string key_source;     // where the public key came from
};

// Fed records in sequence order, each checkpoint right after the record it
// signs (a checkpoint past the last record means the log was truncated);
// stops at the first problem.
class ChainVerifier {
 public:
  // `first_seq` and `previous` describe where the chain starts (1 and zeros
  // for a whole log; an export from a later sequence carries its own).
  ChainVerifier(std::string instance, std::string public_pem, std::uint64_t first_seq = 1,
                base::Sha256 previous = {});

  // The witness's heads of this instance (file order), before any record:
  // each must match the chain, and the chain must reach the last one.
  void ExpectWitness(WitnessHeads heads);
  // `kind`: the stored kind column, when the record has one (a database's),
  // which must be the body's.
  void AddRecord(std::uint64_t seq, std::string_view body, std::string_view hash,
                 std::optional<std::string_view> kind = std::nullopt);
  void AddCheckpoint(std::uint64_t seq, std::string_view hash, std::string_view signature,
                     std::string_view time);
  // Fails record `seq` with `problem` (a check made outside the verifier).
  void Fail(std::uint64_t seq, std::string problem);
  // Call after everything was added; reports truncation below a checkpoint
  // or a witness's head, and records appended after a close.
  VerifyReport Finish();

  bool failed() const { return !report_.ok; }

 private:
  std::string instance_;
  std::string encoded_instance_;  // as bodies carry it
  std::string public_pem_;
  std::uint64_t expected_seq_;
  base::Sha256 previous_;
  std::vector<SignedHead> witness_;         // sorted by sequence
  std::optional<SignedHead> witness_last_;  // the witness's last line
  std::size_t next_head_ = 0;
  VerifyReport report_;
};

// Verifies a database, the records its journal holds too (they must be the
// same) and those it holds beyond it (a log that runs, or was killed), and,
// with `witness`, the heads that file holds of the database's instance.
// Uses `public_pem` when given, else the key the database names (and says
// so in the report).
base::StatusOr<VerifyReport> VerifyDatabase(const std::filesystem::path& db,
                                            std::optional<std::string> public_pem,
                                            const std::filesystem::path& witness = {});

// Writes the records from `from_seq` with their hashes (the journal's
// included), and the checkpoints, as JSON lines that verify offline (see
// README for the format).
base::Status ExportJsonl(const std::filesystem::path& db, std::uint64_t from_seq,
                         std::ostream& out);

// Reads the records of a database that another process may be appending to
// (`audit tail`).
class RecordReader {
 public:
  static base::StatusOr<std::unique_ptr<RecordReader>> Open(const std::filesystem::path& db);
  ~RecordReader();

  // The highest sequence number committed so far (0 for an empty log).
  std::uint64_t LastSeq();
  // Calls `visit` with each record after `after`, in order; returns the last
  // sequence number visited, or `after` when there was none.
  std::uint64_t ReadAfter(std::uint64_t after,
                          const std::function<void(std::uint64_t, std::string_view)>& visit);

 private:
  struct Impl;
  explicit RecordReader(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The top-level "seq" of a canonical record body, or 0.
std::uint64_t SeqOfBody(std::string_view body);

}  // namespace firebreak::audit
