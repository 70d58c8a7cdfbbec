// What every audited command shares with the proxy: the server config, the
// audit log and the alert sender delivering its outbox. `classify --jsonl
// --audit-db` and `serve` open one the same way and close it the same way
// (lifecycle records, a final signed checkpoint).
#pragma once

#include <atomic>
#include <functional>
#include <iosfwd>
#include <memory>
#include <string>

#include "firebreak/alert/alert.h"
#include "firebreak/audit/audit_log.h"
#include "firebreak/base/event.h"
#include "firebreak/config/server_config.h"
#include "firebreak/exchange/alert_windows.h"
#include "firebreak/exchange/audit_outbox.h"
#include "firebreak/exchange/gate.h"
#include "firebreak/instance/policy_loader.h"
#include "firebreak/judge/cache.h"
#include "firebreak/judge/client.h"

namespace firebreak::instance {

// Loads the server config: `path` if it exists; the built-in defaults when it
// is the default name and absent. Errors are printed with `command`.
std::unique_ptr<config::ServerConfig> LoadConfig(const std::string& path, std::string_view command,
                                                 std::ostream& err);

struct Instance {
  // Dashboards subscribe here: decisions, alert deliveries, the policy.
  std::shared_ptr<base::EventHub> events = std::make_shared<base::EventHub>();
  config::ServerConfig config;
  std::unique_ptr<audit::AuditLog> log;
  std::unique_ptr<exchange::AuditOutbox> outbox;
  std::unique_ptr<alert::Sender> sender;
  // Decision alerts, rate-limited per rule and target (the policy's
  // `alerting`); their summaries go through the outbox.
  std::unique_ptr<exchange::AlertWindows> alert_windows;
  // Tells the system alert targets that the audit store cannot write (at
  // most once a minute: a failing disk fails every request).
  std::function<void(const base::Status&)> on_audit_failure;
  std::atomic<std::int64_t> last_failure_alert{0};
  // Every exchange passes it: decided, recorded with its alerts, published.
  std::unique_ptr<exchange::Gate> gate;
  // The judge the config names (`judge:`), when the policy accepts it; its
  // answers kept in the cache. Reset before the proxy that asks it goes:
  // its workers answer into the proxy.
  std::unique_ptr<judge::Cache> judge_cache;
  std::unique_ptr<judge::Client> judge;
};

// Checks the policy's alert targets against the config, opens the audit log
// (config.audit, already overridden by flags), writes lifecycle.start with
// `start_fields` and the policy's provenance, summarises the alerts a run
// that did not close had folded, and starts the alert sender.
// `events`: the hub to publish to (default: a new one). nullptr after
// printing why.
std::unique_ptr<Instance> OpenInstance(config::ServerConfig config, const std::string& policy_path,
                                       const LoadedPolicy& policy, std::string_view command,
                                       audit::Value::Object start_fields, std::ostream& err,
                                       std::shared_ptr<base::EventHub> events = nullptr);

// Summarises the alert windows still open, stops the sender after a last
// delivery pass, writes lifecycle.stop and a final checkpoint. False (after printing why) when the
// trail cannot close.
bool CloseInstance(Instance& instance, std::string_view command, std::ostream& err);

}  // namespace firebreak::instance
