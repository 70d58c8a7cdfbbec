#include "firebreak/policy/loader.h"

#include <re2/re2.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include "firebreak/base/digest.h"
#include "firebreak/base/spelling.h"

namespace firebreak::policy {
namespace {

using Keys = std::vector<std::string_view>;

const Keys kTopKeys = {"policy",     "categories",    "rules",   "defaults",
                       "classifier", "uninspectable", "alerting"};
const Keys kMetadataKeys = {"name", "version", "effective", "signatories", "description"};
const Keys kCategoryKeys = {"id",       "description", "examples",  "counter_examples",
                            "patterns", "keywords",    "threshold", "hazards"};
const Keys kRuleKeys = {"id",          "description", "match_categories",
                        "decision",    "audit",       "requires_human",
                        "constraints", "alerts",      "color",
                        "note",        "when",        "enforcement"};
const Keys kWhenKeys = {"principal", "model", "endpoint"};
const Keys kDefaultsKeys = {"decision", "audit", "alerts", "description"};
const Keys kUninspectableKeys = {"decision", "audit", "alerts"};
const Keys kClassifierKeys = {"stages", "threshold",        "pattern_score", "keyword_score",
                              "model",  "uncertain_margin", "judge"};
const Keys kJudgeKeys = {"mode", "models"};
const Keys kAlertingKeys = {"window_seconds", "max_per_window", "rules"};
const Keys kAlertRateKeys = {"window_seconds", "max_per_window"};
constexpr std::int64_t kMaxAlertWindowSeconds = 86'400;
constexpr std::int64_t kMaxAlertsPerWindow = 1'000'000;

std::string JoinKeys(const Keys& keys) {
  std::string out;
  for (std::string_view k : keys) {
    out += out.empty() ? "" : ", ";
    out += k;
  }
  return out;
}

// Reads one YAML document into the policy model, collecting diagnostics.
class Parser {
 public:
  Parser(const std::filesystem::path& path, const LoadOptions& options,
         std::vector<Diagnostic>& out)
      : path_(path), file_(path.string()), options_(options), out_(out) {}

  void Error(const YAML::Mark& mark, std::string message) {
    Add(mark, Diagnostic::Severity::kError, std::move(message));
  }
  void Warning(const YAML::Mark& mark, std::string message) {
    Add(mark, Diagnostic::Severity::kWarning, std::move(message));
  }
  void ErrorAt(Location at, std::string message) {
    out_.push_back({file_, at.line, at.column, Diagnostic::Severity::kError, std::move(message)});
  }
  void WarningAt(Location at, std::string message) {
    out_.push_back({file_, at.line, at.column, Diagnostic::Severity::kWarning, std::move(message)});
  }

  static Location At(const YAML::Node& node) {
    YAML::Mark m = node.Mark();
    return {m.line + 1, m.column + 1};
  }

  std::shared_ptr<const PolicySet> Parse(const YAML::Node& root);

 private:
  void Add(const YAML::Mark& mark, Diagnostic::Severity severity, std::string message) {
    out_.push_back({file_, mark.line + 1, mark.column + 1, severity, std::move(message)});
  }

  bool ExpectMap(const YAML::Node& node, std::string_view what) {
    if (node.IsMap()) {
      return true;
    }
    Error(node.Mark(), std::string(what) + " must be a mapping of key: value");
    return false;
  }

  // Reports unknown and repeated keys of a mapping.
  void CheckKeys(const YAML::Node& map, const Keys& allowed, std::string_view what) {
    std::set<std::string> seen;
    for (const auto& entry : map) {
      const std::string key = entry.first.Scalar();
      if (!seen.insert(key).second) {
        Error(entry.first.Mark(), "duplicate key '" + key + "' in " + std::string(what));
        continue;
      }
      if (std::find(allowed.begin(), allowed.end(), key) != allowed.end()) {
        continue;
      }
      std::string message = "unknown key '" + key + "' in " + std::string(what);
      if (const auto nearest = base::NearestSpelling(key, allowed)) {
        message += "; did you mean '" + std::string(*nearest) + "'?";
      } else {
        message += "; expected one of: " + JoinKeys(allowed);
      }
      Error(entry.first.Mark(), std::move(message));
    }
  }

  std::optional<std::string> String(const YAML::Node& node, std::string_view what) {
    if (node.IsScalar()) {
      return node.Scalar();
    }
    Error(node.Mark(), std::string(what) + " must be a string");
    return std::nullopt;
  }

  // A list of strings; a single string is accepted as a list of one when
  // `scalar_ok` is set.
  std::vector<std::string> StringList(const YAML::Node& node, std::string_view what,
                                      bool scalar_ok = false) {
    std::vector<std::string> out;
    if (scalar_ok && node.IsScalar()) {
      out.push_back(node.Scalar());
      return out;
    }
    if (!node.IsSequence()) {
      Error(node.Mark(), std::string(what) + " must be a list of strings");
      return out;
    }
    for (const YAML::Node& item : node) {
      if (item.IsScalar()) {
        out.push_back(item.Scalar());
      } else {
        Error(item.Mark(), "each entry of " + std::string(what) + " must be a string");
      }
    }
    return out;
  }

  std::optional<bool> Bool(const YAML::Node& node, std::string_view what) {
    bool value = false;
    if (node.IsScalar() && YAML::convert<bool>::decode(node, value)) {
      return value;
    }
    Error(node.Mark(), std::string(what) + " must be true or false");
    return std::nullopt;
  }

  std::optional<double> Fraction(const YAML::Node& node, std::string_view what) {
    double value = 0;
    if (node.IsScalar() && YAML::convert<double>::decode(node, value) && value >= 0 && value <= 1) {
      return value;
    }
    Error(node.Mark(), std::string(what) + " must be a number between 0 and 1");
    return std::nullopt;
  }

  // A whole number in [min, max].
  std::optional<std::int64_t> Integer(const YAML::Node& node, std::string_view what,
                                      std::int64_t min, std::int64_t max, std::string_view hint) {
    std::int64_t value = 0;
    if (node.IsScalar() && YAML::convert<std::int64_t>::decode(node, value) && value >= min &&
        value <= max) {
      return value;
    }
    Error(node.Mark(), std::string(what) + " must be a whole number from " + std::to_string(min) +
                           " to " + std::to_string(max) + std::string(hint));
    return std::nullopt;
  }

  std::optional<Verdict> DecisionValue(const YAML::Node& node) {
    if (auto s = String(node, "decision")) {
      if (auto v = ParseVerdict(*s)) {
        return v;
      }
      Error(node.Mark(),
            "invalid decision '" + *s + "'; expected ALLOW, ALLOW_CONSTRAINED or BLOCK");
    }
    return std::nullopt;
  }

  std::optional<AuditLevel> AuditValue(const YAML::Node& node) {
    if (auto s = String(node, "audit")) {
      if (auto a = ParseAuditLevel(*s)) {
        return a;
      }
      Error(node.Mark(),
            "invalid audit level '" + *s + "'; expected standard, enhanced or critical");
    }
    return std::nullopt;
  }

  void ParseMetadata(const YAML::Node& node, Metadata& m);
  void ParseCategory(const YAML::Node& node, std::vector<Category>& out);
  void ParseRule(const YAML::Node& node, std::vector<Rule>& out);
  void ParseWhen(const YAML::Node& node, Condition& when);
  void ParseDefaults(const YAML::Node& node, Defaults& d);
  void ParseClassifier(const YAML::Node& node, ClassifierSpec& c);
  void ParseUninspectable(const YAML::Node& node, Uninspectable& u);
  void ParseAlerting(const YAML::Node& node, const std::vector<Rule>& rules, Alerting& a);
  void ParseAlertRate(const YAML::Node& node, std::string_view what, AlertRate& rate);
  void CheckPattern(const std::string& pattern, const YAML::Node& node);

  std::filesystem::path path_;
  std::string file_;
  LoadOptions options_;
  std::vector<Diagnostic>& out_;
};

void Parser::ParseMetadata(const YAML::Node& node, Metadata& m) {
  if (!ExpectMap(node, "policy")) {
    return;
  }
  CheckKeys(node, kMetadataKeys, "policy");
  if (const YAML::Node n = node["name"]) {
    m.name = String(n, "policy.name").value_or("");
  } else {
    Error(node.Mark(), "policy.name is missing; give the policy a name");
  }
  if (const YAML::Node n = node["version"]) {
    m.version = String(n, "policy.version").value_or("");
  }
  if (const YAML::Node n = node["effective"]) {
    m.effective = String(n, "policy.effective").value_or("");
  }
  if (const YAML::Node n = node["signatories"]) {
    if (ExpectMap(n, "policy.signatories")) {
      for (const auto& entry : n) {
        if (auto party = String(entry.second, "signatory")) {
          m.signatories.emplace_back(entry.first.Scalar(), *party);
        }
      }
    }
  }
}

void Parser::CheckPattern(const std::string& pattern, const YAML::Node& node) {
  RE2::Options options;
  options.set_log_errors(false);
  options.set_case_sensitive(false);
  RE2 re(pattern, options);
  if (!re.ok()) {
    Error(node.Mark(), "invalid RE2 pattern '" + pattern + "': " + re.error());
  }
}

void Parser::ParseCategory(const YAML::Node& node, std::vector<Category>& out) {
  Category c;
  c.location = At(node);
  if (node.IsScalar()) {
    c.id = node.Scalar();
  } else if (ExpectMap(node, "a category (a name, or an object with id)")) {
    CheckKeys(node, kCategoryKeys, "category");
    if (const YAML::Node n = node["id"]) {
      c.id = String(n, "category id").value_or("");
    } else {
      Error(node.Mark(), "category is missing 'id'");
    }
    if (const YAML::Node n = node["description"]) {
      c.description = String(n, "category description").value_or("");
    }
    if (const YAML::Node n = node["examples"]) {
      c.examples = StringList(n, "examples");
    }
    if (const YAML::Node n = node["counter_examples"]) {
      c.counter_examples = StringList(n, "counter_examples");
    }
    if (const YAML::Node n = node["hazards"]) {
      c.hazards = StringList(n, "hazards");
    }
    if (const YAML::Node n = node["keywords"]) {
      c.keywords = StringList(n, "keywords");
      for (std::size_t i = 0; i < c.keywords.size() && n.IsSequence(); ++i) {
        if (c.keywords[i].empty()) {
          Error(n[i].Mark(), "empty keyword");
        }
      }
    }
    if (const YAML::Node n = node["patterns"]) {
      c.patterns = StringList(n, "patterns");
      if (n.IsSequence()) {
        for (std::size_t i = 0; i < n.size(); ++i) {
          if (n[i].IsScalar()) {
            CheckPattern(n[i].Scalar(), n[i]);
          }
        }
      }
    }
    if (const YAML::Node n = node["threshold"]) {
      c.threshold = Fraction(n, "category threshold");
    }
  } else {
    return;
  }
  if (c.id.empty()) {
    return;
  }
  for (const Category& other : out) {
    if (other.id == c.id) {
      ErrorAt(c.location, "duplicate category '" + c.id + "' (first defined at line " +
                              std::to_string(other.location.line) + ")");
      return;
    }
  }
  out.push_back(std::move(c));
}

void Parser::ParseWhen(const YAML::Node& node, Condition& when) {
  if (!ExpectMap(node, "when")) {
    return;
  }
  CheckKeys(node, kWhenKeys, "when");
  if (const YAML::Node n = node["principal"]) {
    if (ExpectMap(n, "when.principal")) {
      for (const auto& entry : n) {
        when.principal.emplace_back(entry.first.Scalar(),
                                    StringList(entry.second, "when.principal value", true));
      }
    }
  }
  if (const YAML::Node n = node["model"]) {
    when.models = StringList(n, "when.model", true);
  }
  if (const YAML::Node n = node["endpoint"]) {
    when.endpoints = StringList(n, "when.endpoint", true);
  }
}

void Parser::ParseRule(const YAML::Node& node, std::vector<Rule>& out) {
  if (!ExpectMap(node, "a rule")) {
    return;
  }
  CheckKeys(node, kRuleKeys, "rule");
  Rule r;
  r.location = At(node);
  if (const YAML::Node n = node["id"]) {
    r.id = String(n, "rule id").value_or("");
  } else {
    Error(node.Mark(), "rule is missing 'id'");
  }
  if (const YAML::Node n = node["description"]) {
    r.description = String(n, "rule description").value_or("");
  }
  if (const YAML::Node n = node["match_categories"]) {
    r.match_categories = StringList(n, "match_categories");
    if (n.IsSequence() && r.match_categories.empty()) {
      Error(n.Mark(), "match_categories is empty; list at least one category");
    }
  } else {
    Error(node.Mark(), "rule '" + r.id + "' is missing 'match_categories'");
  }
  if (const YAML::Node n = node["decision"]) {
    if (auto v = DecisionValue(n)) {
      r.decision = *v;
    }
  } else {
    Error(node.Mark(),
          "rule '" + r.id + "' is missing 'decision' (ALLOW, ALLOW_CONSTRAINED or BLOCK)");
  }
  if (const YAML::Node n = node["audit"]) {
    if (auto a = AuditValue(n)) {
      r.audit = *a;
    }
  }
  if (const YAML::Node n = node["requires_human"]) {
    r.requires_human = Bool(n, "requires_human").value_or(false);
  }
  if (const YAML::Node n = node["constraints"]) {
    r.constraints = StringList(n, "constraints");
  }
  if (const YAML::Node n = node["alerts"]) {
    r.alerts = StringList(n, "alerts");
  }
  if (const YAML::Node n = node["color"]) {
    r.color = String(n, "color").value_or("");
  }
  if (const YAML::Node n = node["note"]) {
    r.note = String(n, "note").value_or("");
  }
  if (const YAML::Node n = node["when"]) {
    ParseWhen(n, r.when);
  }
  if (const YAML::Node n = node["enforcement"]) {
    if (auto s = String(n, "enforcement")) {
      if (auto e = ParseEnforcement(*s)) {
        r.enforcement = *e;
      } else {
        Error(n.Mark(), "invalid enforcement '" + *s + "'; expected deny, warn or dryrun");
      }
    }
  }
  if (r.decision == Verdict::kAllowConstrained && r.constraints.empty() &&
      node["decision"].IsDefined()) {
    WarningAt(r.location, "rule '" + r.id + "' is ALLOW_CONSTRAINED but lists no constraints");
  }
  if (r.id.empty()) {
    return;
  }
  for (const Rule& other : out) {
    if (other.id == r.id) {
      ErrorAt(r.location, "duplicate rule id '" + r.id + "' (first defined at line " +
                              std::to_string(other.location.line) + ")");
      return;
    }
  }
  out.push_back(std::move(r));
}

void Parser::ParseDefaults(const YAML::Node& node, Defaults& d) {
  if (!ExpectMap(node, "defaults")) {
    return;
  }
  CheckKeys(node, kDefaultsKeys, "defaults");
  if (const YAML::Node n = node["decision"]) {
    if (auto v = DecisionValue(n)) {
      d.decision = *v;
      if (*v != Verdict::kBlock) {
        Warning(n.Mark(), "defaults.decision is " + std::string(VerdictName(*v)) +
                              ": requests of unknown intent will not be blocked");
      }
    }
  }
  if (const YAML::Node n = node["audit"]) {
    if (auto a = AuditValue(n)) {
      d.audit = *a;
    }
  }
  if (const YAML::Node n = node["alerts"]) {
    d.alerts = StringList(n, "defaults.alerts");
  }
  if (const YAML::Node n = node["description"]) {
    d.description = String(n, "defaults.description").value_or(d.description);
  }
}

// uninspectable: {KIND: DECISION | {decision, audit, alerts}, ...}
void Parser::ParseUninspectable(const YAML::Node& node, Uninspectable& u) {
  if (!ExpectMap(node, "uninspectable")) {
    return;
  }
  std::string kinds;
  for (std::size_t i = 0; i < base::kContentKinds; ++i) {
    kinds += (kinds.empty() ? "" : ", ") +
             std::string(base::ContentKindName(static_cast<base::ContentKind>(i)));
  }
  std::set<std::string> seen;
  for (const auto& entry : node) {
    const std::string name = entry.first.Scalar();
    base::ContentKind kind;
    if (!base::ParseContentKind(name, &kind)) {
      Error(entry.first.Mark(),
            "unknown content kind '" + name + "' in uninspectable; expected one of: " + kinds);
      continue;
    }
    if (!seen.insert(name).second) {
      Error(entry.first.Mark(), "duplicate key '" + name + "' in uninspectable");
      continue;
    }
    Rule& rule = u.For(kind);
    rule.location = At(entry.first);
    const YAML::Node& value = entry.second;
    const YAML::Node decision = value.IsScalar() ? value : value["decision"];
    if (!value.IsScalar()) {
      if (!ExpectMap(value, "uninspectable." + name)) {
        continue;
      }
      CheckKeys(value, kUninspectableKeys, "uninspectable." + name);
      if (const YAML::Node n = value["audit"]) {
        if (auto a = AuditValue(n)) {
          rule.audit = *a;
        }
      }
      if (const YAML::Node n = value["alerts"]) {
        rule.alerts = StringList(n, "uninspectable." + name + ".alerts");
      }
    }
    if (decision) {
      if (auto v = DecisionValue(decision)) {
        rule.decision = *v;
      }
    }
    if (rule.decision == Verdict::kAllowConstrained) {
      Error(value.Mark(), "uninspectable." + name +
                              " may be ALLOW or BLOCK: content that is not read cannot be "
                              "constrained");
    }
  }
}

void Parser::ParseClassifier(const YAML::Node& node, ClassifierSpec& c) {
  if (!ExpectMap(node, "classifier")) {
    return;
  }
  CheckKeys(node, kClassifierKeys, "classifier");
  if (const YAML::Node n = node["stages"]) {
    c.patterns = false;
    c.model = false;
    std::vector<std::string> stages = StringList(n, "classifier.stages");
    for (std::size_t i = 0; i < stages.size(); ++i) {
      if (stages[i] == "patterns") {
        c.patterns = true;
      } else if (stages[i] == "model") {
        c.model = true;
      } else {
        Error(n[i].Mark(),
              "unknown classifier stage '" + stages[i] + "'; expected patterns or model");
      }
    }
  }
  if (const YAML::Node n = node["threshold"]) {
    c.threshold = Fraction(n, "classifier.threshold").value_or(c.threshold);
  }
  if (const YAML::Node n = node["pattern_score"]) {
    c.pattern_score = Fraction(n, "classifier.pattern_score").value_or(c.pattern_score);
  }
  if (const YAML::Node n = node["keyword_score"]) {
    c.keyword_score = Fraction(n, "classifier.keyword_score").value_or(c.keyword_score);
  }
  if (const YAML::Node n = node["uncertain_margin"]) {
    if (const std::optional<double> m = Fraction(n, "classifier.uncertain_margin")) {
      if (*m > 0.5) {
        Error(n.Mark(), "classifier.uncertain_margin must be at most 0.5 (a distance from the "
                        "threshold)");
      } else {
        c.uncertain_margin = *m;
      }
    }
  }
  if (const YAML::Node n = node["judge"]; n && ExpectMap(n, "classifier.judge")) {
    CheckKeys(n, kJudgeKeys, "classifier.judge");
    if (const YAML::Node mode = n["mode"]) {
      const std::string m = String(mode, "classifier.judge.mode").value_or("");
      if (m == "uncertain") {
        c.judge.mode = JudgeSpec::Mode::kUncertain;
      } else if (m == "always") {
        c.judge.mode = JudgeSpec::Mode::kAlways;
      } else if (m != "off") {
        Error(mode.Mark(), "classifier.judge.mode must be off, uncertain or always");
      }
    }
    if (const YAML::Node models = n["models"]) {
      c.judge.models = StringList(models, "classifier.judge.models");
    }
    if (c.judge.mode != JudgeSpec::Mode::kOff && c.judge.models.empty()) {
      Error(n.Mark(), "classifier.judge names no models: a policy that lets a judge decide "
                      "names the judge models its signatories accept");
    }
  }
  if (const YAML::Node n = node["model"]) {
    if (auto file = String(n, "classifier.model")) {
      c.model_file_as_written = *file;
      c.model_file = std::filesystem::absolute(path_.parent_path() / *file).lexically_normal();
      std::error_code ec;
      if (options_.require_model_file && !std::filesystem::is_regular_file(c.model_file, ec)) {
        Error(n.Mark(), "model file '" + *file + "' not found (looked for " +
                            c.model_file.string() + "); run `firebreak train " + file_ +
                            "` to build it");
      }
    }
  }
}

void Parser::ParseAlertRate(const YAML::Node& node, std::string_view what, AlertRate& rate) {
  if (const YAML::Node n = node["window_seconds"]) {
    rate.window_seconds =
        Integer(n, std::string(what) + ".window_seconds", 0, kMaxAlertWindowSeconds,
                " (seconds; 0 sends every alert)")
            .value_or(rate.window_seconds);
  }
  if (const YAML::Node n = node["max_per_window"]) {
    rate.max_per_window = Integer(n, std::string(what) + ".max_per_window", 1, kMaxAlertsPerWindow,
                                  " (alerts sent per window; the rest are folded)")
                              .value_or(rate.max_per_window);
  }
}

void Parser::ParseAlerting(const YAML::Node& node, const std::vector<Rule>& rules, Alerting& a) {
  if (!ExpectMap(node, "alerting")) {
    return;
  }
  CheckKeys(node, kAlertingKeys, "alerting");
  ParseAlertRate(node, "alerting", a.rate);
  const YAML::Node overrides = node["rules"];
  if (!overrides || !ExpectMap(overrides, "alerting.rules (rule id: {window_seconds, ...})")) {
    return;
  }
  // Any rule that can raise alerts: the policy's, the defaults', and each
  // kind of uninspectable content's.
  const Uninspectable uninspectable;
  Keys known = {kDefaultRuleId};
  for (const Rule& r : rules) {
    known.push_back(r.id);
  }
  for (const Rule& r : uninspectable.rules) {
    known.push_back(r.id);
  }
  for (const auto& entry : overrides) {
    const std::string id = entry.first.Scalar();
    const std::string what = "alerting.rules." + id;
    if (std::find(known.begin(), known.end(), id) == known.end()) {
      Error(entry.first.Mark(), "alerting.rules names undefined rule '" + id +
                                    "'; defined rules: " + JoinKeys(known));
      continue;
    }
    if (a.rules.contains(id)) {
      Error(entry.first.Mark(), "duplicate rule '" + id + "' in alerting.rules");
      continue;
    }
    if (!ExpectMap(entry.second, what)) {
      continue;
    }
    CheckKeys(entry.second, kAlertRateKeys, what);
    AlertRate rate = a.rate;  // what the override leaves out, it inherits
    ParseAlertRate(entry.second, what, rate);
    a.rules.emplace(id, rate);
  }
}

std::shared_ptr<const PolicySet> Parser::Parse(const YAML::Node& root) {
  if (!root.IsMap()) {
    Error(root.Mark(), "a policy must be a mapping with 'policy', 'categories' and 'rules'");
    return nullptr;
  }
  CheckKeys(root, kTopKeys, "the policy document");

  Metadata metadata;
  if (const YAML::Node n = root["policy"]) {
    ParseMetadata(n, metadata);
  } else {
    Error(root.Mark(), "missing 'policy:' section (name, version, effective, signatories)");
  }

  std::vector<Category> categories;
  if (const YAML::Node n = root["categories"]; n && n.IsSequence() && n.size() > 0) {
    for (const YAML::Node& item : n) {
      ParseCategory(item, categories);
    }
  } else {
    Error(n ? n.Mark() : root.Mark(), "'categories' must be a non-empty list");
  }

  std::vector<Rule> rules;
  if (const YAML::Node n = root["rules"]) {
    if (n.IsSequence()) {
      for (const YAML::Node& item : n) {
        ParseRule(item, rules);
      }
    } else {
      Error(n.Mark(), "'rules' must be a list of rules");
    }
  } else {
    Warning(root.Mark(), "the policy has no 'rules': every request takes the defaults");
  }

  Defaults defaults;
  if (const YAML::Node n = root["defaults"]) {
    ParseDefaults(n, defaults);
  }
  ClassifierSpec classifier;
  if (const YAML::Node n = root["classifier"]) {
    ParseClassifier(n, classifier);
  }
  Uninspectable uninspectable;
  if (const YAML::Node n = root["uninspectable"]) {
    ParseUninspectable(n, uninspectable);
  }
  Alerting alerting;
  if (const YAML::Node n = root["alerting"]) {
    ParseAlerting(n, rules, alerting);
  }

  // Cross references: every category a rule names exists; every category is
  // handled by some rule.
  std::set<std::string, std::less<>> handled;
  if (const YAML::Node rules_node = root["rules"]; rules_node && rules_node.IsSequence()) {
    for (const YAML::Node& rule_node : rules_node) {
      const YAML::Node list = rule_node.IsMap() ? rule_node["match_categories"] : YAML::Node();
      if (!list || !list.IsSequence()) {
        continue;
      }
      for (const YAML::Node& item : list) {
        if (!item.IsScalar()) {
          continue;
        }
        const std::string& name = item.Scalar();
        handled.insert(name);
        bool defined = std::any_of(categories.begin(), categories.end(),
                                   [&](const Category& c) { return c.id == name; });
        if (!defined) {
          std::string known;
          for (const Category& c : categories) {
            known += (known.empty() ? "" : ", ") + c.id;
          }
          Error(item.Mark(),
                "rule names undefined category '" + name + "'; defined categories: " + known);
        }
      }
    }
  }
  for (const Category& c : categories) {
    if (!handled.contains(c.id)) {
      WarningAt(c.location, "category '" + c.id +
                                "' is not matched by any rule; requests in it take the defaults");
    }
  }

  bool failed = std::any_of(out_.begin(), out_.end(), [](const Diagnostic& d) {
    return d.severity == Diagnostic::Severity::kError;
  });
  if (failed) {
    return nullptr;
  }
  return std::make_shared<const PolicySet>(path_, std::move(metadata), std::move(categories),
                                           std::move(rules), std::move(defaults),
                                           std::move(classifier), std::move(uninspectable),
                                           std::move(alerting));
}

}  // namespace

std::string Diagnostic::ToString() const {
  std::string out = file;
  if (line > 0) {
    out += ":" + std::to_string(line) + ":" + std::to_string(column);
  }
  out += severity == Severity::kError ? ": error: " : ": warning: ";
  out += message;
  return out;
}

std::size_t LoadResult::ErrorCount() const {
  return std::count_if(diagnostics.begin(), diagnostics.end(), [](const Diagnostic& d) {
    return d.severity == Diagnostic::Severity::kError;
  });
}

std::string LoadResult::Report() const {
  std::string out;
  for (const Diagnostic& d : diagnostics) {
    out += d.ToString();
    out += '\n';
  }
  return out;
}

LoadResult LoadPolicyText(std::string_view text, const std::filesystem::path& path,
                          const LoadOptions& options) {
  LoadResult result;
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    result.diagnostics.push_back({path.string(), e.mark.line + 1, e.mark.column + 1,
                                  Diagnostic::Severity::kError, "invalid YAML: " + e.msg});
    return result;
  }
  try {
    Parser parser(path, options, result.diagnostics);
    result.policy = parser.Parse(root);
  } catch (const YAML::Exception& e) {
    result.diagnostics.push_back({path.string(), e.mark.line + 1, e.mark.column + 1,
                                  Diagnostic::Severity::kError, "invalid policy: " + e.msg});
    result.policy = nullptr;
  }
  std::stable_sort(result.diagnostics.begin(), result.diagnostics.end(),
                   [](const Diagnostic& a, const Diagnostic& b) {
                     return std::tie(a.line, a.column) < std::tie(b.line, b.column);
                   });
  return result;
}

LoadResult LoadPolicyFile(const std::filesystem::path& path, const LoadOptions& options) {
  base::StatusOr<std::string> text = base::ReadFile(path);
  if (!text.ok()) {
    LoadResult result;
    result.diagnostics.push_back(
        {path.string(), 0, 0, Diagnostic::Severity::kError, text.status().message()});
    return result;
  }
  return LoadPolicyText(*text, path, options);
}

}  // namespace firebreak::policy
