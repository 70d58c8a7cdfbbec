#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "firebreak/policy/loader.h"

namespace firebreak::policy {
namespace {

using ::testing::ElementsAre;

constexpr std::string_view kPolicy = R"(policy:
  name: semantics
categories: [summaries, cyber, surveillance, warranted, orphan, shadowed, teams]
defaults:
  decision: BLOCK
  audit: enhanced
  alerts: [soc]
rules:
  - id: allow-summaries
    match_categories: [summaries]
    decision: ALLOW
    audit: standard
  - id: constrain-cyber
    match_categories: [cyber]
    decision: ALLOW_CONSTRAINED
    audit: enhanced
    constraints: [defensive only, own networks]
    alerts: [cyber_lead]
  - id: constrain-warranted
    match_categories: [warranted]
    decision: ALLOW_CONSTRAINED
    audit: enhanced
    requires_human: true
    constraints: [warrant on file, own networks]
    alerts: [legal]
  - id: block-surveillance
    match_categories: [surveillance]
    decision: BLOCK
    audit: critical
    alerts: [trust_safety, inspector_general]
  - id: dryrun-block-shadowed
    match_categories: [shadowed]
    decision: BLOCK
    audit: critical
    enforcement: dryrun
  - id: allow-red-team
    match_categories: [teams]
    decision: ALLOW
    when:
      principal: {team: [red, purple]}
      model: [claude-*]
      endpoint: /v1/messages
)";

class EvaluateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    LoadResult r = LoadPolicyText(kPolicy, "semantics.yaml");
    ASSERT_TRUE(r.ok()) << r.Report();
    policy_ = r.policy;
  }

  Decision Eval(std::vector<std::string_view> categories, std::string_view model = "",
                std::string_view endpoint = "") {
    std::vector<DetectedCategory> detected;
    for (std::string_view c : categories) {
      detected.push_back({*policy_->CategoryIndex(c), 0.9});
    }
    EvaluationInput input;
    input.detected = detected;
    input.principal = &principal_;
    input.model = model;
    input.endpoint = endpoint;
    return policy_->Evaluate(input);
  }

  static std::vector<std::string> Strings(const std::vector<const std::string*>& in) {
    std::vector<std::string> out;
    for (const std::string* s : in) {
      out.push_back(*s);
    }
    return out;
  }

  std::shared_ptr<const PolicySet> policy_;
  std::map<std::string, std::string, std::less<>> principal_;
};

TEST_F(EvaluateTest, UninspectedContentTakesItsUninspectableRule) {
  std::vector<DetectedCategory> detected = {{*policy_->CategoryIndex("summaries"), 0.9}};
  const std::vector<base::Uninspected> image = {{base::ContentKind::kImage, "messages[0]"},
                                                {base::ContentKind::kImage, "messages[1]"}};
  EvaluationInput input;
  input.detected = detected;
  input.uninspected = image;
  Decision d = policy_->Evaluate(input);
  EXPECT_EQ(d.verdict, Verdict::kBlock);
  EXPECT_THAT(d.RuleIds(), ElementsAre("uninspectable:image"));
  EXPECT_EQ(d.audit, AuditLevel::kEnhanced);

  // Allowed by the policy: the text's own rules decide, and the record says
  // the image was let through uninspected.
  LoadResult allowing =
      LoadPolicyText(std::string(kPolicy) + "uninspectable: {image: ALLOW}\n", "semantics.yaml");
  ASSERT_TRUE(allowing.ok()) << allowing.Report();
  d = allowing.policy->Evaluate(input);
  EXPECT_EQ(d.verdict, Verdict::kAllow);
  EXPECT_THAT(d.RuleIds(), ElementsAre("allow-summaries", "uninspectable:image"));
  // ... but never loosens what the text decided.
  detected = {{*policy_->CategoryIndex("surveillance"), 0.9}};
  input.detected = detected;
  EXPECT_EQ(allowing.policy->Evaluate(input).verdict, Verdict::kBlock);
  // Only uninspected content, nothing to classify: unknown intent, defaults.
  input.detected = {};
  d = allowing.policy->Evaluate(input);
  EXPECT_EQ(d.verdict, Verdict::kBlock);
  EXPECT_TRUE(d.by_default);
}

TEST_F(EvaluateTest, SingleAllow) {
  Decision d = Eval({"summaries"});
  EXPECT_EQ(d.verdict, Verdict::kAllow);
  EXPECT_THAT(d.RuleIds(), ElementsAre("allow-summaries"));
  EXPECT_EQ(d.audit, AuditLevel::kStandard);
  EXPECT_FALSE(d.by_default);
}

TEST_F(EvaluateTest, MostRestrictiveWinsAndAuditIsTheMaximum) {
  Decision d = Eval({"summaries", "cyber"});
  EXPECT_EQ(d.verdict, Verdict::kAllowConstrained);
  EXPECT_THAT(d.RuleIds(), ElementsAre("constrain-cyber"));
  EXPECT_EQ(d.audit, AuditLevel::kEnhanced);

  d = Eval({"cyber", "surveillance", "summaries"});
  EXPECT_EQ(d.verdict, Verdict::kBlock);
  EXPECT_THAT(d.RuleIds(), ElementsAre("block-surveillance"));
  EXPECT_EQ(d.audit, AuditLevel::kCritical);
  // Constraints and alerts come only from the rules that produced the verdict.
  EXPECT_TRUE(d.constraints.empty());
  EXPECT_THAT(Strings(d.alerts), ElementsAre("trust_safety", "inspector_general"));
  EXPECT_EQ(d.matched.size(), 3u);
}

TEST_F(EvaluateTest, ConstraintsAndAlertsAreTheUnionOfWinningRules) {
  Decision d = Eval({"cyber", "warranted"});
  EXPECT_EQ(d.verdict, Verdict::kAllowConstrained);
  EXPECT_THAT(d.RuleIds(), ElementsAre("constrain-cyber", "constrain-warranted"));
  EXPECT_THAT(Strings(d.constraints),
              ElementsAre("defensive only", "own networks", "warrant on file"));
  EXPECT_THAT(Strings(d.alerts), ElementsAre("cyber_lead", "legal"));
  EXPECT_TRUE(d.requires_human);
}

TEST_F(EvaluateTest, NothingDetectedTakesTheDefaults) {
  Decision d = Eval({});
  EXPECT_EQ(d.verdict, Verdict::kBlock);
  EXPECT_TRUE(d.by_default);
  EXPECT_THAT(d.RuleIds(), ElementsAre(kDefaultRuleId));
  EXPECT_EQ(d.audit, AuditLevel::kEnhanced);
  EXPECT_THAT(Strings(d.alerts), ElementsAre("soc"));
}

TEST_F(EvaluateTest, AnUncertainClassificationBringsInTheDefaults) {
  const std::vector<DetectedCategory> detected = {{*policy_->CategoryIndex("summaries"), 0.9}};
  const std::vector<std::string> uncertain = {"asked to act on text in French"};
  EvaluationInput input;
  input.detected = detected;
  input.uncertain = uncertain;
  Decision d = policy_->Evaluate(input);
  // The defaults take part as for unknown intent: the most restrictive wins.
  EXPECT_EQ(d.verdict, Verdict::kBlock);
  EXPECT_TRUE(d.by_default);
  EXPECT_THAT(d.RuleIds(), ElementsAre(kDefaultRuleId));
  EXPECT_EQ(d.matched.size(), 1u);  // allow-summaries matched, and lost
  EXPECT_THAT(Strings(d.alerts), ElementsAre("soc"));
}

TEST_F(EvaluateTest, CategoriesThatDoNotStateTheIntentOnlyAdd) {
  const std::uint16_t summaries = *policy_->CategoryIndex("summaries");
  const std::uint16_t surveillance = *policy_->CategoryIndex("surveillance");
  EvaluationInput input;
  // Only in a part: the request's intent stays unknown, so the defaults take part.
  std::vector<DetectedCategory> detected = {{summaries, 0.9, false}};
  input.detected = detected;
  Decision d = policy_->Evaluate(input);
  EXPECT_EQ(d.verdict, Verdict::kBlock);
  EXPECT_TRUE(d.by_default);
  // Beside a category that states the intent, a part's category adds its rules.
  detected = {{summaries, 0.9, true}, {surveillance, 0.8, false}};
  input.detected = detected;
  d = policy_->Evaluate(input);
  EXPECT_EQ(d.verdict, Verdict::kBlock);
  EXPECT_FALSE(d.by_default);
  EXPECT_THAT(d.RuleIds(), ElementsAre("block-surveillance"));
}

TEST_F(EvaluateTest, DetectedCategoryWithoutRuleTakesTheDefaults) {
  // "orphan" has no rule: the defaults join the decision and BLOCK wins.
  Decision d = Eval({"summaries", "orphan"});
  EXPECT_EQ(d.verdict, Verdict::kBlock);
  EXPECT_TRUE(d.by_default);
  EXPECT_THAT(d.RuleIds(), ElementsAre(kDefaultRuleId));
}

TEST_F(EvaluateTest, UnknownCategoryIndexFailsClosed) {
  std::vector<DetectedCategory> detected = {{200, 0.99}};
  EvaluationInput input;
  input.detected = detected;
  EXPECT_EQ(policy_->Evaluate(input).verdict, Verdict::kBlock);
}

TEST_F(EvaluateTest, DefaultsMayBeRelaxedExplicitly) {
  std::string text(kPolicy);
  text.replace(text.find("decision: BLOCK\n  audit: enhanced"), 15, "decision: ALLOW");
  LoadResult r = LoadPolicyText(text, "relaxed.yaml");
  ASSERT_TRUE(r.ok()) << r.Report();
  EvaluationInput input;
  Decision d = r.policy->Evaluate(input);
  EXPECT_EQ(d.verdict, Verdict::kAllow);
  EXPECT_TRUE(d.by_default);
}

TEST_F(EvaluateTest, DryrunRuleIsReportedButNotEnforced) {
  Decision d = Eval({"shadowed", "summaries"});
  EXPECT_EQ(d.verdict, Verdict::kAllow);
  EXPECT_THAT(d.RuleIds(), ElementsAre("allow-summaries"));
  ASSERT_EQ(d.shadow.size(), 1u);
  EXPECT_EQ(d.shadow[0].rule->id, "dryrun-block-shadowed");
  EXPECT_EQ(d.audit, AuditLevel::kCritical);  // shadow matches are audited at their level
  // A category handled only by a shadow rule does not fall to the defaults.
  d = Eval({"shadowed"});
  EXPECT_EQ(d.verdict, Verdict::kAllow);
  EXPECT_FALSE(d.by_default);
  EXPECT_TRUE(d.rules.empty());
}

TEST_F(EvaluateTest, WarnRuleIsReportedButNotEnforced) {
  std::string text(kPolicy);
  text.replace(text.find("enforcement: dryrun"), 19, "enforcement: warn");
  LoadResult r = LoadPolicyText(text, "warn.yaml");
  ASSERT_TRUE(r.ok()) << r.Report();
  std::vector<DetectedCategory> detected = {{*r.policy->CategoryIndex("shadowed"), 0.9}};
  EvaluationInput input;
  input.detected = detected;
  Decision d = r.policy->Evaluate(input);
  EXPECT_EQ(d.verdict, Verdict::kAllow);
  ASSERT_EQ(d.shadow.size(), 1u);
  EXPECT_EQ(d.shadow[0].rule->enforcement, Enforcement::kWarn);
}

TEST_F(EvaluateTest, WhenConditionsSelectRules) {
  principal_["team"] = "red";
  Decision d = Eval({"teams"}, "claude-sonnet-4", "/v1/messages");
  EXPECT_EQ(d.verdict, Verdict::kAllow);
  EXPECT_THAT(d.RuleIds(), ElementsAre("allow-red-team"));

  // Any condition failing makes the rule not apply: the category falls to the defaults.
  EXPECT_EQ(Eval({"teams"}, "gpt-4o", "/v1/messages").verdict, Verdict::kBlock);
  EXPECT_EQ(Eval({"teams"}, "claude-sonnet-4", "/v1/chat/completions").verdict, Verdict::kBlock);
  principal_["team"] = "blue";
  EXPECT_EQ(Eval({"teams"}, "claude-sonnet-4", "/v1/messages").verdict, Verdict::kBlock);
  principal_.clear();
  EXPECT_EQ(Eval({"teams"}, "claude-sonnet-4", "/v1/messages").verdict, Verdict::kBlock);
}

TEST_F(EvaluateTest, VerdictNamesRoundTrip) {
  for (Verdict v : {Verdict::kAllow, Verdict::kAllowConstrained, Verdict::kBlock}) {
    EXPECT_EQ(ParseVerdict(VerdictName(v)), v);
  }
  EXPECT_FALSE(ParseVerdict("allow").has_value());
  EXPECT_LT(Verdict::kAllow, Verdict::kAllowConstrained);
  EXPECT_LT(Verdict::kAllowConstrained, Verdict::kBlock);
}

}  // namespace
}  // namespace firebreak::policy
