#include "firebreak/exchange/gate.h"

#include <utility>

#include "firebreak/exchange/audit_outbox.h"
#include "firebreak/exchange/events.h"

namespace firebreak::exchange {

Gate::Gate(GateOptions options) : options_(std::move(options)) {}

base::StatusOr<Outcome> Gate::Decide(const ActivePolicy& policy,
                                     const base::Conversation& conversation,
                                     const Caller& caller) const {
  return policy.core->Decide(conversation,
                             {.principal = caller.attributes, .endpoint = caller.endpoint});
}

Admission Gate::Admit(const ActivePolicy& policy, const base::Conversation& conversation,
                      const Outcome& outcome, const Caller& caller, std::string_view refused,
                      std::string outcome_text) const {
  const DecisionCore& core = *policy.core;
  DecisionAlertSet alerts =
      DecisionAlerts(core.policy(), outcome.decision, caller.request_id, options_.alert_windows);
  Admission a{.request_id = std::string(caller.request_id),
              .record = DecisionRecord(conversation, outcome, core,
                                       {.request_id = caller.request_id,
                                        .principal = caller.principal,
                                        .endpoint = caller.endpoint,
                                        .policy_digest = policy.digest,
                                        .policy_signed = policy.verified,
                                        .signers = &policy.signers,
                                        .retention = options_.retention,
                                        .redactor = options_.redactor.get(),
                                        .alerts = &alerts.admissions,
                                        .max_text_bytes = options_.max_text_bytes},
                                       refused),
              .alerts = {},
              .admissions = std::move(alerts.admissions)};
  if (publishing()) {
    a.event = DecisionEventOf(conversation, outcome, core, caller.request_id, caller.principal,
                              caller.endpoint, std::move(outcome_text));
    a.alert_events = QueuedAlertEvents(alerts.outbox, 0);
  }
  a.alerts = std::move(alerts.outbox);
  return a;
}

Admission Gate::Refusal(const Caller& caller, int status, std::string_view reason) {
  return {.request_id = std::string(caller.request_id),
          .record = RefusalRecord(caller.request_id, caller.endpoint, status, reason)};
}

void Gate::Settle(Admission& a, const base::StatusOr<audit::Appended>& appended) {
  if (options_.alert_windows != nullptr && !a.admissions.empty()) {
    options_.alert_windows->Settle(a.admissions, a.request_id, appended);
  }
  if (!appended.ok() && options_.on_audit_failure) {
    options_.on_audit_failure(appended.status());
  }
}

void Gate::Commit(Admission& a, Done done) {
  options_.log->AppendAsync(
      a.record, std::move(a.alerts),
      [this, &a, done = std::move(done)](base::StatusOr<audit::Appended> appended) {
        Settle(a, appended);
        done(std::move(appended));
      });
}

base::StatusOr<audit::Appended> Gate::CommitNow(Admission& a) {
  base::StatusOr<audit::Appended> appended = options_.log->Append(a.record, std::move(a.alerts));
  Settle(a, appended);
  return appended;
}

void Gate::Publish(Admission& a, std::uint64_t seq) const {
  if (!a.event || options_.events == nullptr) {
    return;
  }
  a.event->seq = seq;
  options_.events->Publish(std::move(*a.event));
  a.event.reset();
  for (base::AlertEvent& e : a.alert_events) {
    e.seq = seq;
    options_.events->Publish(std::move(e));
  }
  a.alert_events.clear();
}

void Gate::Complete(const Completion& completion, Done done) {
  options_.log->AppendAsync(
      CompletionRecord(completion), {},
      [this, done = std::move(done)](base::StatusOr<audit::Appended> appended) {
        if (!appended.ok() && options_.on_audit_failure) {
          options_.on_audit_failure(appended.status());
        }
        if (done) {
          done(std::move(appended));
        }
      });
}

std::string Gate::MetricsText() const {
  std::string out =
      "# HELP firebreak_audit_queue_depth Records not yet in the audit database.\n"
      "# TYPE firebreak_audit_queue_depth gauge\nfirebreak_audit_queue_depth " +
      std::to_string(options_.log->queue_depth()) +
      "\n# HELP firebreak_audit_journal_syncs_total Times the audit journal itself was "
      "fsynced, the database lagging by more than half the sync interval.\n"
      "# TYPE firebreak_audit_journal_syncs_total counter\n"
      "firebreak_audit_journal_syncs_total " +
      std::to_string(options_.log->durable().journal_syncs) + "\n";
  if (options_.alert_windows != nullptr) {
    out += options_.alert_windows->MetricsText();
  }
  return out;
}

}  // namespace firebreak::exchange
