// The audit record of one decision (schema v1, DESIGN.md §6): what was asked,
// how it was classified, which rules decided what, under which policy. The
// conversation's text it keeps is capped per record.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "firebreak/alert/limiter.h"
#include "firebreak/audit/record.h"
#include "firebreak/base/conversation.h"
#include "firebreak/config/server_config.h"
#include "firebreak/proxy/decision_core.h"

namespace re2 {
class RE2;
}  // namespace re2

namespace firebreak::proxy {

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

audit::AuditRecord DecisionRecord(const base::Conversation& conversation, const Outcome& outcome,
                                  const DecisionCore& core, const RecordContext& context);

}  // namespace firebreak::proxy
