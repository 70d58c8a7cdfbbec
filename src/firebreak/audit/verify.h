// Verification of an audit trail: the hash chain record by record, sequence
// numbers, and the Ed25519 signatures of the checkpoints. The same verifier
// checks a live database and an offline JSONL export.
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

#include "firebreak/base/digest.h"
#include "firebreak/base/status.h"

namespace firebreak::audit {

struct VerifyReport {
  bool ok = true;
  std::uint64_t records = 0;
  std::uint64_t checkpoints = 0;
  std::uint64_t journaled = 0;  // of the records, those only in the journal yet
  std::uint64_t bad_seq = 0;    // the first record found wrong
  std::string problem;          // what is wrong with it
  std::string key_source;       // where the public key came from
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

  void AddRecord(std::uint64_t seq, std::string_view body, std::string_view hash);
  void AddCheckpoint(std::uint64_t seq, std::string_view hash, std::string_view signature);
  // Call after everything was added; reports truncation below a checkpoint.
  VerifyReport Finish();

  bool failed() const { return !report_.ok; }

 private:
  void Fail(std::uint64_t seq, std::string problem);

  std::string instance_;
  std::string public_pem_;
  std::uint64_t expected_seq_;
  base::Sha256 previous_;
  VerifyReport report_;
};

// Verifies a database, and the records its journal holds beyond it (a log
// that runs, or was killed). Uses `public_pem` when given, else the key the
// database names (and says so in the report).
base::StatusOr<VerifyReport> VerifyDatabase(const std::filesystem::path& db,
                                            std::optional<std::string> public_pem);

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
