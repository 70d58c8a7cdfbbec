#include "firebreak/cli/app.h"

#include <CLI/CLI.hpp>

#include <iostream>

#include "firebreak/cli/commands.h"

namespace firebreak::cli {

int Run(int argc, char** argv) {
  CLI::App app{
      "Firebreak: policy-enforcement proxy for LLM APIs.\n"
      "Classifies the intent of a conversation, evaluates it against a co-signed\n"
      "YAML policy and decides ALLOW, ALLOW_CONSTRAINED or BLOCK.\n"
      "Exit codes: 0 ok, 1 policy or test failure, 2 usage or input error.",
      "firebreak"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "firebreak 0.1.0");

  CheckOptions check;
  CLI::App* check_cmd = app.add_subcommand(
      "check", "Validate a policy: prints 'ok' (exit 0) or every problem as file:line:col (exit 1)");
  check_cmd->add_option("policy", check.policy, "Policy YAML file")->required();

  ClassifyOptions classify;
  CLI::App* classify_cmd = app.add_subcommand(
      "classify",
      "Explain the decision for one prompt, or (--jsonl) decide one JSON line per input line");
  classify_cmd->add_option("--policy", classify.policy, "Policy YAML file")->required();
  classify_cmd->add_option("text", classify.text, "The prompt to classify");
  classify_cmd->add_flag(
      "--jsonl", classify.jsonl,
      "Read {\"id\",\"prompt\"} or {\"id\",\"messages\"} lines from stdin; write one decision "
      "line each");

  TestOptions test;
  CLI::App* test_cmd = app.add_subcommand(
      "test", "Run scenario files against a policy; one line per scenario, exit 1 on a mismatch");
  test_cmd->add_option("policy", test.policy, "Policy YAML file")->required();
  test_cmd->add_option("scenarios", test.scenario_files, "Scenario YAML files")->required();
  test_cmd->add_flag("-v,--verbose", test.verbose, "Show categories and evidence of each scenario");
  test_cmd->add_option("--min-pass-rate", test.min_pass_rate,
                       "Succeed when at least this fraction of scenarios pass (accuracy gate)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));

  TrainOptions train;
  CLI::App* train_cmd = app.add_subcommand(
      "train", "(Re)build the local model a policy references from its categories' examples");
  train_cmd->add_option("policy", train.policy, "Policy YAML file")->required();
  train_cmd->add_option("--negatives", train.negatives,
                        "Out-of-scope prompts (CSV with a goal/Behavior/forbidden_prompt/prompt "
                        "column, or JSONL with prompt/text/turns); repeatable");
  train_cmd->add_option("--data", train.data,
                        "Labelled JSONL, one {\"text\": ..., \"label\": CATEGORY|__none__} a line; "
                        "repeatable");
  train_cmd->add_option("--out", train.out, "Model file (default: the policy's classifier.model)");
  train_cmd->add_option("--c", train.c, "Inverse regularisation strength")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  train_cmd->add_option("--hash-bits", train.hash_bits, "Feature hash size (2^N buckets)")
      ->capture_default_str()
      ->check(CLI::Range(10, 24));
  train_cmd->add_option("--seed", train.seed, "Random seed")->capture_default_str();
  train_cmd->add_option("--cross-validate", train.cross_validate,
                        "Report K-fold accuracy on the training examples instead of writing a model")
      ->check(CLI::Range(2, 20));

  DemoOptions demo;
  CLI::App* demo_cmd = app.add_subcommand(
      "demo", "Run the demo scenarios through the decision core (the prototype's seven by default)");
  demo_cmd->add_option("--policy", demo.policy, "Policy file")->capture_default_str();
  demo_cmd->add_option("--scenarios", demo.scenarios, "Scenario file")->capture_default_str();
  CLI::Option* auto_flag =
      demo_cmd->add_flag("--auto", demo.auto_advance, "Auto-advance with pauses for recording");
  CLI::Option* fast_flag = demo_cmd->add_flag("--fast", demo.fast, "Auto-advance, short pauses");
  CLI::Option* server_flag =
      demo_cmd->add_flag("--server", demo.server, "Start the proxy with the live dashboard");
  auto_flag->excludes(fast_flag)->excludes(server_flag);
  fast_flag->excludes(server_flag);
  demo_cmd->add_option("--port", demo.port, "Port for --server")->capture_default_str();
  demo_cmd->add_flag("--interactive", demo.interactive,
                     "After the scenarios, classify prompts typed live");
  demo_cmd->add_flag("--no-cache", demo.no_cache,
                     "Accepted for compatibility: the local classifier keeps no cache");
  demo_cmd->add_flag("--exit-when-done", demo.exit_when_done,
                     "Quit after the last scenario instead of waiting");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }

  if (*check_cmd) {
    return RunCheck(check, std::cout);
  }
  if (*classify_cmd) {
    if (classify.jsonl == !classify.text.empty()) {
      std::cerr << "firebreak classify: give either a TEXT argument or --jsonl\n";
      return kExitUsage;
    }
    return RunClassify(classify, std::cin, std::cout, std::cerr);
  }
  if (*test_cmd) {
    return RunTest(test, std::cout, std::cerr);
  }
  if (*train_cmd) {
    return RunTrain(train, std::cout, std::cerr);
  }
  if (*demo_cmd) {
    return RunDemo(demo, std::cin, std::cout, std::cerr);
  }
  return kExitUsage;
}

}  // namespace firebreak::cli
