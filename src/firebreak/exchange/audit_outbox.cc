#include "firebreak/exchange/audit_outbox.h"

#include <set>

#include "firebreak/exchange/alert_windows.h"

namespace firebreak::exchange {

base::StatusOr<std::vector<alert::PendingAlert>> AuditOutbox::Due(std::size_t limit) {
  base::StatusOr<std::vector<audit::OutboxItem>> items = log_.DueAlerts(limit);
  if (!items.ok()) {
    return items.status();
  }
  std::vector<alert::PendingAlert> out;
  for (audit::OutboxItem& i : *items) {
    out.push_back({i.id, std::move(i.target), std::move(i.idempotency_key), std::move(i.payload),
                   i.attempts});
  }
  return out;
}

base::Status AuditOutbox::Delivered(std::int64_t id) { return log_.MarkDelivered(id); }

base::Status AuditOutbox::Retry(std::int64_t id, int attempts, std::int64_t next_attempt_micros,
                                std::string_view error) {
  return log_.Reschedule(id, attempts, next_attempt_micros, error);
}

DecisionAlertSet DecisionAlerts(const policy::PolicySet& policy, const policy::Decision& decision,
                                std::string_view request_id, AlertWindows* windows) {
  DecisionAlertSet out;
  if (decision.alerts.empty()) {
    return out;
  }
  std::string rule;
  std::string description;
  if (!decision.rules.empty()) {
    rule = decision.rules[0]->id;
    description = decision.rules[0]->description;
  } else if (decision.by_default) {
    rule = policy::kDefaultRuleId;
    description = policy.defaults().description;
  }
  audit::Value::Array rules;
  for (std::string_view id : decision.RuleIds()) {
    rules.emplace_back(id);
  }
  const std::string_view verdict = policy::VerdictName(decision.verdict);
  const std::string_view severity =
      decision.verdict == policy::Verdict::kBlock ? "critical" : "warning";
  std::string summary = std::string(verdict) + " by " + rule + ": " + description;
  const audit::Value::Object payload = {
      {"kind", "decision"},
      {"severity", severity},
      {"summary", summary},
      {"rule", rule},
      {"rules", std::move(rules)},
      {"decision", verdict},
      {"request_id", request_id},
      {"policy", policy.metadata().name + " " + policy.metadata().version},
  };
  for (const std::string* target : decision.alerts) {
    alert::Admission admission =
        windows != nullptr
            ? windows->Admit(rule, *target, policy.alerting().For(rule), severity, summary)
            : alert::Admission{rule, *target};
    if (admission.disposition == alert::Disposition::kSent) {
      out.outbox.push_back({*target, payload});
    }
    out.admissions.push_back(std::move(admission));
  }
  return out;
}

base::StatusOr<std::map<std::string, alert::AlertTarget, std::less<>>> AlertTargetsOf(
    const config::ServerConfig& config) {
  std::map<std::string, alert::AlertTarget, std::less<>> out;
  for (const auto& [name, c] : config.alert_targets) {
    std::optional<alert::TargetType> type = alert::ParseTargetType(c.type);
    if (!type) {
      return base::InvalidArgument("alert target '" + name + "' has unknown type '" + c.type + "'");
    }
    out[name] = {name, *type, c.url, c.headers, c.routing_key};
  }
  return out;
}

std::vector<std::string> AlertTargetsNamedBy(const policy::PolicySet& policy) {
  std::set<std::string> names(policy.defaults().alerts.begin(), policy.defaults().alerts.end());
  for (const policy::Rule& r : policy.rules()) {
    names.insert(r.alerts.begin(), r.alerts.end());
  }
  return {names.begin(), names.end()};
}

}  // namespace firebreak::exchange
