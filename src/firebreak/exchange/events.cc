#include "firebreak/exchange/events.h"

#include <cstdio>

#include "firebreak/base/clock.h"

namespace firebreak::exchange {

static_assert(static_cast<int>(base::EventVerdict::kAllow) ==
                  static_cast<int>(policy::Verdict::kAllow) &&
              static_cast<int>(base::EventVerdict::kAllowConstrained) ==
                  static_cast<int>(policy::Verdict::kAllowConstrained) &&
              static_cast<int>(base::EventVerdict::kBlock) ==
                  static_cast<int>(policy::Verdict::kBlock));
namespace {

constexpr std::size_t kPromptShown = 600;  // bytes of the prompt an event carries

std::string Shortened(std::string text) {
  if (text.size() <= kPromptShown) {
    return text;
  }
  std::size_t cut = kPromptShown;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) >> 6) == 0x2) {
    --cut;  // not inside a UTF-8 sequence
  }
  text.resize(cut);
  return text + "…";
}

std::string TextOf(const audit::Value::Object& payload, std::string_view key) {
  auto it = payload.find(key);
  const std::string* text = it == payload.end() ? nullptr : it->second.AsString();
  return text != nullptr ? *text : std::string();
}

}  // namespace

base::DecisionEvent DecisionEventOf(const base::Conversation& conversation, const Outcome& outcome,
                                    const DecisionCore& core, std::string_view request_id,
                                    std::string_view principal, std::string_view endpoint,
                                    std::string outcome_text) {
  const policy::Decision& d = outcome.decision;
  base::DecisionEvent e;
  e.time_micros = base::UnixMicros();
  e.request_id = request_id;
  e.principal = principal;
  e.endpoint = endpoint;
  for (auto m = conversation.messages.rbegin(); m != conversation.messages.rend(); ++m) {
    if (m->role == base::Role::kUser) {
      e.prompt = Shortened(m->text);
      break;
    }
  }
  for (const classify::CategoryScore& s : outcome.classification.scores) {
    if (s.detected) {
      e.categories.push_back({core.policy().categories()[s.category].id, s.score});
    }
  }
  e.intent = e.categories.empty() ? "unknown" : e.categories.front().id;
  // The two enums share their order (a static_assert keeps them so).
  e.decision = static_cast<base::EventVerdict>(d.verdict);
  for (std::string_view id : d.RuleIds()) {
    e.rules.emplace_back(id);
  }
  e.audit_level = policy::AuditLevelName(d.audit);
  for (const std::string* c : d.constraints) {
    e.constraints.push_back(*c);
  }
  if (!d.rules.empty()) {
    e.note = d.rules.front()->note.empty() ? d.rules.front()->description : d.rules.front()->note;
  } else {
    e.note = core.policy().defaults().description;
  }
  e.outcome = std::move(outcome_text);
  if (outcome.judge) {
    const JudgeNote& j = *outcome.judge;
    e.judge = j.model + ": ";
    if (!j.failure.empty()) {
      e.judge += "no verdict (" + j.failure + "), the defaults decide";
    } else if (j.verdicts.empty()) {
      e.judge += "no category applies";
    }
    for (std::size_t i = 0; i < j.verdicts.size() && j.failure.empty(); ++i) {
      char score[16];
      std::snprintf(score, sizeof(score), " %.2f", j.verdicts[i].second);
      e.judge += (i == 0 ? "" : ", ") + core.policy().categories()[j.verdicts[i].first].id + score;
    }
    e.judge += j.cache_hit ? " (cached)" : "";
  }
  return e;
}

std::vector<base::AlertEvent> QueuedAlertEvents(const std::vector<audit::OutboxAlert>& alerts,
                                                std::uint64_t seq) {
  std::vector<base::AlertEvent> out;
  const std::int64_t now = base::UnixMicros();
  for (const audit::OutboxAlert& a : alerts) {
    out.push_back({now, seq, TextOf(a.payload, "severity"), TextOf(a.payload, "rule"), a.target,
                   base::AlertDelivery::kQueued, TextOf(a.payload, "summary")});
  }
  return out;
}

}  // namespace firebreak::exchange
