#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <functional>
#include <istream>
#include <ostream>

#include "firebreak/api/request.h"
#include "firebreak/audit/audit_log.h"
#include "firebreak/cli/commands.h"
#include "firebreak/cli/report.h"
#include "firebreak/cli/scenario.h"
#include "firebreak/exchange/audit_outbox.h"
#include "firebreak/exchange/records.h"
#include "firebreak/instance/instance.h"

namespace firebreak::cli {
namespace {

namespace json = boost::json;

// One output line. Written by hand so that scores read 0.954, not 9.54E-1.
std::string DecisionLine(const json::value& id, const exchange::Outcome& outcome,
                         const policy::PolicySet& policy, long long micros) {
  std::string line = "{\"id\":" + json::serialize(id) + ",\"decision\":\"" +
                     std::string(policy::VerdictName(outcome.decision.verdict)) + "\",\"rules\":[";
  bool first = true;
  for (std::string_view r : outcome.decision.RuleIds()) {
    line += first ? "" : ",";
    line += json::serialize(json::string(r));
    first = false;
  }
  line += "],\"categories\":[";
  first = true;
  for (const classify::CategoryScore& s : outcome.classification.scores) {
    if (s.detected) {
      char score[16];
      std::snprintf(score, sizeof(score), "%.3f", s.score);
      line += first ? "" : ",";
      line += "{\"id\":" + json::serialize(json::string(policy.categories()[s.category].id)) +
              ",\"score\":" + score + "}";
      first = false;
    }
  }
  line += "]";
  if (!outcome.classification.uncertain.empty()) {
    line += ",\"uncertain\":[";
    first = true;
    for (const std::string& reason : outcome.classification.uncertain) {
      line += first ? "" : ",";
      line += json::serialize(json::string(reason));
      first = false;
    }
    line += "]";
  }
  line += ",\"micros\":" + std::to_string(micros) + "}";
  return line;
}

std::string IdText(const json::value& id) {
  return id.is_string() ? std::string(id.get_string()) : json::serialize(id);
}

// With a gate, every decision goes through it: recorded (with its alerts)
// before its line is written; a decision whose record fails is reported as
// an error, never printed.
int RunJsonl(const exchange::ActivePolicy& policy, exchange::Gate* gate, std::istream& in,
             std::ostream& out) {
  const exchange::DecisionCore& core = *policy.core;
  bool malformed = false;
  std::string line;
  std::size_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) {
      continue;
    }
    json::value id;
    auto fail = [&](const std::string& message) {
      malformed = true;
      out << json::serialize(json::object{
                 {"id", id}, {"error", "line " + std::to_string(number) + ": " + message}})
          << '\n';
    };
    base::StatusOr<json::value> parsed = api::ParseJson(line, {});
    if (!parsed.ok()) {
      fail("invalid JSON: " + parsed.status().message());
      continue;
    }
    json::object* object = parsed->if_object();
    if (object == nullptr) {
      fail("expected a JSON object");
      continue;
    }
    if (const json::value* v = object->if_contains("id")) {
      id = *v;
    }
    base::StatusOr<base::Conversation> conversation = ConversationOfLine(*object);
    if (!conversation.ok()) {
      fail(conversation.status().message());
      continue;
    }
    const auto start = std::chrono::steady_clock::now();
    base::StatusOr<exchange::Outcome> outcome = core.Decide(*conversation);
    const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
                            std::chrono::steady_clock::now() - start)
                            .count();
    if (!outcome.ok()) {
      fail(outcome.status().message());
      continue;
    }
    if (gate != nullptr) {
      const std::string request_id = IdText(id);
      exchange::Admission admission =
          gate->Admit(policy, *conversation, *outcome,
                      {.request_id = request_id, .principal = "cli", .endpoint = "cli:classify"});
      if (base::StatusOr<audit::Appended> appended = gate->CommitNow(admission); !appended.ok()) {
        fail("audit: " + appended.status().message());
        continue;
      }
    }
    out << DecisionLine(id, *outcome, core.policy(), micros) << '\n';
  }
  return malformed ? kExitUsage : kExitOk;
}

// Batch screening, audited exactly as the proxy is: every decision and its
// alerts are committed before the line is printed; alerts are delivered while
// the run goes on, and what is still pending at the end stays in the outbox.
// Signatures are checked against the config's trust file, if any, and
// recorded; screening does not require them.
int RunAuditedJsonl(const ClassifyOptions& options, std::istream& in, std::ostream& out,
                    std::ostream& err) {
  std::unique_ptr<config::ServerConfig> server =
      instance::LoadConfig(options.config, "classify", err);
  if (server == nullptr) {
    return kExitUsage;
  }
  base::StatusOr<instance::LoadedPolicy> loaded =
      instance::LoadActivePolicy(options.policy, {.trust = server->trust, .allow_unsigned = true});
  if (!loaded.ok()) {
    err << loaded.status().message() << '\n';
    return kExitPolicyFailure;
  }
  err << loaded->warnings;
  const exchange::ActivePolicy& policy = *loaded->active;
  server->audit.db = options.audit_db;
  if (!options.durability.empty()) {
    server->audit.durability = options.durability;
  }
  std::unique_ptr<instance::Instance> instance = instance::OpenInstance(
      std::move(*server), options.policy, *loaded, "classify --jsonl", {}, err);
  if (instance == nullptr) {
    return kExitUsage;
  }
  const int code = RunJsonl(policy, instance->gate.get(), in, out);
  return instance::CloseInstance(*instance, "classify", err) ? code : kExitUsage;
}

}  // namespace

int RunClassify(const ClassifyOptions& options, std::istream& in, std::ostream& out,
                std::ostream& err) {
  if (options.jsonl && !options.audit_db.empty()) {
    return RunAuditedJsonl(options, in, out, err);
  }
  std::unique_ptr<exchange::DecisionCore> core = LoadDecisionCore(options.policy, err);
  if (core == nullptr) {
    return kExitPolicyFailure;
  }
  if (options.jsonl) {
    return RunJsonl({.core = std::move(core)}, nullptr, in, out);
  }
  base::StatusOr<exchange::Outcome> outcome = core->Decide(base::SinglePrompt(options.text));
  if (!outcome.ok()) {
    err << "firebreak classify: " << outcome.status().message() << '\n';
    return kExitUsage;
  }
  PrintExplanation(*outcome, *core, out);
  return kExitOk;
}

}  // namespace firebreak::cli
