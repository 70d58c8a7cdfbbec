#include "firebreak/audit/journal_writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <iterator>

#include "firebreak/audit/store.h"

namespace firebreak::audit {

// An open journal segment: a file allocated up front (no write can find
// the disk full). A group is journaled by one write into the page cache.
// (Through a mapping instead, the leader took a fault for each page it
// wrote, and syncing mapped pages cost a TLB shootdown each.)
struct JournalWriter::Segment {
  std::filesystem::path path;
  int fd = -1;
  std::size_t capacity = 0;
  std::size_t size = 0;
  std::uint64_t last_seq = 0;  // 0: no entry yet

  ~Segment() {
    if (fd >= 0) {
      ::close(fd);
    }
  }
};

namespace {

using Segment = JournalWriter::Segment;

// Journal segments kept for reuse once their records are in the database.
constexpr std::size_t kRecycledSegments = 16;

// Bodies kept for reuse, and the largest kept: a record's, not a long
// conversation's.
constexpr std::size_t kSpareBodies = 4096;
constexpr std::size_t kSpareBodyBytes = 2048;

std::size_t PageSize() { return static_cast<std::size_t>(::sysconf(_SC_PAGESIZE)); }

std::filesystem::path DirectoryOf(const std::filesystem::path& db) {
  return db.has_parent_path() ? db.parent_path() : std::filesystem::path(".");
}

// The spare's file: no segment name, so that no reader takes it for one.
std::filesystem::path SparePath(const std::filesystem::path& db) {
  return db.string() + ".journal-spare";
}

// Writes all of `bytes` at file offset `at`; false, with errno, if not.
bool WriteAt(int fd, std::string_view bytes, std::size_t at) {
  while (!bytes.empty()) {
    const ssize_t n = ::pwrite(fd, bytes.data(), bytes.size(), static_cast<off_t>(at));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      errno = n == 0 ? EIO : errno;
      return false;
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
    at += static_cast<std::size_t>(n);
  }
  return true;
}

// A segment file at `path`, allocated whole.
base::StatusOr<std::shared_ptr<Segment>> CreateSegment(const std::filesystem::path& path,
                                                       std::size_t capacity) {
  auto segment = std::make_shared<Segment>();
  segment->path = path;
  segment->capacity = capacity;
  // A file of that name holds no acknowledged record (they would have
  // advanced the head): it is a segment whose first write failed.
  segment->fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (segment->fd < 0) {
    return ErrnoError("audit journal: cannot create " + path.string());
  }
  if (const int e = ::posix_fallocate(segment->fd, 0, static_cast<off_t>(capacity)); e != 0) {
    errno = e;
    return ErrnoError("audit journal: cannot allocate " + std::to_string(capacity) + " bytes for " +
                      path.string());
  }
  return segment;
}

// `from`, a segment whose records are all in the database, renamed to
// `path` for reuse.
base::StatusOr<std::shared_ptr<Segment>> ReuseSegment(const std::filesystem::path& from,
                                                      const std::filesystem::path& path,
                                                      std::size_t capacity) {
  if (::rename(from.c_str(), path.c_str()) != 0) {
    return ErrnoError("audit journal: cannot rename " + from.string());
  }
  auto segment = std::make_shared<Segment>();
  segment->path = path;
  segment->capacity = capacity;
  segment->fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  struct stat st {};
  if (segment->fd < 0 || ::fstat(segment->fd, &st) != 0 ||
      static_cast<std::size_t>(st.st_size) != capacity) {
    return ErrnoError("audit journal: cannot reuse " + from.string());  // created anew
  }
  return segment;
}

// Syncs the database's WAL, then deletes `segments`; false when the sync
// failed (nothing is deleted then).
bool DropSegments(const std::filesystem::path& db,
                  const std::vector<std::filesystem::path>& segments) {
  // The database's copy must survive a power loss before the journal's goes.
  if (!SyncWal(db)) {
    return false;
  }
  for (const std::filesystem::path& path : segments) {
    std::error_code ec;
    std::filesystem::remove(path, ec);
  }
  return true;
}

}  // namespace

bool DropJournal(const std::filesystem::path& db) {
  if (!DropSegments(db, JournalSegments(db))) {
    return false;
  }
  std::error_code ec;
  std::filesystem::remove(SparePath(db), ec);  // left by a killed process; holds nothing
  return true;
}

JournalWriter::JournalWriter(const AuditOptions& options, std::string instance, ChainHead head,
                             std::mutex& mutex, std::condition_variable& spare_wanted)
    : options_(options),
      instance_(std::move(instance)),
      mutex_(mutex),
      spare_wanted_(spare_wanted),
      head_(head) {}

JournalWriter::~JournalWriter() = default;

void JournalWriter::Begin() {
  buffer_.clear();
  group_ = head_;
  time_ = FormatTime(options_.now_micros());
}

Appended JournalWriter::Add(PreparedRecord& record, std::vector<OutboxAlert>& alerts,
                            std::vector<Journaled>& out) {
  const std::uint64_t seq = ++group_.seq;
  Journaled j{seq, std::move(record.kind), {}, {}, {}};
  if (!bodies_.empty()) {
    j.body = std::move(bodies_.back());
    bodies_.pop_back();
    j.body.clear();
  }
  FinishRecord(record, seq, time_, j.body);
  group_.hash = ChainHash(group_.hash, j.body);
  j.hash = group_.hash;
  for (OutboxAlert& alert : alerts) {
    Value::Object& payload = alert.payload;
    payload["idempotency_key"] = AlertKey(instance_, seq, alert.target);
    payload["instance"] = instance_;
    payload["audit_seq"] = seq;
    payload["time"] = time_;
    payload["target"] = alert.target;
    std::string json;
    Value(std::move(payload)).AppendCanonical(json);
    j.alerts.push_back({std::move(alert.target), std::move(json)});
  }
  AppendJournalEntry(seq, j.kind, j.body, j.alerts, buffer_);
  out.push_back(std::move(j));
  return Appended{seq, group_.hash};
}

base::Status JournalWriter::Write() {
  if (!segment_ || segment_->capacity - segment_->size < buffer_.size()) {
    if (segment_) {
      retired_.push_back(std::move(segment_));
    }
    FB_RETURN_IF_ERROR(OpenSegment(buffer_.size()));
  }
  Segment& segment = *segment_;
  const bool written = WriteAt(segment.fd, buffer_, segment.size);
  if (!written || (options_.durability == Durability::kFsync && ::fdatasync(segment.fd) != 0)) {
    base::Status error = ErrnoError(std::string("audit journal: cannot ") +
                                    (written ? "sync " : "write ") + segment.path.string());
    // Not acknowledged: zeroes in its place, so that a later, shorter group
    // leaves none of its entries behind its own (best effort).
    buffer_.assign(buffer_.size(), '\0');
    static_cast<void>(WriteAt(segment.fd, buffer_, segment.size));
    return error;
  }
  segment.size += buffer_.size();
  segment.last_seq = group_.seq;
  head_ = group_;
  return base::Status::Ok();
}

std::size_t JournalWriter::SegmentCapacity(std::size_t needed) const {
  const std::size_t page = PageSize();
  return (std::max(options_.segment_bytes, kJournalMagic.size() + needed) + page - 1) / page * page;
}

base::Status JournalWriter::OpenSegment(std::size_t needed) {
  const std::filesystem::path path = JournalSegmentPath(options_.db, head_.seq + 1);
  std::shared_ptr<Segment> segment;
  {
    std::lock_guard lock(mutex_);
    if (spare_state_ == SpareState::kReady && spare_->capacity >= kJournalMagic.size() + needed) {
      segment = std::move(spare_);
      spare_state_ = SpareState::kTaken;
    }
  }
  const bool renamed = segment && ::rename(segment->path.c_str(), path.c_str()) == 0;
  {
    // Only now that the spare's name is free (or none is being made): the
    // next spare is made under the same name.
    std::lock_guard lock(mutex_);
    if (spare_state_ == SpareState::kTaken || spare_state_ == SpareState::kNone) {
      spare_state_ = SpareState::kWanted;
      spare_wanted_.notify_one();
    }
  }
  if (renamed) {
    segment->path = path;
  } else {
    base::StatusOr<std::shared_ptr<Segment>> created = CreateSegment(path, SegmentCapacity(needed));
    if (!created.ok()) {
      return created.status();
    }
    segment = std::move(created).value();
  }
  if (!WriteAt(segment->fd, kJournalMagic, 0)) {
    return ErrnoError("audit journal: cannot write " + path.string());
  }
  segment->size = kJournalMagic.size();
  if (options_.durability == Durability::kFsync &&
      (::fdatasync(segment->fd) != 0 || !SyncPath(DirectoryOf(options_.db), true))) {
    return ErrnoError("audit journal: cannot sync " + path.string());
  }
  segment_ = std::move(segment);
  return base::Status::Ok();
}

void JournalWriter::KeepBodies(std::vector<Journaled>& ingested) {
  for (Journaled& j : ingested) {
    if (spare_bodies_.size() < kSpareBodies && j.body.capacity() <= kSpareBodyBytes) {
      spare_bodies_.push_back(std::move(j.body));
    }
  }
}

void JournalWriter::TakeBodies(std::size_t n) {
  while (bodies_.size() < n && !spare_bodies_.empty()) {
    bodies_.push_back(std::move(spare_bodies_.back()));
    spare_bodies_.pop_back();
  }
}

void JournalWriter::GroupDone(bool written) {
  for (std::shared_ptr<Segment>& r : retired_) {
    if (r->last_seq > 0) {
      closed_.emplace_back(r->path, r->last_seq);
    }
    if (options_.durability == Durability::kGroup) {
      unsynced_.push_back(std::move(r));
    }
  }
  retired_.clear();
  if (segment_ != sync_segment_) {
    sync_segment_ = segment_;
    dir_unsynced_ = dir_unsynced_ || (options_.durability == Durability::kGroup && segment_);
  }
  if (written) {
    journal_unsynced_ = options_.durability == Durability::kGroup;
  }
}

void JournalWriter::PrepareSpare(std::unique_lock<std::mutex>& lock) {
  spare_state_ = SpareState::kPreparing;
  std::filesystem::path recycled;
  if (!recycle_.empty()) {
    recycled = std::move(recycle_.back());
    recycle_.pop_back();
  }
  lock.unlock();
  const std::size_t capacity = SegmentCapacity(0);
  const std::filesystem::path spare_path = SparePath(options_.db);
  base::StatusOr<std::shared_ptr<Segment>> spare =
      recycled.empty() ? base::NotFound("no segment to reuse")
                       : ReuseSegment(recycled, spare_path, capacity);
  if (!spare.ok()) {
    spare = CreateSegment(spare_path, capacity);
    if (spare.ok()) {
      // Its pages in the page cache (zeroes: nothing is read), so that the
      // leader's writes do not allocate them (best effort).
      ::posix_fadvise((*spare)->fd, 0, static_cast<off_t>(capacity), POSIX_FADV_WILLNEED);
    }
  }
  lock.lock();
  if (spare.ok()) {
    spare_ = std::move(spare).value();
    spare_state_ = SpareState::kReady;
  } else {
    spare_state_ = SpareState::kNone;  // the leader creates its segments itself; it asks again
  }
}

void JournalWriter::ForgetSynced(std::uint64_t durable_seq) {
  std::erase_if(unsynced_, [&](const std::shared_ptr<Segment>& segment) {
    return segment->last_seq <= durable_seq;
  });
}

bool JournalWriter::Sync(std::unique_lock<std::mutex>& lock) {
  std::vector<std::shared_ptr<Segment>> segments = std::move(unsynced_);
  unsynced_.clear();
  if (journal_unsynced_ && sync_segment_) {
    segments.push_back(sync_segment_);
  }
  const bool dir = dir_unsynced_;
  journal_unsynced_ = dir_unsynced_ = false;
  lock.unlock();
  bool synced = true;
  for (const std::shared_ptr<Segment>& segment : segments) {
    synced = ::fdatasync(segment->fd) == 0 && synced;
  }
  if (dir) {
    synced = SyncPath(DirectoryOf(options_.db), true) && synced;
  }
  if (synced) {
    segments.clear();  // the last reference to a retired segment closes it: not under the lock
  }
  lock.lock();
  if (!synced) {
    // Synced again at the next tick, not taken for done.
    std::move(segments.begin(), segments.end(), std::back_inserter(unsynced_));
    journal_unsynced_ = true;
    dir_unsynced_ = dir_unsynced_ || dir;
  }
  return synced;
}

void JournalWriter::DropIngested(std::unique_lock<std::mutex>& lock, std::uint64_t ingested_seq,
                                 bool all) {
  std::vector<std::filesystem::path> drop;
  if (all) {
    drop = JournalSegments(options_.db);
  } else {
    for (const auto& [path, last_seq] : closed_) {
      if (last_seq <= ingested_seq) {
        drop.push_back(path);
      }
    }
  }
  if (drop.empty()) {
    return;
  }
  // A few are kept for the next spares: their pages are allocated and
  // likely cached, where a new file's must be allocated and zeroed.
  std::vector<std::filesystem::path> keep;
  while (!all && !drop.empty() && recycle_.size() + keep.size() < kRecycledSegments) {
    keep.push_back(std::move(drop.back()));
    drop.pop_back();
  }
  lock.unlock();
  const bool dropped = DropSegments(options_.db, drop);
  lock.lock();
  if (dropped) {  // else they are tried again at the next tick
    std::erase_if(closed_, [&](const auto& c) {
      return std::find(drop.begin(), drop.end(), c.first) != drop.end() ||
             std::find(keep.begin(), keep.end(), c.first) != keep.end();
    });
    std::move(keep.begin(), keep.end(), std::back_inserter(recycle_));
  }
}

void JournalWriter::RemoveSpare() {
  if (spare_) {
    std::error_code ec;
    std::filesystem::remove(spare_->path, ec);
    spare_.reset();
  }
}

void JournalWriter::SyncUnsynced() {
  for (const std::shared_ptr<Segment>& segment : unsynced_) {
    ::fdatasync(segment->fd);
  }
  if (segment_) {
    ::fdatasync(segment_->fd);
  }
}

}  // namespace firebreak::audit
