// The exchange pipeline of the proxy (DESIGN.md §1): route, authenticate,
// parse the body once, classify the whole conversation, evaluate the policy,
// append the decision record (durable before it takes effect), then answer a
// block in the API's own error shape or forward the request upstream,
// translating between OpenAI and Anthropic when the upstream speaks the other
// API, and record the completion. Plain C++: the HTTP server calls Handle()
// on its I/O threads; nothing here blocks.
#pragma once

#include <boost/json/value.hpp>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "firebreak/audit/audit_log.h"
#include "firebreak/base/event.h"
#include "firebreak/config/server_config.h"
#include "firebreak/http/server.h"
#include "firebreak/proxy/alert_windows.h"
#include "firebreak/proxy/decision_core.h"
#include "firebreak/proxy/decision_record.h"
#include "firebreak/proxy/metrics.h"

namespace firebreak::proxy {

// The policy in force: its decision core and its provenance. Immutable; a
// reload swaps in a new one, and each exchange holds the one it started with.
struct ActivePolicy {
  std::shared_ptr<const DecisionCore> core;
  std::string digest;                    // the bundle digest (policy and model)
  bool verified = false;                 // signatures met the trust threshold
  std::vector<std::string> signers;      // parties whose signatures verified
  std::vector<std::string> signer_keys;  // their key ids (policy::KeyId), in the same order
};

// What POST /v1/firebreak/reload answers.
struct ReloadResult {
  enum class Outcome { kReloaded, kUnchanged, kRefused };  // refused: the old policy stays
  Outcome outcome = Outcome::kRefused;
  std::string message;
  std::string digest;  // of the policy in force afterwards
};
using ReloadDone = std::function<void(ReloadResult)>;

struct ProxyOptions {
  config::ServerConfig config;  // server limits, upstreams, principals, audit text
  std::shared_ptr<const ActivePolicy> policy;
  audit::AuditLog* log = nullptr;  // required: no decision without its record
  TextRetention retention = TextRetention::kByAuditLevel;
  std::shared_ptr<const Redactor> redactor;
  // The audit store failed to record an exchange (which was refused).
  std::function<void(const base::Status&)> on_audit_failure;
  // Extra gauges for /metrics (open connections), in exposition format.
  std::function<std::string()> gauges;
  // Why the listener cannot take new clients now (file descriptors
  // exhausted): /ready answers 503 with these reasons. Optional.
  std::function<std::vector<std::string>()> listener_problems;
  // Decisions and alerts for dashboards (GET /v1/firebreak/events, admins);
  // optional.
  std::shared_ptr<base::EventHub> events;
  // POST /v1/firebreak/reload (admins): asks for a reload and is told, on
  // any thread, how it went. Unset: the endpoint answers 501.
  std::function<void(ReloadDone)> reload;
  // Rate-limits decision alerts per rule and target (the policy's
  // `alerting`); null: every alert is sent.
  AlertWindows* alert_windows = nullptr;
};

// The chat endpoint of an upstream: its base URL, then /v1/chat/completions
// or /v1/messages.
std::string UpstreamUrl(const config::UpstreamConfig& upstream);

class Proxy {
 public:
  explicit Proxy(ProxyOptions options);

  void Handle(http::ServerRequest&& request, std::shared_ptr<http::Exchange> exchange);

  // The error the server answers itself (413, 408, ...), in the shape of the
  // route's API.
  http::Reply ErrorReply(std::string_view target, int status, std::string_view message) const;

  const Metrics& metrics() const { return metrics_; }

  // Atomic: exchanges already deciding keep the policy they started with.
  void SetPolicy(std::shared_ptr<const ActivePolicy> policy);
  std::shared_ptr<const ActivePolicy> policy() const;

  struct Principal {
    std::string id;
    std::map<std::string, std::string, std::less<>> attributes;  // with "id" and "team"
    bool admin = false;
  };

 private:
  struct Pending;
  class Relay;
  void Decide(Route route, http::ServerRequest& request, const Principal& principal,
              std::shared_ptr<Pending> pending);
  // The principal the request's API key names (principals configured);
  // null, with why in `refusal`, when it names none (a 401).
  const Principal* Authenticate(const http::Headers& headers, std::string& refusal) const;
  void AddHeaders(const Pending& pending, http::Headers& headers) const;
  base::StatusOr<http::UpstreamRequest> ForwardOf(const Pending& pending,
                                                  http::ServerRequest& request,
                                                  boost::json::value& document,
                                                  const policy::Decision& decision,
                                                  bool stream) const;
  void Reload(std::shared_ptr<Pending> pending);
  void StreamEvents(std::shared_ptr<Pending> pending);
  void Refuse(std::shared_ptr<Pending> pending, int status, std::string_view message,
              std::string_view code);
  void Commit(std::shared_ptr<Pending> pending, audit::AuditRecord record,
              std::vector<audit::OutboxAlert> alerts);
  const config::UpstreamConfig* UpstreamFor(std::string_view model) const;
  http::Reply Ready() const;
  http::Reply Models(bool anthropic) const;

  ProxyOptions options_;
  // The chat endpoint of each upstream, in config order.
  std::vector<std::string> upstream_urls_;
  const Principal anonymous_{"anonymous", {{"id", "anonymous"}}, false};
  std::unordered_map<std::string, Principal> principals_;  // by key SHA-256 (hex)
  mutable std::mutex policy_mu_;
  Metrics metrics_;
  std::atomic<bool> audit_failing_{false};
};

}  // namespace firebreak::proxy
