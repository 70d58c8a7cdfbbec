#include "firebreak/audit/recovery.h"

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "firebreak/audit/journal.h"
#include "firebreak/audit/journal_writer.h"
#include "firebreak/audit/record.h"
#include "firebreak/audit/sqlite.h"
#include "firebreak/audit/witness.h"

namespace firebreak::audit {
namespace {

// What opening finds in the journal: the sequence numbers it holds, in
// order, and the records it holds beyond the database, chained on.
struct Recovery {
  std::vector<std::uint64_t> journaled;
  std::vector<Journaled> missing;
};

// Reads the journal and checks the records the database holds too
// against it. Writes nothing.
base::Status ReadRecovery(Store& store, const std::filesystem::path& db, Recovery& recovery) {
  const ChainHead head = store.head();
  base::StatusOr<std::vector<JournalEntry>> entries = ReadJournal(db);
  if (!entries.ok()) {
    return entries.status().WithContext("cannot read the audit journal");
  }
  // What the journal and the database both hold must be the same records:
  // a difference is an edit of the database (or of the journal).
  std::vector<const JournalEntry*> held;
  for (const JournalEntry& e : *entries) {
    if (e.seq <= head.seq) {
      held.push_back(&e);
    }
  }
  std::sort(held.begin(), held.end(),
            [](const JournalEntry* a, const JournalEntry* b) { return a->seq < b->seq; });
  if (!held.empty()) {
    const std::unique_ptr<Statement> rows = store.RecordsFrom(held.front()->seq);
    bool row = rows->ok() && rows->Step() == SQLITE_ROW;
    for (const JournalEntry* e : held) {
      while (row && static_cast<std::uint64_t>(rows->Int(0)) < e->seq) {
        row = rows->Step() == SQLITE_ROW;
      }
      const std::string at = "record " + std::to_string(e->seq);
      if (!row || static_cast<std::uint64_t>(rows->Int(0)) != e->seq) {
        return base::DataLoss(at +
                              " is in the audit journal but not in the database: it was deleted; "
                              "run `firebreak audit verify`");
      }
      if (rows->Text(1) != e->kind || rows->Text(2) != e->body) {
        return base::DataLoss(at +
                              " in the database is not the one the audit journal holds: the "
                              "database (or the journal) was edited; run `firebreak audit verify`");
      }
      recovery.journaled.push_back(e->seq);
    }
  }
  std::uint64_t seq = head.seq;
  for (ChainedEntry& c : ChainAfter(std::move(entries).value(), head.seq, head.hash)) {
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

// The hash of record `seq` in the database, or among `missing` (what the
// journal holds beyond it).
std::optional<base::Sha256> StoredHash(Store& store, std::uint64_t seq,
                                       const std::vector<Journaled>& missing) {
  const std::uint64_t db_seq = store.head().seq;
  if (seq > db_seq) {
    if (seq - db_seq <= missing.size()) {
      return missing[seq - db_seq - 1].hash;
    }
    return std::nullopt;
  }
  return store.StoredHash(seq);
}

// Checks the head the log will have once `recovery` is in against the
// last checkpoint and the readable witnesses; `attested`: the last record
// a signed head vouches for. Writes nothing.
base::Status CheckHead(Store& store, const AuditOptions& options, const Recovery& recovery,
                       OpenReport& report, std::uint64_t& attested) {
  const std::string pem = store.key().PublicPem();
  const std::string& instance = store.instance();
  const std::uint64_t head =
      recovery.missing.empty() ? store.head().seq : recovery.missing.back().seq;
  const std::string ends = "the database ends at record " + std::to_string(head);
  const std::string what_now =
      "; run `firebreak audit verify` to see what changed (to start anyway, move the database "
      "aside: a new one starts a new chain)";
  attested = 0;
  if (const std::optional<StoredCheckpoint> last = store.LastCheckpoint()) {
    const std::uint64_t seq = last->seq;
    const std::string at = "checkpoint " + std::to_string(seq);
    if (seq > head) {
      return base::DataLoss(at + " signs records up to " + std::to_string(seq) + " but " + ends +
                            ": records were deleted" + what_now);
    }
    const std::optional<base::Sha256> hash = StoredHash(store, seq, recovery.missing);
    if (!hash || base::AsBytes(*hash) != last->hash) {
      return base::DataLoss(at + " does not match record " + std::to_string(seq) +
                            "'s hash: the database was edited" + what_now);
    }
    bool legacy = false;
    if (!CheckpointSignatureValid(pem, instance, seq, *hash, last->time, last->signature, legacy)) {
      return base::DataLoss(at + "'s signature does not verify with the signing key " +
                            options.key.string() + ": the database was edited" + what_now);
    }
    attested = seq;
    report.last_checkpoint = seq;
  }
  for (const std::shared_ptr<Witness>& w : options.witnesses) {
    if (!w->Readable()) {
      continue;
    }
    report.witnessed = true;
    base::StatusOr<std::optional<SignedHead>> last_head = w->LastHead(instance);
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
                            options.key.string() + ": the witness holds another key's heads" +
                            what_now);
    }
    if (h.seq > head) {
      return base::DataLoss(says + " but " + ends + ": records were deleted" + what_now);
    }
    if (h.seq > 0 && StoredHash(store, h.seq, recovery.missing) != h.hash) {
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
    report.last_witnessed = std::max(report.last_witnessed, h.seq);
  }
  return base::Status::Ok();
}

// Moves what the journal holds beyond the database into it, and deletes the
// journal.
base::Status ApplyRecovery(Store& store, const std::filesystem::path& db,
                           std::vector<Journaled> missing) {
  if (!missing.empty()) {
    // No checkpoint signs these until the unsigned tail is recorded.
    FB_RETURN_IF_ERROR(store.InsertUnsigned(missing));
  }
  if (!DropJournal(db)) {
    return ErrnoError("cannot sync the audit database");
  }
  return base::Status::Ok();
}

// Records the unsigned tail (see OpenReport) and publishes the open head
// to the readable witnesses.
base::Status RecordOpen(Store& store, const AuditOptions& options, const Recovery& recovery,
                        std::uint64_t attested, OpenReport& report) {
  const ChainHead db = store.head();
  report.head_seq = db.seq;
  // The tail nothing signed vouches for: recorded before anything else, so
  // that the checkpoints to come do not sign over it silently.
  if (db.seq > attested) {
    report.unsigned_records = db.seq - attested;
    report.matched_journal = static_cast<std::uint64_t>(
        std::count_if(recovery.journaled.begin(), recovery.journaled.end(),
                      [&](std::uint64_t seq) { return seq > attested; }));
    AuditRecord record{"lifecycle.unsigned_tail", {}};
    Value::Object& f = record.fields;
    f["first"] = attested + 1;
    f["last"] = db.seq;
    f["records"] = report.unsigned_records;
    f["matched_journal"] = report.matched_journal;
    f["unchecked"] = report.unsigned_records - report.matched_journal;
    f["last_checkpoint"] = report.last_checkpoint;
    if (report.witnessed) {
      f["last_witnessed"] = report.last_witnessed;
    }
    Journaled j{db.seq + 1, record.kind, {}, {}, {}};
    FinishRecord(PrepareRecord(record, store.instance()), j.seq, FormatTime(options.now_micros()),
                 j.body);
    j.hash = ChainHash(db.hash, j.body);
    FB_RETURN_IF_ERROR(store.Insert({std::move(j)}));
    report.unsigned_tail_seq = store.head().seq;
    if (!SyncWal(options.db)) {
      return ErrnoError("cannot sync the audit database");
    }
  }
  // A checkpoint the record's insert wrote: the open head covers it.
  static_cast<void>(store.TakeSignedHead());
  // The open head goes to the readable witnesses before anything is
  // appended: records after a close head with no open head after it were
  // not appended by a run of the log.
  const SignedHead head = store.SignHead(HeadEvent::kOpen);
  for (const std::shared_ptr<Witness>& w : options.witnesses) {
    if (w->Readable()) {
      FB_RETURN_IF_ERROR(w->Publish(head));
    }
  }
  return base::Status::Ok();
}

}  // namespace

base::Status Recover(Store& store, const AuditOptions& options, OpenReport& report) {
  Recovery recovery;
  std::uint64_t attested = 0;
  FB_RETURN_IF_ERROR(ReadRecovery(store, options.db, recovery));
  FB_RETURN_IF_ERROR(CheckHead(store, options, recovery, report, attested));
  FB_RETURN_IF_ERROR(ApplyRecovery(store, options.db, std::move(recovery.missing)));
  return RecordOpen(store, options, recovery, attested, report);
}

}  // namespace firebreak::audit
