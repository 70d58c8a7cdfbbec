#include <unistd.h>

#include <chrono>
#include <istream>
#include <ostream>
#include <thread>

#include "firebreak/cli/active_policy.h"
#include "firebreak/cli/commands.h"
#include "firebreak/cli/instance.h"
#include "firebreak/cli/report.h"
#include "firebreak/cli/scenario.h"

namespace firebreak::cli {
namespace {

void PrintOutcome(const proxy::Outcome& outcome, const proxy::DecisionCore& core,
                  std::ostream& out) {
  const policy::Decision& d = outcome.decision;
  out << "  categories: " << DetectedSummary(outcome.classification, core.policy()) << '\n'
      << "  rule:       " << RuleSummary(d) << '\n'
      << "  decision:   " << policy::VerdictName(d.verdict) << "  (audit "
      << policy::AuditLevelName(d.audit) << (d.requires_human ? ", human review" : "") << ")\n";
  for (const std::string* c : d.constraints) {
    out << "  constraint: " << *c << '\n';
  }
  if (!d.alerts.empty()) {
    out << "  alerts:    ";
    for (const std::string* a : d.alerts) {
      out << ' ' << *a;
    }
    out << '\n';
  }
  for (const policy::Rule* r : d.rules) {
    if (!r->note.empty()) {
      out << "  note:       " << r->note << '\n';
    }
  }
}

}  // namespace

int RunDemo(const DemoOptions& options, std::istream& in, std::ostream& out, std::ostream& err) {
  if (options.server) {
    // The prototype's server mode: the proxy with the demo policy. Upstreams
    // come from firebreak.yaml; without one, allowed requests get 503.
    ServeOptions serve;
    serve.config = options.config;
    serve.policy = options.policy;
    serve.port = options.port;
    return RunServe(serve, out, err);
  }
  std::unique_ptr<config::ServerConfig> config = LoadConfig(options.config, "demo", err);
  if (config == nullptr) {
    return kExitUsage;
  }
  // The signatures are checked and shown; the demo runs either way.
  base::StatusOr<LoadedPolicy> loaded =
      LoadActivePolicy(options.policy, {.trust = config->trust, .allow_unsigned = true});
  if (!loaded.ok()) {
    err << loaded.status().message() << '\n';
    return kExitPolicyFailure;
  }
  err << loaded->warnings;
  const proxy::DecisionCore* core = loaded->active->core.get();
  base::StatusOr<std::vector<Scenario>> scenarios = LoadScenarios(options.scenarios);
  if (!scenarios.ok()) {
    err << "firebreak demo: " << scenarios.status().message() << '\n';
    return kExitUsage;
  }
  const bool tty = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
  const bool wait_for_enter = tty && !options.fast && !options.auto_advance;
  std::chrono::milliseconds pause{0};
  if (tty && options.fast) {
    pause = std::chrono::milliseconds(600);
  } else if (tty && options.auto_advance) {
    pause = std::chrono::milliseconds(4000);
  }

  const policy::Metadata& m = core->policy().metadata();
  out << "Firebreak demo - policy " << m.name << " v" << m.version << " (effective " << m.effective
      << ")\n";
  for (const auto& [role, party] : m.signatories) {
    std::string state = loaded->trust_path.empty() ? "✗ (no trust file)" : "✗ (not in the trust file)";
    for (const policy::PartyReport& p : loaded->verification.parties) {
      if (p.party == role) {
        state = p.state == policy::PartyState::kValid
                    ? "✓ signed"
                    : "✗ " + std::string(policy::PartyStateName(p.state));
      }
    }
    out << "  signatory " << role << ": " << party << "  " << state << '\n';
  }
  out << "  digest: " << loaded->active->digest.substr(0, 16)
      << (loaded->active->verified ? " (signatures verified)" : " (NOT verified)") << '\n';
  out << "  classifier: " << core->classifier().version() << '\n'
      << "  offline: no upstream is configured, so allowed prompts are not forwarded\n\n";

  int n = 0;
  for (const Scenario& s : *scenarios) {
    ++n;
    out << "[" << n << "/" << scenarios->size() << "] " << s.id << '\n'
        << "  prompt:     " << s.prompt << '\n';
    base::StatusOr<proxy::Outcome> outcome = core->Decide(s.conversation);
    if (!outcome.ok()) {
      out << "  error:      " << outcome.status().message() << " -> BLOCK (fail closed)\n";
    } else {
      PrintOutcome(*outcome, *core, out);
    }
    if (!s.narration.empty()) {
      out << "  why:        " << s.narration << '\n';
    }
    out << std::endl;
    if (wait_for_enter && n < static_cast<int>(scenarios->size())) {
      out << "(press Enter for the next scenario)" << std::flush;
      std::string ignored;
      std::getline(in, ignored);
    } else {
      std::this_thread::sleep_for(pause);
    }
  }

  if (options.interactive) {
    out << "Interactive: type a prompt and press Enter (empty line or end of input quits).\n";
    std::string line;
    while (out << "> " << std::flush, std::getline(in, line) && !line.empty()) {
      base::StatusOr<proxy::Outcome> outcome = core->Decide(base::SinglePrompt(line));
      if (!outcome.ok()) {
        out << "  error: " << outcome.status().message() << " -> BLOCK (fail closed)\n";
        continue;
      }
      PrintOutcome(*outcome, *core, out);
    }
  }
  return kExitOk;
}

}  // namespace firebreak::cli
