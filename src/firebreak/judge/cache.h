// The judge's answers, kept (SQLite, beside the audit database by default)
// so that a conversation asked about once is not asked again: keyed by the
// policy's digest, the judge model and the conversation as classified, with
// a time to live and a cap on entries (the oldest go first). It survives a
// restart; `demo --no-cache` goes around it. Thread-safe.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "firebreak/base/conversation.h"
#include "firebreak/base/status.h"
#include "firebreak/judge/judge.h"

struct sqlite3;

namespace firebreak::judge {

// Hex SHA-256 of the policy digest, the judge model and every message (its
// role, field and text, each length-prefixed): two conversations share a
// key only if they would be asked the same question.
std::string CacheKey(std::string_view policy_digest, std::string_view model,
                     const base::Conversation& conversation);

class Cache {
 public:
  struct Options {
    std::filesystem::path path;
    std::int64_t ttl_seconds = 24 * 3600;
    std::int64_t max_entries = 100'000;
  };
  static base::StatusOr<std::unique_ptr<Cache>> Open(Options options);
  ~Cache();

  // The answer kept for `key` and not older than the TTL at `now_seconds`.
  std::optional<Answer> Get(std::string_view key, std::int64_t now_seconds);
  // Keeps an answer (failures are never kept), then trims what expired and
  // what is past the cap.
  base::Status Put(std::string_view key, const Answer& answer, std::int64_t now_seconds);

  std::uint64_t hits() const;
  std::uint64_t misses() const;

 private:
  explicit Cache(Options options, sqlite3* db);
  Options options_;
  mutable std::mutex mu_;
  sqlite3* db_;
  std::uint64_t hits_ = 0;
  std::uint64_t misses_ = 0;
};

}  // namespace firebreak::judge
