// The exchange pipeline of the proxy (DESIGN.md §1): route, authenticate,
// parse the body once, classify the whole conversation, evaluate the policy,
// append the decision record (durable before it takes effect), then answer a
// block in the API's own error shape or forward the request upstream,
// translating through the providers' hub (api/provider.h) when the upstream
// speaks another API, and record the completion. Plain C++: the HTTP server calls Handle()
// on its I/O threads; nothing here blocks.
#pragma once

#include <boost/json/value.hpp>
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "firebreak/api/provider.h"
#include "firebreak/base/event.h"
#include "firebreak/config/server_config.h"
#include "firebreak/exchange/failure.h"
#include "firebreak/exchange/gate.h"
#include "firebreak/http/server.h"
#include "firebreak/judge/client.h"
#include "firebreak/proxy/metrics.h"

namespace firebreak::proxy {

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
  std::shared_ptr<const exchange::ActivePolicy> policy;
  // Required: decides, records and publishes every exchange (its audit log
  // signs the receipts).
  exchange::Gate* gate = nullptr;
  // Extra gauges for /metrics (open connections), in exposition format.
  std::function<std::string()> gauges;
  // Why the listener cannot take new clients now (file descriptors
  // exhausted): /ready answers 503 with these reasons. Optional.
  std::function<std::vector<std::string>()> listener_problems;
  // Decisions and alerts for dashboards (GET /v1/firebreak/events, admins):
  // the hub the gate publishes to; optional.
  std::shared_ptr<base::EventHub> events;
  // POST /v1/firebreak/reload (admins): asks for a reload and is told, on
  // any thread, how it went. Unset: the endpoint answers 501.
  std::function<void(ReloadDone)> reload;
  // The judge the config names (optional): asked what the local classifier
  // is unsure of, when the policy in force accepts its model.
  judge::Client* judge = nullptr;
};

class Proxy {
 public:
  explicit Proxy(ProxyOptions options);

  void Handle(http::ServerRequest&& request, std::shared_ptr<http::Exchange> exchange);

  // The error the server answers itself (413, 408, ...), in the shape of the
  // route's API.
  // Counted as malformed_http (or overloaded, for 503), never recorded
  // (exchange::Failures says why).
  http::Reply ErrorReply(std::string_view target, int status, std::string_view message);

  const Metrics& metrics() const { return metrics_; }

  // Atomic: exchanges already deciding keep the policy they started with.
  void SetPolicy(std::shared_ptr<const exchange::ActivePolicy> policy);
  std::shared_ptr<const exchange::ActivePolicy> policy() const;

  struct Principal {
    std::string id;
    std::map<std::string, std::string, std::less<>> attributes;  // with "id" and "team"
    bool admin = false;
  };

 private:
  struct Pending;  // pending.h
  struct Decided;  // pending.h
  class Relay;     // relay.cc
  // The relay of an allowed exchange's answer (relay.cc).
  std::unique_ptr<http::Relay> MakeRelay(std::shared_ptr<Pending> pending);
  // Reads and classifies the request; then, with the judge's answer when
  // the policy wants one (judge_step.cc), concludes it.
  void Decide(Route route, http::ServerRequest& request, const Principal& principal,
              std::shared_ptr<Pending> pending);
  bool JudgeWanted(const exchange::ActivePolicy& policy, const exchange::Outcome& outcome) const;
  void Judge(std::shared_ptr<Pending> pending);
  void Conclude(std::shared_ptr<Pending> pending);
  // The principal the request's API key names (principals configured);
  // null, with why in `refusal`, when it names none (a 401). auth.cc.
  const Principal* Authenticate(const http::Headers& headers, std::string& refusal) const;
  void AddHeaders(const Pending& pending, http::Headers& headers) const;
  base::StatusOr<http::UpstreamRequest> ForwardOf(const Pending& pending,
                                                  http::ServerRequest& request,
                                                  boost::json::value& document,
                                                  const policy::Decision& decision,
                                                  const api::Call& call) const;
  void Reload(std::shared_ptr<Pending> pending);
  void StreamEvents(std::shared_ptr<Pending> pending);
  // Answers, counts and records (a refusal record) a failure before any
  // decision.
  void Refuse(std::shared_ptr<Pending> pending, exchange::Failure failure,
              std::string_view message);
  // The answer to a failure (exchange::Failures: its status and code),
  // counted.
  http::Reply Failed(const Pending& pending, exchange::Failure failure, std::string_view message);
  // Commits the pending admission; the answer takes effect only then.
  void Commit(std::shared_ptr<Pending> pending);
  const config::UpstreamConfig* UpstreamFor(std::string_view model) const;
  http::Reply Ready() const;
  http::Reply Models(bool anthropic) const;

  ProxyOptions options_;
  const Principal anonymous_{"anonymous", {{"id", "anonymous"}}, false};
  std::unordered_map<std::string, Principal> principals_;  // by key SHA-256 (hex)
  mutable std::mutex policy_mu_;
  Metrics metrics_;
  std::atomic<bool> audit_failing_{false};
};

}  // namespace firebreak::proxy
