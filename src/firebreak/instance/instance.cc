#include "firebreak/instance/instance.h"

#include <algorithm>
#include <boost/json.hpp>
#include <filesystem>
#include <ostream>

#include "firebreak/base/clock.h"
#include "firebreak/exchange/records.h"
#include "firebreak/http/client.h"

namespace firebreak::instance {

namespace json = boost::json;

namespace {

// POSTs each signed head, as the witness file's line, to audit.witness.url;
// any 2xx is a success.
class HttpWitness : public audit::Witness {
 public:
  explicit HttpWitness(const config::AuditWitnessConfig& config)
      : url_(config.url), headers_(config.headers) {}
  std::string Name() const override { return "url " + url_; }
  base::Status Publish(const audit::SignedHead& head) override {
    http::Request request;
    request.url = url_;
    request.headers = headers_;
    request.headers.emplace_back("Content-Type", "application/json");
    request.body = audit::SignedHeadLine(head);
    request.body.pop_back();  // the newline
    base::StatusOr<http::Response> response = http::Send(request);
    if (!response.ok()) {
      return response.status();
    }
    if (response->status < 200 || response->status > 299) {
      return base::Status(base::StatusCode::kUnavailable,
                          "the witness answered HTTP " + std::to_string(response->status));
    }
    return base::Status::Ok();
  }

 private:
  std::string url_;
  std::vector<std::pair<std::string, std::string>> headers_;
};

bool SameDirectory(const std::filesystem::path& a, const std::filesystem::path& b) {
  std::error_code ec;
  const std::filesystem::path da = std::filesystem::weakly_canonical(a, ec).parent_path();
  const std::filesystem::path db = std::filesystem::weakly_canonical(b, ec).parent_path();
  return da == db;
}

// The judge the config names, if the policy accepts its model; false (after
// printing why) when it does not, or its cache cannot be opened.
bool OpenJudge(Instance& instance, const config::JudgeConfig& j, const LoadedPolicy& policy,
               std::string_view command, std::ostream& err) {
  const policy::JudgeSpec& spec = policy.active->core->policy().classifier().judge;
  if (spec.mode == policy::JudgeSpec::Mode::kOff) {
    err << "judge: the policy lets no judge decide (classifier.judge); " << j.model
        << " is not asked\n";
    return true;
  }
  if (std::find(spec.models.begin(), spec.models.end(), j.model) == spec.models.end()) {
    std::string accepted;
    for (const std::string& m : spec.models) {
      accepted += (accepted.empty() ? "" : ", ") + m;
    }
    err << "firebreak " << command << ": the judge model '" << j.model
        << "' is not one the policy accepts (classifier.judge.models: " << accepted << ")\n";
    return false;
  }
  base::StatusOr<std::unique_ptr<judge::Cache>> cache = judge::Cache::Open(
      {.path = j.cache, .ttl_seconds = j.cache_ttl_seconds, .max_entries = j.cache_max_entries});
  if (!cache.ok()) {
    err << "firebreak " << command << ": " << cache.status().message() << '\n';
    return false;
  }
  instance.judge_cache = std::move(cache).value();
  Instance* self = &instance;
  instance.judge = std::make_unique<judge::Client>(judge::Client::Options{
      .type = j.type,
      .base_url = j.base_url,
      .model = j.model,
      .api_key = j.api_key,
      .timeout = j.timeout,
      .max_in_flight = j.max_in_flight,
      .breaker_failures = j.breaker_failures,
      .breaker_cool_down = j.breaker_cool_down,
      .cache = instance.judge_cache.get(),
      .on_open =
          [self, model = j.model](const std::string& why) {
            audit::Value::Object payload{{"kind", "judge_unavailable"},
                                         {"severity", "high"},
                                         {"summary", why + "; uncertain decisions take the defaults"}};
            std::vector<audit::OutboxAlert> alerts;
            for (const std::string& target : self->config.system_alerts) {
              alerts.push_back({target, payload});
            }
            static_cast<void>(
                self->log->Append(exchange::JudgeUnavailableRecord(model, why), std::move(alerts)));
          }});
  err << "judge: " << judge::JudgeTypeName(j.type) << " " << j.model << " at " << j.base_url
      << " (policy: " << policy::JudgeModeName(spec.mode) << "; cache " << j.cache.string()
      << ")\n";
  return true;
}

}  // namespace

std::unique_ptr<config::ServerConfig> LoadConfig(const std::string& path, std::string_view command,
                                                 std::ostream& err) {
  if (std::filesystem::exists(path)) {
    base::StatusOr<config::ServerConfig> loaded = config::LoadServerConfig(path);
    if (!loaded.ok()) {
      err << "firebreak " << command << ": " << loaded.status().message() << '\n';
      return nullptr;
    }
    return std::make_unique<config::ServerConfig>(std::move(loaded).value());
  }
  if (path != "firebreak.yaml") {
    err << "firebreak " << command << ": config " << path << " does not exist\n";
    return nullptr;
  }
  return std::make_unique<config::ServerConfig>();
}

std::unique_ptr<Instance> OpenInstance(config::ServerConfig config, const std::string& policy_path,
                                       const LoadedPolicy& loaded, std::string_view command,
                                       audit::Value::Object start_fields, std::ostream& err,
                                       std::shared_ptr<base::EventHub> events) {
  const policy::PolicySet& policy = loaded.active->core->policy();
  auto fail = [&](const std::string& message) {
    err << "firebreak " << command << ": " << message << '\n';
    return nullptr;
  };
  if (base::Status s =
          config::CheckAlertTargets(config, exchange::AlertTargetsNamedBy(policy), policy_path);
      !s.ok()) {
    return fail(s.message());
  }
  base::StatusOr<std::map<std::string, alert::AlertTarget, std::less<>>> targets =
      exchange::AlertTargetsOf(config);
  if (!targets.ok()) {
    return fail(targets.status().message());
  }
  base::StatusOr<std::shared_ptr<const exchange::Redactor>> redactor =
      exchange::Redactor::Create(config.audit.redact);
  if (!redactor.ok()) {
    return fail(redactor.status().message());
  }

  auto instance = std::make_unique<Instance>();
  if (events != nullptr) {
    instance->events = std::move(events);
  }

  audit::AuditOptions audit_options;
  audit_options.db = config.audit.db;
  audit_options.durability =
      config.audit.durability == "fsync" ? audit::Durability::kFsync : audit::Durability::kGroup;
  audit_options.checkpoint_every = config.audit.checkpoint_every;
  audit_options.checkpoint_interval = config.audit.checkpoint_interval;
  audit_options.key = config.audit.key;
  if (!config.audit.witness.file.empty()) {
    audit_options.witnesses.push_back(
        std::make_shared<audit::FileWitness>(config.audit.witness.file));
  }
  if (!config.audit.witness.url.empty()) {
    audit_options.witnesses.push_back(std::make_shared<HttpWitness>(config.audit.witness));
  }
  audit_options.witness_alerts = config.system_alerts;
  base::StatusOr<std::unique_ptr<audit::AuditLog>> log = audit::AuditLog::Open(audit_options);
  if (!log.ok()) {
    return fail(log.status().message());
  }
  instance->log = std::move(log).value();
  const std::filesystem::path& key = instance->log->options().key;
  err << "audit: " << config.audit.db.string() << ", durability "
      << audit::DurabilityName(audit_options.durability) << ", instance "
      << instance->log->instance_id() << ", signing key " << key.string();
  for (const std::shared_ptr<audit::Witness>& w : audit_options.witnesses) {
    err << ", witness " << w->Name();
  }
  err << '\n';
  if (SameDirectory(key, config.audit.db)) {
    err << "audit: the signing key is in the database's directory: whoever can edit the "
           "database there can sign checkpoints over it; give audit.key a path they cannot read\n";
  }
  if (!config.audit.witness.file.empty() &&
      SameDirectory(config.audit.witness.file, config.audit.db)) {
    err << "audit: the witness file is in the database's directory: whoever can edit the "
           "database there can rewrite it too; put it on another volume\n";
  }
  if (const audit::OpenReport& o = instance->log->opened(); o.unsigned_records > 0) {
    err << "audit: records " << o.head_seq - o.unsigned_records + 1 << ".." << o.head_seq
        << " were signed by no checkpoint or witness head (a run that stopped without its "
           "final checkpoint, or records added by someone else); "
        << o.matched_journal << " matched the journal, " << o.unsigned_records - o.matched_journal
        << " could not be checked: recorded as record " << o.unsigned_tail_seq << '\n';
  }

  if (base::StatusOr<audit::Appended> a = instance->log->Append(
          exchange::LifecycleStartRecord(command, audit::DurabilityName(audit_options.durability),
                                         *loaded.active, policy_path, std::move(start_fields)));
      !a.ok()) {
    return fail(a.status().message());
  }

  base::StatusOr<std::unique_ptr<exchange::AlertWindows>> windows =
      exchange::AlertWindows::Open({.log = instance->log.get(), .errors = &err});
  if (!windows.ok()) {
    return fail("alert windows: " + windows.status().message());
  }
  instance->alert_windows = std::move(windows).value();

  instance->outbox = std::make_unique<exchange::AuditOutbox>(*instance->log);
  alert::SenderOptions sender_options;
  sender_options.log = &err;
  sender_options.on_attempt = [events = instance->events](const alert::PendingAlert& alert,
                                                          const std::string& error) {
    if (!events->HasSubscribers()) {
      return;
    }
    boost::system::error_code ec;
    const json::value payload = json::parse(alert.payload, ec);
    const json::object* o = ec ? nullptr : payload.if_object();
    auto text = [&](std::string_view key) {
      const json::value* v = o != nullptr ? o->if_contains(key) : nullptr;
      return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
    };
    const json::value* seq = o != nullptr ? o->if_contains("audit_seq") : nullptr;
    events->Publish(base::AlertEvent{
        base::UnixMicros(),
        seq != nullptr && seq->is_int64() ? static_cast<std::uint64_t>(seq->get_int64()) : 0,
        text("severity"), text("rule"), alert.target,
        error.empty() ? base::AlertDelivery::kDelivered : base::AlertDelivery::kRetrying,
        error});
  };
  instance->sender = std::make_unique<alert::Sender>(*instance->outbox, std::move(targets).value(),
                                                     sender_options);
  instance->sender->Start();
  Instance* self = instance.get();
  instance->on_audit_failure = [self](const base::Status& status) {
    const std::int64_t now = base::UnixMicros();
    std::int64_t last = self->last_failure_alert.load();
    if (last != 0 && now - last < 60'000'000) {
      return;
    }
    if (!self->last_failure_alert.compare_exchange_strong(last, now)) {
      return;  // another thread is telling them
    }
    // The outbox lives in the failing store: tell the system targets now.
    const std::string payload =
        "{\"kind\":\"audit_failure\",\"severity\":\"critical\",\"instance\":" +
        json::serialize(json::string(self->log->instance_id())) + ",\"summary\":" +
        json::serialize(
            json::string("audit store cannot write; decisions are refused: " + status.message())) +
        "}";
    for (const std::string& target : self->config.system_alerts) {
      static_cast<void>(self->sender->SendNow(
          {0, target,
           self->log->instance_id() + ":audit-failure:" + std::to_string(now) + ":" + target,
           payload, 0}));
    }
  };
  instance->gate = std::make_unique<exchange::Gate>(
      exchange::GateOptions{.log = instance->log.get(),
                            .alert_windows = instance->alert_windows.get(),
                            .retention = exchange::TextRetentionOf(config.audit.text),
                            .redactor = std::move(redactor).value(),
                            .max_text_bytes = config.audit.max_text_bytes,
                            .events = instance->events,
                            .on_audit_failure = instance->on_audit_failure});
  if (config.judge && !OpenJudge(*instance, *config.judge, loaded, command, err)) {
    return nullptr;
  }
  instance->config = std::move(config);
  return instance;
}

bool CloseInstance(Instance& instance, std::string_view command, std::ostream& err) {
  if (base::Status s = instance.alert_windows->Close(); !s.ok()) {
    err << "alerts: " << s.message() << "; the next run summarises them\n";
  }
  instance.sender->Stop();
  // One last pass for what the end raised, once its alerts are in the outbox
  // (if the database cannot be written, they wait in the journal).
  static_cast<void>(instance.log->Flush());
  instance.sender->RunOnce();
  base::StatusOr<std::int64_t> pending = instance.log->PendingAlerts();
  if (pending.ok() && *pending > 0) {
    err << "alerts: " << *pending << " pending; they stay in " << instance.config.audit.db.string()
        << " and are delivered by the next run\n";
  }
  base::StatusOr<audit::Appended> stop = instance.log->Append(exchange::LifecycleStopRecord());
  if (!stop.ok() || !instance.log->Checkpoint().ok()) {
    err << "firebreak " << command << ": cannot close the audit trail\n";
    return false;
  }
  return true;
}

}  // namespace firebreak::instance
