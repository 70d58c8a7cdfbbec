// Every kind of audit record an exchange or an instance writes (schema v1,
// DESIGN.md §6), built here and nowhere else: decision, refusal, completion,
// policy.reloaded, policy.refused, lifecycle.start and lifecycle.stop.
// (alert.summary records are AlertWindows's: they are made where windows
// close.)
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "firebreak/alert/limiter.h"
#include "firebreak/audit/record.h"
#include "firebreak/base/conversation.h"
#include "firebreak/config/server_config.h"
#include "firebreak/exchange/decision_core.h"

namespace re2 {
class RE2;
}  // namespace re2

namespace firebreak::exchange {

// What the record stores of the conversation (its digest always).
enum class TextRetention {
  kByAuditLevel,  // full text for enhanced and critical audit levels, digest only for standard
  kFull,
  kDigestOnly,
  kRedacted,  // the text with every match of the redaction patterns replaced
};

// The retention a config's audit.text names (by_audit_level, full, digest,
// redacted); anything else is kByAuditLevel.
TextRetention TextRetentionOf(std::string_view text);

// Compiled redaction patterns (RE2), applied to stored text.
class Redactor {
 public:
  // InvalidArgument naming the first pattern that does not compile.
  static base::StatusOr<std::shared_ptr<const Redactor>> Create(
      const std::vector<std::string>& patterns);
  ~Redactor();
  std::string Apply(std::string text) const;

 private:
  Redactor() = default;
  std::vector<std::unique_ptr<re2::RE2>> patterns_;
};

struct RecordContext {
  std::string_view request_id;
  std::string_view principal;
  std::string_view endpoint;
  std::string_view policy_digest;
  bool policy_signed = false;                         // its signatures met the trust threshold
  const std::vector<std::string>* signers = nullptr;  // parties whose signatures verified
  TextRetention retention = TextRetention::kByAuditLevel;
  const Redactor* redactor = nullptr;  // required with kRedacted
  // The decision's alerts as admitted (DecisionAlerts): listed in the record
  // as `alert_delivery`, each with its rule, target and whether it was sent
  // or folded (and its window's start, when rate-limited).
  const std::vector<alert::Admission>* alerts = nullptr;
  // When the text is kept: its bytes in all, shared among the messages
  // (each kept whole up to an equal share of what the shorter ones leave).
  // A message cut short keeps an excerpt (never ending inside a UTF-8
  // sequence), its length and its SHA-256 ("truncated"); the record says
  // "text_truncated". At most max_text_bytes / 64 messages are listed (the
  // first and last halves; "messages_omitted" counts the others). The
  // conversation digest always covers everything.
  std::size_t max_text_bytes = config::AuditConfig{}.max_text_bytes;
};

// One decision: what was asked, how it was classified, which rules decided
// what, under which policy. The conversation's text it keeps is capped per
// record. `refused`: why an allowed request was not forwarded after all.
audit::AuditRecord DecisionRecord(const base::Conversation& conversation, const Outcome& outcome,
                                  const DecisionCore& core, const RecordContext& context,
                                  std::string_view refused = {});

// A request refused before any decision (bad input, no policy, a
// conversation that cannot be classified), with the status it was answered.
audit::AuditRecord RefusalRecord(std::string_view request_id, std::string_view endpoint, int status,
                                 std::string_view reason);

// How a forwarded exchange ended.
struct Completion {
  std::string_view request_id;
  std::uint64_t decision_seq = 0;  // the decision record it completes
  std::string_view upstream;       // its name
  int status = 0;                  // the HTTP status the client was answered
  bool complete = false;           // the whole answer reached the client
  std::int64_t bytes = -1;         // what the client was sent; -1: not counted
  std::int64_t latency_micros = 0;
  std::string response_sha256;     // of what the client was sent (hex); empty: nothing
  std::string_view error;          // why it ended early
  std::int64_t input_tokens = -1;  // usage, when the upstream reported it
  std::int64_t output_tokens = -1;
};
audit::AuditRecord CompletionRecord(const Completion& completion);

// A policy's provenance as records carry it: name, version, digest, whether
// its signatures met the threshold, the signers and their keys.
audit::Value::Object PolicyProvenance(const ActivePolicy& policy);

// The policy in force was replaced (before the swap takes effect).
audit::AuditRecord PolicyReloadedRecord(std::string_view trigger, const ActivePolicy& old_policy,
                                        const ActivePolicy& new_policy);
// A new policy was refused; `in_force` stays.
audit::AuditRecord PolicyRefusedRecord(std::string_view trigger, std::string_view reason,
                                       std::string_view path, const ActivePolicy& in_force);

// An instance starts (`command`: serve, demo, classify) under `policy`,
// read from `policy_path`; `fields` are the command's own (e.g. listen).
audit::AuditRecord LifecycleStartRecord(std::string_view command, std::string_view durability,
                                        const ActivePolicy& policy, std::string_view policy_path,
                                        audit::Value::Object fields = {});
audit::AuditRecord LifecycleStopRecord();

// The judge failed too often and is not asked for a cool-down (its
// breaker opened): uncertain decisions take the defaults meanwhile.
audit::AuditRecord JudgeUnavailableRecord(std::string_view model, std::string_view why);

}  // namespace firebreak::exchange
