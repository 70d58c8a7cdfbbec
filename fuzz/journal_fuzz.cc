// Fuzz target: arbitrary bytes as an audit journal segment, recovered as
// the audit log recovers at open (ParseJournalSegment, then ChainAfter).
// Beyond not crashing: recovered entries are consecutive records from the
// segment's first; they are exactly a prefix of the bytes (re-encoding
// them gives the bytes back, so nothing is read that was not written);
// chaining after a head skips what the head covers; the SSE 4.2 checksum
// equals the portable one (on a prefix of the input).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "check.h"
#include "firebreak/audit/journal.h"

namespace audit = firebreak::audit;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  // Both checksums over a prefix: every length and tail below 8 bytes, at
  // a fraction of the cost of checking the whole input twice.
  const std::string_view prefix = bytes.substr(0, 64 + size % 64);
  FB_FUZZ_CHECK(audit::Crc32c(prefix) == audit::Crc32cPortable(prefix), "both checksums agree");

  constexpr std::uint64_t kFirstSeq = 1;
  std::vector<audit::JournalEntry> entries;
  const bool readable = audit::ParseJournalSegment(bytes, kFirstSeq, entries);
  if (!readable) {
    FB_FUZZ_CHECK(entries.empty(), "an unreadable segment yields nothing");
    FB_FUZZ_CHECK(!bytes.starts_with(audit::kJournalMagic), "a segment with the magic is read");
    return 0;
  }
  std::string encoded;
  if (!entries.empty()) {
    encoded = audit::kJournalMagic;
  }
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const audit::JournalEntry& e = entries[i];
    FB_FUZZ_CHECK(e.seq == kFirstSeq + i, "entries are consecutive from the first");
    audit::AppendJournalEntry(e.seq, e.kind, e.body, e.alerts, encoded);
  }
  FB_FUZZ_CHECK(bytes.starts_with(encoded), "the entries are exactly a prefix of the bytes");

  const std::uint64_t head = entries.size() / 2;
  const std::vector<audit::ChainedEntry> after = audit::ChainAfter(entries, head, {});
  FB_FUZZ_CHECK(after.size() == entries.size() - head, "the chain continues after the head");
  for (std::size_t i = 0; i < after.size(); ++i) {
    FB_FUZZ_CHECK(after[i].entry.seq == head + 1 + i, "the chain is in order");
  }
  return 0;
}
