#include "firebreak/audit/sqlite.h"

#include <cstring>

namespace firebreak::audit {

base::Status SqliteError(sqlite3* db, std::string_view what) {
  return base::Status(base::StatusCode::kUnavailable,
                      std::string(what) + ": " + sqlite3_errmsg(db));
}

base::Status Exec(sqlite3* db, const char* sql) {
  char* error = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &error) != SQLITE_OK) {
    base::Status status(
        base::StatusCode::kUnavailable,
        std::string("sqlite: ") + (error ? error : "unknown error") + " in: " + sql);
    sqlite3_free(error);
    return status;
  }
  return base::Status::Ok();
}

Statement::Statement(sqlite3* db, const char* sql) {
  if (sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) != SQLITE_OK) {
    sqlite3_finalize(stmt_);
    stmt_ = nullptr;
  }
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

Statement& Statement::Bind(int index, std::int64_t value) {
  sqlite3_bind_int64(stmt_, index, value);
  return *this;
}

Statement& Statement::Bind(int index, std::string_view text) {
  sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  return *this;
}

Statement& Statement::BindBlob(int index, std::string_view bytes) {
  sqlite3_bind_blob(stmt_, index, bytes.data(), static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
  return *this;
}

Statement& Statement::BindTextView(int index, std::string_view text) {
  sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_STATIC);
  return *this;
}

Statement& Statement::BindBlobView(int index, std::string_view bytes) {
  sqlite3_bind_blob(stmt_, index, bytes.data(), static_cast<int>(bytes.size()), SQLITE_STATIC);
  return *this;
}

int Statement::Step() { return sqlite3_step(stmt_); }

void Statement::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

std::int64_t Statement::Int(int column) const { return sqlite3_column_int64(stmt_, column); }

std::string_view Statement::Text(int column) const {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
  return p ? std::string_view(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column)))
           : std::string_view();
}

std::string_view Statement::Blob(int column) const {
  const auto* p = static_cast<const char*>(sqlite3_column_blob(stmt_, column));
  return p ? std::string_view(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column)))
           : std::string_view();
}

base::StatusOr<std::string> MetaValue(sqlite3* db, std::string_view key) {
  Statement get(db, "SELECT value FROM meta WHERE key = ?");
  if (!get.ok()) {
    return SqliteError(db, "not a Firebreak audit database");
  }
  get.Bind(1, key);
  if (get.Step() != SQLITE_ROW) {
    return base::NotFound("audit database has no '" + std::string(key) + "' entry");
  }
  return std::string(get.Text(0));
}

ChainHead LastRecord(sqlite3* db) {
  ChainHead head;
  Statement last(db, "SELECT seq, hash FROM records ORDER BY seq DESC LIMIT 1");
  if (last.ok() && last.Step() == SQLITE_ROW && last.Blob(1).size() == head.hash.size()) {
    head.seq = static_cast<std::uint64_t>(last.Int(0));
    std::memcpy(head.hash.data(), last.Blob(1).data(), head.hash.size());
  }
  return head;
}

}  // namespace firebreak::audit
