// Audit append throughput under concurrent producers (default group-commit
// durability and strict fsync), sustained: the database keeps up, since the
// journal may run at most queue_capacity records ahead of it. And the
// latency one append adds to a decision at concurrency 1 (BM_AppendLatency:
// appends one at a time, 50 µs apart, timing the append alone). And what a
// record costs the producer's CPU, piece by piece (BM_Encode, BM_ChainHash,
// BM_JournalEntry).
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <thread>

#include "firebreak/audit/audit_log.h"
#include "firebreak/audit/journal.h"
#include "firebreak/audit/record.h"

namespace firebreak::audit {
namespace {

std::unique_ptr<AuditLog>& Log() {
  static std::unique_ptr<AuditLog> log;
  return log;
}

std::filesystem::path Dir() {
  return std::filesystem::temp_directory_path() / ("fb-audit-bench-" + std::to_string(::getpid()));
}

AuditRecord Typical() {
  AuditRecord r;
  r.kind = "decision";
  r.fields["request_id"] = "req-0123456789abcdef";
  r.fields["principal"] = "analyst-7";
  r.fields["endpoint"] = "/v1/chat/completions";
  r.fields["decision"] = "ALLOW";
  r.fields["rules"] = Value::Array{"allow-analysis"};
  r.fields["conversation_digest"] =
      "5f2b1c0e9d8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c";
  r.fields["classification"] = Value::Object{
      {"categories", Value::Array{Value::Object{{"id", "summarization"}, {"score", "0.930"}}}},
      {"version", "firebreak-local/1 patterns=4 keywords=0 model=linear:2f4eeee063b4"}};
  return r;
}

// Shared by a benchmark's threads: thread 0 opens it before the timed loop
// (all threads start that together) and closes it after.
void OpenLog(Durability durability) {
  std::filesystem::remove_all(Dir());
  AuditOptions options;
  options.db = Dir() / "audit.db";
  options.durability = durability;
  Log() = std::move(AuditLog::Open(options)).value();
}

// Closes the log; `state` is told how many times its journal had to be
// synced because the database lagged by half the sync interval (each sync
// writes journal pages that would otherwise never reach the disk).
void CloseLog(benchmark::State& state) {
  state.counters["journal_syncs"] = static_cast<double>(Log()->durable().journal_syncs);
  Log().reset();
  std::filesystem::remove_all(Dir());
}

void Append(benchmark::State& state, Durability durability) {
  if (state.thread_index() == 0) {
    OpenLog(durability);
  }
  const AuditRecord record = Typical();
  for (auto _ : state) {
    auto appended = Log()->Append(record);
    if (!appended.ok()) {
      state.SkipWithError(appended.status().message().c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) {
    CloseLog(state);
  }
}

// Event-loop-like producers (one per thread), each keeping up to 1024
// appends in flight, as the proxy's I/O threads do. Like an event loop, a
// producer with nothing to do sleeps (not spins), and leaves its core to
// the log's threads.
void AppendAsync(benchmark::State& state, Durability durability) {
  if (state.thread_index() == 0) {
    OpenLog(durability);
  }
  const AuditRecord record = Typical();
  constexpr int kInFlight = 1024;
  // Static: a callback may still notify it after its producer, which saw
  // the count reach zero, has returned. One cache line each.
  struct alignas(64) Counter {
    std::atomic<int> n{0};
  };
  static std::array<Counter, 64> counters;
  std::atomic<int>& in_flight = counters.at(static_cast<std::size_t>(state.thread_index())).n;
  for (auto _ : state) {
    for (int n; (n = in_flight.load(std::memory_order_acquire)) >= kInFlight;) {
      in_flight.wait(n, std::memory_order_acquire);
    }
    in_flight.fetch_add(1, std::memory_order_relaxed);
    Log()->AppendAsync(record, {}, [&n = in_flight](base::StatusOr<Appended>) {
      // One wake-up per sleep, as an event loop's: the producer sleeps
      // with kInFlight in flight, or for the last ones at the end. (A
      // notify per answer made a system call whenever the producer was
      // registered as waiting, also while it woke up: a fifth of the
      // answers did, a harness cost the log does not have.)
      const int before = n.fetch_sub(1, std::memory_order_release);
      if (before == kInFlight || before == 1) {
        n.notify_one();
      }
    });
  }
  for (int n; (n = in_flight.load(std::memory_order_acquire)) > 0;) {
    in_flight.wait(n, std::memory_order_acquire);
  }
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) {
    CloseLog(state);
  }
}

// What one append adds to a decision when decisions come one at a time.
void BM_AppendLatency(benchmark::State& state) {
  OpenLog(Durability::kGroup);
  const AuditRecord record = Typical();
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    auto appended = Log()->Append(record);
    const auto end = std::chrono::steady_clock::now();
    if (!appended.ok()) {
      state.SkipWithError(appended.status().message().c_str());
      break;
    }
    state.SetIterationTime(std::chrono::duration<double>(end - start).count());
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
  CloseLog(state);
}

void BM_Encode(benchmark::State& state) {
  const AuditRecord record = Typical();
  PreparedRecord prepared;  // reused, as the log's producers do
  for (auto _ : state) {
    PrepareRecord(record, "0123456789abcdef0123", prepared);
    benchmark::DoNotOptimize(prepared.text.data());
  }
}

std::string TypicalBody() {
  return EncodeRecord(Typical(), 123456, "2026-11-29T23:59:59.123456Z", "0123456789abcdef0123");
}

void BM_ChainHash(benchmark::State& state) {
  const std::string body = TypicalBody();
  base::Sha256 hash{};
  for (auto _ : state) {
    hash = ChainHash(hash, body);
  }
  benchmark::DoNotOptimize(hash);
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(body.size()));
}

void BM_JournalEntry(benchmark::State& state) {
  const std::string body = TypicalBody();
  std::string entry;
  for (auto _ : state) {
    entry.clear();
    AppendJournalEntry(123456, "decision", body, {}, entry);
  }
  benchmark::DoNotOptimize(entry);
}

void BM_AppendGroup(benchmark::State& state) { Append(state, Durability::kGroup); }
void BM_AppendAsyncGroup(benchmark::State& state) { AppendAsync(state, Durability::kGroup); }
void BM_AppendAsyncFsync(benchmark::State& state) { AppendAsync(state, Durability::kFsync); }
void BM_AppendFsync(benchmark::State& state) { Append(state, Durability::kFsync); }

BENCHMARK(BM_Encode);
BENCHMARK(BM_ChainHash);
BENCHMARK(BM_JournalEntry);
BENCHMARK(BM_AppendLatency)->UseManualTime();
BENCHMARK(BM_AppendGroup)->ThreadRange(1, 64)->UseRealTime();
BENCHMARK(BM_AppendFsync)->ThreadRange(1, 64)->UseRealTime();
BENCHMARK(BM_AppendAsyncGroup)->ThreadRange(1, 4)->UseRealTime();
BENCHMARK(BM_AppendAsyncFsync)->ThreadRange(1, 4)->UseRealTime();
// A million records (1.4 GB of WAL and database writes reach the disk): long
// enough for SQLite's WAL checkpoints and restarts to weigh in fully.
BENCHMARK(BM_AppendAsyncGroup)
    ->Name("BM_AppendAsyncGroupMillion")
    ->Iterations(1'000'000)
    ->UseRealTime();
// The same from two producers, half a million each: a fixed amount of work,
// so that `/usr/bin/time` gives the CPU a record costs when producers run
// side by side.
BENCHMARK(BM_AppendAsyncGroup)
    ->Name("BM_AppendAsyncGroupMillion")
    ->Threads(2)
    ->Iterations(500'000)
    ->UseRealTime();

}  // namespace
}  // namespace firebreak::audit

BENCHMARK_MAIN();
