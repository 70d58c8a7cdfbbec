// Witnesses of an audit log's signed heads: places outside the database
// (a file on another volume, an HTTP endpoint) to which each checkpoint's
// signed head (instance, sequence, hash, time, signature) is published, so
// that a database cut short, rewritten or appended to by someone who can
// edit it but cannot write the witness is found out (`audit verify
// --witness`, and the log itself when it opens). The publisher posts the
// latest head to each witness from a thread of its own, once the records it
// covers survive a power loss.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "firebreak/audit/record.h"
#include "firebreak/base/digest.h"
#include "firebreak/base/status.h"

namespace firebreak::audit {

// What a signed head says of the log when it was signed.
enum class HeadEvent {
  kCheckpoint,  // a checkpoint of the running log
  kOpen,        // the head a run found (and recorded) when it opened the log
  kClose,       // the last head of a run that closed the log cleanly
};
std::string_view HeadEventName(HeadEvent event);

// The message an instance key signs for a head: its database's checkpoints
// are kCheckpoint heads.
std::string HeadMessage(std::string_view instance, std::uint64_t seq, const base::Sha256& hash,
                        std::string_view time, HeadEvent event);

// Whether `signature` signs checkpoint `seq` of a database: as HeadMessage
// does, or (`legacy` set) as logs signed checkpoints before their time was
// signed ("firebreak-audit-checkpoint/1\n<instance>\n<seq>\n<hex hash>").
bool CheckpointSignatureValid(std::string_view public_pem, std::string_view instance,
                              std::uint64_t seq, const base::Sha256& hash, std::string_view time,
                              std::string_view signature, bool& legacy);

struct SignedHead {
  std::string instance;
  std::uint64_t seq = 0;  // 0: an empty log (an open head)
  base::Sha256 hash{};    // the chain hash of record `seq`
  std::string time;       // RFC 3339, UTC
  HeadEvent event = HeadEvent::kCheckpoint;
  std::string signature;  // Ed25519 over HeadMessage(...), 64 bytes
};

// One JSON line (canonical, with its newline): {"event","hash","instance",
// "seq","signature","time"}, the hashes and signature in hex.
std::string SignedHeadLine(const SignedHead& head);
// A line as SignedHeadLine writes it (without its newline); anything else
// is InvalidArgument.
base::StatusOr<SignedHead> ParseSignedHead(std::string_view line);
// Whether the head's signature verifies with `public_pem`.
bool HeadSignatureValid(const SignedHead& head, std::string_view public_pem);

class Witness {
 public:
  virtual ~Witness() = default;
  // "file PATH", "url URL": for errors and records.
  virtual std::string Name() const = 0;
  // Blocking; durable once it returns Ok.
  virtual base::Status Publish(const SignedHead& head) = 0;
  // Whether Heads can read back what was published (a file can; an HTTP
  // endpoint cannot): the log checks its database against such a witness
  // when it opens, and publishes its open head there before it runs.
  virtual bool Readable() const { return false; }
  // The last head published for `instance`, if any.
  virtual base::StatusOr<std::optional<SignedHead>> LastHead(std::string_view /*instance*/) const {
    return base::FailedPrecondition(Name() + " cannot be read back");
  }
};

// Appends each head as a line to a file (created 0644, with its directory,
// if missing), and
// fdatasyncs it, before Publish returns; after an append cut short (a power
// loss) it starts a new line. Opened for each head: a file moved away or
// rotated is created anew.
class FileWitness : public Witness {
 public:
  explicit FileWitness(std::filesystem::path path) : path_(std::move(path)) {}
  std::string Name() const override { return "file " + path_.string(); }
  base::Status Publish(const SignedHead& head) override;
  bool Readable() const override { return true; }
  // Reads the file from its end, past lines that are not heads.
  base::StatusOr<std::optional<SignedHead>> LastHead(std::string_view instance) const override;

 private:
  std::filesystem::path path_;
};

// The heads of a witness file, in file order: those of `instance` (all when
// empty). Lines that are not heads (appends cut short) are counted, not
// read.
struct WitnessHeads {
  std::vector<SignedHead> heads;
  std::vector<std::string> other_instances;  // instances the file also holds heads of
  std::vector<std::size_t> other_lines;      // line numbers that are not heads
};
base::StatusOr<WitnessHeads> ReadWitnessFile(const std::filesystem::path& path,
                                             std::string_view instance);

// Publishes the latest signed head to each witness, from a thread per
// witness (a slow endpoint does not hold up a file), once the records it
// covers survive a power loss (`durable_seq`). A head that fails is tried
// again after `retry`, doubling to a minute, unless a newer head has come
// meanwhile: each head vouches for the whole chain before it, so the latest
// is the one that matters. `on_event` is told of the first failure of a
// run of them, and of the success that ends it (from the witness's thread,
// under no lock of the publisher's).
class WitnessPublisher {
 public:
  struct Event {
    const Witness* witness = nullptr;
    bool failed = false;  // else recovered
    const SignedHead* head = nullptr;
    base::Status error;          // failed
    std::uint64_t failures = 0;  // recovered: how many attempts had failed
  };
  WitnessPublisher(std::vector<std::shared_ptr<Witness>> witnesses,
                   std::function<std::uint64_t()> durable_seq, std::chrono::milliseconds poll,
                   std::chrono::milliseconds retry, std::function<void(const Event&)> on_event);
  ~WitnessPublisher();
  WitnessPublisher(const WitnessPublisher&) = delete;
  WitnessPublisher& operator=(const WitnessPublisher&) = delete;

  // Thread-safe; never blocks on a witness. `to_readable`: to the readable
  // witnesses too.
  void Offer(const SignedHead& head, bool to_readable = true);
  // Stops and joins the threads; heads not yet published are dropped (the
  // log publishes its close head itself, after).
  void Stop();

 private:
  struct Slot;
  void Run(Slot& slot);

  std::function<std::uint64_t()> durable_seq_;
  std::chrono::milliseconds poll_;
  std::chrono::milliseconds retry_;
  std::function<void(const Event&)> on_event_;
  std::mutex mutex_;
  std::condition_variable changed_;
  bool stopping_ = false;
  std::vector<std::unique_ptr<Slot>> slots_;
};

// What the log appends when a publisher's witness fails or recovers: a
// "witness.failed" or "witness.recovered" record and, for a failure, the
// alert each of the log's witness alert targets is told.
struct WitnessNotice {
  AuditRecord record;
  std::optional<Value::Object> alert;
};
WitnessNotice NoticeOf(const WitnessPublisher::Event& event);

}  // namespace firebreak::audit
