// Loading the policy a server enforces: the policy and its model, each read
// once, digested as loaded, and checked against the trust file's parties.
// `serve` calls it at start and on every reload; `demo` to show who signed.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "firebreak/base/event.h"
#include "firebreak/base/status.h"
#include "firebreak/exchange/decision_core.h"
#include "firebreak/policy/signature.h"

namespace firebreak::instance {

struct PolicyTrust {
  std::filesystem::path trust;  // the trust file; empty: none configured
  // Local development only: a policy whose signatures do not meet the
  // threshold (or with no trust at all) loads, marked unsigned.
  bool allow_unsigned = false;
};

struct LoadedPolicy {
  std::shared_ptr<const exchange::ActivePolicy> active;
  std::string trust_path;             // the trust file checked, if any
  policy::Verification verification;  // per trusted party
  std::string warnings;               // policy warnings, one per line
  std::string model_file;             // empty without one
};

// FailedPrecondition naming what to fix: the lines of a policy that does not
// load, the party whose signature is missing or invalid, the absent trust.
base::StatusOr<LoadedPolicy> LoadActivePolicy(const std::filesystem::path& policy_file,
                                              const PolicyTrust& trust);

// "ai_provider ✓, deploying_org ✗ (missing)" — for logs and records.
std::string SignerSummary(const LoadedPolicy& loaded);

// For dashboards: each of the policy's signatories (metadata) checked
// against the trust file's party of the same name.
base::PolicyEvent PolicyEventOf(const LoadedPolicy& loaded, std::string source);

}  // namespace firebreak::instance
