#include "firebreak/audit/verify.h"

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstring>
#include <map>
#include <ostream>

#include "firebreak/audit/audit_log.h"
#include "firebreak/audit/journal.h"
#include "firebreak/audit/record.h"
#include "firebreak/audit/sqlite.h"
#include "firebreak/base/signing.h"

namespace firebreak::audit {
namespace {

void AppendJsonString(std::string& out, std::string_view s) { Value(s).AppendCanonical(out); }

}  // namespace

std::uint64_t SeqOfBody(std::string_view body) { return TopLevelNumber(body, "seq").value_or(0); }

ChainVerifier::ChainVerifier(std::string instance, std::string public_pem, std::uint64_t first_seq,
                             base::Sha256 previous)
    : instance_(std::move(instance)),
      public_pem_(std::move(public_pem)),
      expected_seq_(first_seq),
      previous_(previous) {
  Value(instance_).AppendCanonical(encoded_instance_);
  report_.attested_seq = first_seq - 1;  // where the chain starts is given
}

void ChainVerifier::Fail(std::uint64_t seq, std::string problem) {
  if (report_.ok) {
    report_.ok = false;
    report_.bad_seq = seq;
    report_.problem = std::move(problem);
  }
}

void ChainVerifier::ExpectWitness(WitnessHeads heads) {
  report_.witness_other_instances = std::move(heads.other_instances);
  report_.witness_other_lines = std::move(heads.other_lines);
  if (heads.heads.empty()) {
    return;
  }
  witness_last_ = heads.heads.back();
  for (SignedHead& head : heads.heads) {
    if (!HeadSignatureValid(head, public_pem_)) {
      Fail(head.seq, "the witness's head at record " + std::to_string(head.seq) + " (" + head.time +
                         ") does not verify with the key in use: the log's key was replaced, "
                         "or the witness is another key's");
      return;
    }
    // Heads before the first record given (an export from later on), and
    // an empty log's open head, have nothing here to match.
    if (head.seq >= expected_seq_ && head.seq > 0) {
      witness_.push_back(std::move(head));
    }
  }
  std::stable_sort(witness_.begin(), witness_.end(),
                   [](const SignedHead& a, const SignedHead& b) { return a.seq < b.seq; });
}

void ChainVerifier::AddRecord(std::uint64_t seq, std::string_view body, std::string_view hash,
                              std::optional<std::string_view> kind) {
  if (failed()) {
    return;
  }
  if (seq != expected_seq_) {
    if (seq > expected_seq_) {
      Fail(expected_seq_, "missing: records " + std::to_string(expected_seq_) + ".." +
                              std::to_string(seq - 1) + " were deleted");
    } else {
      Fail(seq, "out of order: record " + std::to_string(seq) + " appears after record " +
                    std::to_string(expected_seq_ - 1));
    }
    return;
  }
  if (SeqOfBody(body) != seq) {
    Fail(seq, "the record's content carries sequence " + std::to_string(SeqOfBody(body)) +
                  ": it was moved, reordered or inserted here");
    return;
  }
  const base::Sha256 computed = ChainHash(previous_, body);
  if (base::AsBytes(computed) != hash) {
    Fail(seq,
         "modified: the content does not match the hash chain (this record was changed, or "
         "the one before it had its hash rewritten); stored hash " +
             base::HexEncode(hash) + ", computed " + base::ToHex(computed));
    return;
  }
  // The stored columns besides the body must say what the body says.
  if (TopLevelValue(body, "instance") != std::string_view(encoded_instance_)) {
    Fail(seq, "the record's content names another instance than the log's (" + instance_ +
                  "): it was copied here from another log");
    return;
  }
  const std::optional<std::string_view> body_kind = TopLevelString(body, "kind");
  if (kind && body_kind != *kind) {
    Fail(seq, "modified: the stored kind column says '" + std::string(*kind) +
                  "' but the record's content says '" + std::string(body_kind.value_or("")) +
                  "' (the column was changed)");
    return;
  }
  for (; next_head_ < witness_.size() && witness_[next_head_].seq == seq; ++next_head_) {
    const SignedHead& head = witness_[next_head_];
    if (head.hash != computed) {
      Fail(seq, "rewritten: the witness attests hash " + base::ToHex(head.hash) + " at record " +
                    std::to_string(seq) + " (" + head.time + "), the log's chain has " +
                    base::ToHex(computed) + ": records up to here were changed");
      return;
    }
    ++report_.witness_heads;
    report_.attested_seq = std::max(report_.attested_seq, seq);
  }
  if (body_kind == "lifecycle.unsigned_tail") {
    auto number = [&](std::string_view key) {
      return std::to_string(TopLevelNumber(body, key).value_or(0));
    };
    report_.unsigned_tails.push_back(
        "record " + std::to_string(seq) + " (" +
        std::string(TopLevelString(body, "time").value_or("")) +
        "): when the log was opened, records " + number("first") + ".." + number("last") +
        " were signed by no checkpoint or witness head; " + number("matched_journal") +
        " of them matched the journal, " + number("unchecked") + " could not be checked");
  }
  previous_ = computed;
  ++expected_seq_;
  ++report_.records;
}

void ChainVerifier::AddCheckpoint(std::uint64_t seq, std::string_view hash,
                                  std::string_view signature, std::string_view time) {
  if (failed()) {
    return;
  }
  const std::uint64_t last = expected_seq_ - 1;
  if (seq > last) {
    Fail(last + 1, "truncated: checkpoint signs records up to " + std::to_string(seq) +
                       " but the log ends at " + std::to_string(last));
    return;
  }
  if (seq < last) {
    Fail(seq, "checkpoint " + std::to_string(seq) + " is out of order");
    return;
  }
  if (hash != base::AsBytes(previous_)) {
    Fail(seq, "checkpoint hash differs from the chain at record " + std::to_string(seq));
    return;
  }
  bool legacy = false;
  if (!CheckpointSignatureValid(public_pem_, instance_, seq, previous_, time, signature, legacy)) {
    Fail(seq, "bad checkpoint signature at record " + std::to_string(seq) +
                  " (its hash, sequence or time was changed, or another key signed it)");
    return;
  }
  ++report_.checkpoints;
  report_.legacy_checkpoints += legacy ? 1 : 0;
  report_.attested_seq = std::max(report_.attested_seq, seq);
}

VerifyReport ChainVerifier::Finish() {
  const std::uint64_t last = expected_seq_ - 1;
  report_.last_seq = last;
  if (!failed() && next_head_ < witness_.size()) {
    const SignedHead& head = witness_[next_head_];
    Fail(last + 1, "truncated: the witness attests record " + std::to_string(head.seq) + " (hash " +
                       base::ToHex(head.hash) + ", " + head.time + ") but the log ends at record " +
                       std::to_string(last));
  }
  if (!failed() && witness_last_ && witness_last_->event == HeadEvent::kClose &&
      last > witness_last_->seq) {
    Fail(witness_last_->seq + 1,
         "appended: records " + std::to_string(witness_last_->seq + 1) + ".." +
             std::to_string(last) + " come after the head the log closed at (record " +
             std::to_string(witness_last_->seq) + ", " + witness_last_->time +
             ", the witness), and no run of the log opened it since: they were not written by "
             "Firebreak");
  }
  return report_;
}

namespace {

struct OpenDb {
  sqlite3* db = nullptr;
  ~OpenDb() { sqlite3_close(db); }
};

base::Status OpenReadOnly(const std::filesystem::path& path, OpenDb& out) {
  if (!std::filesystem::exists(path)) {
    return base::NotFound("audit database " + path.string() + " does not exist");
  }
  if (sqlite3_open_v2(path.c_str(), &out.db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    return SqliteError(out.db, "cannot open " + path.string());
  }
  return base::Status::Ok();
}

// A verifier's meta entries must exist: a missing one is damage.
base::StatusOr<std::string> Meta(sqlite3* db, std::string_view key) {
  base::StatusOr<std::string> value = MetaValue(db, key);
  if (!value.ok() && value.status().code() == base::StatusCode::kNotFound) {
    return base::DataLoss(value.status().message());
  }
  return value;
}

}  // namespace

base::StatusOr<VerifyReport> VerifyDatabase(const std::filesystem::path& path,
                                            std::optional<std::string> public_pem,
                                            const std::filesystem::path& witness) {
  // The journal before the database: a running log moves records from the
  // one into the other and then deletes them from the journal, so each
  // record is found in one or the other.
  base::StatusOr<std::vector<JournalEntry>> journal = ReadJournal(path);
  FB_RETURN_IF_ERROR(journal.status());
  OpenDb db;
  FB_RETURN_IF_ERROR(OpenReadOnly(path, db));
  FB_RETURN_IF_ERROR(Exec(db.db, "BEGIN"));  // one snapshot for everything below
  base::StatusOr<std::string> instance = Meta(db.db, "instance");
  if (!instance.ok()) {
    return instance.status();
  }
  std::string key_source = "the key given";
  if (!public_pem) {
    base::StatusOr<std::string> stored = Meta(db.db, "public_key");
    if (!stored.ok()) {
      return stored.status();
    }
    public_pem = *stored;
    key_source = "the key stored in the database (pass --pubkey to verify against a trusted copy)";
  }
  ChainVerifier verifier(*instance, *public_pem);
  if (!witness.empty()) {
    base::StatusOr<WitnessHeads> heads = ReadWitnessFile(witness, *instance);
    if (!heads.ok()) {
      return heads.status();
    }
    if (heads->heads.empty()) {
      std::string others;
      for (const std::string& other : heads->other_instances) {
        others += (others.empty() ? "" : ", ") + other;
      }
      verifier.Fail(0, "the witness " + witness.string() + " holds no head of instance " +
                           *instance + " (the database was replaced, or the witness is another's" +
                           (others.empty() ? "" : "; it holds heads of " + others) + ")");
    } else {
      verifier.ExpectWitness(std::move(heads).value());
    }
  }
  struct StoredCheckpoint {
    std::string hash;
    std::string signature;
    std::string time;
  };
  std::map<std::uint64_t, StoredCheckpoint> checkpoints;
  Statement cps(db.db, "SELECT seq, hash, signature, time FROM checkpoints ORDER BY seq");
  while (cps.ok() && cps.Step() == SQLITE_ROW) {
    checkpoints[static_cast<std::uint64_t>(cps.Int(0))] = {
        std::string(cps.Blob(1)), std::string(cps.Blob(2)), std::string(cps.Text(3))};
  }
  const ChainHead head = LastRecord(db.db);
  // The journal's copies of records the database holds must be the same.
  std::multimap<std::uint64_t, const JournalEntry*> copies;
  for (const JournalEntry& e : *journal) {
    if (e.seq <= head.seq) {
      copies.emplace(e.seq, &e);
    }
  }
  std::uint64_t journal_matched = 0;
  Statement rows(db.db, "SELECT seq, kind, body, hash FROM records ORDER BY seq");
  if (!rows.ok()) {
    return SqliteError(db.db, "cannot read records");
  }
  auto add_checkpoints = [&, next = checkpoints.begin()](std::uint64_t up_to) mutable {
    for (; next != checkpoints.end() && next->first <= up_to; ++next) {
      verifier.AddCheckpoint(next->first, next->second.hash, next->second.signature,
                             next->second.time);
    }
  };
  while (!verifier.failed() && rows.Step() == SQLITE_ROW) {
    const auto seq = static_cast<std::uint64_t>(rows.Int(0));
    verifier.AddRecord(seq, rows.Text(2), rows.Blob(3), rows.Text(1));
    const auto [first, end] = copies.equal_range(seq);
    for (auto it = first; it != end && !verifier.failed(); ++it) {
      if (it->second->kind != rows.Text(1) || it->second->body != rows.Text(2)) {
        verifier.Fail(seq, "modified: the journal holds another record " + std::to_string(seq) +
                               " than the database (the database, or the journal, was edited)");
      } else {
        ++journal_matched;
      }
    }
    add_checkpoints(seq);
  }
  // Records still in the journal: their hashes are the chain's own, and the
  // verifier checks their sequence and content.
  std::uint64_t journaled = 0;
  if (!verifier.failed()) {
    for (const ChainedEntry& c : ChainAfter(std::move(journal).value(), head.seq, head.hash)) {
      verifier.AddRecord(c.entry.seq, c.entry.body, base::AsBytes(c.hash), c.entry.kind);
      ++journaled;
    }
  }
  add_checkpoints(UINT64_MAX);
  VerifyReport report = verifier.Finish();
  report.key_source = key_source;
  report.journaled = journaled;
  report.journal_matched = journal_matched;
  return report;
}

struct RecordReader::Impl {
  OpenDb db;
  std::unique_ptr<Statement> last;
  std::unique_ptr<Statement> after;
};

RecordReader::RecordReader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

RecordReader::~RecordReader() {
  impl_->last.reset();
  impl_->after.reset();
}

base::StatusOr<std::unique_ptr<RecordReader>> RecordReader::Open(const std::filesystem::path& db) {
  auto impl = std::make_unique<Impl>();
  FB_RETURN_IF_ERROR(OpenReadOnly(db, impl->db));
  impl->last =
      std::make_unique<Statement>(impl->db.db, "SELECT COALESCE(MAX(seq), 0) FROM records");
  impl->after = std::make_unique<Statement>(
      impl->db.db, "SELECT seq, body FROM records WHERE seq > ? ORDER BY seq");
  if (!impl->last->ok() || !impl->after->ok()) {
    return SqliteError(impl->db.db, "not a Firebreak audit database");
  }
  return std::unique_ptr<RecordReader>(new RecordReader(std::move(impl)));
}

std::uint64_t RecordReader::LastSeq() {
  impl_->last->Reset();
  return impl_->last->Step() == SQLITE_ROW ? static_cast<std::uint64_t>(impl_->last->Int(0)) : 0;
}

std::uint64_t RecordReader::ReadAfter(
    std::uint64_t after, const std::function<void(std::uint64_t, std::string_view)>& visit) {
  Statement& rows = *impl_->after;
  rows.Reset();
  rows.Bind(1, static_cast<std::int64_t>(after));
  while (rows.Step() == SQLITE_ROW) {
    after = static_cast<std::uint64_t>(rows.Int(0));
    visit(after, rows.Text(1));
  }
  rows.Reset();  // let the writer checkpoint the WAL past what we read
  return after;
}

base::Status ExportJsonl(const std::filesystem::path& path, std::uint64_t from_seq,
                         std::ostream& out) {
  base::StatusOr<std::vector<JournalEntry>> journal = ReadJournal(path);  // first: see above
  FB_RETURN_IF_ERROR(journal.status());
  OpenDb db;
  FB_RETURN_IF_ERROR(OpenReadOnly(path, db));
  FB_RETURN_IF_ERROR(Exec(db.db, "BEGIN"));  // one snapshot for everything below
  base::StatusOr<std::string> instance = Meta(db.db, "instance");
  base::StatusOr<std::string> key = Meta(db.db, "public_key");
  if (!instance.ok() || !key.ok()) {
    return instance.ok() ? key.status() : instance.status();
  }
  from_seq = std::max<std::uint64_t>(from_seq, 1);
  const ChainHead head = LastRecord(db.db);
  const std::vector<ChainedEntry> tail =
      ChainAfter(std::move(journal).value(), head.seq, head.hash);
  std::string previous(32, '\0');
  Statement prev(db.db, "SELECT hash FROM records WHERE seq = ?");
  prev.Bind(1, static_cast<std::int64_t>(from_seq - 1));
  if (from_seq > 1 && prev.Step() == SQLITE_ROW) {
    previous = std::string(prev.Blob(0));
  }
  for (const ChainedEntry& c : tail) {
    if (c.entry.seq == from_seq - 1) {
      previous = std::string(base::AsBytes(c.hash));
    }
  }
  std::string line =
      "{\"type\":\"header\",\"schema\":" + std::to_string(kSchemaVersion) + ",\"instance\":";
  AppendJsonString(line, *instance);
  line += ",\"public_key\":";
  AppendJsonString(line, *key);
  line += ",\"first_seq\":" + std::to_string(from_seq) + ",\"previous_hash\":\"" +
          base::HexEncode(previous) + "\"}\n";
  out << line;

  Statement cps(db.db,
                "SELECT seq, hash, signature, time FROM checkpoints WHERE seq >= ? ORDER BY seq");
  cps.Bind(1, static_cast<std::int64_t>(from_seq));
  bool more_checkpoints = cps.Step() == SQLITE_ROW;
  auto write_checkpoint = [&] {
    std::string c = "{\"type\":\"checkpoint\",\"seq\":" + std::to_string(cps.Int(0)) +
                    ",\"hash\":\"" + base::HexEncode(cps.Blob(1)) + "\",\"signature\":\"" +
                    base::HexEncode(cps.Blob(2)) + "\",\"time\":";
    AppendJsonString(c, cps.Text(3));
    c += "}\n";
    out << c;
    more_checkpoints = cps.Step() == SQLITE_ROW;
  };
  auto write_record = [&](std::uint64_t seq, std::string_view hash, std::string_view body) {
    std::string r = "{\"type\":\"record\",\"seq\":" + std::to_string(seq) + ",\"hash\":\"" +
                    base::HexEncode(hash) + "\",\"body\":";
    AppendJsonString(r, body);
    r += "}\n";
    out << r;
    while (more_checkpoints && static_cast<std::uint64_t>(cps.Int(0)) <= seq) {
      write_checkpoint();
    }
  };
  Statement rows(db.db, "SELECT seq, body, hash FROM records WHERE seq >= ? ORDER BY seq");
  rows.Bind(1, static_cast<std::int64_t>(from_seq));
  while (rows.Step() == SQLITE_ROW) {
    write_record(static_cast<std::uint64_t>(rows.Int(0)), rows.Blob(2), rows.Text(1));
  }
  for (const ChainedEntry& c : tail) {
    if (c.entry.seq >= from_seq) {
      write_record(c.entry.seq, base::AsBytes(c.hash), c.entry.body);
    }
  }
  while (more_checkpoints) {
    write_checkpoint();
  }
  return out.good() ? base::Status::Ok() : base::DataLoss("cannot write the export");
}

}  // namespace firebreak::audit
