// `firebreak eval`: how well a policy's classifier decides a labelled prompt
// set it was not trained on. The figures are those of issue #19's bar:
// decision accuracy, legitimate prompts blocked, the recall of each BLOCK
// rule, mixed requests, per-category precision / recall / F1, the
// confusion matrix and a threshold sweep.
#include <algorithm>
#include <boost/json.hpp>
#include <cstdio>
#include <iomanip>
#include <map>
#include <ostream>
#include <set>

#include "firebreak/classify/normalize.h"
#include "firebreak/cli/commands.h"
#include "firebreak/cli/report.h"
#include "firebreak/cli/scenario.h"
#include "firebreak/cli/training_data.h"

namespace firebreak::cli {
namespace {

namespace json = boost::json;

struct Tally {
  int n = 0;
  int hits = 0;
  void Add(bool hit) {
    ++n;
    hits += hit ? 1 : 0;
  }
  double Rate() const { return n == 0 ? 0 : static_cast<double>(hits) / n; }
};

struct Miss {
  const Scenario* scenario = nullptr;
  const std::string* file = nullptr;
  policy::Verdict verdict = policy::Verdict::kBlock;
  std::string decided;   // the category that decided, or out_of_scope
  std::string detected;  // DetectedSummary
};

struct Figures {
  Tally accuracy;       // of prompts with an expected decision
  Tally legit_blocked;  // expected ALLOW or ALLOW_CONSTRAINED; hit = BLOCK
  Tally hard_block;     // expected category handled by a BLOCK rule; hit = BLOCK
  std::map<std::string, Tally> block_rules;  // by BLOCK rule id, and "default"
  Tally mixed;
  std::vector<std::vector<int>> confusion;  // [expected][decided] over Labels()
  std::vector<Miss> misses;
  // Of each prompt with an expected decision: the classification's margin
  // and whether the decision was right.
  std::vector<std::pair<double, bool>> margins;
};

// What an uncertain margin would set apart: the share of prompts below it
// (to the defaults, or a judge) and the accuracy of the rest.
struct MarginPoint {
  double margin = 0;
  Tally set_apart;
  Tally rest;
};

std::vector<MarginPoint> ByMargin(const Figures& f) {
  std::vector<MarginPoint> points;
  for (int step = 1; step <= 6; ++step) {
    MarginPoint p;
    p.margin = step * 0.05;
    for (const auto& [margin, right] : f.margins) {
      p.set_apart.Add(margin < p.margin);
      if (margin >= p.margin) {
        p.rest.Add(right);
      }
    }
    points.push_back(p);
  }
  return points;
}

std::string Fixed(double v, int digits = 3) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.*f", digits, v);
  return buf;
}

std::string Count(const Tally& t) {
  return Fixed(t.Rate()) + "  (" + std::to_string(t.hits) + "/" + std::to_string(t.n) + ")";
}

// The policy's categories, then out_of_scope.
std::vector<std::string> Labels(const policy::PolicySet& policy) {
  std::vector<std::string> labels;
  for (const policy::Category& c : policy.categories()) {
    labels.push_back(c.id);
  }
  labels.emplace_back(kOutOfScope);
  return labels;
}

// The enforcing BLOCK rule that handles a category, or null.
const policy::Rule* BlockRuleOf(const policy::PolicySet& policy, std::string_view category) {
  for (const policy::Rule& r : policy.rules()) {
    if (r.decision == policy::Verdict::kBlock && r.enforcement == policy::Enforcement::kDeny &&
        std::find(r.match_categories.begin(), r.match_categories.end(), category) !=
            r.match_categories.end()) {
      return &r;
    }
  }
  return nullptr;
}

// The detected category (best score first) that a rule of the verdict
// matched; out_of_scope when the defaults decided alone.
std::string DecidedCategory(const exchange::Outcome& outcome, const policy::PolicySet& policy) {
  for (const classify::CategoryScore& s : outcome.classification.scores) {
    if (!s.detected) {
      continue;
    }
    const std::string& id = policy.categories()[s.category].id;
    for (const policy::Rule* r : outcome.decision.rules) {
      if (std::find(r->match_categories.begin(), r->match_categories.end(), id) !=
          r->match_categories.end()) {
        return id;
      }
    }
  }
  return std::string(kOutOfScope);
}

struct LabelledFile {
  std::string path;
  std::vector<Scenario> scenarios;
};

// A text as compared for overlap: normalised (classify::Normalize), its
// words joined by single spaces, punctuation dropped.
std::string Comparable(std::string_view text) {
  base::StatusOr<std::string> normalized = classify::Normalize(text);
  std::string out;
  bool gap = false;
  for (const char c : normalized.ok() ? *normalized : std::string(text)) {
    const bool word = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                      (static_cast<unsigned char>(c) & 0x80) != 0;
    if (!word) {
      gap = !out.empty();
      continue;
    }
    if (gap) {
      out += ' ';
      gap = false;
    }
    out += c;
  }
  return out;
}

// Measuring on what the model was trained on says nothing: the prompts of
// `files` that appear, normalised, among the policy's examples and
// counter-examples or in the labelled training files.
base::StatusOr<std::vector<std::string>> Overlap(const policy::PolicySet& policy,
                                                 const std::vector<std::string>& training,
                                                 const std::vector<LabelledFile>& files) {
  std::vector<classify::TrainingExample> examples = PolicyExamples(policy);
  for (const std::string& path : training) {
    if (base::Status s = ReadLabelled(path, examples); !s.ok()) {
      return s;
    }
  }
  std::set<std::string, std::less<>> seen;
  for (const classify::TrainingExample& e : examples) {
    seen.insert(Comparable(e.text));
  }
  std::vector<std::string> found;
  for (const LabelledFile& file : files) {
    for (const Scenario& s : file.scenarios) {
      for (const base::Message& m : s.conversation.messages) {
        if (seen.contains(Comparable(m.text))) {
          found.push_back(file.path + ":" + std::to_string(s.line) + " (" + s.id + ")");
          break;
        }
      }
    }
  }
  return found;
}

base::StatusOr<Figures> Measure(const exchange::DecisionCore& core,
                                const std::vector<LabelledFile>& files) {
  const policy::PolicySet& policy = core.policy();
  const std::vector<std::string> labels = Labels(policy);
  auto index_of = [&](std::string_view label) {
    return static_cast<std::size_t>(std::find(labels.begin(), labels.end(), label) -
                                    labels.begin());
  };
  Figures f;
  f.confusion.assign(labels.size(), std::vector<int>(labels.size(), 0));
  for (const LabelledFile& file : files) {
    for (const Scenario& s : file.scenarios) {
      base::StatusOr<exchange::Outcome> outcome = core.Decide(s.conversation);
      if (!outcome.ok()) {
        return base::InvalidArgument(file.path + ":" + std::to_string(s.line) + ": " +
                                     outcome.status().message());
      }
      const policy::Verdict verdict = outcome->decision.verdict;
      const std::string decided = DecidedCategory(*outcome, policy);
      const bool blocked = verdict == policy::Verdict::kBlock;
      if (s.expected_decision) {
        const bool right = verdict == *s.expected_decision;
        f.accuracy.Add(right);
        f.margins.emplace_back(outcome->classification.margin, right);
        if (*s.expected_decision != policy::Verdict::kBlock) {
          f.legit_blocked.Add(blocked);
        }
        if (s.mixed) {
          f.mixed.Add(right);
        }
        if (!right) {
          f.misses.push_back(
              {&s, &file.path, verdict, decided, DetectedSummary(outcome->classification, policy)});
        }
      }
      if (!s.expected_category.empty()) {
        if (const policy::Rule* rule = BlockRuleOf(policy, s.expected_category)) {
          f.hard_block.Add(blocked);
          f.block_rules[rule->id].Add(blocked);
        } else if (s.expected_category == kOutOfScope &&
                   policy.defaults().decision == policy::Verdict::kBlock) {
          f.block_rules[std::string(policy::kDefaultRuleId)].Add(blocked);
        }
        f.confusion[index_of(s.expected_category)][index_of(decided)]++;
      }
    }
  }
  return f;
}

struct SweepPoint {
  double threshold = 0;
  Figures figures;
};

// Every category's threshold set to each value in turn.
base::StatusOr<std::vector<SweepPoint>> Sweep(const exchange::DecisionCore& core,
                                              const std::vector<LabelledFile>& files) {
  std::vector<SweepPoint> points;
  for (int step = 4; step <= 16; ++step) {
    const double threshold = step * 0.05;
    classify::Config config = core.classifier().config();
    for (classify::CategoryConfig& c : config.categories) {
      c.threshold = threshold;
    }
    base::StatusOr<std::unique_ptr<exchange::DecisionCore>> swept =
        exchange::DecisionCore::Create(core.shared_policy(), std::move(config));
    if (!swept.ok()) {
      return swept.status();
    }
    base::StatusOr<Figures> figures = Measure(**swept, files);
    if (!figures.ok()) {
      return figures.status();
    }
    points.push_back({threshold, std::move(figures).value()});
  }
  return points;
}

struct CategoryFigures {
  double precision = 0;
  double recall = 0;
  double f1 = 0;
  int n = 0;
};

CategoryFigures OfCategory(const Figures& f, std::size_t i) {
  int expected = 0;
  int decided = 0;
  for (std::size_t j = 0; j < f.confusion.size(); ++j) {
    expected += f.confusion[i][j];
    decided += f.confusion[j][i];
  }
  const int right = f.confusion[i][i];
  CategoryFigures c;
  c.n = expected;
  c.precision = decided == 0 ? 0 : static_cast<double>(right) / decided;
  c.recall = expected == 0 ? 0 : static_cast<double>(right) / expected;
  c.f1 = c.precision + c.recall == 0 ? 0 : 2 * c.precision * c.recall / (c.precision + c.recall);
  return c;
}

json::object TallyJson(const Tally& t) {
  return {{"rate", t.Rate()}, {"hits", t.hits}, {"n", t.n}};
}

json::object FiguresJson(const Figures& f) {
  json::object rules;
  for (const auto& [id, t] : f.block_rules) {
    rules[id] = TallyJson(t);
  }
  return {{"accuracy", TallyJson(f.accuracy)},
          {"legitimate_blocked", TallyJson(f.legit_blocked)},
          {"hard_block_recall", TallyJson(f.hard_block)},
          {"block_rule_recall", std::move(rules)},
          {"mixed_accuracy", TallyJson(f.mixed)}};
}

void PrintJson(const Figures& f, const std::vector<SweepPoint>& sweep,
               const std::vector<std::string>& labels, std::ostream& out) {
  json::object report = FiguresJson(f);
  json::object categories;
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const CategoryFigures c = OfCategory(f, i);
    categories[labels[i]] = {
        {"precision", c.precision}, {"recall", c.recall}, {"f1", c.f1}, {"n", c.n}};
  }
  report["categories"] = std::move(categories);
  json::array confusion;
  for (const std::vector<int>& row : f.confusion) {
    confusion.push_back(json::value_from(row));
  }
  report["labels"] = json::value_from(labels);
  report["confusion"] = std::move(confusion);
  json::array points;
  for (const SweepPoint& p : sweep) {
    json::object point = FiguresJson(p.figures);
    point["threshold"] = p.threshold;
    points.push_back(std::move(point));
  }
  report["threshold_sweep"] = std::move(points);
  json::array margins;
  for (const MarginPoint& p : ByMargin(f)) {
    margins.push_back({{"margin", p.margin},
                       {"set_apart", TallyJson(p.set_apart)},
                       {"accuracy_of_the_rest", TallyJson(p.rest)}});
  }
  report["uncertain_margin"] = std::move(margins);
  json::array misses;
  for (const Miss& m : f.misses) {
    misses.push_back({{"id", m.scenario->id},
                      {"file", *m.file},
                      {"line", m.scenario->line},
                      {"expected", policy::VerdictName(*m.scenario->expected_decision)},
                      {"decision", policy::VerdictName(m.verdict)},
                      {"category", m.scenario->expected_category},
                      {"decided_category", m.decided}});
  }
  report["misses"] = std::move(misses);
  out << json::serialize(report) << '\n';
}

void PrintText(const Figures& f, const std::vector<SweepPoint>& sweep,
               const std::vector<std::string>& labels, bool list_misses, std::ostream& out) {
  out << "decision accuracy     " << Count(f.accuracy) << '\n'
      << "legitimate blocked    " << Count(f.legit_blocked)
      << "   (ALLOW or ALLOW_CONSTRAINED expected, BLOCK given)\n"
      << "hard-block recall     " << Count(f.hard_block)
      << "   (categories of BLOCK rules, BLOCK given)\n";
  for (const auto& [id, t] : f.block_rules) {
    out << "  " << id << std::string(id.size() < 20 ? 20 - id.size() : 1, ' ') << Count(t) << '\n';
  }
  out << "mixed requests        " << Count(f.mixed) << "\n\n";

  out << "category                  precision  recall     f1      n\n";
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const CategoryFigures c = OfCategory(f, i);
    if (c.n == 0) {
      continue;
    }
    out << labels[i] << std::string(labels[i].size() < 26 ? 26 - labels[i].size() : 1, ' ')
        << Fixed(c.precision) << "      " << Fixed(c.recall) << "      " << Fixed(c.f1) << "  "
        << c.n << '\n';
  }

  out << "\nconfusion (rows: expected category, columns: the category that decided)\n    ";
  for (std::size_t j = 0; j < labels.size(); ++j) {
    out << std::setw(5) << j;
  }
  out << '\n';
  for (std::size_t i = 0; i < labels.size(); ++i) {
    out << std::setw(3) << i << ' ';
    for (std::size_t j = 0; j < labels.size(); ++j) {
      out << std::setw(5) << f.confusion[i][j];
    }
    out << "  " << labels[i] << '\n';
  }

  out << "\nthreshold sweep (every category's threshold)\n"
         "threshold  accuracy  legitimate blocked  hard-block recall  mixed\n";
  for (const SweepPoint& p : sweep) {
    out << "  " << Fixed(p.threshold, 2) << "       " << Fixed(p.figures.accuracy.Rate()) << "     "
        << Fixed(p.figures.legit_blocked.Rate()) << "               "
        << Fixed(p.figures.hard_block.Rate()) << "              " << Fixed(p.figures.mixed.Rate())
        << '\n';
  }
  out << "\nuncertain margin (prompts whose closest score is nearer its threshold are set apart)\n"
         "margin  set apart         accuracy of the rest\n";
  for (const MarginPoint& p : ByMargin(f)) {
    out << "  " << Fixed(p.margin, 2) << "  " << Count(p.set_apart) << "  " << Count(p.rest)
        << '\n';
  }
  if (list_misses) {
    out << "\nwrong decisions\n";
    for (const Miss& m : f.misses) {
      out << "  " << m.scenario->id << ": want "
          << policy::VerdictName(*m.scenario->expected_decision)
          << (m.scenario->expected_category.empty() ? "" : " " + m.scenario->expected_category)
          << ", got " << policy::VerdictName(m.verdict) << " [" << m.detected << "] (" << *m.file
          << ":" << m.scenario->line << ")\n";
    }
  }
}

}  // namespace

int RunEval(const EvalOptions& options, std::ostream& out, std::ostream& err) {
  std::unique_ptr<exchange::DecisionCore> core = LoadDecisionCore(options.policy, err);
  if (core == nullptr) {
    return kExitPolicyFailure;
  }
  const std::vector<std::string> labels = Labels(core->policy());
  std::vector<LabelledFile> files;
  std::size_t prompts = 0;
  for (const std::string& path : options.data) {
    base::StatusOr<std::vector<Scenario>> scenarios = LoadScenarios(path);
    if (!scenarios.ok()) {
      err << "firebreak eval: " << scenarios.status().message() << '\n';
      return kExitUsage;
    }
    for (const Scenario& s : *scenarios) {
      if (!s.expected_category.empty() &&
          std::find(labels.begin(), labels.end(), s.expected_category) == labels.end()) {
        err << "firebreak eval: " << path << ":" << s.line << ": category '" << s.expected_category
            << "' is neither a category of the policy nor " << kOutOfScope << '\n';
        return kExitUsage;
      }
    }
    prompts += scenarios->size();
    files.push_back({path, std::move(scenarios).value()});
  }
  base::StatusOr<std::vector<std::string>> overlap =
      Overlap(core->policy(), options.training, files);
  if (!overlap.ok()) {
    err << "firebreak eval: " << overlap.status().message() << '\n';
    return kExitUsage;
  }
  if (!overlap->empty()) {
    err << "firebreak eval: " << overlap->size()
        << " prompt(s) of the evaluation data appear in the training data, so the figures would "
           "not measure generalisation; remove them from one or the other:\n";
    for (const std::string& where : *overlap) {
      err << "  " << where << '\n';
    }
    return kExitUsage;
  }
  base::StatusOr<Figures> figures = Measure(*core, files);
  base::StatusOr<std::vector<SweepPoint>> sweep =
      figures.ok() ? Sweep(*core, files)
                   : base::StatusOr<std::vector<SweepPoint>>(figures.status());
  if (!sweep.ok()) {
    err << "firebreak eval: " << sweep.status().message() << '\n';
    return kExitUsage;
  }
  if (options.json) {
    PrintJson(*figures, *sweep, labels, out);
  } else {
    out << "firebreak eval: " << options.policy << " on " << prompts << " prompts\n\n";
    PrintText(*figures, *sweep, labels, options.list_misses, out);
  }
  int exit = kExitOk;
  auto gate = [&](bool failed, const std::string& what) {
    if (failed) {
      err << "firebreak eval: FAIL: " << what << '\n';
      exit = kExitPolicyFailure;
    }
  };
  gate(figures->accuracy.Rate() < options.min_accuracy,
       "decision accuracy " + Fixed(figures->accuracy.Rate()) + " is below --min-accuracy " +
           Fixed(options.min_accuracy));
  gate(figures->legit_blocked.Rate() > options.max_false_block,
       "legitimate prompts blocked " + Fixed(figures->legit_blocked.Rate()) +
           " is above --max-false-block " + Fixed(options.max_false_block));
  gate(figures->hard_block.Rate() < options.min_block_recall,
       "hard-block recall " + Fixed(figures->hard_block.Rate()) + " is below --min-block-recall " +
           Fixed(options.min_block_recall));
  return exit;
}

}  // namespace firebreak::cli
