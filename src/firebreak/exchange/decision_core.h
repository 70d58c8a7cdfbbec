// The decision step of an exchange: classify the whole conversation, then
// evaluate the policy. One DecisionCore is built per policy load (a compiled
// policy plus its classifier) and used read-only from any thread.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "firebreak/base/conversation.h"
#include "firebreak/base/status.h"
#include "firebreak/classify/classifier.h"
#include "firebreak/policy/policy_set.h"

namespace firebreak::exchange {

// What an LLM judge said of an exchange, when one was asked (issue 20).
struct JudgeNote {
  std::string model;
  std::string failure;  // empty: it answered; else its kind (judge::FailureName)
  std::string detail;   // what failed
  std::vector<std::pair<std::uint16_t, double>> verdicts;  // category index, confidence
  bool cache_hit = false;
  double seconds = 0;
  std::string answer_sha256;
};

struct Outcome {
  classify::Classification classification;
  policy::Decision decision;
  std::optional<JudgeNote> judge;
};

// Who is asking, for policy `when` conditions.
struct RequestContext {
  const std::map<std::string, std::string, std::less<>>* principal = nullptr;
  std::string_view endpoint;
};

class DecisionCore {
 public:
  // Builds the classifier the policy describes (patterns, keywords, model).
  static base::StatusOr<std::unique_ptr<DecisionCore>> Create(
      std::shared_ptr<const policy::PolicySet> policy);
  // With another classifier configuration than the policy's (e.g. other
  // thresholds, for `firebreak eval`'s sweep).
  static base::StatusOr<std::unique_ptr<DecisionCore>> Create(
      std::shared_ptr<const policy::PolicySet> policy, classify::Config config);

  // Fails (and the caller must fail closed) only when the conversation cannot
  // be classified, e.g. text that is not UTF-8. Unknown intent is a Decision.
  base::StatusOr<Outcome> Decide(const base::Conversation& conversation,
                                 const RequestContext& context = {}) const;

  // Decides again with what a judge said (outcome.judge, set): each
  // category it names at or above the category's threshold joins the local
  // detections as stating the intent, and the classification is no longer
  // uncertain; a category detected locally is never removed. A judge that
  // failed leaves the classification uncertain, saying so: the defaults
  // take part, and decide unless the policy says otherwise.
  void Reconsider(Outcome& outcome, const base::Conversation& conversation,
                  const RequestContext& context = {}) const;

  const policy::PolicySet& policy() const { return *policy_; }
  const std::shared_ptr<const policy::PolicySet>& shared_policy() const { return policy_; }
  const classify::Classifier& classifier() const { return *classifier_; }

 private:
  DecisionCore(std::shared_ptr<const policy::PolicySet> policy,
               std::unique_ptr<classify::Classifier> classifier);

  std::shared_ptr<const policy::PolicySet> policy_;
  std::unique_ptr<classify::Classifier> classifier_;
};

// The policy in force: its decision core and its provenance. Immutable; a
// reload swaps in a new one, and each exchange holds the one it started with.
struct ActivePolicy {
  std::shared_ptr<const DecisionCore> core;
  std::string digest;                    // the bundle digest (policy and model)
  bool verified = false;                 // signatures met the trust threshold
  std::vector<std::string> signers;      // parties whose signatures verified
  std::vector<std::string> signer_keys;  // their key ids (policy::KeyId), in the same order
};

// What a client is told of a BLOCK: the first rule that made it (or the
// defaults) and, for content that could not be inspected, where it is.
std::string BlockMessage(const policy::Decision& decision, const policy::PolicySet& policy,
                         const base::Conversation& conversation);

// The classifier configuration a policy describes.
classify::Config ClassifierConfigOf(const policy::PolicySet& policy);

}  // namespace firebreak::exchange
