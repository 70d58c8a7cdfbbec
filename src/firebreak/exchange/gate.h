// The gate every exchange passes, whoever serves it (the proxy, the demo,
// `classify --jsonl`): it decides (classify the whole conversation, evaluate
// the policy), admits the decision (its record with the alerts it raises,
// durable before the decision takes effect; the alert windows settled; the
// events for dashboards), records refusals made before any decision, and
// records how a forwarded exchange completed. An audit failure is handled
// here the same way for every caller: the exchange is refused, and the
// instance is told.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "firebreak/alert/limiter.h"
#include "firebreak/audit/audit_log.h"
#include "firebreak/base/event.h"
#include "firebreak/base/status.h"
#include "firebreak/exchange/alert_windows.h"
#include "firebreak/exchange/decision_core.h"
#include "firebreak/exchange/records.h"

namespace firebreak::exchange {

struct GateOptions {
  audit::AuditLog* log = nullptr;         // required: no decision without its record
  AlertWindows* alert_windows = nullptr;  // null: every alert is sent
  TextRetention retention = TextRetention::kByAuditLevel;
  std::shared_ptr<const Redactor> redactor;  // required with kRedacted
  std::size_t max_text_bytes = config::AuditConfig{}.max_text_bytes;
  std::shared_ptr<base::EventHub> events;  // dashboards; optional
  // The audit store failed to record something (the exchange is refused).
  std::function<void(const base::Status&)> on_audit_failure;
};

// Who asks, through which endpoint.
struct Caller {
  std::string_view request_id;
  std::string_view principal;  // its id
  std::string_view endpoint;
  // Its attributes, for the policy's `when` conditions.
  const std::map<std::string, std::string, std::less<>>* attributes = nullptr;
};

// A decision (or a refusal) and what goes with it, ready to be committed.
struct Admission {
  std::string request_id;
  audit::AuditRecord record;
  std::vector<audit::OutboxAlert> alerts;    // into the outbox, with the record
  std::vector<alert::Admission> admissions;  // every alert, sent or folded: settled on commit
  // For dashboards (only while someone listens): published once recorded.
  std::optional<base::DecisionEvent> event;
  std::vector<base::AlertEvent> alert_events;
};

class Gate {
 public:
  explicit Gate(GateOptions options);

  // Fails (and the caller must refuse) only when the conversation cannot be
  // classified, e.g. text that is not UTF-8. Unknown intent is a decision.
  base::StatusOr<Outcome> Decide(const ActivePolicy& policy, const base::Conversation& conversation,
                                 const Caller& caller) const;

  // Whether dashboards listen: a caller describes an event's outcome only then.
  bool publishing() const {
    return options_.events != nullptr && options_.events->HasSubscribers();
  }

  // The decision's record, its alerts (admitted by the alert windows) and,
  // when publishing, its events with `outcome_text` (what happens to the
  // request). `refused`: why an allowed request is not forwarded after all.
  Admission Admit(const ActivePolicy& policy, const base::Conversation& conversation,
                  const Outcome& outcome, const Caller& caller, std::string_view refused = {},
                  std::string outcome_text = {}) const;

  // A request refused before any decision, answered with `status`.
  static Admission Refusal(const Caller& caller, int status, std::string_view reason);

  // Appends the admission's record with its alerts and settles its alert
  // windows. On failure the instance is told (on_audit_failure) and the
  // caller must refuse. `done` runs once, on the thread that wrote the
  // record, never under the log's lock. The admission must outlive it.
  using Done = std::function<void(base::StatusOr<audit::Appended>)>;
  void Commit(Admission& admission, Done done);
  // The same, blocking until the record is journaled.
  base::StatusOr<audit::Appended> CommitNow(Admission& admission);

  // Publishes the admission's events, under the record's sequence number.
  void Publish(Admission& admission, std::uint64_t seq) const;

  // Records how a forwarded exchange ended (not waited for); `done`, if
  // set, is told whether it was recorded.
  void Complete(const Completion& completion, Done done = {});

  audit::AuditLog& log() const { return *options_.log; }

  // The audit queue, journal syncs and alert windows, in Prometheus's
  // exposition format.
  std::string MetricsText() const;

 private:
  void Settle(Admission& admission, const base::StatusOr<audit::Appended>& appended);

  GateOptions options_;
};

}  // namespace firebreak::exchange
