#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <istream>
#include <ostream>

#include "firebreak/alert/alert.h"
#include "firebreak/audit/audit_log.h"
#include "firebreak/base/digest.h"
#include "firebreak/cli/commands.h"
#include "firebreak/cli/report.h"
#include "firebreak/config/server_config.h"
#include "firebreak/proxy/audit_outbox.h"
#include "firebreak/proxy/decision_record.h"

namespace firebreak::cli {
namespace {

namespace json = boost::json;

// Text of a message's content: a string, or an array of parts whose "text"
// (or nested tool-result "content") strings are joined by newlines.
base::Status ContentText(const json::value& content, std::string& text) {
  if (content.is_string()) {
    text.append(content.get_string());
    return base::Status::Ok();
  }
  if (content.is_null()) {
    return base::Status::Ok();
  }
  if (!content.is_array()) {
    return base::InvalidArgument("content must be a string or an array of parts");
  }
  for (const json::value& part : content.get_array()) {
    if (part.is_string()) {
      text.append(part.get_string());
    } else if (const json::object* o = part.if_object()) {
      if (const json::value* t = o->if_contains("text"); t && t->is_string()) {
        text.append(t->get_string());
      } else if (const json::value* c = o->if_contains("content")) {
        FB_RETURN_IF_ERROR(ContentText(*c, text));
      }
    } else {
      return base::InvalidArgument("content parts must be objects or strings");
    }
    text.push_back('\n');
  }
  return base::Status::Ok();
}

base::StatusOr<base::Conversation> ConversationOf(const json::object& line) {
  base::Conversation conversation;
  if (const json::value* m = line.if_contains("model"); m && m->is_string()) {
    conversation.model = m->get_string();
  }
  if (const json::value* system = line.if_contains("system")) {
    base::Message message{base::Role::kSystem, {}};
    FB_RETURN_IF_ERROR(ContentText(*system, message.text).WithContext("system"));
    conversation.messages.push_back(std::move(message));
  }
  const json::value* prompt = line.if_contains("prompt");
  const json::value* messages = line.if_contains("messages");
  if ((prompt == nullptr) == (messages == nullptr)) {
    return base::InvalidArgument("expected exactly one of \"prompt\" or \"messages\"");
  }
  if (prompt != nullptr) {
    if (!prompt->is_string()) {
      return base::InvalidArgument("\"prompt\" must be a string");
    }
    conversation.messages.push_back({base::Role::kUser, std::string(prompt->get_string())});
    return conversation;
  }
  if (!messages->is_array() || messages->get_array().empty()) {
    return base::InvalidArgument("\"messages\" must be a non-empty array");
  }
  std::size_t index = 0;
  for (const json::value& item : messages->get_array()) {
    const std::string where = "messages[" + std::to_string(index++) + "]";
    const json::object* m = item.if_object();
    if (m == nullptr) {
      return base::InvalidArgument(where + " must be an object");
    }
    base::Message message;
    const json::value* role = m->if_contains("role");
    if (role == nullptr || !role->is_string() ||
        !base::ParseRole(std::string_view(role->get_string()), &message.role)) {
      return base::InvalidArgument(where + ".role must be system, user, assistant or tool");
    }
    if (const json::value* content = m->if_contains("content")) {
      FB_RETURN_IF_ERROR(ContentText(*content, message.text).WithContext(where + ".content"));
    }
    conversation.messages.push_back(std::move(message));
  }
  return conversation;
}

// One output line. Written by hand so that scores read 0.954, not 9.54E-1.
std::string DecisionLine(const json::value& id, const proxy::Outcome& outcome,
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
  line += "],\"micros\":" + std::to_string(micros) + "}";
  return line;
}

std::string IdText(const json::value& id) {
  return id.is_string() ? std::string(id.get_string()) : json::serialize(id);
}

// With an audit log, every decision is recorded before its line is written;
// a decision whose record fails is reported as an error, never printed.
struct AuditSink {
  audit::AuditLog* log = nullptr;
  std::string_view policy_digest;
  proxy::TextRetention retention = proxy::TextRetention::kByAuditLevel;
  const proxy::Redactor* redactor = nullptr;
  std::function<void(const base::Status&)> on_failure;  // the store could not write
};

int RunJsonl(const proxy::DecisionCore& core, const AuditSink& audit, std::istream& in,
             std::ostream& out) {
  audit::AuditLog* log = audit.log;
  bool malformed = false;
  std::string line;
  std::size_t number = 0;
  json::parse_options parse_options;
  parse_options.max_depth = 64;
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
    boost::system::error_code ec;
    json::value parsed = json::parse(line, ec, {}, parse_options);
    if (ec) {
      fail("invalid JSON: " + ec.message());
      continue;
    }
    const json::object* object = parsed.if_object();
    if (object == nullptr) {
      fail("expected a JSON object");
      continue;
    }
    if (const json::value* v = object->if_contains("id")) {
      id = *v;
    }
    base::StatusOr<base::Conversation> conversation = ConversationOf(*object);
    if (!conversation.ok()) {
      fail(conversation.status().message());
      continue;
    }
    const auto start = std::chrono::steady_clock::now();
    base::StatusOr<proxy::Outcome> outcome = core.Decide(*conversation);
    const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
                            std::chrono::steady_clock::now() - start)
                            .count();
    if (!outcome.ok()) {
      fail(outcome.status().message());
      continue;
    }
    if (log != nullptr) {
      const std::string request_id = IdText(id);
      base::StatusOr<audit::Appended> appended =
          log->Append(proxy::DecisionRecord(*conversation, *outcome, core,
                                            {.request_id = request_id,
                                             .principal = "cli",
                                             .endpoint = "cli:classify",
                                             .policy_digest = audit.policy_digest,
                                             .retention = audit.retention,
                                             .redactor = audit.redactor}),
                      proxy::DecisionAlerts(core.policy(), outcome->decision, request_id));
      if (!appended.ok()) {
        fail("audit: " + appended.status().message());
        if (audit.on_failure) {
          audit.on_failure(appended.status());
        }
        continue;
      }
    }
    out << DecisionLine(id, *outcome, core.policy(), micros) << '\n';
  }
  return malformed ? kExitUsage : kExitOk;
}

proxy::TextRetention RetentionOf(std::string_view text) {
  if (text == "full") {
    return proxy::TextRetention::kFull;
  }
  if (text == "redacted") {
    return proxy::TextRetention::kRedacted;
  }
  return text == "digest" ? proxy::TextRetention::kDigestOnly : proxy::TextRetention::kByAuditLevel;
}

// Batch screening, audited exactly as the proxy will: every decision and its
// alerts are committed before the line is printed; alerts are delivered while
// the run goes on, and what is still pending at the end stays in the outbox.
int RunAuditedJsonl(const ClassifyOptions& options, const proxy::DecisionCore& core,
                    std::istream& in, std::ostream& out, std::ostream& err) {
  config::ServerConfig server;
  if (std::filesystem::exists(options.config)) {
    base::StatusOr<config::ServerConfig> loaded = config::LoadServerConfig(options.config);
    if (!loaded.ok()) {
      err << "firebreak classify: " << loaded.status().message() << '\n';
      return kExitUsage;
    }
    server = std::move(loaded).value();
  } else if (options.config != "firebreak.yaml") {
    err << "firebreak classify: config " << options.config << " does not exist\n";
    return kExitUsage;
  }
  if (base::Status s = config::CheckAlertTargets(server, proxy::AlertTargetsNamedBy(core.policy()),
                                                 options.policy);
      !s.ok()) {
    err << "firebreak classify: " << s.message() << '\n';
    return kExitUsage;
  }
  base::StatusOr<std::map<std::string, alert::AlertTarget, std::less<>>> targets =
      proxy::AlertTargetsOf(server);
  if (!targets.ok()) {
    err << "firebreak classify: " << targets.status().message() << '\n';
    return kExitUsage;
  }

  base::StatusOr<std::shared_ptr<const proxy::Redactor>> redactor =
      proxy::Redactor::Create(server.audit.redact);
  if (!redactor.ok()) {
    err << "firebreak classify: " << redactor.status().message() << '\n';
    return kExitUsage;
  }

  audit::AuditOptions audit_options;
  audit_options.db = options.audit_db;
  const std::string durability =
      options.durability.empty() ? server.audit.durability : options.durability;
  audit_options.durability =
      durability == "fsync" ? audit::Durability::kFsync : audit::Durability::kGroup;
  audit_options.checkpoint_every = server.audit.checkpoint_every;
  audit_options.checkpoint_interval = server.audit.checkpoint_interval;
  base::StatusOr<std::unique_ptr<audit::AuditLog>> log = audit::AuditLog::Open(audit_options);
  if (!log.ok()) {
    err << "firebreak classify: " << log.status().message() << '\n';
    return kExitUsage;
  }
  base::StatusOr<std::string> digest = base::Sha256HexOfFile(options.policy);
  const std::string policy_digest = digest.ok() ? *digest : "";
  err << "audit: " << options.audit_db << ", durability "
      << audit::DurabilityName(audit_options.durability) << ", instance " << (*log)->instance_id()
      << '\n';
  audit::AuditRecord start{"lifecycle.start", {}};
  start.fields["command"] = "classify --jsonl";
  start.fields["durability"] = audit::DurabilityName(audit_options.durability);
  start.fields["policy"] =
      audit::Value::Object{{"path", options.policy}, {"digest", policy_digest}};
  if (base::StatusOr<audit::Appended> a = (*log)->Append(std::move(start)); !a.ok()) {
    err << "firebreak classify: " << a.status().message() << '\n';
    return kExitUsage;
  }

  proxy::AuditOutbox outbox(**log);
  alert::SenderOptions sender_options;
  sender_options.log = &err;
  alert::Sender sender(outbox, std::move(targets).value(), sender_options);
  sender.Start();
  // The outbox lives in the failing store: tell the system targets now, once.
  bool told = false;
  auto on_failure = [&](const base::Status& status) {
    if (told) {
      return;
    }
    told = true;
    const std::string payload =
        "{\"kind\":\"audit_failure\",\"severity\":\"critical\",\"instance\":" +
        json::serialize(json::string((*log)->instance_id())) + ",\"summary\":" +
        json::serialize(
            json::string("audit store cannot write; decisions are refused: " + status.message())) +
        "}";
    for (const std::string& target : server.system_alerts) {
      static_cast<void>(sender.SendNow(
          {0, target, (*log)->instance_id() + ":audit-failure:" + target, payload, 0}));
    }
  };
  const int code = RunJsonl(core,
                            {.log = log->get(),
                             .policy_digest = policy_digest,
                             .retention = RetentionOf(server.audit.text),
                             .redactor = redactor->get(),
                             .on_failure = on_failure},
                            in, out);
  sender.Stop();
  sender.RunOnce();  // one last pass for what the end of the input raised
  base::StatusOr<std::int64_t> pending = (*log)->PendingAlerts();
  if (pending.ok() && *pending > 0) {
    err << "alerts: " << *pending << " pending; they stay in " << options.audit_db
        << " and are delivered by the next run\n";
  }
  base::StatusOr<audit::Appended> stop = (*log)->Append({"lifecycle.stop", {}});
  if (!stop.ok() || !(*log)->Checkpoint().ok()) {
    err << "firebreak classify: cannot close the audit trail\n";
    return kExitUsage;
  }
  return code;
}

}  // namespace

int RunClassify(const ClassifyOptions& options, std::istream& in, std::ostream& out,
                std::ostream& err) {
  std::unique_ptr<proxy::DecisionCore> core = LoadDecisionCore(options.policy, err);
  if (core == nullptr) {
    return kExitPolicyFailure;
  }
  if (options.jsonl && options.audit_db.empty()) {
    return RunJsonl(*core, {}, in, out);
  }
  if (options.jsonl) {
    return RunAuditedJsonl(options, *core, in, out, err);
  }
  base::StatusOr<proxy::Outcome> outcome = core->Decide(base::SinglePrompt(options.text));
  if (!outcome.ok()) {
    err << "firebreak classify: " << outcome.status().message() << '\n';
    return kExitUsage;
  }
  PrintExplanation(*outcome, *core, out);
  return kExitOk;
}

}  // namespace firebreak::cli
