// Measures the two candidate local models on the same data: the shipped
// policy's examples plus the public out-of-scope prompt sets, 5-fold
// cross-validation with one shuffle. Prints label accuracy (all examples and
// the policy's own), training time and prediction time per text.
//
//   build/release/bench/model_choice [DATASET_DIR]
#include <fasttext/fasttext.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>

#include "firebreak/classify/linear_model.h"
#include "firebreak/classify/normalize.h"
#include "firebreak/cli/training_data.h"
#include "firebreak/policy/loader.h"

namespace {

using firebreak::classify::TrainingExample;
using Clock = std::chrono::steady_clock;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

struct Score {
  int right = 0;
  int total = 0;
  int policy_right = 0;
  int policy_total = 0;
  double train_seconds = 0;
  double predict_seconds = 0;
  int predictions = 0;

  void Add(bool correct, bool from_policy) {
    right += correct;
    ++total;
    policy_right += correct && from_policy;
    policy_total += from_policy;
  }
  void Print(const char* name) const {
    std::printf(
        "%-10s label accuracy %.3f (%d/%d), policy examples %.3f (%d/%d), train %.1f s, "
        "predict %.2f us/text\n",
        name, double(right) / total, right, total, double(policy_right) / policy_total,
        policy_right, policy_total, train_seconds,
        1e6 * predict_seconds / std::max(predictions, 1));
  }
};

}  // namespace

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  const fs::path source = FIREBREAK_SOURCE_DIR;
  const fs::path datasets = argc > 1 ? fs::path(argv[1]) : source / "../shared/datasets";
  auto loaded = firebreak::policy::LoadPolicyFile(source / "policies/defense-standard.yaml",
                                                  {.require_model_file = false});
  if (!loaded.ok()) {
    std::cerr << loaded.Report();
    return 1;
  }
  std::vector<TrainingExample> examples = firebreak::cli::PolicyExamples(*loaded.policy);
  const std::size_t from_policy = examples.size();
  for (const char* name : {"advbench_harmful_behaviors.csv", "harmbench_behaviors_text_all.csv",
                           "strongreject_dataset.csv", "vicuna_bench_questions.jsonl",
                           "openai_moderation_samples_1680.jsonl"}) {
    auto prompts = firebreak::cli::ReadPrompts((datasets / name).string());
    if (!prompts.ok()) {
      std::cerr << prompts.status().ToString() << '\n';
      return 1;
    }
    for (std::string& p : *prompts) {
      examples.push_back({std::move(p), std::string(firebreak::classify::kCorpusNoneLabel)});
    }
  }
  std::vector<std::string> normalized;
  for (const TrainingExample& e : examples) {
    normalized.push_back(firebreak::classify::Normalize(e.text).value());
  }
  std::vector<std::size_t> order(examples.size());
  for (std::size_t i = 0; i < order.size(); ++i) {
    order[i] = i;
  }
  std::mt19937 rng(1);
  std::shuffle(order.begin(), order.end(), rng);

  constexpr int kFolds = 5;
  Score linear;
  Score fasttext;
  const fs::path tmp = fs::temp_directory_path() / "firebreak-model-choice.txt";
  for (int fold = 0; fold < kFolds; ++fold) {
    std::vector<TrainingExample> train;
    std::vector<std::size_t> held;
    std::ofstream ft_input(tmp, std::ios::trunc);
    for (std::size_t k = 0; k < order.size(); ++k) {
      const std::size_t i = order[k];
      if (static_cast<int>(k % kFolds) == fold) {
        held.push_back(i);
      } else {
        train.push_back(examples[i]);
        ft_input << "__label__" << examples[i].label << ' ' << normalized[i] << '\n';
      }
    }
    ft_input.close();

    auto start = Clock::now();
    firebreak::classify::TrainOptions options;
    auto model = firebreak::classify::LinearModel::Train(train, options);
    linear.train_seconds += Seconds(Clock::now() - start);
    std::vector<std::uint32_t> features;
    std::vector<double> p;
    for (std::size_t i : held) {
      start = Clock::now();
      model->Predict(normalized[i], features, p);
      linear.predict_seconds += Seconds(Clock::now() - start);
      ++linear.predictions;
      const std::size_t best = std::max_element(p.begin(), p.end()) - p.begin();
      linear.Add(model->labels()[best] == examples[i].label, i < from_policy);
    }

    fasttext::Args args;
    args.input = tmp.string();
    args.model = fasttext::model_name::sup;
    args.loss = fasttext::loss_name::softmax;
    args.thread = 1;
    args.seed = 1;
    args.verbose = 0;
    args.dim = 50;
    args.epoch = 50;
    args.lr = 0.5;
    args.wordNgrams = 2;
    args.minn = 3;
    args.maxn = 5;
    args.minCount = 1;
    args.bucket = 1 << 18;
    fasttext::FastText ft;
    start = Clock::now();
    ft.train(args);
    fasttext.train_seconds += Seconds(Clock::now() - start);
    std::vector<std::pair<fasttext::real, std::string>> predictions;
    for (std::size_t i : held) {
      std::istringstream line(normalized[i] + "\n");
      start = Clock::now();
      ft.predictLine(line, predictions, 1, 0.0);
      fasttext.predict_seconds += Seconds(Clock::now() - start);
      ++fasttext.predictions;
      fasttext.Add(!predictions.empty() && predictions[0].second == "__label__" + examples[i].label,
                   i < from_policy);
    }
    std::fprintf(stderr, "fold %d/%d done\n", fold + 1, kFolds);
  }
  fs::remove(tmp);
  linear.Print("liblinear");
  fasttext.Print("fastText");
  return 0;
}
