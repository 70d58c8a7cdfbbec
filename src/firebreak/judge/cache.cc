#include "firebreak/judge/cache.h"

#include <sqlite3.h>

#include "firebreak/audit/sqlite.h"
#include "firebreak/base/digest.h"

namespace firebreak::judge {
namespace {

void AppendField(base::Sha256Stream& digest, std::string_view field) {
  const std::string length = std::to_string(field.size()) + ":";
  digest.Update(length);
  digest.Update(field);
}

}  // namespace

std::string CacheKey(std::string_view policy_digest, std::string_view model,
                     const base::Conversation& conversation) {
  base::Sha256Stream digest;
  AppendField(digest, "firebreak-judge/1");
  AppendField(digest, policy_digest);
  AppendField(digest, model);
  for (const base::Message& m : conversation.messages) {
    AppendField(digest, base::RoleName(m.role));
    AppendField(digest, m.where);
    AppendField(digest, m.text);
  }
  return base::ToHex(digest.Finish());
}

base::StatusOr<std::unique_ptr<Cache>> Cache::Open(Options options) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(options.path.c_str(), &db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    base::Status s = audit::SqliteError(db, "cannot open the judge cache " + options.path.string());
    sqlite3_close(db);
    return s;
  }
  for (const char* sql : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL",
                          "CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, "
                          "time INTEGER NOT NULL, answer TEXT NOT NULL)",
                          "CREATE INDEX IF NOT EXISTS answers_time ON answers (time)"}) {
    if (base::Status s = audit::Exec(db, sql); !s.ok()) {
      sqlite3_close(db);
      return base::Status(s.code(), "judge cache " + options.path.string() + ": " + s.message());
    }
  }
  return std::unique_ptr<Cache>(new Cache(std::move(options), db));
}

Cache::Cache(Options options, sqlite3* db) : options_(std::move(options)), db_(db) {}

Cache::~Cache() { sqlite3_close(db_); }

std::optional<Answer> Cache::Get(std::string_view key, std::int64_t now_seconds) {
  std::lock_guard lock(mu_);
  audit::Statement get(db_, "SELECT answer FROM answers WHERE key = ? AND time > ?");
  get.Bind(1, key).Bind(2, now_seconds - options_.ttl_seconds);
  Answer answer;
  if (get.ok() && get.Step() == SQLITE_ROW && AnswerFromJson(get.Text(0), answer)) {
    ++hits_;
    return answer;
  }
  ++misses_;
  return std::nullopt;
}

base::Status Cache::Put(std::string_view key, const Answer& answer, std::int64_t now_seconds) {
  if (answer.failure != Failure::kNone) {
    return base::Status::Ok();
  }
  std::lock_guard lock(mu_);
  audit::Statement put(db_, "INSERT OR REPLACE INTO answers (key, time, answer) VALUES (?, ?, ?)");
  const std::string json = AnswerJson(answer);
  put.Bind(1, key).Bind(2, now_seconds).Bind(3, json);
  if (!put.ok() || put.Step() != SQLITE_DONE) {
    return audit::SqliteError(db_, "judge cache: cannot keep an answer");
  }
  audit::Statement expire(db_, "DELETE FROM answers WHERE time <= ?");
  expire.Bind(1, now_seconds - options_.ttl_seconds);
  audit::Statement cap(db_,
                       "DELETE FROM answers WHERE key IN (SELECT key FROM answers "
                       "ORDER BY time DESC, key LIMIT -1 OFFSET ?)");
  cap.Bind(1, options_.max_entries);
  if (!expire.ok() || expire.Step() != SQLITE_DONE || !cap.ok() || cap.Step() != SQLITE_DONE) {
    return audit::SqliteError(db_, "judge cache: cannot trim");
  }
  return base::Status::Ok();
}

std::uint64_t Cache::hits() const {
  std::lock_guard lock(mu_);
  return hits_;
}

std::uint64_t Cache::misses() const {
  std::lock_guard lock(mu_);
  return misses_;
}

}  // namespace firebreak::judge
