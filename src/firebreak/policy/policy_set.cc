#include "firebreak/policy/policy_set.h"

#include <algorithm>

namespace firebreak::policy {
namespace {

bool ValueMatches(std::string_view value, const std::vector<std::string>& allowed) {
  for (const std::string& a : allowed) {
    if (!a.empty() && a.back() == '*') {
      if (value.starts_with(std::string_view(a).substr(0, a.size() - 1))) {
        return true;
      }
    } else if (value == a) {
      return true;
    }
  }
  return false;
}

bool ConditionHolds(const Condition& when, const EvaluationInput& input) {
  if (!when.models.empty() && !ValueMatches(input.model, when.models)) {
    return false;
  }
  if (!when.endpoints.empty() && !ValueMatches(input.endpoint, when.endpoints)) {
    return false;
  }
  for (const auto& [attribute, allowed] : when.principal) {
    if (input.principal == nullptr) {
      return false;
    }
    auto it = input.principal->find(attribute);
    if (it == input.principal->end() || !ValueMatches(it->second, allowed)) {
      return false;
    }
  }
  return true;
}

template <typename T>
void AddUnique(std::vector<T>& out, T value) {
  if (std::find(out.begin(), out.end(), value) == out.end()) {
    out.push_back(value);
  }
}

void AddUniqueStrings(std::vector<const std::string*>& out, const std::vector<std::string>& in) {
  for (const std::string& s : in) {
    bool seen = std::any_of(out.begin(), out.end(), [&](const std::string* o) { return *o == s; });
    if (!seen) {
      out.push_back(&s);
    }
  }
}

}  // namespace

std::string_view JudgeModeName(JudgeSpec::Mode mode) {
  static constexpr std::string_view kNames[] = {"off", "uncertain", "always"};
  return kNames[static_cast<int>(mode)];
}

std::string_view VerdictName(Verdict v) {
  switch (v) {
    case Verdict::kAllow:
      return "ALLOW";
    case Verdict::kAllowConstrained:
      return "ALLOW_CONSTRAINED";
    case Verdict::kBlock:
      return "BLOCK";
  }
  return "BLOCK";
}

std::string_view AuditLevelName(AuditLevel a) {
  switch (a) {
    case AuditLevel::kStandard:
      return "standard";
    case AuditLevel::kEnhanced:
      return "enhanced";
    case AuditLevel::kCritical:
      return "critical";
  }
  return "critical";
}

std::string_view EnforcementName(Enforcement e) {
  switch (e) {
    case Enforcement::kDeny:
      return "deny";
    case Enforcement::kWarn:
      return "warn";
    case Enforcement::kDryrun:
      return "dryrun";
  }
  return "deny";
}

std::optional<Verdict> ParseVerdict(std::string_view s) {
  for (Verdict v : {Verdict::kAllow, Verdict::kAllowConstrained, Verdict::kBlock}) {
    if (s == VerdictName(v)) {
      return v;
    }
  }
  return std::nullopt;
}

std::optional<AuditLevel> ParseAuditLevel(std::string_view s) {
  for (AuditLevel a : {AuditLevel::kStandard, AuditLevel::kEnhanced, AuditLevel::kCritical}) {
    if (s == AuditLevelName(a)) {
      return a;
    }
  }
  return std::nullopt;
}

std::optional<Enforcement> ParseEnforcement(std::string_view s) {
  for (Enforcement e : {Enforcement::kDeny, Enforcement::kWarn, Enforcement::kDryrun}) {
    if (s == EnforcementName(e)) {
      return e;
    }
  }
  return std::nullopt;
}

std::vector<std::string_view> Decision::RuleIds() const {
  std::vector<std::string_view> ids;
  ids.reserve(rules.size() + 1);
  for (const Rule* r : rules) {
    ids.push_back(r->id);
  }
  if (by_default) {
    ids.push_back(kDefaultRuleId);
  }
  return ids;
}

Uninspectable::Uninspectable() {
  for (std::size_t i = 0; i < base::kContentKinds; ++i) {
    Rule& rule = rules[i];
    const std::string_view kind = base::ContentKindName(static_cast<base::ContentKind>(i));
    rule.id = std::string(kUninspectableRulePrefix) + std::string(kind);
    rule.description = "the request carries " + std::string(kind) +
                       " content, which Firebreak cannot inspect, and the policy does not allow "
                       "uninspected " +
                       std::string(kind) + " content (uninspectable." + std::string(kind) + ")";
    rule.decision = Verdict::kBlock;
    rule.audit = AuditLevel::kEnhanced;
  }
}

const AlertRate& Alerting::For(std::string_view rule) const {
  auto it = rules.find(rule);
  return it != rules.end() ? it->second : rate;
}

PolicySet::PolicySet(std::filesystem::path source, Metadata metadata,
                     std::vector<Category> categories, std::vector<Rule> rules, Defaults defaults,
                     ClassifierSpec classifier, Uninspectable uninspectable, Alerting alerting)
    : source_(std::move(source)),
      metadata_(std::move(metadata)),
      categories_(std::move(categories)),
      rules_(std::move(rules)),
      defaults_(std::move(defaults)),
      classifier_(std::move(classifier)),
      uninspectable_(std::move(uninspectable)),
      alerting_(std::move(alerting)),
      rules_by_category_(categories_.size()) {
  for (const Rule& rule : rules_) {
    for (const std::string& c : rule.match_categories) {
      if (std::optional<std::uint16_t> index = CategoryIndex(c)) {
        rules_by_category_[*index].push_back(&rule);
      }
    }
  }
}

std::optional<std::uint16_t> PolicySet::CategoryIndex(std::string_view id) const {
  for (std::size_t i = 0; i < categories_.size(); ++i) {
    if (categories_[i].id == id) {
      return static_cast<std::uint16_t>(i);
    }
  }
  return std::nullopt;
}

const Rule* PolicySet::FindRule(std::string_view id) const {
  for (const Rule& r : rules_) {
    if (r.id == id) {
      return &r;
    }
  }
  return nullptr;
}

Decision PolicySet::Evaluate(const EvaluationInput& input) const {
  Decision d;
  bool unknown_intent = !input.uncertain.empty() ||
                        std::none_of(input.detected.begin(), input.detected.end(),
                                     [](const DetectedCategory& c) { return c.states_intent; });
  for (const DetectedCategory& detected : input.detected) {
    if (detected.category >= rules_by_category_.size()) {
      unknown_intent = true;
      continue;
    }
    bool handled = false;
    for (const Rule* rule : rules_by_category_[detected.category]) {
      if (!rule->when.empty() && !ConditionHolds(rule->when, input)) {
        continue;
      }
      handled = true;
      if (rule->enforcement == Enforcement::kDeny) {
        AddUnique(d.matched, rule);
      } else if (std::none_of(d.shadow.begin(), d.shadow.end(),
                              [&](const ShadowMatch& s) { return s.rule == rule; })) {
        d.shadow.push_back({rule});
      }
    }
    unknown_intent = unknown_intent || !handled;
  }
  for (const base::Uninspected& u : input.uninspected) {
    AddUnique(d.matched, &uninspectable_.For(u.kind));
  }

  // Verdict: the most restrictive of the enforcing rules and, for unknown
  // intent, the defaults. Only shadow rules matched: nothing is enforced.
  d.verdict = Verdict::kAllow;
  d.audit = AuditLevel::kStandard;
  for (const Rule* rule : d.matched) {
    d.verdict = std::max(d.verdict, rule->decision);
    d.audit = std::max(d.audit, rule->audit);
  }
  for (const ShadowMatch& s : d.shadow) {
    d.audit = std::max(d.audit, s.rule->audit);
  }
  if (unknown_intent) {
    d.verdict = std::max(d.verdict, defaults_.decision);
    d.audit = std::max(d.audit, defaults_.audit);
  }

  for (const Rule* rule : d.matched) {
    if (rule->decision == d.verdict) {
      d.rules.push_back(rule);
      d.requires_human = d.requires_human || rule->requires_human;
      AddUniqueStrings(d.constraints, rule->constraints);
      AddUniqueStrings(d.alerts, rule->alerts);
    }
  }
  if (unknown_intent && defaults_.decision == d.verdict) {
    d.by_default = true;
    AddUniqueStrings(d.alerts, defaults_.alerts);
  }
  return d;
}

}  // namespace firebreak::policy
