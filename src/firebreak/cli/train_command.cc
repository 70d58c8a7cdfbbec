#include <algorithm>
#include <iostream>
#include <map>
#include <ostream>
#include <random>

#include "firebreak/base/digest.h"
#include "firebreak/classify/linear_model.h"
#include "firebreak/classify/normalize.h"
#include "firebreak/classify/word_vectors.h"
#include "firebreak/cli/commands.h"
#include "firebreak/cli/training_data.h"
#include "firebreak/policy/loader.h"

namespace firebreak::cli {
namespace {

using classify::TrainingExample;

// The verdict the policy gives a text whose model probabilities are
// `probabilities`, detecting every category at or above `threshold`.
// A negative threshold means: each category's own threshold from the policy.
policy::Verdict VerdictAt(const policy::PolicySet& policy, const classify::LinearModel& model,
                          const std::vector<double>& probabilities, double threshold) {
  std::vector<policy::DetectedCategory> detected;
  for (std::size_t j = 0; j < probabilities.size(); ++j) {
    std::optional<std::uint16_t> c = policy.CategoryIndex(model.labels()[j]);
    if (!c) {
      continue;
    }
    const double t =
        threshold >= 0 ? threshold
                       : policy.categories()[*c].threshold.value_or(policy.classifier().threshold);
    if (probabilities[j] >= t) {
      detected.push_back({*c, probabilities[j]});
    }
  }
  policy::EvaluationInput input;
  input.detected = detected;
  return policy.Evaluate(input).verdict;
}

policy::Verdict ExpectedVerdict(const policy::PolicySet& policy, const std::string& label) {
  std::vector<policy::DetectedCategory> detected;
  if (std::optional<std::uint16_t> c = policy.CategoryIndex(label)) {
    detected.push_back({*c, 1.0});
  }
  policy::EvaluationInput input;
  input.detected = detected;
  return policy.Evaluate(input).verdict;
}

// K-fold cross-validation on the training set: label accuracy of the model's
// best guess, and decision accuracy under the policy for a range of
// detection thresholds (model stage only).
// Decision counts cover the policy's own examples (the first `policy_examples`),
// which look like the traffic the policy is for; labels cover all.
void CrossValidate(const policy::PolicySet& policy, const std::vector<TrainingExample>& examples,
                   std::size_t policy_examples, const classify::TrainOptions& options, int folds,
                   std::ostream& out) {
  constexpr double kThresholds[] = {0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, -1};
  std::vector<int> verdict_right(std::size(kThresholds), 0);
  std::vector<int> allowed_blocked(std::size(kThresholds), 0);
  std::vector<int> blocked_allowed(std::size(kThresholds), 0);
  std::vector<int> policy_right(std::size(kThresholds), 0);
  int allowed_total = 0;
  int blocked_total = 0;
  int policy_total = 0;
  std::vector<std::size_t> order(examples.size());
  for (std::size_t i = 0; i < order.size(); ++i) {
    order[i] = i;
  }
  std::mt19937 rng(options.seed);
  std::shuffle(order.begin(), order.end(), rng);
  std::map<std::string, std::pair<int, int>> per_label;  // label -> (right, total)
  std::map<std::string, int> confusions;
  std::vector<std::uint32_t> features;
  std::vector<double> probabilities;
  for (int fold = 0; fold < folds; ++fold) {
    std::vector<TrainingExample> train;
    std::vector<std::size_t> held;
    for (std::size_t i = 0; i < order.size(); ++i) {
      if (static_cast<int>(i % static_cast<std::size_t>(folds)) == fold) {
        held.push_back(order[i]);
      } else {
        train.push_back(examples[order[i]]);
      }
    }
    base::StatusOr<classify::LinearModel> model = classify::LinearModel::Train(train, options);
    if (!model.ok()) {
      out << "fold " << fold << ": " << model.status().message() << '\n';
      continue;
    }
    for (std::size_t index : held) {
      const TrainingExample* e = &examples[index];
      base::StatusOr<std::string> normalized = classify::Normalize(e->text);
      if (!normalized.ok()) {
        continue;
      }
      model->Predict(*normalized, features, probabilities);
      std::size_t best = static_cast<std::size_t>(
          std::max_element(probabilities.begin(), probabilities.end()) - probabilities.begin());
      const std::string& predicted = model->labels()[best];
      const policy::Verdict want = ExpectedVerdict(policy, e->label);
      for (std::size_t t = 0; t < std::size(kThresholds) && index < policy_examples; ++t) {
        const policy::Verdict got = VerdictAt(policy, *model, probabilities, kThresholds[t]);
        policy_right[t] += got == want ? 1 : 0;
      }
      policy_total += index < policy_examples ? 1 : 0;
      allowed_total += want != policy::Verdict::kBlock ? 1 : 0;
      blocked_total += want == policy::Verdict::kBlock ? 1 : 0;
      for (std::size_t t = 0; t < std::size(kThresholds); ++t) {
        const policy::Verdict got = VerdictAt(policy, *model, probabilities, kThresholds[t]);
        verdict_right[t] += got == want ? 1 : 0;
        allowed_blocked[t] +=
            want != policy::Verdict::kBlock && got == policy::Verdict::kBlock ? 1 : 0;
        blocked_allowed[t] +=
            want == policy::Verdict::kBlock && got != policy::Verdict::kBlock ? 1 : 0;
      }
      auto& [right, total] = per_label[e->label];
      ++total;
      if (predicted == e->label) {
        ++right;
      } else {
        ++confusions[e->label + " -> " + predicted];
      }
    }
    std::cerr << "\rcross-validation: fold " << fold + 1 << "/" << folds << std::flush;
  }
  std::cerr << '\n';
  int right_all = 0;
  int total_all = 0;
  for (const auto& [label, counts] : per_label) {
    out << "  " << label << ": " << counts.first << "/" << counts.second << '\n';
    right_all += counts.first;
    total_all += counts.second;
  }
  out << "label accuracy: " << right_all << "/" << total_all << '\n';
  for (std::size_t t = 0; t < std::size(kThresholds); ++t) {
    out << "  threshold ";
    if (kThresholds[t] < 0) {
      out << "(policy)";
    } else {
      out << kThresholds[t];
    }
    out << ": decisions " << verdict_right[t] << "/" << total_all << ", allowed wrongly blocked "
        << allowed_blocked[t] << "/" << allowed_total << ", blocked wrongly allowed "
        << blocked_allowed[t] << "/" << blocked_total << "; policy examples " << policy_right[t]
        << "/" << policy_total << '\n';
  }
  std::vector<std::pair<int, std::string>> worst;
  for (const auto& [pair, n] : confusions) {
    worst.emplace_back(n, pair);
  }
  std::sort(worst.rbegin(), worst.rend());
  for (std::size_t i = 0; i < worst.size() && i < 15; ++i) {
    out << "  confused " << worst[i].second << ": " << worst[i].first << '\n';
  }
}

}  // namespace

int RunTrain(const TrainOptions& options, std::ostream& out, std::ostream& err) {
  policy::LoadResult loaded = policy::LoadPolicyFile(options.policy, {.require_model_file = false});
  for (const policy::Diagnostic& d : loaded.diagnostics) {
    err << d.ToString() << '\n';
  }
  if (!loaded.ok()) {
    return kExitPolicyFailure;
  }
  const policy::PolicySet& policy = *loaded.policy;
  std::string model_path = options.out;
  if (model_path.empty()) {
    if (policy.classifier().model_file.empty()) {
      err << options.policy
          << ": error: the policy names no model file; add `classifier: {model: NAME.model}` or "
             "pass --out\n";
      return kExitUsage;
    }
    model_path = policy.classifier().model_file.string();
  }

  std::vector<TrainingExample> examples = PolicyExamples(policy);
  const std::size_t from_policy = examples.size();
  for (const std::string& file : options.negatives) {
    base::StatusOr<std::vector<std::string>> prompts = ReadPrompts(file);
    if (!prompts.ok()) {
      err << "firebreak train: " << prompts.status().message() << '\n';
      return kExitUsage;
    }
    for (std::string& p : *prompts) {
      examples.push_back({std::move(p), std::string(classify::kCorpusNoneLabel)});
    }
  }
  for (const std::string& file : options.data) {
    if (base::Status s = ReadLabelled(file, examples); !s.ok()) {
      err << "firebreak train: " << s.message() << '\n';
      return kExitUsage;
    }
  }
  for (const TrainingExample& e : examples) {
    if (!classify::IsNoneLabel(e.label) && !policy.CategoryIndex(e.label)) {
      err << "firebreak train: label '" << e.label << "' is not a category of the policy\n";
      return kExitUsage;
    }
  }
  out << "training on " << examples.size() << " examples (" << from_policy << " from the policy, "
      << examples.size() - from_policy << " from files)\n";

  std::optional<classify::WordVectors> vectors;
  if (!options.vectors.empty()) {
    base::StatusOr<classify::WordVectors> loaded_vectors =
        classify::WordVectors::Load(options.vectors);
    if (!loaded_vectors.ok()) {
      err << "firebreak train: " << loaded_vectors.status().message() << '\n';
      return kExitUsage;
    }
    vectors.emplace(std::move(loaded_vectors).value());
  }
  classify::TrainOptions train_options;
  train_options.c = options.c;
  train_options.hash_bits = options.hash_bits;
  train_options.vectors = vectors ? &*vectors : nullptr;
  train_options.vector_scale = options.vector_scale;
  train_options.seed = options.seed;
  if (options.cross_validate > 0) {
    CrossValidate(policy, examples, from_policy, train_options, options.cross_validate, out);
    return kExitOk;
  }
  train_options.progress = [&](int done, int total) {
    err << "\rtraining: label " << done << "/" << total << std::flush;
    if (done == total) {
      err << '\n';
    }
  };
  base::StatusOr<classify::LinearModel> model =
      classify::LinearModel::Train(examples, train_options);
  if (!model.ok()) {
    err << "firebreak train: " << model.status().message() << '\n';
    return kExitPolicyFailure;
  }
  if (base::Status s = model->Save(model_path); !s.ok()) {
    err << "firebreak train: " << s.message() << '\n';
    return kExitUsage;
  }
  base::StatusOr<std::string> digest = base::Sha256HexOfFile(model_path);
  out << "wrote " << model_path << " (" << model->labels().size() << " labels, sha256 "
      << (digest.ok() ? *digest : "?") << ")\n";
  return kExitOk;
}

}  // namespace firebreak::cli
