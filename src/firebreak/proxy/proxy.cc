#include "firebreak/proxy/proxy.h"

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <random>

#include "firebreak/api/request.h"
#include "firebreak/api/translate.h"
#include "firebreak/base/digest.h"
#include "firebreak/exchange/audit_outbox.h"
#include "firebreak/exchange/events.h"
#include "firebreak/exchange/receipt.h"
#include "firebreak/proxy/event_stream.h"
#include "firebreak/proxy/pending.h"

namespace firebreak::proxy {
namespace {

namespace json = boost::json;

// "fb-" + 16 random hex digits per process + a counter: unique, cheap, and
// unguessable enough to correlate logs without leaking a request count.
std::string NewRequestId() {
  static const std::string prefix = [] {
    std::random_device device;
    char buffer[24];
    std::snprintf(buffer, sizeof(buffer), "fb-%08x%08x-", device(), device());
    return std::string(buffer);
  }();
  static std::atomic<std::uint64_t> counter{0};
  return prefix + std::to_string(counter.fetch_add(1, std::memory_order_relaxed) + 1);
}

// The route of a request target; a model call with its API and what its
// path says (or why that API's call cannot be served).
struct Routed {
  Route route = Route::kNotFound;
  const api::Provider* api = &api::OpenAIProvider();
  api::Call call;
  std::string problem;
};

Routed RouteOf(std::string_view target) {
  const std::size_t question = target.find('?');
  const std::string_view path = target.substr(0, question);
  const std::string_view query =
      question == std::string_view::npos ? std::string_view() : target.substr(question + 1);
  Routed routed;
  for (const api::Provider* provider : api::Providers()) {
    base::StatusOr<bool> serves = provider->Serves(path, query, routed.call);
    if (!serves.ok() || *serves) {
      routed.route = Route::kModelCall;
      routed.api = provider;
      routed.problem = serves.ok() ? "" : serves.status().message();
      return routed;
    }
  }
  static constexpr std::pair<std::string_view, Route> kRoutes[] = {
      {"/v1/firebreak/evaluate", Route::kEvaluate}, {"/v1/models", Route::kModels},
      {"/models", Route::kModels},                  {"/health", Route::kHealth},
      {"/ready", Route::kReady},                    {"/metrics", Route::kMetrics},
      {"/v1/firebreak/reload", Route::kReload},     {"/v1/firebreak/events", Route::kEvents}};
  for (const auto& [name, route] : kRoutes) {
    if (path == name) {
      routed.route = route;
    }
  }
  return routed;
}

std::string_view MethodOf(Route route) {
  switch (route) {
    case Route::kModelCall:
    case Route::kEvaluate:
    case Route::kReload:
      return "POST";
    case Route::kEvents:
      return "GET";
    default:
      return "GET";
  }
}

Result ResultOf(policy::Verdict verdict) {
  switch (verdict) {
    case policy::Verdict::kAllow:
      return Result::kAllow;
    case policy::Verdict::kAllowConstrained:
      return Result::kAllowConstrained;
    default:
      return Result::kBlock;
  }
}

}  // namespace

http::Reply JsonReply(int status, std::string body) {
  return {status, {{"content-type", "application/json"}}, std::move(body)};
}

http::Reply ErrorFor(const api::Provider& api, int status, std::string_view message,
                     std::string_view code) {
  return JsonReply(status, api.ErrorBody(status, message, code));
}

void Proxy::AddHeaders(const Pending& p, http::Headers& headers) const {
  headers.push_back({"x-firebreak-request-id", p.request_id});
  headers.push_back({"x-firebreak-decision", p.decision});
  headers.push_back({"x-firebreak-rule", p.rules});
  if (p.policy != nullptr) {
    headers.push_back({"x-firebreak-policy", p.policy->digest});
  }
  if (!p.constraints.empty()) {
    headers.push_back({"x-firebreak-constraints", p.constraints});
  }
  if (p.seq == 0) {
    return;  // not recorded: nothing to attest
  }
  headers.push_back({"x-firebreak-audit-seq", std::to_string(p.seq)});
  if (options_.config.server.receipts && p.policy != nullptr) {
    exchange::Receipt receipt{
        options_.gate->log().instance_id(), p.request_id, p.decision, {}, p.policy->digest, p.seq,
        base::ToHex(p.record_hash)};
    for (std::size_t start = 0; p.rules != "-" && start <= p.rules.size();) {
      const std::size_t comma = std::min(p.rules.find(',', start), p.rules.size());
      receipt.rules.push_back(p.rules.substr(start, comma - start));
      start = comma + 1;
    }
    headers.push_back({"x-firebreak-receipt",
                       exchange::SignReceipt(receipt, options_.gate->log().signing_key())});
  }
}

Proxy::Proxy(ProxyOptions options) : options_(std::move(options)) {
  for (const config::PrincipalConfig& pc : options_.config.principals) {
    Principal p{pc.id, pc.attributes, pc.admin};
    p.attributes["id"] = pc.id;
    if (!pc.team.empty()) {
      p.attributes["team"] = pc.team;
    }
    principals_[pc.key_sha256] = std::move(p);
  }
}

void Proxy::SetPolicy(std::shared_ptr<const exchange::ActivePolicy> policy) {
  std::lock_guard lock(policy_mu_);
  options_.policy = std::move(policy);
}

std::shared_ptr<const exchange::ActivePolicy> Proxy::policy() const {
  std::lock_guard lock(policy_mu_);
  return options_.policy;
}

http::Reply Proxy::ErrorReply(std::string_view target, int status, std::string_view message) {
  metrics_.CountFailure(status == 503 ? exchange::Failure::kOverloaded
                                      : exchange::Failure::kMalformedHttp);
  http::Reply reply = ErrorFor(*RouteOf(target).api, status, message, "invalid_request");
  reply.headers.push_back({"x-firebreak-request-id", NewRequestId()});
  reply.headers.push_back({"x-firebreak-decision", "REFUSED"});
  reply.headers.push_back({"x-firebreak-rule", "-"});
  return reply;
}

http::Reply Proxy::Ready() const {
  json::array reasons;
  if (policy() == nullptr) {
    reasons.push_back("no policy loaded");
  }
  if (audit_failing_) {
    reasons.push_back("the audit store failed its last write");
  }
  if (options_.config.upstreams.empty()) {
    reasons.push_back("no upstream configured");
  }
  if (options_.listener_problems) {
    for (std::string& problem : options_.listener_problems()) {
      reasons.push_back(json::string(std::move(problem)));
    }
  }
  const bool ready = reasons.empty();
  return JsonReply(ready ? 200 : 503, json::serialize(json::object{
                                          {"ready", ready}, {"reasons", std::move(reasons)}}));
}

void Proxy::Handle(http::ServerRequest&& request, std::shared_ptr<http::Exchange> exchange) {
  auto p = std::make_shared<Pending>();
  p->exchange = std::move(exchange);
  p->request_id = NewRequestId();
  const std::string_view path =
      std::string_view(request.target).substr(0, request.target.find('?'));
  Routed routed = RouteOf(request.target);
  p->route = routed.route;
  p->api = routed.api;
  p->call = std::move(routed.call);
  p->route_problem = std::move(routed.problem);
  // A refusal before any exchange began: answered and counted, not
  // recorded (exchange::Failures says why).
  auto answer = [&](exchange::Failure failure, http::Reply reply) {
    AddHeaders(*p, reply.headers);
    metrics_.CountRequest(p->route, Result::kRefused, p->api->dialect());
    metrics_.CountFailure(failure);
    p->exchange->Respond(std::move(reply));
  };
  if (p->route == Route::kNotFound) {
    answer(exchange::Failure::kUnknownEndpoint,
           ErrorFor(*p->api, 404,
                    "unknown endpoint " + request.method + " " + std::string(path) +
                        "; Firebreak serves POST /v1/chat/completions, POST /v1/messages, "
                        "POST /v1beta/models/MODEL:generateContent and "
                        ":streamGenerateContent?alt=sse, GET /v1/models, "
                        "POST /v1/firebreak/evaluate, GET /health, GET /ready, GET /metrics, "
                        "POST /v1/firebreak/reload, GET /v1/firebreak/events",
                    "unknown_endpoint"));
    return;
  }
  if (request.method != MethodOf(p->route)) {
    http::Reply reply = ErrorFor(*p->api, 405,
                                 std::string(path) + " accepts " + std::string(MethodOf(p->route)) +
                                     ", not " + request.method,
                                 "method_not_allowed");
    reply.headers.push_back({"allow", std::string(MethodOf(p->route))});
    answer(exchange::Failure::kUnknownEndpoint, std::move(reply));
    return;
  }
  const auto ok = [&](http::Reply reply) {
    reply.headers.push_back({"x-firebreak-request-id", p->request_id});
    metrics_.CountRequest(p->route, Result::kAllow, p->api->dialect());
    p->exchange->Respond(std::move(reply));
  };
  switch (p->route) {
    case Route::kHealth:
      return ok(JsonReply(200, R"({"status":"ok"})"));
    case Route::kReady:
      return ok(Ready());
    case Route::kMetrics: {
      // Without principals the listener is loopback-only, and /metrics open.
      const config::MetricsAuth auth = options_.config.server.metrics_auth;
      if (!principals_.empty() && auth != config::MetricsAuth::kNone) {
        std::string refusal;
        const Principal* reader = Authenticate(request.headers, refusal);
        if (reader == nullptr) {
          answer(exchange::Failure::kUnauthenticated,
                 ErrorFor(*p->api, 401, refusal, "invalid_api_key"));
          return;
        }
        if (auth == config::MetricsAuth::kAdmin && !reader->admin) {
          answer(exchange::Failure::kForbidden,
                 ErrorFor(*p->api, 403,
                          "/metrics needs an admin principal (server.metrics_auth: admin)",
                          "forbidden"));
          return;
        }
      }
      std::string gauges = options_.gate->MetricsText();
      if (options_.judge != nullptr) {
        gauges += options_.judge->MetricsText();
      }
      if (options_.gauges) {
        gauges += options_.gauges();
      }
      return ok({200, {{"content-type", "text/plain; version=0.0.4"}}, metrics_.Render(gauges)});
    }
    default:
      break;
  }

  const Principal* principal = &anonymous_;
  if (!principals_.empty()) {
    std::string refusal;
    principal = Authenticate(request.headers, refusal);
    if (principal == nullptr) {
      answer(exchange::Failure::kUnauthenticated,
             ErrorFor(*p->api, 401, refusal, "invalid_api_key"));
      return;
    }
  }
  if (p->route == Route::kModels) {
    return ok(Models(!http::FindHeader(request.headers, "anthropic-version").empty()));
  }
  if (p->route == Route::kEvents) {
    if (!principal->admin) {
      answer(exchange::Failure::kForbidden,
             ErrorFor(*p->api, 403, "the event stream needs an admin principal (admin: true)",
                      "forbidden"));
    } else if (options_.events == nullptr) {
      answer(exchange::Failure::kUnknownEndpoint,
             ErrorFor(*p->api, 501, "this server publishes no events", "not_implemented"));
    } else {
      metrics_.CountRequest(p->route, Result::kAllow);
      http::Reply head{200,
                       {{"content-type", "text/event-stream"},
                        {"cache-control", "no-cache"},
                        {"x-firebreak-request-id", p->request_id}},
                       {}};
      p->exchange->Stream(std::move(head), std::make_shared<EventStream>(options_.events));
    }
    return;
  }
  if (p->route == Route::kReload) {
    if (!principal->admin) {
      answer(exchange::Failure::kForbidden,
             ErrorFor(*p->api, 403,
                      "reloading the policy needs an admin principal (admin: true in the "
                      "config); or send the server SIGHUP",
                      "forbidden"));
    } else if (!options_.reload) {
      answer(exchange::Failure::kUnknownEndpoint,
             ErrorFor(*p->api, 501, "this server cannot reload its policy", "not_implemented"));
    } else {
      Reload(std::move(p));
    }
    return;
  }
  const Route route = p->route;
  Decide(route, request, *principal, std::move(p));
}

void Proxy::Reload(std::shared_ptr<Pending> p) {
  // The reload itself is audited (policy.reloaded or policy.refused).
  options_.reload([this, p](ReloadResult result) {
    using Outcome = ReloadResult::Outcome;
    const Outcome outcome = result.outcome;
    metrics_.CountRequest(p->route,
                          outcome == Outcome::kRefused ? Result::kRefused : Result::kAllow);
    http::Reply reply = JsonReply(
        outcome == Outcome::kRefused ? 422 : 200,
        json::serialize(json::object{{"reloaded", outcome == Outcome::kReloaded},
                                     {"outcome", outcome == Outcome::kReloaded    ? "reloaded"
                                                 : outcome == Outcome::kUnchanged ? "unchanged"
                                                                                  : "refused"},
                                     {"message", result.message},
                                     {"policy", result.digest}}));
    AddHeaders(*p, reply.headers);
    p->exchange->Respond(std::move(reply));
  });
}

void Proxy::Refuse(std::shared_ptr<Pending> p, exchange::Failure failure,
                   std::string_view message) {
  p->reply = Failed(*p, failure, message);
  p->admission = exchange::Gate::Refusal(
      {.request_id = p->request_id, .endpoint = RouteName(p->route, p->api->dialect())},
      exchange::SpecOf(failure).status, message);
  Commit(std::move(p));
}

http::Reply Proxy::Failed(const Pending& p, exchange::Failure failure, std::string_view message) {
  const exchange::FailureSpec& spec = exchange::SpecOf(failure);
  metrics_.CountFailure(failure);
  return ErrorFor(*p.api, spec.status, message, spec.answer);
}

void Proxy::Decide(Route route, http::ServerRequest& request, const Principal& principal,
                   std::shared_ptr<Pending> p) {
  const Clock::time_point decide_start = Clock::now();
  if (!p->route_problem.empty()) {
    const std::string problem = std::move(p->route_problem);
    Refuse(std::move(p), exchange::Failure::kInvalidRequest, problem);
    return;
  }
  if (std::string_view type = http::FindHeader(request.headers, "content-type");
      type.find("application/json") == std::string_view::npos) {
    Refuse(std::move(p), exchange::Failure::kUnsupportedMedia,
           "expected Content-Type: application/json, got '" + std::string(type) + "'");
    return;
  }
  base::StatusOr<json::value> document =
      api::ParseJson(request.body, {.max_depth = options_.config.server.max_json_depth});
  if (!document.ok()) {
    Refuse(std::move(p), exchange::Failure::kInvalidJson, document.status().message());
    return;
  }
  // The evaluate endpoint reads a Messages request too (and answers alike).
  const api::Provider& reader = route == Route::kEvaluate && document->is_object() &&
                                        (document->get_object().contains("system") ||
                                         !http::FindHeader(request.headers, "anthropic-version")
                                              .empty())
                                    ? api::AnthropicProvider()
                                    : *p->api;
  base::StatusOr<base::Conversation> conversation = reader.ConversationOf(*document, p->call);
  if (!conversation.ok()) {
    Refuse(std::move(p), exchange::Failure::kInvalidRequest, conversation.status().message());
    return;
  }
  p->policy = policy();
  if (p->policy == nullptr) {
    Refuse(std::move(p), exchange::Failure::kPolicyUnavailable, "no policy is loaded");
    return;
  }
  const exchange::Caller caller{.request_id = p->request_id,
                                .principal = principal.id,
                                .endpoint = RouteName(route, p->api->dialect()),
                                .attributes = &principal.attributes};
  base::StatusOr<exchange::Outcome> outcome =
      options_.gate->Decide(*p->policy, *conversation, caller);
  if (!outcome.ok()) {
    Refuse(std::move(p), exchange::Failure::kUnclassifiable,
           "cannot classify the conversation: " + outcome.status().message());
    return;
  }
  p->decided = std::make_unique<Decided>(Decided{std::move(request), std::move(document).value(),
                                                 std::move(conversation).value(),
                                                 std::move(outcome).value(), &principal,
                                                 decide_start});
  Judge(std::move(p));  // judge_step.cc: asks, when the policy wants it; then concludes
}

// The decision made (and a judge heard): the answer or the forward, the
// record, and the commit that lets it take effect.
void Proxy::Conclude(std::shared_ptr<Pending> p) {
  Decided& decided = *p->decided;
  const Route route = p->route;
  http::ServerRequest& request = decided.request;
  const base::Conversation* conversation = &decided.conversation;
  const exchange::Outcome* outcome = &decided.outcome;
  const exchange::DecisionCore& core = *p->policy->core;
  const exchange::Caller caller{.request_id = p->request_id,
                                .principal = decided.principal->id,
                                .endpoint = RouteName(route, p->api->dialect()),
                                .attributes = &decided.principal->attributes};
  const Clock::time_point decide_start = decided.start;
  const policy::Decision& decision = outcome->decision;
  p->result = ResultOf(decision.verdict);
  p->decision = policy::VerdictName(decision.verdict);
  p->rules.clear();
  for (std::string_view id : decision.RuleIds()) {
    p->rules += (p->rules.empty() ? "" : ",") + std::string(id);
    metrics_.CountRule(id);
  }
  for (const std::string* c : decision.constraints) {
    p->constraints += (p->constraints.empty() ? "" : "; ") + *c;
  }

  if (route == Route::kEvaluate) {
    json::array categories;
    for (const classify::CategoryScore& s : outcome->classification.scores) {
      if (s.detected) {
        categories.push_back(
            json::object{{"id", core.policy().categories()[s.category].id}, {"score", s.score}});
      }
    }
    json::array rules;
    for (std::string_view id : decision.RuleIds()) {
      rules.push_back(json::string(id));
    }
    json::array constraints;
    for (const std::string* c : decision.constraints) {
      constraints.push_back(json::string(*c));
    }
    std::string body = json::serialize(json::object{{"request_id", p->request_id},
                                                    {"decision", p->decision},
                                                    {"rules", std::move(rules)},
                                                    {"categories", std::move(categories)},
                                                    {"constraints", std::move(constraints)},
                                                    {"policy", p->policy->digest}});
    body.pop_back();  // the closing brace: audit_seq follows once it is known
    p->evaluate_prefix = std::move(body);
  } else if (decision.verdict == policy::Verdict::kBlock) {
    const std::string message = exchange::BlockMessage(decision, core.policy(), *conversation);
    p->reply = JsonReply(400, p->api->BlockBody(message));
  } else {
    p->upstream = UpstreamFor(conversation->model);
    if (p->upstream == nullptr) {
      p->reply = Failed(*p, exchange::Failure::kNoUpstream,
                        "no upstream is configured for model '" + conversation->model + "'");
    } else {
      base::StatusOr<http::UpstreamRequest> forward =
          ForwardOf(*p, request, decided.document, decision,
                    {.model = conversation->model, .stream = conversation->stream});
      if (forward.ok()) {
        p->forward = std::move(forward).value();
      } else {
        p->upstream = nullptr;
        p->result = Result::kRefused;
        p->decision = "REFUSED";
        p->refused = forward.status().message();
        p->reply = Failed(*p, exchange::Failure::kUntranslatable, p->refused);
      }
    }
  }
  metrics_.Observe(Stage::kDecide, Since(decide_start));
  std::string outcome_text;
  if (options_.gate->publishing()) {
    outcome_text =
        route == Route::kEvaluate                     ? "evaluated only: not forwarded"
        : decision.verdict == policy::Verdict::kBlock ? "blocked: it never reached the model"
        : !p->refused.empty()                         ? "refused: " + p->refused
        : p->upstream == nullptr
            ? "refused: no upstream for model '" + conversation->model + "'"
            : "forwarded to " + p->upstream->name +
                  (p->constraints.empty() ? "" : ", with the constraints as a system instruction");
  }
  p->admission = options_.gate->Admit(*p->policy, *conversation, *outcome, caller, p->refused,
                                      std::move(outcome_text));
  p->decided.reset();  // the request, its reading and the outcome are recorded or forwarded
  Commit(std::move(p));
}

// Appends the record; the answer takes effect only once it is committed.
void Proxy::Commit(std::shared_ptr<Pending> p) {
  p->audit_start = Clock::now();
  Pending& pending = *p;
  options_.gate->Commit(
      pending.admission, [this, p = std::move(p)](base::StatusOr<audit::Appended> appended) {
        metrics_.Observe(Stage::kAudit, Since(p->audit_start));
        if (!appended.ok()) {
          metrics_.CountAuditFailure();
          audit_failing_ = true;
          p->decision = "REFUSED";
          p->forward.reset();
          p->reply = Failed(*p, exchange::Failure::kAuditUnavailable,
                            "Firebreak cannot record this request in its audit trail, so it is "
                            "refused (request " +
                                p->request_id + ")");
          p->result = Result::kRefused;
        } else {
          audit_failing_ = false;
          p->seq = appended->seq;
          p->record_hash = appended->hash;
          options_.gate->Publish(p->admission, p->seq);
        }
        metrics_.CountRequest(p->route, p->result, p->api->dialect());
        // The exchange handle leaves the Pending state here: the relay that
        // holds the state lives in the exchange, and must not own it back.
        std::shared_ptr<http::Exchange> exchange = std::move(p->exchange);
        if (p->forward) {
          exchange->Forward(std::move(*p->forward), MakeRelay(p));
          return;
        }
        if (!p->evaluate_prefix.empty() && appended.ok()) {
          p->reply =
              JsonReply(200, p->evaluate_prefix + ",\"audit_seq\":" + std::to_string(p->seq) + "}");
        }
        metrics_.Observe(Stage::kTotal, Since(p->start));
        // The headers (a signed receipt) are built on the I/O thread, not
        // on the audit writer's.
        exchange->RespondWith([this, p] {
          AddHeaders(*p, p->reply.headers);
          return std::move(p->reply);
        });
      });
}

}  // namespace firebreak::proxy
