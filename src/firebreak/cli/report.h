// Shared by the subcommands: loading a policy into a DecisionCore with its
// diagnostics printed, and rendering an Outcome for people.
#pragma once

#include <iosfwd>
#include <memory>
#include <string>

#include "firebreak/exchange/decision_core.h"

namespace firebreak::cli {

// Loads, validates and compiles a policy. Prints warnings and errors to
// `err`; returns null when the policy cannot be used.
std::unique_ptr<exchange::DecisionCore> LoadDecisionCore(const std::string& policy_path,
                                                         std::ostream& err);

// "bulk_surveillance 0.97, pattern_of_life 0.55": detected categories, or "(none)".
std::string DetectedSummary(const classify::Classification& classification,
                            const policy::PolicySet& policy);

// The verdict's rule ids joined by ", ".
std::string RuleSummary(const policy::Decision& decision);

// A multi-line human-readable explanation of a decision.
void PrintExplanation(const exchange::Outcome& outcome, const exchange::DecisionCore& core,
                      std::ostream& out);

}  // namespace firebreak::cli
