// Minimal RAII helpers over the SQLite C API for the audit module.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "firebreak/base/digest.h"
#include "firebreak/base/status.h"

namespace firebreak::audit {

// Runs SQL without results; the error names the database's message.
base::Status Exec(sqlite3* db, const char* sql);

class Statement {
 public:
  Statement(sqlite3* db, const char* sql);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  bool ok() const { return stmt_ != nullptr; }
  Statement& Bind(int index, std::int64_t value);
  Statement& Bind(int index, std::string_view text);
  Statement& BindBlob(int index, std::string_view bytes);
  // Without a copy: the bytes must stay until the statement is reset.
  Statement& BindTextView(int index, std::string_view text);
  Statement& BindBlobView(int index, std::string_view bytes);
  // SQLITE_ROW, SQLITE_DONE or an error code.
  int Step();
  void Reset();

  std::int64_t Int(int column) const;
  std::string_view Text(int column) const;
  std::string_view Blob(int column) const;

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

base::Status SqliteError(sqlite3* db, std::string_view what);

// The meta table's value for `key`: NotFound when absent, Unavailable when
// the database has no meta table (it is not a Firebreak audit database).
base::StatusOr<std::string> MetaValue(sqlite3* db, std::string_view key);

// The last record's sequence number and hash: where the chain continues
// (0 and zeros for an empty log).
struct ChainHead {
  std::uint64_t seq = 0;
  base::Sha256 hash{};
};
ChainHead LastRecord(sqlite3* db);

}  // namespace firebreak::audit
