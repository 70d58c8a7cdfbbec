#include "firebreak/exchange/records.h"

#include <re2/re2.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "firebreak/base/digest.h"
#include "firebreak/base/utf8.h"

namespace firebreak::exchange {
namespace {

using audit::Value;

// A score in [0, 1] with three decimals ("0.932"), without printf: a record
// carries a few dozen of them.
std::string Score(double v) {
  if (!(v >= 0.0 && v <= 1.0)) {  // not expected; keep whatever it is
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.3f", v);
    return buf;
  }
  const auto thousandths = static_cast<int>(std::lround(v * 1000.0));
  std::string out = thousandths >= 1000 ? "1." : "0.";
  const int frac = thousandths % 1000;
  out.push_back(static_cast<char>('0' + frac / 100));
  out.push_back(static_cast<char>('0' + frac / 10 % 10));
  out.push_back(static_cast<char>('0' + frac % 10));
  return out;
}

Value Strings(const std::vector<const std::string*>& in) {
  Value::Array out;
  for (const std::string* s : in) {
    out.emplace_back(*s);
  }
  return out;
}

// A model name is the client's: kept up to this many bytes.
constexpr std::size_t kMaxModelBytes = 256;
// Uninspected parts listed by a record at most (a request may carry a part
// for every few bytes of its body).
constexpr std::size_t kMaxUninspected = 64;

// Sets `key` to what is kept of `text` within `max` bytes, and when it is
// cut, KEY_truncated to its length and digest; true when it was cut.
bool Keep(Value::Object& out, std::string_view key, std::string_view text, std::size_t max) {
  const std::string_view excerpt = base::Utf8Prefix(text, max);
  out.insert_or_assign(std::string(key), excerpt);
  if (excerpt.size() == text.size()) {
    return false;
  }
  out.insert_or_assign(std::string(key) + "_truncated",
                       Value::Object{{"bytes", static_cast<std::int64_t>(text.size())},
                                     {"sha256", base::ToHex(base::Sha256Of(text))}});
  return true;
}

// Each size's share of `budget`: whole when it fits an equal share of what
// the smaller ones leave, else that share.
std::vector<std::size_t> Shares(const std::vector<std::size_t>& sizes, std::size_t budget) {
  std::vector<std::size_t> order(sizes.size());
  for (std::size_t i = 0; i < order.size(); ++i) {
    order[i] = i;
  }
  std::sort(order.begin(), order.end(),
            [&](std::size_t a, std::size_t b) { return sizes[a] < sizes[b]; });
  std::vector<std::size_t> share(sizes.size());
  std::size_t left = budget;
  std::size_t count = sizes.size();
  for (std::size_t i : order) {
    share[i] = std::min(sizes[i], left / count);
    left -= share[i];
    --count;
  }
  return share;
}

Value Signers(const std::vector<std::string>* signers) {
  Value::Array out;
  if (signers != nullptr) {
    out.assign(signers->begin(), signers->end());
  }
  return out;
}

}  // namespace

base::StatusOr<std::shared_ptr<const Redactor>> Redactor::Create(
    const std::vector<std::string>& patterns) {
  auto redactor = std::shared_ptr<Redactor>(new Redactor());
  for (const std::string& p : patterns) {
    RE2::Options options;
    options.set_log_errors(false);
    auto re = std::make_unique<RE2>(p, options);
    if (!re->ok()) {
      return base::InvalidArgument("invalid redaction pattern '" + p + "': " + re->error());
    }
    redactor->patterns_.push_back(std::move(re));
  }
  return std::shared_ptr<const Redactor>(std::move(redactor));
}

Redactor::~Redactor() = default;

std::string Redactor::Apply(std::string text) const {
  for (const auto& re : patterns_) {
    RE2::GlobalReplace(&text, *re, "[REDACTED]");
  }
  return text;
}

TextRetention TextRetentionOf(std::string_view text) {
  if (text == "full") {
    return TextRetention::kFull;
  }
  if (text == "redacted") {
    return TextRetention::kRedacted;
  }
  return text == "digest" ? TextRetention::kDigestOnly : TextRetention::kByAuditLevel;
}

audit::AuditRecord DecisionRecord(const base::Conversation& conversation, const Outcome& outcome,
                                  const DecisionCore& core, const RecordContext& context,
                                  std::string_view refused) {
  const policy::PolicySet& policy = core.policy();
  const policy::Decision& d = outcome.decision;
  audit::AuditRecord record;
  record.kind = "decision";
  Value::Object& f = record.fields;
  f["request_id"] = context.request_id;
  f["principal"] = context.principal;
  f["endpoint"] = context.endpoint;
  Keep(f, "model", conversation.model, kMaxModelBytes);

  std::string_view retained = "digest";
  if (context.retention == TextRetention::kRedacted && context.redactor != nullptr) {
    retained = "redacted";
  } else if (context.retention == TextRetention::kFull ||
             (context.retention == TextRetention::kByAuditLevel &&
              d.audit != policy::AuditLevel::kStandard)) {
    retained = "full";
  }
  // The digest covers every message, role and text, length-prefixed.
  base::Sha256Stream transcript;
  for (const base::Message& m : conversation.messages) {
    const std::string_view role = base::RoleName(m.role);
    transcript.Update(std::to_string(role.size()) + ":");
    transcript.Update(role);
    transcript.Update(std::to_string(m.text.size()) + ":");
    transcript.Update(m.text);
  }
  f["conversation_digest"] = base::ToHex(transcript.Finish());
  if (retained != "digest") {
    const std::vector<base::Message>& all = conversation.messages;
    const std::size_t listed_max = std::max<std::size_t>(2, context.max_text_bytes / 64);
    const std::size_t head = all.size() > listed_max ? listed_max / 2 : all.size();
    const std::size_t tail = all.size() > listed_max ? listed_max - head : 0;
    std::vector<const base::Message*> listed;
    for (std::size_t i = 0; i < all.size(); ++i) {
      if (i < head || i >= all.size() - tail) {
        listed.push_back(&all[i]);
      }
    }
    std::vector<std::string> redacted;  // the stored texts, when redacting
    std::vector<std::size_t> sizes;
    for (const base::Message* m : listed) {
      if (retained == "redacted") {
        redacted.push_back(context.redactor->Apply(m->text));
      }
      sizes.push_back(retained == "redacted" ? redacted.back().size() : m->text.size());
    }
    const std::vector<std::size_t> shares = Shares(sizes, context.max_text_bytes);
    bool cut = listed.size() < all.size();
    Value::Array messages;
    for (std::size_t i = 0; i < listed.size(); ++i) {
      Value::Object message{{"role", base::RoleName(listed[i]->role)}};
      if (!listed[i]->where.empty()) {
        message.emplace("where", listed[i]->where);
      }
      cut |=
          Keep(message, "text",
               retained == "redacted" ? std::string_view(redacted[i]) : listed[i]->text, shares[i]);
      messages.emplace_back(std::move(message));
    }
    f["messages"] = std::move(messages);
    if (listed.size() < all.size()) {
      f["messages_omitted"] =
          Value::Object{{"after", static_cast<std::int64_t>(head)},
                        {"count", static_cast<std::int64_t>(all.size() - listed.size())}};
    }
    if (cut) {
      f["text_truncated"] = true;
    }
  }
  f["text_retention"] = retained;
  if (!conversation.uninspected.empty()) {
    // What the classifier did not read, by kind and field: the policy's
    // uninspectable rules decided it. The first kMaxUninspected; beyond,
    // how many more, and every kind there was.
    Value::Array uninspected;
    std::vector<std::string_view> kinds;
    for (const base::Uninspected& u : conversation.uninspected) {
      const std::string_view kind = base::ContentKindName(u.kind);
      if (std::find(kinds.begin(), kinds.end(), kind) == kinds.end()) {
        kinds.push_back(kind);
      }
      if (uninspected.size() < kMaxUninspected) {
        uninspected.push_back(Value::Object{{"kind", kind}, {"where", u.where}});
      }
    }
    f["uninspected"] = std::move(uninspected);
    if (conversation.uninspected.size() > kMaxUninspected) {
      f["uninspected_omitted"] =
          static_cast<std::int64_t>(conversation.uninspected.size() - kMaxUninspected);
      f["uninspected_kinds"] = Value::Array(kinds.begin(), kinds.end());
    }
  }

  // Built by moves: an initializer list would copy each nested level again.
  Value::Array categories;
  categories.reserve(outcome.classification.scores.size());
  for (const classify::CategoryScore& s : outcome.classification.scores) {
    Value::Array evidence;
    for (const classify::Evidence& e : s.evidence) {
      Value::Object item{{"kind", classify::EvidenceKindName(e.kind)},
                         {"detail", e.detail},
                         {"score", Score(e.score)},
                         {"message", static_cast<std::int64_t>(e.message)},
                         {"decoded", e.decoded()},
                         {"part", e.part}};
      if (e.decoded()) {
        item.emplace("decoding", classify::DecodingName(e.decoding));
      }
      evidence.emplace_back(std::move(item));
    }
    Value::Object category{{"id", policy.categories()[s.category].id},
                           {"score", Score(s.score)},
                           {"detected", s.detected}};
    if (!s.part.empty()) {
      category.emplace("part", s.part);
    }
    category.emplace("evidence", std::move(evidence));
    categories.emplace_back(std::move(category));
  }
  Value::Object classification{{"version", outcome.classification.version}};
  classification.emplace("categories", std::move(categories));
  if (!outcome.classification.uncertain.empty()) {
    Value::Array uncertain;
    for (const std::string& reason : outcome.classification.uncertain) {
      uncertain.emplace_back(reason);
    }
    classification.emplace("uncertain", std::move(uncertain));
  }
  f["classification"] = std::move(classification);
  if (outcome.judge) {
    const JudgeNote& j = *outcome.judge;
    Value::Array verdicts;
    for (const auto& [category, confidence] : j.verdicts) {
      verdicts.emplace_back(Value::Object{{"id", policy.categories()[category].id},
                                          {"confidence", Score(confidence)}});
    }
    Value::Object judge{{"model", j.model},
                        {"cache_hit", j.cache_hit},
                        {"latency_ms", static_cast<std::int64_t>(j.seconds * 1000)},
                        {"verdicts", std::move(verdicts)}};
    if (!j.failure.empty()) {
      judge.emplace("failure", j.failure);
      judge.emplace("detail", j.detail);
    }
    if (!j.answer_sha256.empty()) {
      judge.emplace("answer_sha256", j.answer_sha256);
    }
    f["judge"] = std::move(judge);
  }

  Value::Array rules;
  for (std::string_view id : d.RuleIds()) {
    rules.emplace_back(id);
  }
  Value::Array shadow;
  for (const policy::ShadowMatch& s : d.shadow) {
    shadow.push_back(Value::Object{{"rule", s.rule->id},
                                   {"enforcement", policy::EnforcementName(s.rule->enforcement)},
                                   {"decision", policy::VerdictName(s.rule->decision)}});
  }
  f["decision"] = policy::VerdictName(d.verdict);
  f["rules"] = std::move(rules);
  f["shadow"] = std::move(shadow);
  f["audit_level"] = policy::AuditLevelName(d.audit);
  f["requires_human"] = d.requires_human;
  f["constraints"] = Strings(d.constraints);
  f["alerts"] = Strings(d.alerts);
  if (context.alerts != nullptr) {
    Value::Array delivery;
    for (const alert::Admission& a : *context.alerts) {
      Value::Object entry{{"rule", a.rule},
                          {"target", a.target},
                          {"status", alert::DispositionName(a.disposition)}};
      if (a.window != 0) {
        entry.emplace("window", a.window_start);
      }
      delivery.emplace_back(std::move(entry));
    }
    f["alert_delivery"] = std::move(delivery);
  }
  f["policy"] = Value::Object{{"name", policy.metadata().name},
                              {"version", policy.metadata().version},
                              {"digest", context.policy_digest},
                              {"signed", context.policy_signed},
                              {"signers", Signers(context.signers)}};
  if (!refused.empty()) {
    record.fields["refused"] = refused;
  }
  return record;
}

audit::AuditRecord RefusalRecord(std::string_view request_id, std::string_view endpoint, int status,
                                 std::string_view reason) {
  return {
      "refusal",
      {{"request_id", request_id}, {"endpoint", endpoint}, {"status", status}, {"reason", reason}}};
}

audit::AuditRecord CompletionRecord(const Completion& c) {
  audit::AuditRecord record{"completion",
                            {{"request_id", c.request_id},
                             {"decision_seq", c.decision_seq},
                             {"upstream", c.upstream},
                             {"status", c.status},
                             {"complete", c.complete},
                             {"latency_micros", c.latency_micros}}};
  Value::Object& f = record.fields;
  if (c.bytes >= 0) {
    f["bytes"] = c.bytes;
  }
  if (!c.response_sha256.empty()) {
    f["response_sha256"] = c.response_sha256;
  }
  if (!c.error.empty()) {
    f["error"] = c.error;
  }
  if (c.input_tokens >= 0 || c.output_tokens >= 0) {
    f["usage"] =
        Value::Object{{"input_tokens", c.input_tokens}, {"output_tokens", c.output_tokens}};
  }
  return record;
}

Value::Object PolicyProvenance(const ActivePolicy& policy) {
  const policy::Metadata& meta = policy.core->policy().metadata();
  return {{"name", meta.name},
          {"version", meta.version},
          {"digest", policy.digest},
          {"signed", policy.verified},
          {"signers", Value::Array(policy.signers.begin(), policy.signers.end())},
          {"signer_keys", Value::Array(policy.signer_keys.begin(), policy.signer_keys.end())}};
}

audit::AuditRecord PolicyReloadedRecord(std::string_view trigger, const ActivePolicy& old_policy,
                                        const ActivePolicy& new_policy) {
  return {"policy.reloaded",
          {{"trigger", trigger},
           {"old", PolicyProvenance(old_policy)},
           {"new", PolicyProvenance(new_policy)}}};
}

audit::AuditRecord PolicyRefusedRecord(std::string_view trigger, std::string_view reason,
                                       std::string_view path, const ActivePolicy& in_force) {
  return {"policy.refused",
          {{"trigger", trigger},
           {"reason", reason},
           {"path", path},
           {"in_force", PolicyProvenance(in_force)}}};
}

audit::AuditRecord LifecycleStartRecord(std::string_view command, std::string_view durability,
                                        const ActivePolicy& policy, std::string_view policy_path,
                                        Value::Object fields) {
  Value::Object provenance = PolicyProvenance(policy);
  provenance["path"] = policy_path;
  fields["command"] = command;
  fields["durability"] = durability;
  fields["policy"] = std::move(provenance);
  return {"lifecycle.start", std::move(fields)};
}

audit::AuditRecord LifecycleStopRecord() { return {"lifecycle.stop", {}}; }

audit::AuditRecord JudgeUnavailableRecord(std::string_view model, std::string_view why) {
  return {"judge.unavailable", {{"model", model}, {"reason", why}}};
}

}  // namespace firebreak::exchange
