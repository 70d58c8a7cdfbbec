#include "firebreak/exchange/decision_core.h"

#include <utility>
#include <vector>

namespace firebreak::exchange {

classify::Config ClassifierConfigOf(const policy::PolicySet& policy) {
  const policy::ClassifierSpec& spec = policy.classifier();
  classify::Config config;
  config.use_patterns = spec.patterns;
  config.use_model = spec.model;
  config.pattern_score = spec.pattern_score;
  config.keyword_score = spec.keyword_score;
  config.uncertain_margin = spec.uncertain_margin;
  config.model_file = spec.model_file;
  for (const policy::Category& c : policy.categories()) {
    config.categories.push_back(
        {c.id, c.patterns, c.keywords, c.threshold.value_or(spec.threshold)});
  }
  return config;
}

std::string BlockMessage(const policy::Decision& decision, const policy::PolicySet& policy,
                         const base::Conversation& conversation) {
  const policy::Rule* rule = decision.rules.empty() ? nullptr : decision.rules.front();
  if (rule == nullptr) {
    return "Request blocked by Firebreak policy: " + policy.defaults().description;
  }
  std::string message =
      "Request blocked by Firebreak policy rule '" + rule->id + "': " + rule->description;
  if (rule->id.starts_with(policy::kUninspectableRulePrefix)) {
    const std::string_view kind =
        std::string_view(rule->id).substr(policy::kUninspectableRulePrefix.size());
    std::string where;
    for (const base::Uninspected& u : conversation.uninspected) {
      if (base::ContentKindName(u.kind) == kind) {
        where += (where.empty() ? "" : ", ") + u.where;
      }
    }
    message += " [at " + where + "]";
  }
  return message;
}

DecisionCore::DecisionCore(std::shared_ptr<const policy::PolicySet> policy,
                           std::unique_ptr<classify::Classifier> classifier)
    : policy_(std::move(policy)), classifier_(std::move(classifier)) {}

base::StatusOr<std::unique_ptr<DecisionCore>> DecisionCore::Create(
    std::shared_ptr<const policy::PolicySet> policy) {
  classify::Config config = ClassifierConfigOf(*policy);
  return Create(std::move(policy), std::move(config));
}

base::StatusOr<std::unique_ptr<DecisionCore>> DecisionCore::Create(
    std::shared_ptr<const policy::PolicySet> policy, classify::Config config) {
  base::StatusOr<std::unique_ptr<classify::Classifier>> classifier =
      classify::Classifier::Create(std::move(config));
  if (!classifier.ok()) {
    return classifier.status().WithContext("policy " + policy->source().string());
  }
  return std::unique_ptr<DecisionCore>(
      new DecisionCore(std::move(policy), std::move(classifier).value()));
}

base::StatusOr<Outcome> DecisionCore::Decide(const base::Conversation& conversation,
                                             const RequestContext& context) const {
  base::StatusOr<classify::Classification> classification = classifier_->Classify(conversation);
  if (!classification.ok()) {
    return classification.status();
  }
  std::vector<policy::DetectedCategory> detected;
  detected.reserve(classification->scores.size());
  for (const classify::CategoryScore& s : classification->scores) {
    if (s.detected) {
      detected.push_back({s.category, s.score, s.detected_whole});
    }
  }
  policy::EvaluationInput input;
  input.detected = detected;
  input.uncertain = classification->uncertain;
  input.principal = context.principal;
  input.model = conversation.model;
  input.endpoint = context.endpoint;
  input.uninspected = conversation.uninspected;
  return Outcome{std::move(classification).value(), policy_->Evaluate(input)};
}

}  // namespace firebreak::exchange
