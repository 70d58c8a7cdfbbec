#include "firebreak/audit/audit_log.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <atomic>
#include <condition_variable>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "firebreak/audit/verify.h"
#include "firebreak/base/test_dir.h"

namespace firebreak::audit {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

class AuditLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = base::FreshTestDir("fb-audit");
    db_ = dir_ / "audit.db";
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<AuditLog> Open(Durability durability = Durability::kGroup) {
    AuditOptions options;
    options.db = db_;
    options.durability = durability;
    options.checkpoint_every = 10;
    options.now_micros = [] { return std::int64_t{1795910399123456}; };
    auto log = AuditLog::Open(options);
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

  // Writes 25 decisions (checkpoints after 10, 20 and, on close, 25).
  void Fill() {
    auto log = Open();
    for (int i = 1; i <= 25; ++i) {
      base::StatusOr<Appended> a = log->Append(Decision(i));
      ASSERT_TRUE(a.ok()) << a.status().ToString();
      EXPECT_EQ(a->seq, static_cast<std::uint64_t>(i));
    }
  }

  void Sql(const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(db_.c_str(), &db), SQLITE_OK);
    // The log may be open and writing (its ingest thread retries every
    // 100 ms): wait for its lock, as its own connections do.
    sqlite3_busy_timeout(db, 5000);
    char* error = nullptr;
    EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error), SQLITE_OK)
        << (error ? error : "") << " in " << sql;
    sqlite3_free(error);
    sqlite3_close(db);
  }

  std::int64_t Count(const std::string& table) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open(db_.c_str(), &db), SQLITE_OK);
    sqlite3_stmt* count = nullptr;
    sqlite3_prepare_v2(db, ("SELECT COUNT(*) FROM " + table).c_str(), -1, &count, nullptr);
    const std::int64_t n = sqlite3_step(count) == SQLITE_ROW ? sqlite3_column_int64(count, 0) : -1;
    sqlite3_finalize(count);
    sqlite3_close(db);
    return n;
  }

  VerifyReport Verify(std::optional<std::string> key = std::nullopt) {
    base::StatusOr<VerifyReport> r = VerifyDatabase(db_, std::move(key));
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : VerifyReport{};
  }

  fs::path dir_;
  fs::path db_;
};

TEST_F(AuditLogTest, AppendsChainAndCheckpoints) {
  Fill();
  VerifyReport r = Verify();
  EXPECT_TRUE(r.ok) << r.problem;
  EXPECT_EQ(r.records, 25u);
  EXPECT_EQ(r.checkpoints, 3u);
}

TEST_F(AuditLogTest, ReopeningContinuesTheChainWithTheSameIdentity) {
  std::string instance;
  std::string key;
  {
    auto log = Open();
    instance = log->instance_id();
    key = log->public_key_pem();
    ASSERT_TRUE(log->Append(Decision(1)).ok());
  }
  auto log = Open();
  EXPECT_EQ(log->instance_id(), instance);
  EXPECT_EQ(log->public_key_pem(), key);
  EXPECT_EQ(log->Append(Decision(2))->seq, 2u);
  log.reset();
  VerifyReport r = Verify(key);
  EXPECT_TRUE(r.ok) << r.problem;
  EXPECT_EQ(r.records, 2u);
  struct stat st {};
  ASSERT_EQ(::stat((db_.string() + ".key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
}

TEST_F(AuditLogTest, DetectsAChangedField) {
  Fill();
  Sql("UPDATE records SET body = replace(body, '\"ALLOW\"', '\"BLOCK\"') WHERE seq = 6");
  VerifyReport r = Verify();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.bad_seq, 6u);
  EXPECT_THAT(r.problem, HasSubstr("modified"));
}

TEST_F(AuditLogTest, DetectsADeletedRecord) {
  Fill();
  Sql("DELETE FROM records WHERE seq = 7");
  VerifyReport r = Verify();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.bad_seq, 7u);
  EXPECT_THAT(r.problem, HasSubstr("deleted"));
}

TEST_F(AuditLogTest, DetectsAnInsertedRecordEvenWithARecomputedHash) {
  Fill();
  // The forger renumbers the tail and inserts a record with a correct hash.
  Sql("UPDATE records SET seq = seq + 1000 WHERE seq >= 12;"
      "UPDATE records SET seq = seq - 999 WHERE seq >= 1012;");
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(db_.c_str(), &db), SQLITE_OK);
    sqlite3_stmt* prev = nullptr;
    sqlite3_prepare_v2(db, "SELECT hash FROM records WHERE seq = 11", -1, &prev, nullptr);
    ASSERT_EQ(sqlite3_step(prev), SQLITE_ROW);
    std::string bytes(static_cast<const char*>(sqlite3_column_blob(prev, 0)), 32);
    sqlite3_finalize(prev);
    sqlite3_stmt* meta = nullptr;
    sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'instance'", -1, &meta, nullptr);
    ASSERT_EQ(sqlite3_step(meta), SQLITE_ROW);
    const std::string instance = reinterpret_cast<const char*>(sqlite3_column_text(meta, 0));
    sqlite3_finalize(meta);
    AuditRecord forged = Decision(99);
    const std::string body = EncodeRecord(forged, 12, "t", instance);
    const base::Sha256 hash = base::Sha256Of(bytes + body);
    sqlite3_stmt* insert = nullptr;
    sqlite3_prepare_v2(db,
                       "INSERT INTO records(seq, kind, body, hash) VALUES(12, 'decision', ?, ?)",
                       -1, &insert, nullptr);
    sqlite3_bind_text(insert, 1, body.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_blob(insert, 2, hash.data(), 32, SQLITE_TRANSIENT);
    EXPECT_EQ(sqlite3_step(insert), SQLITE_DONE);
    sqlite3_finalize(insert);
    sqlite3_close(db);
  }
  VerifyReport r = Verify();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.bad_seq, 13u);
  EXPECT_THAT(r.problem, HasSubstr("inserted"));
}

TEST_F(AuditLogTest, DetectsTwoSwappedRecords) {
  Fill();
  Sql("UPDATE records SET seq = -1 WHERE seq = 4;"
      "UPDATE records SET seq = 4 WHERE seq = 5;"
      "UPDATE records SET seq = 5 WHERE seq = -1;");
  VerifyReport r = Verify();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.bad_seq, 4u);
  EXPECT_THAT(r.problem, HasSubstr("reordered"));
}

TEST_F(AuditLogTest, DetectsDroppedLastRecords) {
  Fill();
  Sql("DELETE FROM records WHERE seq > 22");
  VerifyReport r = Verify();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.bad_seq, 23u);
  EXPECT_THAT(r.problem,
              HasSubstr("truncated: checkpoint signs records up to 25 but the log ends at 22"));
}

TEST_F(AuditLogTest, DetectsABadCheckpointSignatureAndAWrongKey) {
  Fill();
  {
    VerifyReport r = Verify(base::SigningKey::Generate()->PublicPem());
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.bad_seq, 10u);
    EXPECT_THAT(r.problem, HasSubstr("bad checkpoint signature"));
  }
  Sql("UPDATE checkpoints SET signature = zeroblob(64) WHERE seq = 20");
  VerifyReport r = Verify();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.bad_seq, 20u);
  EXPECT_THAT(r.problem, HasSubstr("bad checkpoint signature"));
}

// Waits until everything journaled is in the database (the ingest thread
// retries a failed write every 100 ms).
::testing::AssertionResult Ingested(AuditLog& log) {
  base::Status status;
  for (int i = 0; i < 100; ++i) {
    status = log.Flush();
    if (status.ok()) {
      return ::testing::AssertionSuccess();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return ::testing::AssertionFailure() << status.ToString();
}

TEST_F(AuditLogTest, AJournalThatCannotGrowIsAnErrorAndLeavesNoHole) {
  AuditOptions options;
  options.db = db_;
  options.segment_bytes = 1;  // a new segment for every group
  auto log = std::move(AuditLog::Open(options)).value();
  ASSERT_TRUE(log->Append(Decision(1)).ok());
  ASSERT_TRUE(Ingested(*log));
  // The file size limit makes allocating the next segment fail (EFBIG), as
  // a full disk would (ENOSPC).
  ::signal(SIGXFSZ, SIG_IGN);
  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &saved), 0);
  rlimit small = saved;
  small.rlim_cur = 100;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  AuditRecord big = Decision(2);
  big.fields["note"] = std::string(8192, 'x');  // more than the segment's page holds
  base::StatusOr<Appended> failed = log->Append(big);
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &saved), 0);
  ASSERT_FALSE(failed.ok());
  EXPECT_THAT(failed.status().message(), HasSubstr("audit journal: cannot allocate"));
  EXPECT_THAT(failed.status().message(), HasSubstr("File too large"));
  EXPECT_EQ(log->Append(Decision(3))->seq, 2u);  // the chain has no hole
  log.reset();
  VerifyReport r = Verify();
  EXPECT_TRUE(r.ok) << r.problem;
  EXPECT_EQ(r.records, 2u);
  EXPECT_TRUE(JournalSegments(db_).empty());  // all in the database at close
}

TEST_F(AuditLogTest, WhileTheDatabaseCannotBeWrittenAppendsFailAndNothingIsLost) {
  auto log = Open();
  ASSERT_TRUE(log->Append(Decision(1)).ok());
  ASSERT_TRUE(Ingested(*log));
  Sql("CREATE TRIGGER full BEFORE INSERT ON records BEGIN SELECT RAISE(ABORT, 'disk full'); END;");
  // Record 2 is journaled, hence acknowledged; the database refuses it.
  ASSERT_EQ(log->Append(Decision(2))->seq, 2u);
  base::Status flushed = log->Flush();
  ASSERT_FALSE(flushed.ok());
  EXPECT_THAT(flushed.message(), HasSubstr("disk full"));
  // Now appends fail closed, saying why.
  base::StatusOr<Appended> failed = log->Append(Decision(3));
  ASSERT_FALSE(failed.ok());
  EXPECT_THAT(failed.status().message(), HasSubstr("disk full"));
  base::Status async_failed;
  log->AppendAsync(Decision(3), {}, [&](base::StatusOr<Appended> a) { async_failed = a.status(); });
  EXPECT_THAT(async_failed.message(), HasSubstr("disk full"));
  Sql("DROP TRIGGER full");
  ASSERT_TRUE(Ingested(*log));  // the journaled record moves in
  EXPECT_EQ(log->Append(Decision(4))->seq, 3u);
  log.reset();
  VerifyReport r = Verify();
  EXPECT_TRUE(r.ok) << r.problem;
  EXPECT_EQ(r.records, 3u);
}

TEST_F(AuditLogTest, ConcurrentProducersInStrictModeGetDistinctSequences) {
  auto log = Open(Durability::kFsync);
  constexpr int kThreads = 8;
  constexpr int kEach = 100;
  std::vector<std::vector<std::uint64_t>> seqs(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        base::StatusOr<Appended> a = log->Append(Decision(i));
        ASSERT_TRUE(a.ok());
        seqs[static_cast<std::size_t>(t)].push_back(a->seq);
      }
    });
  }
  for (std::thread& t : threads) {
    t.join();
  }
  std::set<std::uint64_t> all;
  for (const auto& s : seqs) {
    all.insert(s.begin(), s.end());
  }
  EXPECT_EQ(all.size(), static_cast<std::size_t>(kThreads * kEach));
  EXPECT_EQ(*all.rbegin(), static_cast<std::uint64_t>(kThreads * kEach));
  log.reset();
  VerifyReport r = Verify();
  EXPECT_TRUE(r.ok) << r.problem;
  EXPECT_EQ(r.records, static_cast<std::uint64_t>(kThreads * kEach));
}

TEST_F(AuditLogTest, AsyncAppendsCompleteOnceEachAndChain) {
  auto log = Open();
  constexpr int kRecords = 2000;
  std::mutex mutex;
  std::condition_variable all_done;
  std::set<std::uint64_t> seqs;
  int completed = 0;
  for (int i = 0; i < kRecords; ++i) {
    log->AppendAsync(Decision(i), {}, [&](base::StatusOr<Appended> a) {
      std::lock_guard lock(mutex);
      EXPECT_TRUE(a.ok()) << a.status().ToString();
      seqs.insert(a.ok() ? a->seq : 0);
      ++completed;
      all_done.notify_one();
    });
  }
  // A synchronous append in the middle of the asynchronous stream.
  EXPECT_TRUE(log->Append(Decision(-1)).ok());
  {
    std::unique_lock lock(mutex);
    ASSERT_TRUE(
        all_done.wait_for(lock, std::chrono::seconds(30), [&] { return completed == kRecords; }));
  }
  EXPECT_EQ(seqs.size(), static_cast<std::size_t>(kRecords));
  log.reset();
  VerifyReport r = Verify();
  EXPECT_TRUE(r.ok) << r.problem;
  EXPECT_EQ(r.records, static_cast<std::uint64_t>(kRecords + 1));
}

// Under load the flush thread writes the asynchronous records, as groups
// (AuditOptions::busy_gap, here an hour: every record after the first).
// Each is answered and chained without waiting for the sync thread's
// timed tick (here five minutes away).
TEST_F(AuditLogTest, RecordsThatComeWhileTheLogIsBusyAreWrittenByTheFlushThread) {
  AuditOptions options;
  options.db = db_;
  options.sync_interval = std::chrono::minutes(10);
  options.busy_gap = std::chrono::hours(1);
  auto opened = AuditLog::Open(options);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  std::unique_ptr<AuditLog> log = std::move(opened).value();
  constexpr int kRecords = 2000;
  const std::thread::id producer = std::this_thread::get_id();
  std::mutex mutex;
  std::condition_variable all_done;
  std::set<std::uint64_t> seqs;
  std::vector<std::uint64_t> on_producer;
  for (int i = 0; i < kRecords; ++i) {
    log->AppendAsync(Decision(i), {}, [&](base::StatusOr<Appended> a) {
      std::lock_guard lock(mutex);
      EXPECT_TRUE(a.ok()) << a.status().ToString();
      seqs.insert(a.ok() ? a->seq : 0);
      if (std::this_thread::get_id() == producer) {
        on_producer.push_back(a.ok() ? a->seq : 0);
      }
      all_done.notify_one();
    });
  }
  {
    std::unique_lock lock(mutex);
    ASSERT_TRUE(all_done.wait_for(lock, std::chrono::seconds(60), [&] {
      return seqs.size() == static_cast<std::size_t>(kRecords);
    }));
  }
  // The first, to an idle log, by its producer; all the others by the
  // flush thread.
  EXPECT_THAT(on_producer, ::testing::ElementsAre(1u));
  log.reset();
  VerifyReport r = Verify();
  EXPECT_TRUE(r.ok) << r.problem;
  EXPECT_EQ(r.records, static_cast<std::uint64_t>(kRecords));
}

// Records' buffers are reused from record to record (AppendAsync's, and
// the bodies on their way into the database): a record never carries bytes
// of an earlier one, short after long, and a callback's captures are
// released once it has run, not when its buffer is next used.
TEST_F(AuditLogTest, ReusedRecordBuffersCarryNothingOver) {
  auto log = Open();
  auto record = [](int i) {
    AuditRecord r = Decision(i);
    // Short, long, and longer than the log keeps for reuse.
    r.fields["note"] = std::string(static_cast<std::size_t>(i % 3 == 0 ? 3000 : i % 3 * 200), 'x');
    return r;
  };
  auto token = std::make_shared<int>(0);
  std::mutex mutex;
  std::condition_variable answered;
  std::map<std::uint64_t, int> record_of_seq;
  for (int round = 0; round < 3; ++round) {
    std::vector<std::thread> producers;
    for (int t = 0; t < 2; ++t) {
      producers.emplace_back([&, t] {
        for (int i = t; i < 400; i += 2) {
          const int id = round * 1000 + i;
          log->AppendAsync(record(id), {}, [&, id, token](base::StatusOr<Appended> a) {
            ASSERT_TRUE(a.ok()) << a.status().ToString();
            std::lock_guard lock(mutex);
            record_of_seq[a->seq] = id;
            answered.notify_one();
          });
        }
      });
    }
    for (std::thread& t : producers) {
      t.join();
    }
    {
      std::unique_lock lock(mutex);
      const std::size_t all = static_cast<std::size_t>(round + 1) * 400;
      ASSERT_TRUE(answered.wait_for(lock, std::chrono::seconds(30),
                                    [&] { return record_of_seq.size() == all; }));
    }
    ASSERT_TRUE(log->Flush().ok());  // the bodies go back for reuse
  }
  // Every callback has run, and is destroyed right after (by the thread
  // that ran it): the spare Pending hold none of them.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (token.use_count() > 1 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(token.use_count(), 1);
  const std::string instance = log->instance_id();
  log.reset();
  ASSERT_EQ(record_of_seq.size(), 1200u);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(db_.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* bodies = nullptr;
  sqlite3_prepare_v2(db, "SELECT seq, body FROM records WHERE kind = 'decision'", -1, &bodies,
                     nullptr);
  int checked = 0;
  while (sqlite3_step(bodies) == SQLITE_ROW) {
    const auto seq = static_cast<std::uint64_t>(sqlite3_column_int64(bodies, 0));
    const std::string body(reinterpret_cast<const char*>(sqlite3_column_text(bodies, 1)));
    ASSERT_TRUE(record_of_seq.contains(seq)) << seq;
    EXPECT_EQ(body,
              EncodeRecord(record(record_of_seq[seq]), seq, FormatTime(1795910399123456), instance))
        << "record " << seq;
    ++checked;
  }
  sqlite3_finalize(bodies);
  sqlite3_close(db);
  EXPECT_EQ(checked, 1200);
}

TEST_F(AuditLogTest, AsyncAppendsQueuedAtCloseAreCommitted) {
  auto log = Open();
  int completed = 0;
  for (int i = 0; i < 100; ++i) {
    log->AppendAsync(Decision(i), {}, [&](base::StatusOr<Appended> a) {
      completed += a.ok() ? 1 : 0;  // callbacks run one at a time, on the log's threads
    });
  }
  log.reset();  // drains the queue
  EXPECT_EQ(completed, 100);
  EXPECT_EQ(Verify().records, 100u);
}

TEST_F(AuditLogTest, AFullQueueRejectsAsyncAppendsAtOnce) {
  AuditOptions options;
  options.db = db_;
  options.queue_capacity = 0;
  auto log = std::move(AuditLog::Open(options)).value();
  base::Status status;
  log->AppendAsync(Decision(1), {}, [&](base::StatusOr<Appended> a) { status = a.status(); });
  EXPECT_EQ(status.code(), base::StatusCode::kResourceExhausted);
  EXPECT_THAT(status.message(), HasSubstr("queue is full"));
}

TEST_F(AuditLogTest, ExportCarriesEverythingVerificationNeeds) {
  Fill();
  std::ostringstream out;
  ASSERT_TRUE(ExportJsonl(db_, 1, out).ok());
  const std::string text = out.str();
  EXPECT_THAT(text, HasSubstr("{\"type\":\"header\",\"schema\":1,\"instance\":"));
  EXPECT_THAT(text, HasSubstr("\"type\":\"record\",\"seq\":25,"));
  EXPECT_THAT(text, HasSubstr("\"type\":\"checkpoint\",\"seq\":10,"));
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1 + 25 + 3);
}

TEST_F(AuditLogTest, AlertsAreWrittenWithTheirRecordAndSurviveAReopen) {
  std::string instance;
  {
    auto log = Open();
    instance = log->instance_id();
    ASSERT_TRUE(log->Append(Decision(1)).ok());
    std::vector<OutboxAlert> alerts = {{"trust_safety", {{"decision", "BLOCK"}}},
                                       {"inspector_general", {{"decision", "BLOCK"}}}};
    ASSERT_EQ(log->Append(Decision(2), alerts)->seq, 2u);
  }
  auto log = Open();
  base::StatusOr<std::vector<OutboxItem>> due = log->DueAlerts(10);
  ASSERT_TRUE(due.ok()) << due.status().ToString();
  ASSERT_EQ(due->size(), 2u);
  EXPECT_EQ((*due)[0].target, "trust_safety");
  EXPECT_EQ((*due)[0].idempotency_key, instance + ":2:trust_safety");
  EXPECT_THAT((*due)[0].payload, HasSubstr("\"audit_seq\":2"));
  EXPECT_THAT((*due)[0].payload, HasSubstr("\"decision\":\"BLOCK\""));
  ASSERT_TRUE(log->MarkDelivered((*due)[0].id).ok());
  ASSERT_TRUE(
      log->Reschedule((*due)[1].id, 1, std::int64_t{1795910399123456} + 60'000'000, "503").ok());
  EXPECT_TRUE(log->DueAlerts(10)->empty());  // one delivered, one not due yet
  EXPECT_EQ(*log->PendingAlerts(), 1);
}

TEST_F(AuditLogTest, VerifyAndExportIncludeWhatIsOnlyInTheJournal) {
  auto log = Open();
  ASSERT_TRUE(log->Append(Decision(1)).ok());
  ASSERT_TRUE(Ingested(*log));
  Sql("CREATE TRIGGER full BEFORE INSERT ON records BEGIN SELECT RAISE(ABORT, 'disk full'); END;");
  ASSERT_EQ(log->Append(Decision(2))->seq, 2u);
  ASSERT_EQ(log->Append(Decision(3))->seq, 3u);
  ASSERT_FALSE(log->Flush().ok());  // 2 and 3 are in the journal only
  ASSERT_EQ(Count("records"), 1);
  VerifyReport r = Verify();
  EXPECT_TRUE(r.ok) << r.problem;
  EXPECT_EQ(r.records, 3u);
  EXPECT_EQ(r.journaled, 2u);
  std::ostringstream out;
  ASSERT_TRUE(ExportJsonl(db_, 2, out).ok());
  const std::string text = out.str();
  EXPECT_THAT(text, HasSubstr("\"type\":\"record\",\"seq\":3,"));
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1 + 2);
  Sql("DROP TRIGGER full");
}

TEST_F(AuditLogTest, ARecordAndItsAlertsMoveIntoTheDatabaseTogether) {
  auto log = Open();
  Sql("CREATE TRIGGER no_alerts BEFORE INSERT ON outbox BEGIN SELECT RAISE(ABORT, 'full'); END;");
  ASSERT_EQ(log->Append(Decision(1), {{"soc", {}}})->seq, 1u);
  base::Status flushed = log->Flush();
  ASSERT_FALSE(flushed.ok());
  EXPECT_THAT(flushed.message(), HasSubstr("alert outbox"));
  EXPECT_EQ(Count("records"), 0);  // not without its alert
  Sql("DROP TRIGGER no_alerts");
  ASSERT_TRUE(Ingested(*log));
  EXPECT_EQ(Count("records"), 1);
  EXPECT_EQ(*log->PendingAlerts(), 1);
}

TEST_F(AuditLogTest, OpeningMovesTheJournalIntoTheDatabaseUpToATornEntry) {
  std::string instance;
  {
    auto log = Open();
    instance = log->instance_id();
  }
  // Three records journaled but not in the database, and the first half of
  // a fourth: what a writer killed mid-write leaves.
  std::string bytes(kJournalMagic);
  for (int i = 1; i <= 4; ++i) {
    const std::string body = EncodeRecord(Decision(i), static_cast<std::uint64_t>(i),
                                          "2026-11-29T00:00:00.000000Z", instance);
    std::string entry;
    AppendJournalEntry(
        static_cast<std::uint64_t>(i), "decision", body,
        i == 2 ? std::vector<JournalAlert>{{"soc", "{}"}} : std::vector<JournalAlert>{}, entry);
    bytes += i < 4 ? entry : entry.substr(0, entry.size() / 2);
  }
  { std::ofstream(JournalSegmentPath(db_, 1), std::ios::binary) << bytes; }
  auto log = Open();
  // After the three intact ones, which no checkpoint signs: record 4 says so.
  EXPECT_EQ(log->opened().unsigned_records, 3u);
  EXPECT_EQ(log->opened().matched_journal, 3u);
  EXPECT_EQ(log->opened().unsigned_tail_seq, 4u);
  EXPECT_EQ(log->Append(Decision(5))->seq, 5u);
  EXPECT_EQ(*log->PendingAlerts(), 1);  // record 2's, moved in with it
  log.reset();
  VerifyReport r = Verify();
  EXPECT_TRUE(r.ok) << r.problem;
  EXPECT_EQ(r.records, 5u);
  ASSERT_EQ(r.unsigned_tails.size(), 1u);
  EXPECT_THAT(r.unsigned_tails[0], HasSubstr("records 1..3 were signed by no checkpoint or witness "
                                             "head; 3 of them matched the journal, 0 could not "
                                             "be checked"));
  EXPECT_EQ(Count("outbox"), 1);
  EXPECT_EQ(Count("records WHERE kind = 'decision'"), 4);
  EXPECT_EQ(Count("records WHERE kind = 'lifecycle.unsigned_tail'"), 1);
  EXPECT_TRUE(JournalSegments(db_).empty());
}

TEST_F(AuditLogTest, AJournalSegmentEndsAtADamagedEntry) {
  std::string bytes(kJournalMagic);
  std::size_t second = 0;
  for (std::uint64_t i = 1; i <= 3; ++i) {
    second = i == 2 ? bytes.size() : second;
    AppendJournalEntry(i, "decision", "{\"seq\":" + std::to_string(i) + "}", {}, bytes);
  }
  bytes[second + 20] ^= 1;  // a byte of the second entry's payload
  { std::ofstream(JournalSegmentPath(db_, 1), std::ios::binary) << bytes; }
  base::StatusOr<std::vector<JournalEntry>> entries = ReadJournal(db_);
  ASSERT_TRUE(entries.ok());
  ASSERT_EQ(entries->size(), 1u);
  EXPECT_EQ((*entries)[0].body, "{\"seq\":1}");
}

TEST_F(AuditLogTest, AJournalSegmentInAnotherFormatIsRefusedAndAnEmptyOneSkipped) {
  { std::ofstream(JournalSegmentPath(db_, 1), std::ios::binary) << std::string(4096, '\0'); }
  base::StatusOr<std::vector<JournalEntry>> entries = ReadJournal(db_);
  ASSERT_TRUE(entries.ok());
  EXPECT_TRUE(entries->empty());
  {
    std::ofstream(JournalSegmentPath(db_, 2), std::ios::binary) << "FBJRNL1\n"
                                                                << "entries";
  }
  entries = ReadJournal(db_);
  ASSERT_FALSE(entries.ok());
  EXPECT_THAT(entries.status().message(), HasSubstr("journal-00000000000000000002: not an audit "
                                                    "journal segment this version can read"));
  AuditOptions options;
  options.db = db_;
  EXPECT_FALSE(AuditLog::Open(options).ok());  // nothing it might hold is dropped
}

TEST(JournalTest, Crc32cKnownAnswers) {
  for (auto crc : {&Crc32c, &Crc32cPortable}) {
    EXPECT_EQ(crc("123456789"), 0xe3069283u);  // RFC 3720's check value
    EXPECT_EQ(crc(""), 0u);
    EXPECT_EQ(crc(std::string(32, '\0')), 0x8a9136aau);  // RFC 3720 B.4
    EXPECT_EQ(crc(std::string(32, '\xff')), 0x62a8ab43u);
  }
  std::string odd = "a journal entry of an odd length: 37";
  EXPECT_EQ(Crc32c(odd), Crc32cPortable(odd));
}

TEST_F(AuditLogTest, AReusedSegmentEndsAtItsOlderEntries) {
  // Segment 10 was reused: after its own entries (10, 11) it still holds
  // intact ones from its last use. Segment 20 was reused and never written.
  std::string reused(kJournalMagic);
  for (std::uint64_t seq : {10, 11, 3, 4}) {
    AppendJournalEntry(seq, "decision", "{\"seq\":" + std::to_string(seq) + "}", {}, reused);
  }
  std::string unwritten(kJournalMagic);
  AppendJournalEntry(5, "decision", "{\"seq\":5}", {}, unwritten);
  { std::ofstream(JournalSegmentPath(db_, 10), std::ios::binary) << reused; }
  { std::ofstream(JournalSegmentPath(db_, 20), std::ios::binary) << unwritten; }
  base::StatusOr<std::vector<JournalEntry>> entries = ReadJournal(db_);
  ASSERT_TRUE(entries.ok());
  ASSERT_EQ(entries->size(), 2u);
  EXPECT_EQ((*entries)[0].seq, 10u);
  EXPECT_EQ((*entries)[1].seq, 11u);
}

TEST_F(AuditLogTest, AtCloseOnlyTheDatabaseAndItsKeyRemain) {
  // A spare segment left by a killed process holds nothing: it goes too.
  { std::ofstream(db_.string() + ".journal-spare", std::ios::binary) << "FBJRNL2\n"; }
  {
    AuditOptions options;
    options.db = db_;
    options.segment_bytes = 1;  // a new segment, spare or reused, for every group
    auto log = std::move(AuditLog::Open(options)).value();
    for (int i = 1; i <= 200; ++i) {
      ASSERT_TRUE(log->Append(Decision(i)).ok());
    }
  }
  std::set<std::string> files;
  for (const auto& file : fs::directory_iterator(dir_)) {
    files.insert(file.path().filename().string());
  }
  EXPECT_EQ(files, (std::set<std::string>{"audit.db", "audit.db.key"}));
  VerifyReport r = Verify();
  EXPECT_TRUE(r.ok) << r.problem;
  EXPECT_EQ(r.records, 200u);
}

TEST_F(AuditLogTest, TheWalIsCheckpointedIntoTheDatabaseAndStartsOverWhileTheLogRuns) {
  AuditOptions options;
  options.db = db_;
  options.wal_checkpoint_bytes = std::uint64_t{1} << 20;
  auto log = std::move(AuditLog::Open(options)).value();
  AuditRecord big = Decision(1);
  big.fields["note"] = std::string(4000, 'x');
  const fs::path wal = db_.string() + "-wal";
  std::uintmax_t largest_wal = 0;
  // 64 MB, in small transactions (a transaction is never split).
  for (int i = 1; i <= 16000; ++i) {
    ASSERT_TRUE(log->Append(big).ok());
    if (i % 50 == 0) {
      ASSERT_TRUE(log->Flush().ok());
      std::error_code ec;
      largest_wal = std::max(largest_wal, fs::file_size(wal, ec) * !ec);
    }
  }
  ASSERT_TRUE(log->Flush().ok());
  // The WAL thread copies the WAL into the database file as it goes, and
  // makes it start over past 4 MiB: how soon depends on the disk's syncs
  // (under a load that fills the disk, at 67 MB once), but it does. Left to
  // PASSIVE checkpoints, it never does here: the WAL grows to 100 MB, the
  // records and the pages each transaction rewrites.
  for (int i = 0; i < 400 && fs::file_size(db_) < (std::uintmax_t{48} << 20); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  EXPECT_GE(fs::file_size(db_), std::uintmax_t{48} << 20);
  EXPECT_LT(largest_wal, std::uintmax_t{80} << 20);
}

TEST_F(AuditLogTest, RecordsSurviveAPowerLossThroughTheWalWhenTheDatabaseKeepsUp) {
  AuditOptions options;
  options.db = db_;
  options.sync_interval = std::chrono::milliseconds(400);  // ample for the ingest thread
  auto log = std::move(AuditLog::Open(options)).value();
  auto durable_reaches = [&](std::uint64_t seq) {
    for (int i = 0; i < 300 && log->durable().seq < seq; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return log->durable().seq >= seq;
  };
  for (int i = 1; i <= 50; ++i) {
    ASSERT_TRUE(log->Append(Decision(i)).ok());
  }
  ASSERT_TRUE(log->Flush().ok());
  // Within the sync interval, by syncing SQLite's WAL: the journal's copy
  // never needs to reach the disk.
  ASSERT_TRUE(durable_reaches(50));
  EXPECT_EQ(log->durable().journal_syncs, 0u);
  // A record the database refuses is made durable through the journal.
  Sql("CREATE TRIGGER full BEFORE INSERT ON records BEGIN SELECT RAISE(ABORT, 'disk full'); END;");
  ASSERT_EQ(log->Append(Decision(51))->seq, 51u);
  ASSERT_TRUE(durable_reaches(51));
  EXPECT_GE(log->durable().journal_syncs, 1u);
  Sql("DROP TRIGGER full");
  ASSERT_TRUE(Ingested(*log));
}

// Under constant load the flush thread always has a group to write (here
// every record after the first: busy_gap is an hour); records must still
// be synced within the interval, not once the load lets up. The bound
// checked, 500 ms for a 10 ms interval, leaves room for a slow disk (here
// 75-97 ms: the syncs of a disk kept busy take most of it).
// (When the flush thread also synced, only when it had no group to write,
// 700-1,000 ms passed here with nothing synced.)
TEST_F(AuditLogTest, RecordsBecomeDurableWithinTheIntervalUnderConstantLoad) {
  AuditOptions options;
  options.db = db_;
  options.sync_interval = std::chrono::milliseconds(10);
  options.busy_gap = std::chrono::hours(1);
  auto log = std::move(AuditLog::Open(options)).value();
  std::atomic<std::uint64_t> acknowledged{0};
  std::atomic<int> in_flight{0};
  std::atomic<bool> stop{false};
  std::thread producer([&] {
    for (int i = 0; !stop.load(); ++i) {
      while (in_flight.load() >= 256 && !stop.load()) {
        std::this_thread::yield();
      }
      ++in_flight;
      log->AppendAsync(Decision(i), {}, [&](base::StatusOr<Appended> a) {
        if (a.ok()) {
          std::uint64_t seen = acknowledged.load();
          while (a->seq > seen && !acknowledged.compare_exchange_weak(seen, a->seq)) {
          }
        }
        --in_flight;
      });
    }
  });
  using Clock = std::chrono::steady_clock;
  // Acknowledged up to `seq` at `at`: how long until durable() covers it.
  std::vector<std::pair<Clock::time_point, std::uint64_t>> samples;
  Clock::duration longest{0};
  const Clock::time_point end = Clock::now() + std::chrono::seconds(1);
  while (Clock::now() < end) {
    const Clock::time_point now = Clock::now();
    samples.emplace_back(now, acknowledged.load());
    const std::uint64_t durable = log->durable().seq;
    while (!samples.empty() && samples.front().second <= durable) {
      longest = std::max(longest, now - samples.front().first);
      samples.erase(samples.begin());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  if (!samples.empty()) {
    longest = std::max(longest, Clock::now() - samples.front().first);
  }
  stop = true;
  producer.join();
  EXPECT_GT(acknowledged.load(), 1000u);  // the load was constant
  EXPECT_LT(std::chrono::duration_cast<std::chrono::milliseconds>(longest).count(), 500);
  while (in_flight.load() > 0) {
    std::this_thread::yield();
  }
}

TEST_F(AuditLogTest, AJournalThatSkipsRecordsIsRefusedAtOpen) {
  { auto log = Open(); }
  std::string bytes(kJournalMagic);
  AppendJournalEntry(7, "decision", "{\"seq\":7}", {}, bytes);
  { std::ofstream(JournalSegmentPath(db_, 7), std::ios::binary) << bytes; }
  AuditOptions options;
  options.db = db_;
  base::StatusOr<std::unique_ptr<AuditLog>> log = AuditLog::Open(options);
  ASSERT_FALSE(log.ok());
  EXPECT_THAT(log.status().message(),
              HasSubstr("continues at record 7 but the log ends at record 0"));
}

TEST_F(AuditLogTest, SeqOfBodyReadsOnlyTheTopLevelKey) {
  EXPECT_EQ(SeqOfBody(R"({"a":{"seq":5},"note":"\"seq\":7","seq":12})"), 12u);
  EXPECT_EQ(SeqOfBody(R"({"a":1})"), 0u);
}

}  // namespace
}  // namespace firebreak::audit
