// Connects alert delivery to the audit database: the alert outbox lives in
// the audit log's SQLite file, written in the same transaction as the
// decision record that raised the alert.
#pragma once

#include <vector>

#include "firebreak/alert/alert.h"
#include "firebreak/alert/limiter.h"
#include "firebreak/audit/audit_log.h"
#include "firebreak/config/server_config.h"
#include "firebreak/policy/policy_set.h"

namespace firebreak::exchange {

class AuditOutbox : public alert::AlertStore {
 public:
  explicit AuditOutbox(audit::AuditLog& log) : log_(log) {}
  base::StatusOr<std::vector<alert::PendingAlert>> Due(std::size_t limit) override;
  base::Status Delivered(std::int64_t id) override;
  base::Status Retry(std::int64_t id, int attempts, std::int64_t next_attempt_micros,
                     std::string_view error) override;

 private:
  audit::AuditLog& log_;
};

class AlertWindows;

// The alerts a decision raises: one per alert target of the rules that
// produced the verdict (and of the defaults, for unknown intent).
struct DecisionAlertSet {
  std::vector<audit::OutboxAlert> outbox;    // those sent: into the outbox with the record
  std::vector<alert::Admission> admissions;  // every one, sent or folded (the record lists them)
};

// Each alert admitted by `windows` (sent or folded, per rule and target, as
// the policy's `alerting` says); every one is sent when `windows` is null.
// With `windows`, AlertWindows::Settle must follow the record's append.
DecisionAlertSet DecisionAlerts(const policy::PolicySet& policy, const policy::Decision& decision,
                                std::string_view request_id, AlertWindows* windows = nullptr);

// Alert targets of a server config, as the sender takes them.
base::StatusOr<std::map<std::string, alert::AlertTarget, std::less<>>> AlertTargetsOf(
    const config::ServerConfig& config);

// Every alert target a policy can raise.
std::vector<std::string> AlertTargetsNamedBy(const policy::PolicySet& policy);

}  // namespace firebreak::exchange
