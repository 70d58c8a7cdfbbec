#include "firebreak/policy/loader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace firebreak::policy {
namespace {

using ::testing::HasSubstr;

const std::filesystem::path kSource = FIREBREAK_SOURCE_DIR;

// A valid policy in the v1 format; tests replace parts of it.
constexpr std::string_view kMinimal = R"(policy:
  name: test
categories:
  - summarization
  - id: bulk_surveillance
    description: mass collection
    patterns: ['\bevery citizen\b']
    keywords: [dragnet]
rules:
  - id: allow-summaries
    match_categories: [summarization]
    decision: ALLOW
  - id: block-bulk
    match_categories: [bulk_surveillance]
    decision: BLOCK
    audit: critical
)";

LoadResult Load(std::string_view text) { return LoadPolicyText(text, "test.yaml"); }

// The first error of `result` (which must have failed) whose message contains `text`.
Diagnostic ErrorWith(const LoadResult& result, std::string_view text) {
  EXPECT_FALSE(result.ok());
  for (const Diagnostic& d : result.diagnostics) {
    if (d.severity == Diagnostic::Severity::kError && d.message.find(text) != std::string::npos) {
      return d;
    }
  }
  ADD_FAILURE() << "no error containing '" << text << "' in:\n" << result.Report();
  return {};
}

// The single error of `result`, which must contain `text`.
Diagnostic OnlyError(const LoadResult& result, std::string_view text) {
  EXPECT_EQ(result.ErrorCount(), 1u) << result.Report();
  return ErrorWith(result, text);
}

std::string Replace(std::string_view text, std::string_view from, std::string_view to) {
  std::string out(text);
  const std::size_t at = out.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  out.replace(at, from.size(), to);
  return out;
}

TEST(LoaderTest, LoadsThePrototypePolicyUnchanged) {
  LoadResult result = LoadPolicyFile(kSource / "../shared/reference/defense-standard.yaml");
  ASSERT_TRUE(result.ok()) << result.Report();
  EXPECT_TRUE(result.diagnostics.empty()) << result.Report();
  const PolicySet& p = *result.policy;
  EXPECT_EQ(p.metadata().name, "defense-standard");
  EXPECT_EQ(p.metadata().version, "2.0");
  EXPECT_EQ(p.metadata().effective, "2026-02-28");
  ASSERT_EQ(p.metadata().signatories.size(), 2u);
  EXPECT_EQ(p.metadata().signatories[0].second, "Anthropic");
  EXPECT_EQ(p.categories().size(), 9u);
  ASSERT_EQ(p.rules().size(), 7u);
  const Rule* warranted = p.FindRule("allow-warranted-analysis");
  ASSERT_NE(warranted, nullptr);
  EXPECT_EQ(warranted->decision, Verdict::kAllowConstrained);
  EXPECT_EQ(warranted->audit, AuditLevel::kEnhanced);
  EXPECT_TRUE(warranted->requires_human);
  EXPECT_EQ(warranted->constraints.size(), 3u);
  EXPECT_EQ(warranted->alerts, std::vector<std::string>{"legal_counsel"});
  EXPECT_EQ(warranted->color, "yellow");
  EXPECT_THAT(warranted->note, HasSubstr("Court-authorized"));
  // No defaults section: unknown intent is blocked.
  EXPECT_EQ(p.defaults().decision, Verdict::kBlock);
}

TEST(LoaderTest, LoadsTheShippedPolicyWithItsExtensions) {
  LoadResult result = LoadPolicyFile(kSource / "policies/defense-standard.yaml");
  ASSERT_TRUE(result.ok()) << result.Report();
  const PolicySet& p = *result.policy;
  EXPECT_EQ(p.rules().size(), 7u);
  EXPECT_TRUE(std::filesystem::exists(p.classifier().model_file));
  EXPECT_EQ(p.alerting().rate.window_seconds, 300);  // no alerting section: the defaults
  EXPECT_EQ(p.alerting().rate.max_per_window, 1);
  for (const Category& c : p.categories()) {
    EXPECT_FALSE(c.description.empty()) << c.id;
    EXPECT_GE(c.examples.size(), 40u) << c.id;
  }
}

TEST(LoaderTest, LoadsV1Extensions) {
  std::string text = std::string(kMinimal) + R"(    enforcement: dryrun
    when:
      principal: {team: [red, blue]}
      model: gpt-4*
      endpoint: /v1/chat/completions
defaults:
  decision: BLOCK
  audit: enhanced
  alerts: [soc]
classifier:
  stages: [patterns]
  threshold: 0.6
  uncertain_margin: 0.1
)";
  LoadResult result = Load(text);
  ASSERT_TRUE(result.ok()) << result.Report();
  const Rule* rule = result.policy->FindRule("block-bulk");
  ASSERT_NE(rule, nullptr);
  EXPECT_EQ(rule->enforcement, Enforcement::kDryrun);
  ASSERT_EQ(rule->when.principal.size(), 1u);
  EXPECT_EQ(rule->when.principal[0].second, (std::vector<std::string>{"red", "blue"}));
  EXPECT_EQ(rule->when.models, std::vector<std::string>{"gpt-4*"});
  EXPECT_EQ(result.policy->defaults().audit, AuditLevel::kEnhanced);
  EXPECT_EQ(result.policy->defaults().alerts, std::vector<std::string>{"soc"});
  EXPECT_FALSE(result.policy->classifier().model);
  EXPECT_DOUBLE_EQ(result.policy->classifier().threshold, 0.6);
  EXPECT_DOUBLE_EQ(result.policy->classifier().uncertain_margin, 0.1);
  const Diagnostic d = OnlyError(Load(Replace(text, "uncertain_margin: 0.1", "uncertain_margin: 0.6")),
                                 "classifier.uncertain_margin must be at most 0.5");
  EXPECT_EQ(d.line, 29);
  const Category& bulk = result.policy->categories()[1];
  EXPECT_EQ(bulk.keywords, std::vector<std::string>{"dragnet"});
  EXPECT_EQ(bulk.patterns.size(), 1u);
}

// classifier.judge: whether a judge may decide, and the models the
// signatories accept; a category's Llama Guard hazard codes.
TEST(LoaderTest, LoadsTheJudgeAndHazardCodes) {
  const std::string text = Replace(std::string(kMinimal), "    keywords: [dragnet]\n",
                                   "    keywords: [dragnet]\n    hazards: [S14]\n") +
                           R"(classifier:
  judge: {mode: uncertain, models: [gpt-4o-mini, llama-guard-3-8b]}
)";
  LoadResult result = Load(text);
  ASSERT_TRUE(result.ok()) << result.Report();
  const JudgeSpec& judge = result.policy->classifier().judge;
  EXPECT_EQ(judge.mode, JudgeSpec::Mode::kUncertain);
  EXPECT_EQ(judge.models, (std::vector<std::string>{"gpt-4o-mini", "llama-guard-3-8b"}));
  EXPECT_EQ(result.policy->categories()[1].hazards, std::vector<std::string>{"S14"});
  EXPECT_EQ(Load(kMinimal).policy->classifier().judge.mode, JudgeSpec::Mode::kOff);
  ErrorWith(Load(Replace(text, "models: [gpt-4o-mini, llama-guard-3-8b]", "models: []")),
            "classifier.judge names no models");
  ErrorWith(Load(Replace(text, "mode: uncertain", "mode: sometimes")),
            "classifier.judge.mode must be off, uncertain or always");
  ErrorWith(Load(Replace(text, "judge: {", "judge: {url: x, ")), "unknown key 'url'");
}

TEST(LoaderTest, UnknownKeyIsAnErrorWithLocationAndSuggestion) {
  LoadResult r = Load(Replace(kMinimal, "    decision: BLOCK", "    decison: BLOCK"));
  Diagnostic d = ErrorWith(r, "unknown key 'decison'");
  EXPECT_EQ(d.line, 15);
  EXPECT_EQ(d.column, 5);
  EXPECT_THAT(d.message, HasSubstr("did you mean 'decision'"));
}

TEST(LoaderTest, UnknownTopLevelKeyListsTheValidOnes) {
  LoadResult r = Load(std::string(kMinimal) + "extras: 1\n");
  Diagnostic d = OnlyError(r, "unknown key 'extras'");
  EXPECT_EQ(d.line, 17);
  EXPECT_EQ(d.column, 1);
  EXPECT_THAT(d.message, HasSubstr("expected one of: policy, categories, rules"));
}

TEST(LoaderTest, UninspectableContentIsBlockedUnlessThePolicyAllowsIt) {
  LoadResult none = Load(kMinimal);
  ASSERT_TRUE(none.ok()) << none.Report();
  for (const Rule& rule : none.policy->uninspectable().rules) {
    EXPECT_EQ(rule.decision, Verdict::kBlock) << rule.id;
    EXPECT_THAT(rule.id, ::testing::StartsWith("uninspectable:"));
  }
  LoadResult r = Load(std::string(kMinimal) + R"(uninspectable:
  image: ALLOW
  audio: {decision: BLOCK, audit: critical, alerts: [soc]}
)");
  ASSERT_TRUE(r.ok()) << r.Report();
  const Uninspectable& u = r.policy->uninspectable();
  EXPECT_EQ(u.For(base::ContentKind::kImage).decision, Verdict::kAllow);
  EXPECT_EQ(u.For(base::ContentKind::kImage).id, "uninspectable:image");
  EXPECT_EQ(u.For(base::ContentKind::kAudio).audit, AuditLevel::kCritical);
  EXPECT_THAT(u.For(base::ContentKind::kAudio).alerts, ::testing::ElementsAre("soc"));
  EXPECT_EQ(u.For(base::ContentKind::kDocument).decision, Verdict::kBlock);
}

TEST(LoaderTest, UninspectableErrorsSayWhatToFix) {
  Diagnostic kind = OnlyError(Load(std::string(kMinimal) + "uninspectable:\n  pictures: ALLOW\n"),
                              "unknown content kind 'pictures'");
  EXPECT_EQ(kind.line, 18);
  EXPECT_THAT(kind.message, HasSubstr("image, audio, document, server_tool, unknown_part, "
                                      "unknown_field"));
  OnlyError(Load(std::string(kMinimal) + "uninspectable:\n  image: MAYBE\n"),
            "invalid decision 'MAYBE'");
  OnlyError(Load(std::string(kMinimal) + "uninspectable:\n  image: ALLOW_CONSTRAINED\n"),
            "may be ALLOW or BLOCK");
  OnlyError(Load(std::string(kMinimal) + "uninspectable:\n  image: {decision: ALLOW, why: x}\n"),
            "unknown key 'why' in uninspectable.image");
}

TEST(LoaderTest, BadDecisionValue) {
  Diagnostic d = OnlyError(Load(Replace(kMinimal, "decision: ALLOW", "decision: PERMIT")),
                           "invalid decision 'PERMIT'");
  EXPECT_EQ(d.line, 12);
  EXPECT_EQ(d.column, 15);
  EXPECT_THAT(d.message, HasSubstr("ALLOW, ALLOW_CONSTRAINED or BLOCK"));
}

TEST(LoaderTest, BadAuditValue) {
  Diagnostic d = OnlyError(Load(Replace(kMinimal, "audit: critical", "audit: verbose")),
                           "invalid audit level 'verbose'");
  EXPECT_EQ(d.line, 16);
  EXPECT_EQ(d.column, 12);
}

TEST(LoaderTest, RuleNamingAnUndefinedCategory) {
  Diagnostic d = OnlyError(
      Load(Replace(kMinimal, "match_categories: [summarization]", "match_categories: [summary]")),
      "undefined category 'summary'");
  EXPECT_EQ(d.line, 11);
  EXPECT_EQ(d.column, 24);
  EXPECT_THAT(d.message, HasSubstr("summarization, bulk_surveillance"));
}

TEST(LoaderTest, DuplicateRuleId) {
  Diagnostic d = OnlyError(Load(Replace(kMinimal, "id: block-bulk", "id: allow-summaries")),
                           "duplicate rule id 'allow-summaries'");
  EXPECT_EQ(d.line, 13);
  EXPECT_EQ(d.column, 5);
  EXPECT_THAT(d.message, HasSubstr("first defined at line 10"));
}

TEST(LoaderTest, DuplicateCategory) {
  LoadResult r = Load(Replace(kMinimal, "  - id: bulk_surveillance", "  - id: summarization"));
  Diagnostic d = ErrorWith(r, "duplicate category 'summarization'");
  EXPECT_EQ(d.line, 5);
  EXPECT_EQ(d.column, 5);
  EXPECT_THAT(d.message, HasSubstr("first defined at line 4"));
}

TEST(LoaderTest, CategoryWithoutRuleIsAWarning) {
  LoadResult r =
      Load(Replace(kMinimal, "  - summarization\n", "  - summarization\n  - translation\n"));
  ASSERT_TRUE(r.ok()) << r.Report();
  ASSERT_EQ(r.diagnostics.size(), 1u);
  EXPECT_EQ(r.diagnostics[0].severity, Diagnostic::Severity::kWarning);
  EXPECT_EQ(r.diagnostics[0].line, 5);
  EXPECT_THAT(r.diagnostics[0].ToString(),
              HasSubstr("test.yaml:5:5: warning: category 'translation' is not matched"));
}

TEST(LoaderTest, InvalidRe2Pattern) {
  Diagnostic d = OnlyError(Load(Replace(kMinimal, R"('\bevery citizen\b')", "'(unclosed'")),
                           "invalid RE2 pattern '(unclosed'");
  EXPECT_EQ(d.line, 7);
  EXPECT_EQ(d.column, 16);
  EXPECT_THAT(d.message, HasSubstr("missing )"));
}

TEST(LoaderTest, MissingModelFile) {
  Diagnostic d = OnlyError(Load(std::string(kMinimal) + "classifier:\n  model: absent.model\n"),
                           "model file 'absent.model' not found");
  EXPECT_EQ(d.line, 18);
  EXPECT_EQ(d.column, 10);
  EXPECT_THAT(d.message, HasSubstr("firebreak train"));
  // `firebreak train` may load the policy before the model exists.
  EXPECT_TRUE(LoadPolicyText(std::string(kMinimal) + "classifier:\n  model: absent.model\n",
                             "test.yaml", {.require_model_file = false})
                  .ok());
}

TEST(LoaderTest, BadEnforcementAndThreshold) {
  LoadResult r =
      Load(std::string(kMinimal) + "    enforcement: shadow\nclassifier:\n  threshold: 2\n");
  EXPECT_FALSE(r.ok());
  ASSERT_EQ(r.ErrorCount(), 2u) << r.Report();
  EXPECT_EQ(r.diagnostics[0].line, 17);
  EXPECT_THAT(r.diagnostics[0].message, HasSubstr("expected deny, warn or dryrun"));
  EXPECT_EQ(r.diagnostics[1].line, 19);
  EXPECT_THAT(r.diagnostics[1].message, HasSubstr("between 0 and 1"));
}

TEST(LoaderTest, MissingRequiredRuleFields) {
  LoadResult r = Load(Replace(kMinimal, "    match_categories: [bulk_surveillance]\n", ""));
  Diagnostic d = OnlyError(r, "missing 'match_categories'");
  EXPECT_EQ(d.line, 13);
  EXPECT_EQ(d.column, 5);
}

TEST(LoaderTest, InvalidYamlSyntax) {
  Diagnostic d = OnlyError(Load("policy:\n  name: [unclosed\n"), "invalid YAML");
  EXPECT_EQ(d.line, 3);
}

TEST(LoaderTest, EveryErrorIsReportedNotOnlyTheFirst) {
  std::string text = Replace(kMinimal, "decision: ALLOW", "decision: MAYBE");
  text = Replace(text, "audit: critical", "audit: loud");
  text = Replace(text, "[bulk_surveillance]", "[bulk]");
  LoadResult r = Load(text);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.ErrorCount(), 3u) << r.Report();
}

TEST(LoaderTest, AlertingDefaultsToOneAlertPerRuleAndTargetEveryFiveMinutes) {
  LoadResult result = Load(kMinimal);
  ASSERT_TRUE(result.ok()) << result.Report();
  const Alerting& a = result.policy->alerting();
  EXPECT_EQ(a.rate.window_seconds, 300);
  EXPECT_EQ(a.rate.max_per_window, 1);
  EXPECT_TRUE(a.rules.empty());
  EXPECT_EQ(a.For("block-bulk").window_seconds, 300);
}

TEST(LoaderTest, LoadsAlertingWithPerRuleOverrides) {
  LoadResult result = Load(std::string(kMinimal) + R"(alerting:
  window_seconds: 60
  max_per_window: 2
  rules:
    block-bulk: {window_seconds: 600}
    default: {max_per_window: 5}
    allow-summaries: {window_seconds: 0}
    uninspectable:image: {window_seconds: 30}
)");
  ASSERT_TRUE(result.ok()) << result.Report();
  const Alerting& a = result.policy->alerting();
  EXPECT_EQ(a.For("block-bulk").window_seconds, 600);
  EXPECT_EQ(a.For("block-bulk").max_per_window, 2);  // inherited
  EXPECT_EQ(a.For("default").window_seconds, 60);
  EXPECT_EQ(a.For("default").max_per_window, 5);
  EXPECT_EQ(a.For("allow-summaries").window_seconds, 0);
  EXPECT_EQ(a.For("uninspectable:image").window_seconds, 30);
  EXPECT_EQ(a.For("no-such-rule").window_seconds, 60);
}

TEST(LoaderTest, AlertingErrorsNameTheirPlace) {
  const std::string policy(kMinimal);
  Diagnostic d = OnlyError(Load(policy + "alerting:\n  window_secnds: 60\n"),
                           "unknown key 'window_secnds' in alerting");
  EXPECT_EQ(d.line, 18);
  EXPECT_EQ(d.column, 3);
  EXPECT_THAT(d.message, HasSubstr("did you mean 'window_seconds'"));

  d = OnlyError(Load(policy + "alerting:\n  window_seconds: -5\n"),
                "alerting.window_seconds must be a whole number from 0 to 86400");
  EXPECT_EQ(d.line, 18);
  EXPECT_EQ(d.column, 19);
  OnlyError(Load(policy + "alerting:\n  window_seconds: 1.5\n"),
            "alerting.window_seconds must be a whole number");
  d = OnlyError(Load(policy + "alerting: {max_per_window: 0}\n"),
                "alerting.max_per_window must be a whole number from 1");
  EXPECT_EQ(d.line, 17);
  EXPECT_EQ(d.column, 28);
  d = OnlyError(Load(policy + "alerting: 300\n"), "alerting must be a mapping");
  EXPECT_EQ(d.line, 17);

  d = OnlyError(Load(policy + "alerting:\n  rules:\n    block-bulks: {window_seconds: 5}\n"),
                "alerting.rules names undefined rule 'block-bulks'");
  EXPECT_EQ(d.line, 19);
  EXPECT_EQ(d.column, 5);
  EXPECT_THAT(d.message, HasSubstr("defined rules: default, allow-summaries, block-bulk"));
  d = OnlyError(Load(policy + "alerting:\n  rules:\n    block-bulk: {max_per_windw: 5}\n"),
                "unknown key 'max_per_windw' in alerting.rules.block-bulk");
  EXPECT_EQ(d.line, 19);
  EXPECT_EQ(d.column, 18);
  d = OnlyError(Load(policy + "alerting:\n  rules:\n    block-bulk: {window_seconds: 90000}\n"),
                "alerting.rules.block-bulk.window_seconds must be a whole number from 0 to 86400");
  EXPECT_EQ(d.line, 19);
  EXPECT_EQ(d.column, 34);
  OnlyError(Load(policy + "alerting:\n  rules: [block-bulk]\n"),
            "alerting.rules (rule id: {window_seconds, ...}) must be a mapping");
  // Every error, not only the first.
  EXPECT_EQ(
      Load(policy + "alerting:\n  window_seconds: x\n  max_per_window: -1\n  rules: {nope: {}}\n")
          .ErrorCount(),
      3u);
}

TEST(LoaderTest, UnreadableFileIsAnError) {
  LoadResult r = LoadPolicyFile("/nonexistent/policy.yaml");
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.Report(), HasSubstr("/nonexistent/policy.yaml: error: cannot open"));
}

}  // namespace
}  // namespace firebreak::policy
