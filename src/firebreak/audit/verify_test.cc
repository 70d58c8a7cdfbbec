// What someone who can edit the audit database (but cannot read the signing
// key or write the witness) can do, and what finds it: every stored column
// against the hashed body, the journal's copies, the signed heads of a
// witness file (truncation, rewriting, appends after a close), the log
// itself when it opens; and the signing key's own path and permissions.
#include "firebreak/audit/verify.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "firebreak/audit/audit_log.h"
#include "firebreak/audit/journal.h"
#include "firebreak/audit/witness.h"
#include "firebreak/base/signing.h"
#include "firebreak/base/test_dir.h"

namespace firebreak::audit {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

constexpr std::int64_t kNow = 1795910399123456;

class TamperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = base::FreshTestDir("fb-tamper");
    fs::create_directories(dir_ / "db");
    fs::create_directories(dir_ / "keys");
    fs::create_directories(dir_ / "witness");
    db_ = dir_ / "db" / "audit.db";
    key_ = dir_ / "keys" / "audit.key";
    witness_ = dir_ / "witness" / "heads.jsonl";
  }
  void TearDown() override { fs::remove_all(dir_); }

  AuditOptions Options(bool with_witness = true) {
    AuditOptions options;
    options.db = db_;
    options.key = key_;
    options.checkpoint_every = 10;
    options.now_micros = [] { return kNow; };
    if (with_witness) {
      options.witnesses.push_back(std::make_shared<FileWitness>(witness_));
    }
    return options;
  }

  base::StatusOr<std::unique_ptr<AuditLog>> TryOpen(bool with_witness = true) {
    return AuditLog::Open(Options(with_witness));
  }

  std::unique_ptr<AuditLog> Open(bool with_witness = true) {
    auto log = TryOpen(with_witness);
    EXPECT_TRUE(log.ok()) << log.status().ToString();
    return log.ok() ? std::move(log).value() : nullptr;
  }

  static AuditRecord Decision(int i) {
    AuditRecord r;
    r.kind = "decision";
    r.fields["request_id"] = "req-" + std::to_string(i);
    r.fields["decision"] = i % 2 ? "BLOCK" : "ALLOW";
    return r;
  }

  // 25 decisions, closed cleanly: checkpoints at 10, 20 and 25; the
  // witness holds open@0, those three, and close@25.
  void Fill() {
    auto log = Open();
    for (int i = 1; i <= 25; ++i) {
      ASSERT_EQ(log->Append(Decision(i))->seq, static_cast<std::uint64_t>(i));
    }
  }

  void Sql(const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(db_.c_str(), &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    char* error = nullptr;
    EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error), SQLITE_OK)
        << (error ? error : "") << " in " << sql;
    sqlite3_free(error);
    sqlite3_close(db);
  }

  std::string Text(const std::string& query) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open(db_.c_str(), &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);  // the log may be writing
    sqlite3_stmt* stmt = nullptr;
    sqlite3_prepare_v2(db, query.c_str(), -1, &stmt, nullptr);
    std::string out;
    const int rc = sqlite3_step(stmt);
    EXPECT_TRUE(rc == SQLITE_ROW || rc == SQLITE_DONE) << sqlite3_errmsg(db) << " in " << query;
    if (rc == SQLITE_ROW) {
      out.assign(static_cast<const char*>(sqlite3_column_blob(stmt, 0)),
                 static_cast<std::size_t>(sqlite3_column_bytes(stmt, 0)));
    }
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return out;
  }

  // What a forger with write access does: appends record `seq` after the
  // database's last one, its hash chained on correctly.
  void Forge(std::uint64_t seq, const AuditRecord& record) {
    const std::string previous =
        Text("SELECT hash FROM records WHERE seq = " + std::to_string(seq - 1));
    ASSERT_EQ(previous.size(), 32u);
    const std::string body = EncodeRecord(record, seq, "2026-11-29T00:00:00.000000Z",
                                          Text("SELECT value FROM meta WHERE key = 'instance'"));
    base::Sha256 prev{};
    std::memcpy(prev.data(), previous.data(), 32);
    const base::Sha256 hash = ChainHash(prev, body);
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(db_.c_str(), &db), SQLITE_OK);
    sqlite3_stmt* insert = nullptr;
    sqlite3_prepare_v2(db,
                       "INSERT OR REPLACE INTO records(seq, kind, body, hash) VALUES(?, ?, ?, ?)",
                       -1, &insert, nullptr);
    sqlite3_bind_int64(insert, 1, static_cast<sqlite3_int64>(seq));
    sqlite3_bind_text(insert, 2, record.kind.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(insert, 3, body.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_blob(insert, 4, hash.data(), 32, SQLITE_TRANSIENT);
    EXPECT_EQ(sqlite3_step(insert), SQLITE_DONE);
    sqlite3_finalize(insert);
    sqlite3_close(db);
  }

  VerifyReport Verify(const fs::path& witness = {}) {
    base::StatusOr<VerifyReport> r = VerifyDatabase(db_, std::nullopt, witness);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : VerifyReport{};
  }

  std::vector<SignedHead> WitnessHeads() {
    base::StatusOr<audit::WitnessHeads> heads = ReadWitnessFile(witness_, "");
    EXPECT_TRUE(heads.ok()) << heads.status().ToString();
    return heads.ok() ? heads->heads : std::vector<SignedHead>{};
  }

  fs::path dir_;
  fs::path db_;
  fs::path key_;
  fs::path witness_;
};

struct Tampering {
  const char* column;
  const char* sql;
  std::uint64_t bad_seq;
  const char* problem;
};

// Every column the database stores, changed alone: found, and named.
TEST_F(TamperTest, EveryStoredColumnIsCheckedAgainstTheHashedBody) {
  Fill();
  const std::string other_key = [] { return base::SigningKey::Generate()->PublicPem(); }();
  const Tampering cases[] = {
      {"records.seq", "UPDATE records SET seq = 125 WHERE seq = 25", 25, "missing"},
      {"records.kind", "UPDATE records SET kind = 'completion' WHERE seq = 6", 6,
       "the stored kind column says 'completion' but the record's content says 'decision'"},
      {"records.body",
       "UPDATE records SET body = replace(body, '\"ALLOW\"', '\"BLOCK\"') WHERE seq = 6", 6,
       "modified: the content does not match the hash chain"},
      {"records.hash", "UPDATE records SET hash = zeroblob(32) WHERE seq = 6", 6,
       "modified: the content does not match the hash chain"},
      {"checkpoints.seq", "UPDATE checkpoints SET seq = 11 WHERE seq = 10", 11,
       "checkpoint hash differs from the chain at record 11"},
      {"checkpoints.hash",
       "UPDATE checkpoints SET hash = (SELECT hash FROM records WHERE seq = 9) WHERE seq = 10", 10,
       "checkpoint hash differs"},
      {"checkpoints.signature", "UPDATE checkpoints SET signature = zeroblob(64) WHERE seq = 20",
       20, "bad checkpoint signature"},
      {"checkpoints.time",
       "UPDATE checkpoints SET time = '2020-01-01T00:00:00.000000Z' WHERE seq = 20", 20,
       "bad checkpoint signature at record 20"},
      {"meta.instance", "UPDATE meta SET value = 'f00d' WHERE key = 'instance'", 1,
       "names another instance than the log's (f00d)"},
  };
  const fs::path pristine = dir_ / "pristine.db";
  fs::copy_file(db_, pristine);
  for (const Tampering& t : cases) {
    SCOPED_TRACE(t.column);
    fs::copy_file(pristine, db_, fs::copy_options::overwrite_existing);
    ASSERT_TRUE(Verify().ok);
    Sql(t.sql);
    VerifyReport r = Verify();
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.bad_seq, t.bad_seq) << r.problem;
    EXPECT_THAT(r.problem, HasSubstr(t.problem));
  }
  // The key the database names: the checkpoints then fail (and the log,
  // with its own key, refuses to open it).
  fs::copy_file(pristine, db_, fs::copy_options::overwrite_existing);
  Sql("UPDATE meta SET value = '" + other_key + "' WHERE key = 'public_key'");
  VerifyReport r = Verify();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.bad_seq, 10u);
  EXPECT_THAT(r.problem, HasSubstr("bad checkpoint signature"));
  base::StatusOr<std::unique_ptr<AuditLog>> reopened = TryOpen();
  ASSERT_FALSE(reopened.ok());
  EXPECT_THAT(reopened.status().message(), HasSubstr("is not the key this database names"));
}

TEST_F(TamperTest, ARecordThatDiffersFromTheJournalsCopyIsFound) {
  Fill();
  // The journal still holds record 24 (a segment kept for reuse, or one the
  // log had not dropped yet), as it was written; the database's was
  // rewritten, the chain after it recomputed.
  const std::string instance = Text("SELECT value FROM meta WHERE key = 'instance'");
  std::string bytes(kJournalMagic);
  AppendJournalEntry(24, "decision", Text("SELECT body FROM records WHERE seq = 24"), {}, bytes);
  AppendJournalEntry(25, "decision", Text("SELECT body FROM records WHERE seq = 25"), {}, bytes);
  Sql("DELETE FROM checkpoints WHERE seq > 20");
  AuditRecord forged = Decision(24);
  forged.fields["decision"] = "ALLOW";
  Forge(24, forged);
  Forge(25, Decision(25));
  ASSERT_TRUE(Verify().ok);  // without the journal: a tail nothing signs
  { std::ofstream(JournalSegmentPath(db_, 24), std::ios::binary) << bytes; }
  VerifyReport r = Verify();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.bad_seq, 24u);
  EXPECT_THAT(r.problem, HasSubstr("the journal holds another record 24 than the database"));
  base::StatusOr<std::unique_ptr<AuditLog>> reopened = TryOpen(/*with_witness=*/false);
  ASSERT_FALSE(reopened.ok());
  EXPECT_THAT(reopened.status().message(),
              HasSubstr("record 24 in the database is not the one the audit journal holds"));
  EXPECT_EQ(JournalSegments(db_).size(), 1u);  // kept: nothing is dropped on a refusal
}

TEST_F(TamperTest, TheWitnessHoldsTheOpenCheckpointAndCloseHeads) {
  Fill();
  const std::vector<SignedHead> heads = WitnessHeads();
  ASSERT_GE(heads.size(), 2u);
  const std::string pem = base::SigningKey::LoadPem(key_)->PublicPem();
  // Open, the checkpoints published meanwhile (the latest one when several
  // came at once: each vouches for everything before it), close.
  EXPECT_EQ(heads.front().event, HeadEvent::kOpen);
  EXPECT_EQ(heads.front().seq, 0u);
  EXPECT_EQ(heads.back().event, HeadEvent::kClose);
  EXPECT_EQ(heads.back().seq, 25u);
  std::uint64_t previous = 0;
  for (std::size_t i = 0; i < heads.size(); ++i) {
    if (i > 0 && i + 1 < heads.size()) {
      EXPECT_EQ(heads[i].event, HeadEvent::kCheckpoint);
      EXPECT_TRUE(heads[i].seq == 10 || heads[i].seq == 20) << heads[i].seq;
      EXPECT_GT(heads[i].seq, previous);
      previous = heads[i].seq;
    }
    EXPECT_EQ(heads[i].time, "2026-11-28T23:59:59.123456Z");
    EXPECT_TRUE(HeadSignatureValid(heads[i], pem)) << i;
  }
  EXPECT_EQ(base::ToHex(heads.back().hash),
            base::HexEncode(Text("SELECT hash FROM records WHERE seq = 25")));
  VerifyReport r = Verify(witness_);
  EXPECT_TRUE(r.ok) << r.problem;
  EXPECT_EQ(r.witness_heads, heads.size() - 1);  // the empty log's open head matches no record
  EXPECT_EQ(r.attested_seq, 25u);
  // Reopened: an open head at 25, and a close one after.
  { auto log = Open(); }
  const std::vector<SignedHead> after = WitnessHeads();
  ASSERT_EQ(after.size(), heads.size() + 2);
  EXPECT_EQ(after[heads.size()].event, HeadEvent::kOpen);
  EXPECT_EQ(after[heads.size()].seq, 25u);
  EXPECT_EQ(after.back().event, HeadEvent::kClose);
  EXPECT_TRUE(Verify(witness_).ok);
}

TEST_F(TamperTest, TruncationWithItsCheckpointsIsFoundWithTheWitness) {
  Fill();
  Sql("DELETE FROM records WHERE seq > 20; DELETE FROM checkpoints WHERE seq > 20");
  VerifyReport blind = Verify();
  EXPECT_TRUE(blind.ok) << blind.problem;  // what the database alone cannot tell
  EXPECT_EQ(blind.records, 20u);
  VerifyReport r = Verify(witness_);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.bad_seq, 21u);
  EXPECT_THAT(r.problem, HasSubstr("truncated: the witness attests record 25"));
  EXPECT_THAT(r.problem, HasSubstr("but the log ends at record 20"));
  // Nor does the log sign over it.
  base::StatusOr<std::unique_ptr<AuditLog>> reopened = TryOpen();
  ASSERT_FALSE(reopened.ok());
  EXPECT_THAT(reopened.status().message(),
              HasSubstr("attests record 25 (2026-11-28T23:59:59.123456Z) but the database ends "
                        "at record 20: records were deleted"));
}

TEST_F(TamperTest, ARewrittenTailIsFoundWithTheWitness) {
  Fill();
  // Records 21..25 replaced by others, the chain recomputed, their
  // checkpoints deleted (they cannot be re-signed).
  Sql("DELETE FROM checkpoints WHERE seq > 20");
  for (int i = 21; i <= 25; ++i) {
    AuditRecord r = Decision(i);
    r.fields["decision"] = "ALLOW";
    Forge(static_cast<std::uint64_t>(i), r);
  }
  VerifyReport blind = Verify();
  EXPECT_TRUE(blind.ok) << blind.problem;
  EXPECT_EQ(blind.attested_seq, 20u);  // but 21..25 are reported unattested
  EXPECT_EQ(blind.last_seq, 25u);
  VerifyReport r = Verify(witness_);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.bad_seq, 25u);
  EXPECT_THAT(r.problem, HasSubstr("rewritten: the witness attests hash"));
  base::StatusOr<std::unique_ptr<AuditLog>> reopened = TryOpen();
  ASSERT_FALSE(reopened.ok());
  EXPECT_THAT(reopened.status().message(), HasSubstr("the database was rewritten"));
}

TEST_F(TamperTest, AppendsAfterACloseAreFoundWithTheWitness) {
  Fill();
  Forge(26, Decision(26));
  Forge(27, Decision(27));
  VerifyReport blind = Verify();
  EXPECT_TRUE(blind.ok) << blind.problem;
  EXPECT_EQ(blind.attested_seq, 25u);
  EXPECT_EQ(blind.last_seq, 27u);  // unattested: 26..27
  VerifyReport r = Verify(witness_);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.bad_seq, 26u);
  EXPECT_THAT(r.problem, HasSubstr("appended: records 26..27 come after the head the log closed "
                                   "at (record 25"));
  base::StatusOr<std::unique_ptr<AuditLog>> reopened = TryOpen();
  ASSERT_FALSE(reopened.ok());
  EXPECT_THAT(reopened.status().message(),
              HasSubstr("records 26..27 were added after the log was closed at record 25"));
}

TEST_F(TamperTest, JournalSegmentsPlantedAfterACloseAreRefusedAndLeftAsFound) {
  Fill();
  // A forged record 26 where the log looks for what it did not move in.
  const std::string instance = Text("SELECT value FROM meta WHERE key = 'instance'");
  std::string bytes(kJournalMagic);
  AppendJournalEntry(26, "decision",
                     EncodeRecord(Decision(26), 26, "2026-11-29T00:00:00.000000Z", instance), {},
                     bytes);
  { std::ofstream(JournalSegmentPath(db_, 26), std::ios::binary) << bytes; }
  VerifyReport r = Verify(witness_);
  EXPECT_FALSE(r.ok);
  EXPECT_THAT(r.problem, HasSubstr("appended: records 26..26"));
  base::StatusOr<std::unique_ptr<AuditLog>> reopened = TryOpen();
  ASSERT_FALSE(reopened.ok());
  EXPECT_THAT(reopened.status().message(),
              HasSubstr("records 26..26 were added after the log was closed at record 25"));
  EXPECT_EQ(Text("SELECT CAST(MAX(seq) AS TEXT) FROM records"), "25");  // nothing moved in
  EXPECT_EQ(JournalSegments(db_).size(), 1u);
}

// A run that stopped without its final checkpoint (here: the witness's
// close line is gone, as if the run was killed) leaves a tail nothing
// signs; forged records there look the same. The next run records it
// before it signs anything, and verify shows it.
TEST_F(TamperTest, AnUnsignedTailIsReportedAndRecordedBeforeTheLogSignsOverIt) {
  Fill();
  Sql("DELETE FROM checkpoints WHERE seq > 20");
  {
    // The witness as a run killed after its checkpoint at 20 leaves it.
    const base::SigningKey key = std::move(base::SigningKey::LoadPem(key_)).value();
    std::vector<SignedHead> heads = WitnessHeads();
    std::ofstream out(witness_, std::ios::trunc);
    out << SignedHeadLine(heads.front());
    SignedHead at20{heads.front().instance, 20, {}, "2026-11-29T00:00:00.000000Z",
                    HeadEvent::kCheckpoint, {}};
    const std::string hash = Text("SELECT hash FROM records WHERE seq = 20");
    std::memcpy(at20.hash.data(), hash.data(), 32);
    at20.signature = key.Sign(HeadMessage(at20.instance, 20, at20.hash, at20.time, at20.event));
    out << SignedHeadLine(at20);
  }
  Forge(26, Decision(26));
  VerifyReport r = Verify(witness_);
  EXPECT_TRUE(r.ok) << r.problem;
  EXPECT_EQ(r.attested_seq, 20u);
  EXPECT_EQ(r.last_seq, 26u);
  {
    auto log = Open();
    const OpenReport& o = log->opened();
    EXPECT_EQ(o.head_seq, 26u);
    EXPECT_EQ(o.last_checkpoint, 20u);
    EXPECT_EQ(o.last_witnessed, 20u);
    EXPECT_EQ(o.unsigned_records, 6u);
    EXPECT_EQ(o.matched_journal, 0u);
    EXPECT_EQ(o.unsigned_tail_seq, 27u);
    EXPECT_EQ(log->Append(Decision(28))->seq, 28u);
  }
  const std::string body = Text("SELECT body FROM records WHERE seq = 27");
  EXPECT_THAT(body, HasSubstr("\"kind\":\"lifecycle.unsigned_tail\""));
  EXPECT_THAT(body, HasSubstr("\"first\":21"));
  EXPECT_THAT(body, HasSubstr("\"last\":26"));
  EXPECT_THAT(body, HasSubstr("\"unchecked\":6"));
  EXPECT_THAT(body, HasSubstr("\"last_witnessed\":20"));
  VerifyReport after = Verify(witness_);
  EXPECT_TRUE(after.ok) << after.problem;
  ASSERT_EQ(after.unsigned_tails.size(), 1u);
  EXPECT_THAT(after.unsigned_tails[0],
              HasSubstr("records 21..26 were signed by no checkpoint or witness head; 0 of them "
                        "matched the journal, 6 could not be checked"));
  EXPECT_EQ(after.attested_seq, 28u);
}

TEST_F(TamperTest, TheKeyLivesAtItsOwnPathAndMustBeTheServicesAlone) {
  std::string pem;
  {
    auto log = Open();
    pem = log->public_key_pem();
    ASSERT_TRUE(log->Append(Decision(1)).ok());
  }
  EXPECT_FALSE(fs::exists(db_.string() + ".key"));
  struct stat st {};
  ASSERT_EQ(::stat(key_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(base::SigningKey::LoadPem(key_)->PublicPem(), pem);
  ASSERT_EQ(::chmod(key_.c_str(), 0644), 0);
  base::StatusOr<std::unique_ptr<AuditLog>> refused = TryOpen();
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.status().message(),
              HasSubstr("the audit signing key " + key_.string() +
                        " may be accessed by group or others (mode 0644)"));
  ASSERT_EQ(::chmod(key_.c_str(), 0640), 0);
  EXPECT_FALSE(TryOpen().ok());
  ASSERT_EQ(::chmod(key_.c_str(), 0600), 0);
  // Another key for the same database: refused, not a second signer.
  AuditOptions other = Options();
  other.key = dir_ / "keys" / "other.key";
  base::StatusOr<std::unique_ptr<AuditLog>> wrong = AuditLog::Open(other);
  ASSERT_FALSE(wrong.ok());
  EXPECT_THAT(wrong.status().message(), HasSubstr("is not the key this database names"));
  auto log = Open();
  EXPECT_EQ(log->public_key_pem(), pem);
}

// A witness that cannot be written: recorded (with an alert) once, the
// records go on, and its recovery is recorded too.
class FlakyWitness : public Witness {
 public:
  std::string Name() const override { return "flaky"; }
  base::Status Publish(const SignedHead& head) override {
    published.store(head.seq);
    return failing.load() ? base::Status(base::StatusCode::kUnavailable, "witness down")
                          : base::Status::Ok();
  }
  std::atomic<bool> failing{true};
  std::atomic<std::uint64_t> published{0};
};

TEST_F(TamperTest, AWitnessFailureIsRecordedAndAlertedAndLosesNothing) {
  auto flaky = std::make_shared<FlakyWitness>();
  AuditOptions options = Options(/*with_witness=*/false);
  options.witnesses.push_back(flaky);
  options.witness_alerts = {"soc"};
  options.witness_retry = std::chrono::milliseconds(10);
  auto log = std::move(AuditLog::Open(options)).value();
  for (int i = 1; i <= 30; ++i) {
    ASSERT_TRUE(log->Append(Decision(i)).ok());
  }
  auto count = [&](const std::string& kind) {
    const std::string n =
        Text("SELECT CAST(COUNT(*) AS TEXT) FROM records WHERE kind = '" + kind + "'");
    return n.empty() ? -1 : std::stoi(n);
  };
  for (int i = 0; i < 200 && count("witness.failed") == 0; ++i) {
    ASSERT_TRUE(log->Flush().ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  // The failure may be recorded before the loop's first flush: the appends
  // are acknowledged, not yet durable, until a flush (group durability).
  ASSERT_TRUE(log->Flush().ok());
  EXPECT_EQ(count("witness.failed"), 1);  // once for the run of failures
  EXPECT_EQ(count("decision"), 30);
  EXPECT_EQ(*log->PendingAlerts(), 1);
  EXPECT_THAT(Text("SELECT body FROM records WHERE kind = 'witness.failed'"),
              HasSubstr("\"error\":\"witness down\""));
  EXPECT_THAT(Text("SELECT payload FROM outbox"), HasSubstr("\"kind\":\"witness_failure\""));
  flaky->failing.store(false);
  ASSERT_TRUE(log->Checkpoint().ok());
  for (int i = 0; i < 500 && count("witness.recovered") == 0; ++i) {
    ASSERT_TRUE(log->Flush().ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(count("witness.recovered"), 1);
  log.reset();
  EXPECT_EQ(flaky->published.load(), Verify().last_seq);  // the close head
  EXPECT_TRUE(Verify().ok);
}

TEST_F(TamperTest, AWitnessFileThatCannotBeWrittenRefusesTheOpen) {
  fs::remove_all(dir_ / "witness");
  { std::ofstream(dir_ / "witness") << "a file where the directory should be"; }
  base::StatusOr<std::unique_ptr<AuditLog>> log = TryOpen();
  ASSERT_FALSE(log.ok());
  EXPECT_THAT(log.status().message(), HasSubstr("audit witness: cannot open"));
}

TEST(WitnessTest, HeadLinesRoundTripAndNothingElseIsAHead) {
  SignedHead head{"0123abcd",          42,
                  base::Sha256Of("x"), "2026-11-29T00:00:00.000000Z",
                  HeadEvent::kClose,   std::string(64, '\x07')};
  const std::string line = SignedHeadLine(head);
  ASSERT_EQ(line.back(), '\n');
  base::StatusOr<SignedHead> parsed = ParseSignedHead(line.substr(0, line.size() - 1));
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->instance, head.instance);
  EXPECT_EQ(parsed->seq, 42u);
  EXPECT_EQ(parsed->hash, head.hash);
  EXPECT_EQ(parsed->event, HeadEvent::kClose);
  EXPECT_EQ(parsed->signature, head.signature);
  std::string spaced = line.substr(0, line.size() - 1);
  spaced.insert(1, " ");
  EXPECT_FALSE(ParseSignedHead(spaced).ok());
  std::string extra = line.substr(0, line.size() - 2) + ",\"x\":1}";
  EXPECT_FALSE(ParseSignedHead(extra).ok());
  EXPECT_FALSE(ParseSignedHead("{}").ok());
}

TEST(WitnessTest, TheLastHeadOfAnInstanceIsReadFromTheEnd) {
  const fs::path path =
      fs::temp_directory_path() / ("fb-witness-" + std::to_string(::getpid()) + ".jsonl");
  fs::remove(path);
  FileWitness witness(path);
  EXPECT_FALSE(witness.LastHead("a")->has_value());  // no file yet
  auto head = [](std::string instance, std::uint64_t seq) {
    return SignedHead{std::move(instance),
                      seq,
                      base::Sha256Of(std::to_string(seq)),
                      "2026-11-29T00:00:00.000000Z",
                      HeadEvent::kCheckpoint,
                      std::string(64, 's')};
  };
  ASSERT_TRUE(witness.Publish(head("a", 1)).ok());
  {
    std::ofstream out(path, std::ios::app);
    for (std::uint64_t i = 1; i < 2000; ++i) {  // beyond one 64 KiB block
      out << SignedHeadLine(head("b", i));
    }
  }
  ASSERT_TRUE(witness.Publish(head("b", 2000)).ok());
  { std::ofstream(path, std::ios::app) << "{\"event\":\"checkpoint\",\"hash"; }  // cut short
  EXPECT_EQ((*witness.LastHead("a"))->seq, 1u);
  EXPECT_EQ((*witness.LastHead("b"))->seq, 2000u);
  EXPECT_FALSE(witness.LastHead("c")->has_value());
  // The next head starts a line of its own.
  ASSERT_TRUE(witness.Publish(head("b", 2001)).ok());
  EXPECT_EQ((*witness.LastHead("b"))->seq, 2001u);
  base::StatusOr<WitnessHeads> all = ReadWitnessFile(path, "a");
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_EQ(all->heads.size(), 1u);
  EXPECT_EQ(all->other_instances, std::vector<std::string>{"b"});
  EXPECT_EQ(all->other_lines, std::vector<std::size_t>{2002});
  EXPECT_EQ(ReadWitnessFile(path, "b")->heads.size(), 2001u);
  fs::remove(path);
}

}  // namespace
}  // namespace firebreak::audit
