#include "firebreak/audit/witness.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>

#include "firebreak/audit/journal.h"
#include "firebreak/audit/record.h"
#include "firebreak/base/signing.h"

namespace firebreak::audit {
namespace {

constexpr std::chrono::milliseconds kMaxRetry{60'000};

std::optional<HeadEvent> HeadEventOf(std::string_view name) {
  for (HeadEvent e : {HeadEvent::kCheckpoint, HeadEvent::kOpen, HeadEvent::kClose}) {
    if (HeadEventName(e) == name) {
      return e;
    }
  }
  return std::nullopt;
}

bool WriteAll(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      errno = n == 0 ? EIO : errno;
      return false;
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

}  // namespace

std::string_view HeadEventName(HeadEvent event) {
  switch (event) {
    case HeadEvent::kOpen:
      return "open";
    case HeadEvent::kClose:
      return "close";
    case HeadEvent::kCheckpoint:
      break;
  }
  return "checkpoint";
}

std::string HeadMessage(std::string_view instance, std::uint64_t seq, const base::Sha256& hash,
                        std::string_view time, HeadEvent event) {
  std::string m = "firebreak-audit-head/2\n";
  m += instance;
  m += '\n';
  m += std::to_string(seq);
  m += '\n';
  m += base::ToHex(hash);
  m += '\n';
  m += time;
  m += '\n';
  m += HeadEventName(event);
  return m;
}

bool CheckpointSignatureValid(std::string_view public_pem, std::string_view instance,
                              std::uint64_t seq, const base::Sha256& hash, std::string_view time,
                              std::string_view signature, bool& legacy) {
  legacy = false;
  base::StatusOr<bool> valid = base::VerifySignature(
      public_pem, HeadMessage(instance, seq, hash, time, HeadEvent::kCheckpoint), signature);
  if (valid.ok() && *valid) {
    return true;
  }
  const std::string v1 = "firebreak-audit-checkpoint/1\n" + std::string(instance) + "\n" +
                         std::to_string(seq) + "\n" + base::ToHex(hash);
  valid = base::VerifySignature(public_pem, v1, signature);
  legacy = valid.ok() && *valid;
  return legacy;
}

std::string SignedHeadLine(const SignedHead& head) {
  std::string line;
  Value(Value::Object{{"event", HeadEventName(head.event)},
                      {"hash", base::ToHex(head.hash)},
                      {"instance", head.instance},
                      {"seq", head.seq},
                      {"signature", base::HexEncode(head.signature)},
                      {"time", head.time}})
      .AppendCanonical(line);
  line += '\n';
  return line;
}

base::StatusOr<SignedHead> ParseSignedHead(std::string_view line) {
  SignedHead head;
  const std::optional<std::string_view> event = TopLevelString(line, "event");
  const std::optional<std::string_view> hash = TopLevelString(line, "hash");
  const std::optional<std::string_view> instance = TopLevelString(line, "instance");
  const std::optional<std::uint64_t> seq = TopLevelNumber(line, "seq");
  const std::optional<std::string_view> signature = TopLevelString(line, "signature");
  const std::optional<std::string_view> time = TopLevelString(line, "time");
  std::string hash_bytes;
  std::optional<HeadEvent> e;
  if (event) {
    e = HeadEventOf(*event);
  }
  if (!e || !hash || !instance || !seq || !signature || !time ||
      !base::HexDecode(*hash, hash_bytes) || hash_bytes.size() != head.hash.size() ||
      !base::HexDecode(*signature, head.signature)) {
    return base::InvalidArgument("not a signed head");
  }
  head.event = *e;
  head.instance = std::string(*instance);
  head.seq = *seq;
  std::memcpy(head.hash.data(), hash_bytes.data(), head.hash.size());
  head.time = std::string(*time);
  // Exactly what the log writes: nothing else is read from a witness.
  std::string canonical = SignedHeadLine(head);
  canonical.pop_back();
  if (canonical != line) {
    return base::InvalidArgument("not a signed head as the audit log writes it");
  }
  return head;
}

bool HeadSignatureValid(const SignedHead& head, std::string_view public_pem) {
  base::StatusOr<bool> valid = base::VerifySignature(
      public_pem, HeadMessage(head.instance, head.seq, head.hash, head.time, head.event),
      head.signature);
  return valid.ok() && *valid;
}

base::Status FileWitness::Publish(const SignedHead& head) {
  std::error_code ec;
  const bool existed = std::filesystem::exists(path_, ec);
  if (!existed && path_.has_parent_path()) {
    std::filesystem::create_directories(path_.parent_path(), ec);  // else open says why
  }
  const int fd = ::open(path_.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return ErrnoError("audit witness: cannot open " + path_.string());
  }
  std::string line = SignedHeadLine(head);
  struct stat st {};
  char last = '\n';
  if (::fstat(fd, &st) == 0 && st.st_size > 0 && ::pread(fd, &last, 1, st.st_size - 1) == 1 &&
      last != '\n') {
    line.insert(0, 1, '\n');  // after an append cut short
  }
  const bool ok = WriteAll(fd, line) && ::fdatasync(fd) == 0;
  base::Status status =
      ok ? base::Status::Ok() : ErrnoError("audit witness: cannot write " + path_.string());
  ::close(fd);
  if (status.ok() && !existed) {
    // The new file's name must survive a power loss too.
    const std::filesystem::path dir = path_.has_parent_path() ? path_.parent_path() : ".";
    const int dfd = ::open(dir.c_str(), O_DIRECTORY | O_RDONLY | O_CLOEXEC);
    if (dfd < 0 || ::fsync(dfd) != 0) {
      status = ErrnoError("audit witness: cannot sync " + dir.string());
    }
    if (dfd >= 0) {
      ::close(dfd);
    }
  }
  return status;
}

base::StatusOr<std::optional<SignedHead>> FileWitness::LastHead(std::string_view instance) const {
  std::ifstream in(path_, std::ios::binary);
  if (!in) {
    std::error_code ec;
    if (!std::filesystem::exists(path_, ec)) {
      return std::optional<SignedHead>();
    }
    return base::Status(base::StatusCode::kUnavailable,
                        "audit witness: cannot read " + path_.string());
  }
  in.seekg(0, std::ios::end);
  std::size_t at = static_cast<std::size_t>(in.tellg());
  // Blocks from the end: a witness grows by a line per checkpoint, and the
  // head wanted is usually its last line. What follows the file's last
  // newline (nothing, or an append cut short) is not a head.
  constexpr std::size_t kBlock = 64 << 10;
  std::string carry;  // the start of a line that began in an earlier block
  bool after_last_newline = true;
  std::optional<SignedHead> found;
  auto visit = [&](std::string_view line) {
    if (after_last_newline) {
      after_last_newline = false;
      return false;
    }
    base::StatusOr<SignedHead> head = ParseSignedHead(line);
    if (head.ok() && head->instance == instance) {
      found = std::move(head).value();
      return true;
    }
    return false;  // another instance's, or not a head (an append cut short)
  };
  while (at > 0) {
    const std::size_t n = std::min(kBlock, at);
    at -= n;
    std::string data(n, '\0');
    in.seekg(static_cast<std::streamoff>(at));
    if (!in.read(data.data(), static_cast<std::streamsize>(n))) {
      return base::Status(base::StatusCode::kUnavailable,
                          "audit witness: cannot read " + path_.string());
    }
    data += carry;
    std::size_t end = data.size();
    for (std::size_t nl; end > 0 && (nl = data.rfind('\n', end - 1)) != std::string::npos;
         end = nl) {
      if (visit(std::string_view(data).substr(nl + 1, end - nl - 1))) {
        return found;
      }
    }
    carry = data.substr(0, end);
  }
  visit(carry);  // the file's first line
  return found;
}

base::StatusOr<WitnessHeads> ReadWitnessFile(const std::filesystem::path& path,
                                             std::string_view instance) {
  base::StatusOr<std::string> text = base::ReadFile(path);
  if (!text.ok()) {
    return text.status();
  }
  WitnessHeads out;
  std::string_view rest = *text;
  for (std::size_t number = 1; !rest.empty(); ++number) {
    const std::size_t nl = rest.find('\n');
    if (nl == std::string_view::npos) {
      break;  // an append cut short
    }
    const std::string_view line = rest.substr(0, nl);
    rest.remove_prefix(nl + 1);
    base::StatusOr<SignedHead> head = ParseSignedHead(line);
    if (!head.ok()) {
      out.other_lines.push_back(number);
      continue;
    }
    if (instance.empty() || head->instance == instance) {
      out.heads.push_back(std::move(head).value());
    } else if (std::find(out.other_instances.begin(), out.other_instances.end(), head->instance) ==
               out.other_instances.end()) {
      out.other_instances.push_back(head->instance);
    }
  }
  return out;
}

struct WitnessPublisher::Slot {
  std::shared_ptr<Witness> witness;
  std::optional<SignedHead> pending;
  std::uint64_t published = 0;
  bool any_published = false;
  std::uint64_t failures = 0;
  std::chrono::milliseconds backoff{0};
  std::chrono::steady_clock::time_point retry_at;
  std::thread thread;
};

WitnessPublisher::WitnessPublisher(std::vector<std::shared_ptr<Witness>> witnesses,
                                   std::function<std::uint64_t()> durable_seq,
                                   std::chrono::milliseconds poll, std::chrono::milliseconds retry,
                                   std::function<void(const Event&)> on_event)
    : durable_seq_(std::move(durable_seq)),
      poll_(poll),
      retry_(retry),
      on_event_(std::move(on_event)) {
  for (std::shared_ptr<Witness>& w : witnesses) {
    auto slot = std::make_unique<Slot>();
    slot->witness = std::move(w);
    slot->backoff = retry_;
    slots_.push_back(std::move(slot));
  }
  for (std::unique_ptr<Slot>& slot : slots_) {
    slot->thread = std::thread([this, raw = slot.get()] {
      ::pthread_setname_np(::pthread_self(), "fb-audit-witness");
      Run(*raw);
    });
  }
}

WitnessPublisher::~WitnessPublisher() { Stop(); }

void WitnessPublisher::Stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    changed_.notify_all();
  }
  for (std::unique_ptr<Slot>& slot : slots_) {
    if (slot->thread.joinable()) {
      slot->thread.join();
    }
  }
}

void WitnessPublisher::Offer(const SignedHead& head, bool to_readable) {
  std::lock_guard lock(mutex_);
  for (std::unique_ptr<Slot>& slot : slots_) {
    if (!to_readable && slot->witness->Readable()) {
      continue;
    }
    if (!slot->pending || slot->pending->seq <= head.seq) {
      slot->pending = head;
    }
  }
  changed_.notify_all();
}

void WitnessPublisher::Run(Slot& slot) {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    if (!slot.pending) {
      changed_.wait(lock, [&] { return stopping_ || slot.pending.has_value(); });
      continue;
    }
    if (std::chrono::steady_clock::now() < slot.retry_at) {
      changed_.wait_until(lock, slot.retry_at, [&] { return stopping_; });
      continue;
    }
    const std::uint64_t seq = slot.pending->seq;
    lock.unlock();
    const bool durable = durable_seq_() >= seq;  // takes the log's lock: not under ours
    lock.lock();
    if (!durable) {
      changed_.wait_for(lock, poll_, [&] { return stopping_; });
      continue;
    }
    const SignedHead head = *slot.pending;
    lock.unlock();
    base::Status status = slot.witness->Publish(head);
    lock.lock();
    Event event{slot.witness.get(), !status.ok(), &head, status, slot.failures};
    bool tell = false;
    if (status.ok()) {
      if (slot.pending && slot.pending->seq == head.seq) {
        slot.pending.reset();
      }
      tell = slot.failures > 0;
      slot.failures = 0;
      slot.backoff = retry_;
      slot.retry_at = {};
    } else {
      tell = slot.failures++ == 0;
      slot.retry_at = std::chrono::steady_clock::now() + slot.backoff;
      slot.backoff = std::min(slot.backoff * 2, kMaxRetry);
    }
    if (tell && on_event_) {
      lock.unlock();
      on_event_(event);
      lock.lock();
    }
  }
}

WitnessNotice NoticeOf(const WitnessPublisher::Event& event) {
  const std::string name = event.witness->Name();
  WitnessNotice notice{{event.failed ? "witness.failed" : "witness.recovered", {}}, std::nullopt};
  Value::Object& fields = notice.record.fields;
  fields["witness"] = name;
  fields["head_seq"] = event.head->seq;
  if (event.failed) {
    fields["error"] = event.error.message();
    notice.alert = Value::Object{
        {"kind", "witness_failure"},
        {"severity", "critical"},
        {"witness", name},
        {"summary", "the audit witness " + name + " cannot be written (" + event.error.message() +
                        "); signed heads are retried, no record is lost"}};
  } else {
    fields["failures"] = event.failures;
  }
  return notice;
}

}  // namespace firebreak::audit
