// The compiled, immutable policy (PolicySet) and its pure evaluation.
// An exchange classifies its conversation, hands the detected categories to
// PolicySet::Evaluate, and enforces the returned Decision. A PolicySet is built
// once by the loader (loader.h) and shared read-only as shared_ptr<const>.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "firebreak/base/conversation.h"

namespace firebreak::policy {

// Ordered by restrictiveness: a larger value wins.
enum class Verdict : std::uint8_t { kAllow = 0, kAllowConstrained = 1, kBlock = 2 };
// Ordered by detail: the highest matched level wins.
enum class AuditLevel : std::uint8_t { kStandard = 0, kEnhanced = 1, kCritical = 2 };
// Gatekeeper-style: deny enforces; warn and dryrun only report.
enum class Enforcement : std::uint8_t { kDeny, kWarn, kDryrun };

std::string_view VerdictName(Verdict v);  // "ALLOW", "ALLOW_CONSTRAINED", "BLOCK"
std::string_view AuditLevelName(AuditLevel a);
std::string_view EnforcementName(Enforcement e);
std::optional<Verdict> ParseVerdict(std::string_view s);
std::optional<AuditLevel> ParseAuditLevel(std::string_view s);
std::optional<Enforcement> ParseEnforcement(std::string_view s);

// A position in the policy file (1-based), kept for messages about the policy.
struct Location {
  int line = 0;
  int column = 0;
};

struct Category {
  std::string id;
  std::string description;
  std::vector<std::string> examples;
  std::vector<std::string> counter_examples;
  std::vector<std::string> patterns;  // RE2 syntax, validated at load
  std::vector<std::string> keywords;
  std::optional<double> threshold;  // overrides classifier.threshold
  // Llama Guard hazard codes ("S1") a judge of that kind answers for this
  // category (classifier.judge).
  std::vector<std::string> hazards;
  Location location;
};

// A `when:` condition: every listed field must match for the rule to apply.
// Each field matches when the input value equals one of the listed values;
// a value ending in '*' matches by prefix.
struct Condition {
  std::vector<std::pair<std::string, std::vector<std::string>>> principal;  // attribute -> any of
  std::vector<std::string> models;
  std::vector<std::string> endpoints;

  bool empty() const { return principal.empty() && models.empty() && endpoints.empty(); }
};

struct Rule {
  std::string id;
  std::string description;
  std::vector<std::string> match_categories;
  Verdict decision = Verdict::kBlock;
  AuditLevel audit = AuditLevel::kStandard;
  bool requires_human = false;
  std::vector<std::string> constraints;
  std::vector<std::string> alerts;
  std::string color;
  std::string note;
  Condition when;
  Enforcement enforcement = Enforcement::kDeny;
  Location location;
};

// What unknown intent gets: no category detected, or a detected category that
// no applicable rule handles. Fail closed unless the policy says otherwise.
struct Defaults {
  Verdict decision = Verdict::kBlock;
  AuditLevel audit = AuditLevel::kCritical;
  std::vector<std::string> alerts;
  std::string description = "Unknown intent: no policy rule covers this request";
};

// What content the classifier cannot read gets, per kind (`uninspectable:`):
// each kind present in a request takes part in its verdict as a rule of its
// own, "uninspectable:<kind>", BLOCK unless the policy says otherwise.
struct Uninspectable {
  std::array<Rule, base::kContentKinds> rules;  // by base::ContentKind

  Uninspectable();  // every kind BLOCK, audit enhanced, no alerts
  Rule& For(base::ContentKind kind) { return rules[static_cast<std::size_t>(kind)]; }
  const Rule& For(base::ContentKind kind) const {
    return rules[static_cast<std::size_t>(kind)];
  }
};

inline constexpr std::string_view kUninspectableRulePrefix = "uninspectable:";

// Whether an LLM judge may decide what the local classifier is unsure of
// (`classifier.judge`), and which judge models the signatories accept: the
// server config names the judge, and one the policy does not accept is a
// start-up error.
struct JudgeSpec {
  enum class Mode : std::uint8_t { kOff, kUncertain, kAlways };
  Mode mode = Mode::kOff;
  std::vector<std::string> models;
};
std::string_view JudgeModeName(JudgeSpec::Mode mode);  // off, uncertain, always

struct ClassifierSpec {
  bool patterns = true;  // stage 1
  bool model = true;     // stage 2 (only when model_file is set)
  double threshold = 0.5;
  double pattern_score = 0.9;        // score of a category whose pattern matched
  double keyword_score = 0.35;       // evidence of one keyword, combined noisy-OR
  // Uncertain when a category's score is closer than this to its threshold
  // (classify::Config::uncertain_margin); the defaults take part. 0: never.
  double uncertain_margin = 0;
  std::filesystem::path model_file;  // absolute; empty when the policy has no model
  std::string model_file_as_written;
  JudgeSpec judge;
};

// How often one rule's alerts reach each target (`alerting:`, optional):
// within a window opened by an alert, the first max_per_window alerts of a
// (rule, target) pair are sent and the rest folded into one summary sent
// when the window closes (alert/limiter.h). window_seconds 0 sends every
// alert.
struct AlertRate {
  std::int64_t window_seconds = 300;
  std::int64_t max_per_window = 1;
};

struct Alerting {
  AlertRate rate;  // every rule's, and the defaults'
  // Overrides by rule id; "default" is the defaults' (kDefaultRuleId), and
  // "uninspectable:<kind>" that of a kind of uninspectable content.
  std::map<std::string, AlertRate, std::less<>> rules;

  const AlertRate& For(std::string_view rule) const;
};

struct Metadata {
  std::string name;
  std::string version;
  std::string effective;
  std::vector<std::pair<std::string, std::string>> signatories;  // role -> party
};

// One detected category, by index into PolicySet::categories().
struct DetectedCategory {
  std::uint16_t category = 0;
  double score = 0;
  // Detected in the request read whole. False: only in a part of it (a
  // sentence, a step) or in decoded text; such a category adds its rules but
  // does not state the request's intent, so alone it leaves the intent unknown.
  bool states_intent = true;
};

// The plain input of an evaluation. Everything is borrowed for the call.
struct EvaluationInput {
  std::span<const DetectedCategory> detected;
  // Why the classifier cannot vouch for its reading (e.g. text in a language
  // it does not read that the request asks to act on). Non-empty: the
  // defaults take part in the verdict, as for unknown intent.
  std::span<const std::string> uncertain;
  const std::map<std::string, std::string, std::less<>>* principal = nullptr;  // attributes
  std::string_view model;
  std::string_view endpoint;
  std::span<const base::Uninspected> uninspected;  // content the classifier did not read
};

// A non-enforcing (warn/dryrun) rule that matched: reported, never applied.
struct ShadowMatch {
  const Rule* rule = nullptr;
};

// The outcome of one evaluation. Pointers refer into the PolicySet that made
// it, which must outlive the Decision.
struct Decision {
  Verdict verdict = Verdict::kBlock;
  AuditLevel audit = AuditLevel::kCritical;
  bool requires_human = false;
  bool by_default = false;           // the policy's defaults took part in the verdict
  std::vector<const Rule*> rules;    // enforcing rules that produced the verdict
  std::vector<const Rule*> matched;  // every enforcing rule that matched
  std::vector<ShadowMatch> shadow;   // warn/dryrun rules that matched
  std::vector<const std::string*> constraints;
  std::vector<const std::string*> alerts;

  // Rule ids of the verdict, with "default" for the defaults.
  std::vector<std::string_view> RuleIds() const;
};

inline constexpr std::string_view kDefaultRuleId = "default";

class PolicySet {
 public:
  PolicySet(std::filesystem::path source, Metadata metadata, std::vector<Category> categories,
            std::vector<Rule> rules, Defaults defaults, ClassifierSpec classifier,
            Uninspectable uninspectable = {}, Alerting alerting = {});
  PolicySet(const PolicySet&) = delete;  // the rule index points into rules_
  PolicySet& operator=(const PolicySet&) = delete;

  const std::filesystem::path& source() const { return source_; }
  const Metadata& metadata() const { return metadata_; }
  const std::vector<Category>& categories() const { return categories_; }
  const std::vector<Rule>& rules() const { return rules_; }
  const Defaults& defaults() const { return defaults_; }
  const ClassifierSpec& classifier() const { return classifier_; }
  const Uninspectable& uninspectable() const { return uninspectable_; }
  const Alerting& alerting() const { return alerting_; }

  std::optional<std::uint16_t> CategoryIndex(std::string_view id) const;
  const Rule* FindRule(std::string_view id) const;

  // Pure and thread-safe. Most restrictive verdict wins; audit is the highest
  // level matched; constraints and alerts are the union over the rules that
  // produced the verdict; unknown intent (no category stating the intent, a
  // detected category no rule handles) and an uncertain classification bring
  // in the defaults; each kind of uninspected content takes its
  // `uninspectable` rule.
  Decision Evaluate(const EvaluationInput& input) const;

 private:
  std::filesystem::path source_;
  Metadata metadata_;
  std::vector<Category> categories_;
  std::vector<Rule> rules_;
  Defaults defaults_;
  ClassifierSpec classifier_;
  Uninspectable uninspectable_;
  Alerting alerting_;
  std::vector<std::vector<const Rule*>> rules_by_category_;
};

}  // namespace firebreak::policy
