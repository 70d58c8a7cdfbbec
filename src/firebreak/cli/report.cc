#include "firebreak/cli/report.h"

#include <cstdio>
#include <ostream>

#include "firebreak/policy/loader.h"

namespace firebreak::cli {
namespace {

std::string Fixed(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.2f", v);
  return buf;
}

std::string MessageName(int message) {
  return message < 0 ? "conversation" : "message " + std::to_string(message);
}

}  // namespace

std::unique_ptr<exchange::DecisionCore> LoadDecisionCore(const std::string& policy_path,
                                                         std::ostream& err) {
  policy::LoadResult loaded = policy::LoadPolicyFile(policy_path);
  for (const policy::Diagnostic& d : loaded.diagnostics) {
    err << d.ToString() << '\n';
  }
  if (!loaded.ok()) {
    err << policy_path << ": " << loaded.ErrorCount() << " error(s); the policy was not loaded\n";
    return nullptr;
  }
  base::StatusOr<std::unique_ptr<exchange::DecisionCore>> core =
      exchange::DecisionCore::Create(loaded.policy);
  if (!core.ok()) {
    err << policy_path << ": error: " << core.status().message() << '\n';
    return nullptr;
  }
  return std::move(core).value();
}

std::string DetectedSummary(const classify::Classification& classification,
                            const policy::PolicySet& policy) {
  std::string out;
  for (const classify::CategoryScore& s : classification.scores) {
    if (s.detected) {
      out += out.empty() ? "" : ", ";
      out += policy.categories()[s.category].id + " " + Fixed(s.score);
    }
  }
  return out.empty() ? "(none)" : out;
}

std::string RuleSummary(const policy::Decision& decision) {
  std::string out;
  for (std::string_view id : decision.RuleIds()) {
    out += out.empty() ? "" : ", ";
    out += id;
  }
  return out;
}

void PrintExplanation(const exchange::Outcome& outcome, const exchange::DecisionCore& core,
                      std::ostream& out) {
  const policy::PolicySet& policy = core.policy();
  const policy::Decision& d = outcome.decision;
  out << "decision: " << policy::VerdictName(d.verdict) << '\n';
  for (const policy::Rule* rule : d.rules) {
    out << "  rule " << rule->id << ": " << rule->description << '\n';
    if (!rule->note.empty()) {
      out << "    note: " << rule->note << '\n';
    }
  }
  if (d.by_default) {
    out << "  rule " << policy::kDefaultRuleId << ": " << policy.defaults().description << '\n';
  }
  for (const std::string& reason : outcome.classification.uncertain) {
    out << "uncertain: " << reason << '\n';
  }
  if (!outcome.classification.closest.empty()) {
    out << "margin: " << Fixed(outcome.classification.margin) << " ("
        << outcome.classification.closest << " is the score closest to its threshold)\n";
  }
  out << "audit: " << policy::AuditLevelName(d.audit)
      << (d.requires_human ? "  (requires human review)" : "") << '\n';
  for (const std::string* c : d.constraints) {
    out << "constraint: " << *c << '\n';
  }
  for (const std::string* a : d.alerts) {
    out << "alert: " << *a << '\n';
  }
  for (const policy::ShadowMatch& s : d.shadow) {
    out << "shadow (" << policy::EnforcementName(s.rule->enforcement) << "): " << s.rule->id
        << " would " << policy::VerdictName(s.rule->decision) << '\n';
  }
  out << "categories:\n";
  if (outcome.classification.scores.empty()) {
    out << "  (none scored)\n";
  }
  for (const classify::CategoryScore& s : outcome.classification.scores) {
    out << "  " << policy.categories()[s.category].id << "  " << Fixed(s.score)
        << (s.detected ? (s.detected_whole ? "  detected" : "  detected in a part or decoded text")
                       : "  below threshold")
        << '\n';
    if (!s.part.empty()) {
      out << "    part: \"" << s.part << "\"\n";
    }
    for (const classify::Evidence& e : s.evidence) {
      out << "      " << classify::EvidenceKindName(e.kind);
      if (e.kind != classify::Evidence::Kind::kModel) {
        out << " \"" << e.detail << '"';
      }
      out << " " << Fixed(e.score) << " in " << (e.part ? "a part of " : "")
          << MessageName(e.message);
      if (e.decoded()) {
        out << " (decoded: " << classify::DecodingName(e.decoding) << ")";
      }
      out << '\n';
    }
  }
  out << "classifier: " << outcome.classification.version << '\n';
}

}  // namespace firebreak::cli
