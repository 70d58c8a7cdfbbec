// Audit record schema v1 and its canonical encoding: sorted keys, no
// insignificant whitespace, UTF-8. The canonical bytes are what the hash chain
// covers; the audit module owns this schema and never serialises in-memory
// structs of other modules blindly.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "firebreak/base/digest.h"

namespace firebreak::audit {

inline constexpr int kSchemaVersion = 1;

// A JSON value without floating point (scores are recorded as decimal
// strings), so that the encoding is canonical.
class Value {
 public:
  using Array = std::vector<Value>;
  using Object = std::map<std::string, Value, std::less<>>;
  using Variant = std::variant<std::nullptr_t, bool, std::int64_t, std::string, Array, Object>;

  Value() = default;
  Value(std::nullptr_t) {}                                      // NOLINT
  Value(bool b) : v_(b) {}                                      // NOLINT
  Value(int i) : v_(static_cast<std::int64_t>(i)) {}            // NOLINT
  Value(std::int64_t i) : v_(i) {}                              // NOLINT
  Value(std::uint64_t i) : v_(static_cast<std::int64_t>(i)) {}  // NOLINT
  Value(const char* s) : v_(std::string(s)) {}                  // NOLINT
  Value(std::string s) : v_(std::move(s)) {}                    // NOLINT
  Value(std::string_view s) : v_(std::string(s)) {}             // NOLINT
  Value(Array a) : v_(std::move(a)) {}                          // NOLINT
  Value(Object o) : v_(std::move(o)) {}                         // NOLINT

  // The string, if the value is one.
  const std::string* AsString() const { return std::get_if<std::string>(&v_); }

  // What the value holds, for its encoder.
  const Variant& variant() const { return v_; }

  // Appends the canonical JSON encoding of this value to `out`.
  void AppendCanonical(std::string& out) const;

 private:
  Variant v_;
};

// One record before it is sequenced: its kind ("decision", "completion",
// "lifecycle.start", ...) and its kind-specific fields.
struct AuditRecord {
  std::string kind;
  Value::Object fields;
};

// The canonical bytes of a sequenced record: the fields plus "v", "seq",
// "time" (RFC 3339, UTC, microseconds), "instance" and "kind". Reserved
// names in `fields` are overwritten.
std::string EncodeRecord(const AuditRecord& record, std::uint64_t seq, std::string_view time,
                         std::string_view instance);

// A record encoded by its producer before the log sequences it: the
// canonical bytes with the values of "seq" and "time" left out, so that the
// log's writer only splices them in.
struct PreparedRecord {
  std::string kind;
  std::string text;
  std::size_t seq_at = 0;   // where the digits of "seq" go
  std::size_t time_at = 0;  // where the time goes (inside its quotes)
};
PreparedRecord PrepareRecord(const AuditRecord& record, std::string_view instance);
// The same into `prepared`, reusing its buffers.
void PrepareRecord(const AuditRecord& record, std::string_view instance, PreparedRecord& prepared);
// Appends the canonical bytes of `prepared` as record `seq` at `time`.
void FinishRecord(const PreparedRecord& prepared, std::uint64_t seq, std::string_view time,
                  std::string& out);

// The hash chain: hash_n = SHA-256(hash_{n-1} || canonical bytes_n), from
// 32 zero bytes.
base::Sha256 ChainHash(const base::Sha256& previous, std::string_view body);

// "2026-11-28T23:59:59.123456Z" for microseconds since the Unix epoch.
std::string FormatTime(std::int64_t unix_micros);

// The raw JSON text of the value of top-level key `key` in a JSON object
// (a string with its quotes and escapes), if it has one. For the log's own
// canonical encodings: it scans, it does not validate.
std::optional<std::string_view> TopLevelValue(std::string_view json, std::string_view key);
// The same for a value that is a string without escapes (an id, a hex
// digest, a time, a kind), without its quotes; nullopt for anything else.
std::optional<std::string_view> TopLevelString(std::string_view json, std::string_view key);
// The same for a non-negative integer.
std::optional<std::uint64_t> TopLevelNumber(std::string_view json, std::string_view key);

}  // namespace firebreak::audit
