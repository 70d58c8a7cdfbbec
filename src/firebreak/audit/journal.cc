#include "firebreak/audit/journal.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>

#include "firebreak/audit/record.h"

namespace firebreak::audit {
namespace {

constexpr std::uint32_t kCrc32cPolynomial = 0x82f63b78;  // reflected

constexpr std::array<std::uint32_t, 256> kCrc32cTable = [] {
  std::array<std::uint32_t, 256> table{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k) {
      c = (c & 1) != 0 ? (c >> 1) ^ kCrc32cPolynomial : c >> 1;
    }
    table[i] = c;
  }
  return table;
}();

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) std::uint32_t Crc32cSse42(std::string_view bytes) {
  std::uint64_t crc = 0xffffffff;
  const char* p = bytes.data();
  std::size_t n = bytes.size();
  for (; n >= 8; p += 8, n -= 8) {
    std::uint64_t word;
    std::memcpy(&word, p, 8);
    crc = __builtin_ia32_crc32di(crc, word);
  }
  auto c = static_cast<std::uint32_t>(crc);
  for (; n > 0; ++p, --n) {
    c = __builtin_ia32_crc32qi(c, static_cast<unsigned char>(*p));
  }
  return ~c;
}
#endif

void PutU32(std::string& out, std::uint32_t v) {
  char b[4];
  for (int i = 0; i < 4; ++i) {
    b[i] = static_cast<char>(v >> (8 * i));
  }
  out.append(b, 4);
}

void PutU64(std::string& out, std::uint64_t v) {
  char b[8];
  for (int i = 0; i < 8; ++i) {
    b[i] = static_cast<char>(v >> (8 * i));
  }
  out.append(b, 8);
}

void PutBytes(std::string& out, std::string_view bytes) {
  PutU32(out, static_cast<std::uint32_t>(bytes.size()));
  out.append(bytes);
}

// Reads the pieces of a payload; any read past its end fails the whole entry.
class Reader {
 public:
  explicit Reader(std::string_view bytes) : bytes_(bytes) {}
  bool ok() const { return ok_; }
  bool done() const { return bytes_.empty(); }

  std::uint64_t Int(int width) {
    if (!Need(static_cast<std::size_t>(width))) {
      return 0;
    }
    std::uint64_t v = 0;
    for (int i = width - 1; i >= 0; --i) {
      v = (v << 8) | static_cast<unsigned char>(bytes_[static_cast<std::size_t>(i)]);
    }
    bytes_.remove_prefix(static_cast<std::size_t>(width));
    return v;
  }
  std::string_view Raw(std::size_t n) {
    if (!Need(n)) {
      return {};
    }
    std::string_view v = bytes_.substr(0, n);
    bytes_.remove_prefix(n);
    return v;
  }
  std::string_view Bytes() { return Raw(Int(4)); }

 private:
  bool Need(std::size_t n) {
    ok_ = ok_ && bytes_.size() >= n;
    return ok_;
  }
  std::string_view bytes_;
  bool ok_ = true;
};

}  // namespace

bool ParseJournalSegment(std::string_view bytes, std::uint64_t first_seq,
                         std::vector<JournalEntry>& out) {
  const std::string_view magic = bytes.substr(0, kJournalMagic.size());
  if (magic != kJournalMagic) {
    // Empty or zeros: a segment whose creation was cut short, holding nothing.
    return magic.find_first_not_of('\0') == std::string_view::npos;
  }
  Reader file(bytes.substr(kJournalMagic.size()));
  while (!file.done()) {
    const std::string_view payload = file.Bytes();
    const auto checksum = static_cast<std::uint32_t>(file.Int(4));
    if (!file.ok() || checksum != Crc32c(payload)) {
      return true;
    }
    Reader r(payload);
    JournalEntry entry;
    entry.seq = r.Int(8);
    if (entry.seq != first_seq++) {
      return true;
    }
    entry.kind = r.Bytes();
    entry.body = r.Bytes();
    const std::uint64_t alerts = r.Int(4);
    for (std::uint64_t i = 0; r.ok() && i < alerts; ++i) {
      std::string target(r.Bytes());
      entry.alerts.push_back({std::move(target), std::string(r.Bytes())});
    }
    if (!r.ok() || !r.done()) {
      return true;
    }
    out.push_back(std::move(entry));
  }
  return true;
}

std::uint32_t Crc32cPortable(std::string_view bytes) {
  std::uint32_t c = 0xffffffff;
  for (char b : bytes) {
    c = kCrc32cTable[(c ^ static_cast<unsigned char>(b)) & 0xff] ^ (c >> 8);
  }
  return ~c;
}

std::uint32_t Crc32c(std::string_view bytes) {
#if defined(__x86_64__)
  static const bool sse42 = __builtin_cpu_supports("sse4.2");
  if (sse42) {
    return Crc32cSse42(bytes);
  }
#endif
  return Crc32cPortable(bytes);
}

void AppendJournalEntry(std::uint64_t seq, std::string_view kind, std::string_view body,
                        const std::vector<JournalAlert>& alerts, std::string& out) {
  const std::size_t size_at = out.size();
  PutU32(out, 0);  // the payload's size, known below
  const std::size_t payload_at = out.size();
  PutU64(out, seq);
  PutBytes(out, kind);
  PutBytes(out, body);
  PutU32(out, static_cast<std::uint32_t>(alerts.size()));
  for (const JournalAlert& alert : alerts) {
    PutBytes(out, alert.target);
    PutBytes(out, alert.payload);
  }
  const std::size_t size = out.size() - payload_at;
  for (int i = 0; i < 4; ++i) {
    out[size_at + static_cast<std::size_t>(i)] = static_cast<char>(size >> (8 * i));
  }
  PutU32(out, Crc32c(std::string_view(out).substr(payload_at)));
}

std::filesystem::path JournalSegmentPath(const std::filesystem::path& db, std::uint64_t first_seq) {
  std::string seq = std::to_string(first_seq);
  seq.insert(0, 20 - std::min<std::size_t>(seq.size(), 20), '0');
  return db.string() + ".journal-" + seq;
}

std::vector<std::filesystem::path> JournalSegments(const std::filesystem::path& db) {
  std::vector<std::filesystem::path> segments;
  const std::string prefix = db.filename().string() + ".journal-";
  const std::filesystem::path dir = db.has_parent_path() ? db.parent_path() : ".";
  std::error_code ec;
  for (const auto& file : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = file.path().filename().string();
    if (name.size() == prefix.size() + 20 && name.starts_with(prefix) &&
        name.find_first_not_of("0123456789", prefix.size()) == std::string::npos) {
      segments.push_back(file.path());
    }
  }
  std::sort(segments.begin(), segments.end());  // zero-padded: by first seq
  return segments;
}

base::StatusOr<std::vector<JournalEntry>> ReadJournal(const std::filesystem::path& db) {
  std::vector<JournalEntry> entries;
  for (const std::filesystem::path& segment : JournalSegments(db)) {
    base::StatusOr<std::string> bytes = base::ReadFile(segment);
    if (!bytes.ok()) {
      if (bytes.status().code() == base::StatusCode::kNotFound) {
        continue;
      }
      return bytes.status();
    }
    const std::string name = segment.filename().string();
    std::uint64_t first_seq = 0;
    if (std::from_chars(name.data() + name.size() - 20, name.data() + name.size(), first_seq).ec !=
        std::errc()) {
      continue;  // more than 64 bits: not a name the log gives
    }
    if (!ParseJournalSegment(*bytes, first_seq, entries)) {
      return base::FailedPrecondition(
          segment.string() +
          ": not an audit journal segment this version can read (it does not start with \"" +
          std::string(kJournalMagic.substr(0, kJournalMagic.size() - 1)) +
          "\"); let the version that wrote it recover its records first");
    }
  }
  return entries;
}

std::vector<ChainedEntry> ChainAfter(std::vector<JournalEntry> entries, std::uint64_t seq,
                                     base::Sha256 hash) {
  std::vector<ChainedEntry> after;
  for (JournalEntry& e : entries) {
    if (e.seq <= seq) {
      continue;  // in the database already
    }
    seq = e.seq;
    hash = ChainHash(hash, e.body);
    after.push_back({std::move(e), hash});
  }
  return after;
}

bool SyncPath(const std::filesystem::path& path, bool directory) {
  const int fd = ::open(path.c_str(), (directory ? O_DIRECTORY : 0) | O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return errno == ENOENT;  // nothing to sync
  }
  const bool ok = (directory ? ::fsync(fd) : ::fdatasync(fd)) == 0;
  ::close(fd);
  return ok;
}

base::Status ErrnoError(std::string what) {
  return base::Status(base::StatusCode::kUnavailable, what + ": " + std::strerror(errno));
}

}  // namespace firebreak::audit
