// The events an exchange publishes for dashboards (base/event.h), built
// from what the pipeline decided and recorded.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "firebreak/audit/audit_log.h"
#include "firebreak/base/event.h"
#include "firebreak/exchange/decision_core.h"

namespace firebreak::exchange {

// `outcome` says what happens to the request (forwarded, blocked, ...).
base::DecisionEvent DecisionEventOf(const base::Conversation& conversation, const Outcome& outcome,
                                    const DecisionCore& core, std::string_view request_id,
                                    std::string_view principal, std::string_view endpoint,
                                    std::string outcome_text);

// One "queued" event per outbox alert a decision raised (its record: `seq`).
std::vector<base::AlertEvent> QueuedAlertEvents(const std::vector<audit::OutboxAlert>& alerts,
                                                std::uint64_t seq);

}  // namespace firebreak::exchange
