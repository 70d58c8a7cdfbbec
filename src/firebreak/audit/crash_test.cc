// Crash safety: a child process appends decisions and acknowledges each one
// on a pipe as Append returns; the parent SIGKILLs it at random moments,
// 24 times, and restarts the log on the same database. Every acknowledged
// decision must be in the database afterwards, and the chain must verify,
// against the witness file too (a killed run never leaves a witness ahead
// of what the log recovers).
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <random>
#include <thread>

#include "firebreak/audit/audit_log.h"
#include "firebreak/audit/verify.h"

namespace firebreak::audit {
namespace {

namespace fs = std::filesystem;

struct Ack {
  std::uint64_t seq;
  std::uint64_t id;
};

fs::path WitnessOf(const fs::path& db) { return db.parent_path() / "witness" / "heads.jsonl"; }

[[noreturn]] void Child(const fs::path& db, int ack_fd, std::uint64_t first_id,
                        std::size_t segment_bytes) {
  AuditOptions options;
  options.db = db;
  options.checkpoint_every = 50;
  options.witnesses.push_back(std::make_shared<FileWitness>(WitnessOf(db)));
  options.segment_bytes = segment_bytes;
  auto log = AuditLog::Open(options);
  if (!log.ok()) {
    _exit(3);
  }
  // Open (recovery, the witness's checks): the kill's delay counts from here.
  const Ack opened{0, 0};
  if (::write(ack_fd, &opened, sizeof(opened)) != sizeof(opened)) {
    _exit(5);
  }
  for (std::uint64_t id = first_id;; ++id) {
    AuditRecord r;
    r.kind = "decision";
    r.fields["request_id"] = "req-" + std::to_string(id);
    base::StatusOr<Appended> a = (*log)->Append(std::move(r));
    if (!a.ok()) {
      _exit(4);
    }
    const Ack ack{a->seq, id};
    if (::write(ack_fd, &ack, sizeof(ack)) != sizeof(ack)) {
      _exit(5);
    }
  }
}

TEST(CrashTest, AcknowledgedDecisionsSurviveSigkill) {
  const fs::path dir = fs::temp_directory_path() / ("fb-crash-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const fs::path db = dir / "audit.db";
  fs::create_directories(dir / "witness");
  std::mt19937 rng(20261128);
  std::uniform_int_distribution<int> delay_ms(1, 60);
  std::map<std::uint64_t, std::uint64_t> acked;  // seq -> request id
  std::uint64_t next_id = 1;
  constexpr int kRounds = 24;
  for (int round = 0; round < kRounds; ++round) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(fds[0]);
      // Every other round, segments of four pages: the leader moves to a
      // new one (the spare, or a reused one) every hundred records or so.
      Child(db, fds[1], next_id, round % 2 == 0 ? AuditOptions{}.segment_bytes : 16384);
    }
    ::close(fds[1]);
    Ack opened{1, 1};
    ASSERT_EQ(::read(fds[0], &opened, sizeof(opened)), static_cast<ssize_t>(sizeof(opened)))
        << "round " << round << ": the child could not open the log";
    ASSERT_EQ(opened.seq, 0u);
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms(rng)));
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status)) << "child exited by itself with " << WEXITSTATUS(status);
    Ack ack{};
    while (::read(fds[0], &ack, sizeof(ack)) == sizeof(ack)) {
      acked[ack.seq] = ack.id;
      next_id = std::max(next_id, ack.id + 1);
    }
    ::close(fds[0]);

    // The restart: opening moves what the journal holds into the database.
    {
      AuditOptions options;
      options.db = db;
      options.witnesses.push_back(std::make_shared<FileWitness>(WitnessOf(db)));
      base::StatusOr<std::unique_ptr<AuditLog>> reopened = AuditLog::Open(options);
      ASSERT_TRUE(reopened.ok()) << "round " << round << ": " << reopened.status().ToString();
    }
    base::StatusOr<VerifyReport> report = VerifyDatabase(db, std::nullopt, WitnessOf(db));
    ASSERT_TRUE(report.ok()) << report.status().ToString();
    ASSERT_TRUE(report->ok) << "round " << round << ": record " << report->bad_seq << ": "
                            << report->problem;
    sqlite3* handle = nullptr;
    ASSERT_EQ(sqlite3_open_v2(db.c_str(), &handle, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
    sqlite3_stmt* get = nullptr;
    sqlite3_prepare_v2(handle, "SELECT body FROM records WHERE seq = ?", -1, &get, nullptr);
    for (const auto& [seq, id] : acked) {
      sqlite3_bind_int64(get, 1, static_cast<sqlite3_int64>(seq));
      ASSERT_EQ(sqlite3_step(get), SQLITE_ROW) << "acknowledged record " << seq << " is lost";
      const std::string body = reinterpret_cast<const char*>(sqlite3_column_text(get, 0));
      EXPECT_NE(body.find("\"request_id\":\"req-" + std::to_string(id) + "\""), std::string::npos)
          << "record " << seq << " is not the one acknowledged";
      sqlite3_reset(get);
    }
    sqlite3_finalize(get);
    sqlite3_close(handle);
  }
  EXPECT_GT(acked.size(), static_cast<std::size_t>(kRounds));  // the child made progress
  fs::remove_all(dir);
}

}  // namespace
}  // namespace firebreak::audit
