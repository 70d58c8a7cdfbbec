#include "firebreak/exchange/decision_core.h"

#include <algorithm>
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

namespace {

policy::Decision Evaluate(const policy::PolicySet& policy,
                          const classify::Classification& classification,
                          const base::Conversation& conversation, const RequestContext& context) {
  std::vector<policy::DetectedCategory> detected;
  detected.reserve(classification.scores.size());
  for (const classify::CategoryScore& s : classification.scores) {
    if (s.detected) {
      detected.push_back({s.category, s.score, s.detected_whole});
    }
  }
  policy::EvaluationInput input;
  input.detected = detected;
  input.uncertain = classification.uncertain;
  input.principal = context.principal;
  input.model = conversation.model;
  input.endpoint = context.endpoint;
  input.uninspected = conversation.uninspected;
  return policy.Evaluate(input);
}

}  // namespace

base::StatusOr<Outcome> DecisionCore::Decide(const base::Conversation& conversation,
                                             const RequestContext& context) const {
  base::StatusOr<classify::Classification> classification = classifier_->Classify(conversation);
  if (!classification.ok()) {
    return classification.status();
  }
  policy::Decision decision = Evaluate(*policy_, *classification, conversation, context);
  return Outcome{std::move(classification).value(), std::move(decision), std::nullopt};
}

void DecisionCore::Reconsider(Outcome& outcome, const base::Conversation& conversation,
                              const RequestContext& context) const {
  const JudgeNote& judge = *outcome.judge;
  classify::Classification& c = outcome.classification;
  if (!judge.failure.empty()) {
    c.uncertain.push_back("the judge " + judge.model + " gave no verdict (" + judge.failure + ")");
  } else {
    c.uncertain.clear();
    for (const std::pair<std::uint16_t, double>& verdict : judge.verdicts) {
      const std::uint16_t category = verdict.first;  // captured below: not a structured binding
      const double confidence = verdict.second;
      if (category >= classifier_->config().categories.size() ||
          confidence < classifier_->config().categories[category].threshold) {
        continue;
      }
      auto it = std::find_if(c.scores.begin(), c.scores.end(),
                             [&](const classify::CategoryScore& s) { return s.category == category; });
      if (it == c.scores.end()) {
        c.scores.push_back({.category = category});
        it = c.scores.end() - 1;
      }
      it->score = std::max(it->score, confidence);
      it->detected = true;
      it->detected_whole = true;
    }
    std::stable_sort(c.scores.begin(), c.scores.end(),
                     [](const classify::CategoryScore& a, const classify::CategoryScore& b) {
                       return a.score > b.score;
                     });
  }
  outcome.decision = Evaluate(*policy_, c, conversation, context);
}

}  // namespace firebreak::exchange
