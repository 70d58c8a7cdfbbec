#include <ostream>

#include "firebreak/cli/commands.h"
#include "firebreak/cli/report.h"
#include "firebreak/cli/scenario.h"

namespace firebreak::cli {
namespace {

// Empty when the scenario's expectations hold; otherwise what differs.
std::string Mismatch(const Scenario& s, const exchange::Outcome& outcome,
                     const policy::PolicySet& policy) {
  std::string why;
  const policy::Decision& d = outcome.decision;
  if (s.expected_decision && *s.expected_decision != d.verdict) {
    why += " want decision " + std::string(policy::VerdictName(*s.expected_decision));
  }
  if (!s.expected_rule.empty()) {
    std::vector<std::string_view> ids = d.RuleIds();
    if (std::find(ids.begin(), ids.end(), s.expected_rule) == ids.end()) {
      why += " want rule " + s.expected_rule;
    }
  }
  if (!s.expected_category.empty() && s.expected_category != kOutOfScope) {
    bool found = false;
    for (const classify::CategoryScore& c : outcome.classification.scores) {
      found = found || (c.detected && policy.categories()[c.category].id == s.expected_category);
    }
    if (!found) {
      why += " want category " + s.expected_category;
    }
  }
  return why;
}

}  // namespace

int RunTest(const TestOptions& options, std::ostream& out, std::ostream& err) {
  std::unique_ptr<exchange::DecisionCore> core = LoadDecisionCore(options.policy, err);
  if (core == nullptr) {
    return kExitPolicyFailure;
  }
  int passed = 0;
  int failed = 0;
  for (const std::string& file : options.scenario_files) {
    base::StatusOr<std::vector<Scenario>> scenarios = LoadScenarios(file);
    if (!scenarios.ok()) {
      err << "firebreak test: " << scenarios.status().message() << '\n';
      return kExitUsage;
    }
    for (const Scenario& s : *scenarios) {
      base::StatusOr<exchange::Outcome> outcome = core->Decide(s.conversation);
      if (!outcome.ok()) {
        out << "FAIL " << s.id << ": " << outcome.status().message() << '\n';
        ++failed;
        continue;
      }
      const std::string why = Mismatch(s, *outcome, core->policy());
      out << (why.empty() ? "PASS " : "FAIL ") << s.id << ": "
          << policy::VerdictName(outcome->decision.verdict) << ' ' << RuleSummary(outcome->decision)
          << " [" << DetectedSummary(outcome->classification, core->policy()) << "]";
      if (!why.empty()) {
        out << " --" << why << " (" << file << ":" << s.line << ")";
      }
      out << '\n';
      if (options.verbose) {
        PrintExplanation(*outcome, *core, out);
      }
      (why.empty() ? passed : failed)++;
    }
  }
  out << passed << " passed, " << failed << " failed\n";
  const int total = passed + failed;
  if (options.min_pass_rate < 1.0 && total > 0) {
    const double rate = static_cast<double>(passed) / total;
    out << "pass rate " << rate << " (required " << options.min_pass_rate << ")\n";
    return rate >= options.min_pass_rate ? kExitOk : kExitPolicyFailure;
  }
  return failed == 0 ? kExitOk : kExitPolicyFailure;
}

}  // namespace firebreak::cli
