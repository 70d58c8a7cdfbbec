// Writes the seeds that are binary or signed, from a real audit database
// (made by `firebreak demo`, say): journal segments holding its records and
// alerts as the audit log journals them, intact and damaged, and receipts
// for its decisions signed with the fuzzing key, valid and tampered.
// Usage: fuzz_make_seeds AUDIT_DB OUT_DIR (writes OUT_DIR/journal, OUT_DIR/receipt).
#include <sqlite3.h>

#include <boost/json.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "firebreak/audit/journal.h"
#include "firebreak/base/digest.h"
#include "firebreak/exchange/receipt.h"
#include "fuzz_key.h"

namespace {

namespace audit = firebreak::audit;
namespace base = firebreak::base;
namespace json = boost::json;
namespace exchange = firebreak::exchange;

struct Row {
  std::uint64_t seq = 0;
  std::string kind;
  std::string body;
  std::string hash;  // hex
  std::vector<audit::JournalAlert> alerts;
};

std::string Column(sqlite3_stmt* s, int i) {
  const auto* p = static_cast<const char*>(sqlite3_column_blob(s, i));
  return p == nullptr ? std::string() : std::string(p, sqlite3_column_bytes(s, i));
}

std::vector<Row> ReadRows(const char* path) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    std::fprintf(stderr, "cannot open %s\n", path);
    std::exit(2);
  }
  std::vector<Row> rows;
  std::map<std::uint64_t, std::size_t> by_seq;
  sqlite3_stmt* s = nullptr;
  sqlite3_prepare_v2(db, "SELECT seq, kind, body, hash FROM records ORDER BY seq", -1, &s, nullptr);
  while (sqlite3_step(s) == SQLITE_ROW) {
    Row r;
    r.seq = static_cast<std::uint64_t>(sqlite3_column_int64(s, 0));
    r.kind = Column(s, 1);
    r.body = Column(s, 2);
    r.hash = base::HexEncode(Column(s, 3));
    by_seq[r.seq] = rows.size();
    rows.push_back(std::move(r));
  }
  sqlite3_finalize(s);
  // Idempotency keys are <instance>:<seq>:<target>.
  sqlite3_prepare_v2(db, "SELECT idempotency_key, target, payload FROM outbox ORDER BY id", -1, &s,
                     nullptr);
  while (sqlite3_step(s) == SQLITE_ROW) {
    const std::string key = Column(s, 0);
    const std::size_t a = key.find(':');
    const std::size_t b = key.find(':', a + 1);
    const std::uint64_t seq = std::stoull(key.substr(a + 1, b - a - 1));
    if (auto it = by_seq.find(seq); it != by_seq.end()) {
      rows[it->second].alerts.push_back({Column(s, 1), Column(s, 2)});
    }
  }
  sqlite3_finalize(s);
  sqlite3_close(db);
  return rows;
}

void Write(const std::filesystem::path& path, std::string_view bytes) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string Segment(const std::vector<Row>& rows, std::size_t from, std::size_t to) {
  std::string out(audit::kJournalMagic);
  for (std::size_t i = from; i < to && i < rows.size(); ++i) {
    audit::AppendJournalEntry(rows[i].seq - rows[from].seq + 1, rows[i].kind, rows[i].body,
                              rows[i].alerts, out);
  }
  return out;
}

void WriteJournalSeeds(const std::vector<Row>& rows, const std::filesystem::path& dir) {
  const std::string all = Segment(rows, 0, rows.size());
  Write(dir / "valid-demo-run", all);
  // As the log allocates it: zeros after the last entry.
  Write(dir / "valid-allocated-zeros", all + std::string(512, '\0'));
  // A reused segment: its own entries, then an older one's.
  Write(dir / "reused-segment",
        Segment(rows, 0, 3) + Segment(rows, 0, rows.size()).substr(audit::kJournalMagic.size()));
  // A torn write: the last entry cut in the middle.
  Write(dir / "torn-last-entry", all.substr(0, all.size() - 40));
  // A damaged entry: one byte of the third changed (its checksum fails).
  std::string damaged = Segment(rows, 0, 4);
  const std::size_t third = Segment(rows, 0, 2).size();
  damaged[third + 20] ^= 0x01;
  Write(dir / "damaged-third-entry", damaged);
  // One decision with its alerts only.
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (!rows[i].alerts.empty()) {
      Write(dir / "decision-with-alerts", Segment(rows, i, i + 1));
      break;
    }
  }
  Write(dir / "creation-cut-short", std::string(8, '\0'));
  Write(dir / "older-format", "FBJRNL1\n" + all.substr(audit::kJournalMagic.size()));
}

void WriteReceiptSeeds(const std::vector<Row>& rows, const std::filesystem::path& dir) {
  const base::SigningKey key = firebreak::fuzz::LoadKey(firebreak::fuzz::kFuzzPrivatePem);
  const base::SigningKey other = firebreak::fuzz::LoadKey(firebreak::fuzz::kOtherPrivatePem);
  std::string first_valid;
  for (const Row& row : rows) {
    if (row.kind != "decision") {
      continue;
    }
    const json::object body = json::parse(row.body).as_object();
    exchange::Receipt r;
    r.instance = body.at("instance").as_string();
    r.request_id = body.at("request_id").as_string();
    r.decision = body.at("decision").as_string();
    for (const json::value& rule : body.at("rules").as_array()) {
      r.rules.emplace_back(rule.as_string());
    }
    r.policy = body.at("policy").as_object().at("digest").as_string();
    r.seq = row.seq;
    r.record_hash = row.hash;
    const std::string token = exchange::SignReceipt(r, key);
    if (first_valid.empty()) {
      first_valid = token;
    }
    Write(dir / ("valid-" + r.request_id), token);
    if (r.decision == "BLOCK") {
      // The decision changed after signing: the signature no longer verifies.
      exchange::Receipt forged = r;
      forged.decision = "ALLOW";
      const std::string forged_token = exchange::SignReceipt(forged, key);
      const std::string payload = forged_token.substr(0, forged_token.rfind('.'));
      Write(dir / ("tampered-decision-" + r.request_id), payload + token.substr(token.rfind('.')));
      Write(dir / ("other-instance-key-" + r.request_id), exchange::SignReceipt(r, other));
    }
  }
  std::string flipped = first_valid;
  char& c = flipped[flipped.size() - 5];
  c = c == 'A' ? 'B' : 'A';
  Write(dir / "tampered-signature", flipped);
  // A signature's last character carries 4 bits and 4 unused ones (A, Q, g
  // or w): the next character sets an unused bit, which is not canonical.
  std::string loose = first_valid;
  loose.back() = static_cast<char>(loose.back() + 1);
  Write(dir / "noncanonical-base64", loose);
  Write(dir / "no-signature", first_valid.substr(0, first_valid.rfind('.')));
  Write(dir / "wrong-version", "fbr2." + first_valid.substr(5));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s AUDIT_DB OUT_DIR\n", argv[0]);
    return 2;
  }
  const std::vector<Row> rows = ReadRows(argv[1]);
  if (rows.empty()) {
    std::fprintf(stderr, "%s holds no records\n", argv[1]);
    return 2;
  }
  const std::filesystem::path out = argv[2];
  WriteJournalSeeds(rows, out / "journal");
  WriteReceiptSeeds(rows, out / "receipt");
  return 0;
}
