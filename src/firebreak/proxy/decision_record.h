// The audit record of one decision (schema v1, DESIGN.md §6): what was asked,
// how it was classified, which rules decided what, under which policy.
#pragma once

#include <string>
#include <string_view>

#include "firebreak/audit/record.h"
#include "firebreak/base/conversation.h"
#include "firebreak/proxy/decision_core.h"

namespace firebreak::proxy {

// What the record stores of the conversation.
enum class TextRetention {
  kByAuditLevel,  // full text for enhanced and critical audit levels, digest only for standard
  kFull,
  kDigestOnly,
};

struct RecordContext {
  std::string_view request_id;
  std::string_view principal;
  std::string_view endpoint;
  std::string_view policy_digest;
  bool policy_signed = false;
  TextRetention retention = TextRetention::kByAuditLevel;
};

audit::AuditRecord DecisionRecord(const base::Conversation& conversation, const Outcome& outcome,
                                  const DecisionCore& core, const RecordContext& context);

}  // namespace firebreak::proxy
