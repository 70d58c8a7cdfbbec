#include "firebreak/cli/app.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "firebreak/base/spelling.h"
#include "firebreak/cli/commands.h"

namespace firebreak::cli {
namespace {

std::vector<CLI::App*> CommandsOf(CLI::App& group) {
  return group.get_subcommands([](CLI::App* sub) { return !sub->get_name().empty(); });
}

// What a command group offers: its commands, and where to read more.
std::string CommandList(CLI::App& group, const std::string& path) {
  std::string names;
  for (const CLI::App* sub : CommandsOf(group)) {
    names += (names.empty() ? "" : ", ") + sub->get_name();
  }
  return "commands: " + names + "\nRun '" + path + " --help' for what each does.\n";
}

// The command words of argv, checked against the command tree before CLI11
// parses the rest: a missing or unknown command, or an option where a
// command must come, is a usage error naming what there is. Returns the exit
// code after printing, or nullopt to go on.
std::optional<int> CheckCommandWords(CLI::App& app, int argc, char** argv, std::ostream& err) {
  CLI::App* group = &app;
  std::string path = "firebreak";
  for (int i = 1;; ++i) {
    if (i >= argc) {
      err << path << ": a command is required\n" << CommandList(*group, path);
      return kExitUsage;
    }
    const std::string_view word = argv[i];
    if (word.starts_with('-')) {
      if (word == "-h" || word == "--help" || (group == &app && word == "--version")) {
        return std::nullopt;
      }
      err << path << ": unknown option '" << word << "'; a command comes first\n"
          << CommandList(*group, path);
      return kExitUsage;
    }
    const std::vector<CLI::App*> commands = CommandsOf(*group);
    auto found = std::find_if(commands.begin(), commands.end(),
                              [&](CLI::App* sub) { return sub->check_name(std::string(word)); });
    if (found == commands.end()) {
      err << path << ": unknown command '" << word << "'";
      std::vector<std::string_view> names;
      for (const CLI::App* sub : commands) {
        names.push_back(sub->get_name());
      }
      if (const auto nearest = base::NearestSpelling(word, names)) {
        err << "; did you mean '" << *nearest << "'?";
      }
      err << '\n' << CommandList(*group, path);
      return kExitUsage;
    }
    if (CommandsOf(**found).empty()) {
      return std::nullopt;  // a command: CLI11 parses its arguments
    }
    group = *found;
    path += " " + group->get_name();
  }
}

// A parse error of a command's arguments, said with the command, its usage
// line and where its options are described.
void ReportUsageError(CLI::App& app, const CLI::ParseError& e, std::ostream& err) {
  CLI::App* command = &app;
  std::string path = "firebreak";
  while (!command->get_subcommands().empty()) {
    command = command->get_subcommands().back();
    path += " " + command->get_name();
  }
  err << path << ": " << e.what() << '\n'
      << CLI::Formatter().make_usage(command, path) << "Run '" << path
      << " --help' for its arguments and options.\n";
}

}  // namespace

int Run(int argc, char** argv, ServeCommand serve_command) {
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
      "check",
      "Validate a policy: prints 'ok' (exit 0) or every problem as file:line:col (exit 1)");
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
  classify_cmd->add_option(
      "--audit-db", classify.audit_db,
      "With --jsonl: record every decision in this audit database (SQLite) "
      "before printing it; a line whose record cannot be written gets an error");
  classify_cmd
      ->add_option("--durability", classify.durability,
                   "Audit durability: group (fsync within 10 ms) or fsync (before each "
                   "answer); default: the config's, else group")
      ->check(CLI::IsMember({"group", "fsync"}));
  classify_cmd
      ->add_option("--config", classify.config,
                   "Server config with the alert targets the policy names")
      ->capture_default_str();

  TestOptions test;
  CLI::App* test_cmd = app.add_subcommand(
      "test", "Run scenario files against a policy; one line per scenario, exit 1 on a mismatch");
  test_cmd->add_option("policy", test.policy, "Policy YAML file")->required();
  test_cmd->add_option("scenarios", test.scenario_files, "Scenario files (YAML, or JSONL)")
      ->required();
  test_cmd->add_flag("-v,--verbose", test.verbose, "Show categories and evidence of each scenario");
  test_cmd
      ->add_option("--min-pass-rate", test.min_pass_rate,
                   "Succeed when at least this fraction of scenarios pass (accuracy gate)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));

  EvalOptions eval;
  CLI::App* eval_cmd = app.add_subcommand(
      "eval",
      "Measure a policy's decisions on labelled prompts it was not trained on: accuracy, "
      "legitimate prompts blocked, the recall of each BLOCK rule, mixed requests, precision / "
      "recall / F1 per category, the confusion matrix and a threshold sweep");
  eval_cmd->add_option("policy", eval.policy, "Policy YAML file")->required();
  eval_cmd
      ->add_option("data", eval.data,
                   "Labelled JSONL files, one {\"id\", \"prompt\" | \"messages\", \"decision\", "
                   "\"category\"?, \"mixed\"?} a line (category: a policy category or "
                   "out_of_scope)")
      ->required();
  eval_cmd->add_option("--training", eval.training,
                       "Labelled training JSONL the model was trained on besides the policy's "
                       "examples: refuse to measure when a prompt appears in it; repeatable")
      ->allow_extra_args(false);
  eval_cmd->add_flag("--json", eval.json, "One JSON object with every figure");
  eval_cmd->add_flag("--misses", eval.list_misses, "List every wrong decision with its line");
  eval_cmd->add_option("--min-accuracy", eval.min_accuracy, "Exit 1 below this decision accuracy")
      ->check(CLI::Range(0.0, 1.0));
  eval_cmd
      ->add_option("--max-false-block", eval.max_false_block,
                   "Exit 1 when more than this share of legitimate prompts is blocked")
      ->check(CLI::Range(0.0, 1.0));
  eval_cmd
      ->add_option("--min-block-recall", eval.min_block_recall,
                   "Exit 1 when less than this share of the BLOCK rules' prompts is blocked")
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
  train_cmd->add_option("--vectors", train.vectors,
                        "Pretrained word vectors (scripts/vectors OUT.vec; `make model` fetches "
                        "them): their features join the n-grams'");
  train_cmd
      ->add_option("--vector-scale", train.vector_scale,
                   "Scale of the word vector features against the n-grams'")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  train_cmd
      ->add_option("--cross-validate", train.cross_validate,
                   "Report K-fold accuracy on the training examples instead of writing a model")
      ->check(CLI::Range(2, 20));

  DemoOptions demo;
  CLI::App* demo_cmd = app.add_subcommand(
      "demo",
      "Run the demo scenarios through the decision core (the prototype's seven by default)");
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
  demo_cmd
      ->add_option("--config", demo.config,
                   "Server config: the trust file the signatures are checked against; "
                   "with --server, upstreams, audit and alerts")
      ->capture_default_str();
  demo_cmd->add_flag("--exit-when-done", demo.exit_when_done,
                     "Quit after the last scenario instead of waiting");

  std::string keygen_out;
  CLI::App* keygen_cmd = app.add_subcommand(
      "keygen", "Write an Ed25519 key pair for signing policies: OUT.key (0600) and OUT.pub");
  keygen_cmd->add_option("--out", keygen_out, "File name without extension")->required();
  std::string digest_policy;
  bool digest_manifest = false;
  CLI::App* digest_cmd = app.add_subcommand(
      "digest",
      "Print the digest signatures cover: SHA-256 of the manifest of the policy and the files "
      "it references (the model)");
  digest_cmd->add_option("policy", digest_policy, "Policy YAML file")->required();
  digest_cmd->add_flag("--manifest", digest_manifest, "Also print the manifest");

  std::string sign_policy, sign_key, sign_party;
  CLI::App* sign_cmd = app.add_subcommand(
      "sign", "Add a party's signature of the policy's bundle digest to POLICY.sig");
  sign_cmd->add_option("policy", sign_policy, "Policy YAML file")->required();
  sign_cmd->add_option("--key", sign_key, "The party's private key (PEM, from keygen)")->required();
  sign_cmd->add_option("--party", sign_party, "The party's name, as the trust file names it")
      ->required();
  std::string verify_policy, verify_trust;
  CLI::App* verify_policy_cmd = app.add_subcommand(
      "verify",
      "Check POLICY.sig against a trust file: each party valid, missing, invalid or unknown "
      "key; exit 0 only when the threshold is met");
  verify_policy_cmd->add_option("policy", verify_policy, "Policy YAML file")->required();
  verify_policy_cmd->add_option("--trust", verify_trust, "Trust file (parties, threshold)")
      ->required();

  std::string receipt, receipt_pubkey;
  CLI::App* verify_receipt_cmd = app.add_subcommand(
      "verify-receipt",
      "Check an x-firebreak-receipt offline against the instance's public key and print what "
      "it attests (request, decision, rules, policy digest, audit sequence and record hash); "
      "exit 0 only when the signature verifies");
  verify_receipt_cmd->add_option("receipt", receipt, "The header's value ('-': read stdin)")
      ->required();
  verify_receipt_cmd
      ->add_option("--pubkey", receipt_pubkey,
                   "The instance's public key (PEM), from `firebreak audit pubkey --db DB`")
      ->required();

  DashboardOptions dashboard;
  CLI::App* dashboard_cmd = app.add_subcommand(
      "dashboard",
      "The live dashboard of a running proxy (its GET /v1/firebreak/events stream, admins "
      "only); q quits. Without a terminal, prints each event as a JSON line");
  dashboard_cmd
      ->add_option("--connect", dashboard.connect, "The proxy's URL, e.g. http://127.0.0.1:8080")
      ->required();
  dashboard_cmd
      ->add_option("--key-env", dashboard.key_env,
                   "Environment variable holding an admin API key (never on the command line)")
      ->capture_default_str();

  ServeOptions serve;
  CLI::App* serve_cmd = app.add_subcommand(
      "serve",
      "Run the proxy: OpenAI (/v1/chat/completions) and Anthropic (/v1/messages) APIs, "
      "every request classified, decided, audited, then blocked or forwarded. Enforces only a "
      "policy signed by the trusted parties. Reloads the policy on SIGHUP, when its files "
      "change, or on POST /v1/firebreak/reload (admins). Stops on SIGINT/SIGTERM after "
      "draining");
  serve_cmd
      ->add_option("--config", serve.config,
                   "Server config (listener, upstreams, API keys, "
                   "audit, alerts)")
      ->capture_default_str();
  serve_cmd->add_option("--policy", serve.policy, "Policy YAML file (default: the config's)");
  serve_cmd->add_option("--trust", serve.trust,
                        "Trust file: the parties whose signatures the policy needs, and how "
                        "many (default: the config's trust:)");
  serve_cmd->add_flag("--allow-unsigned", serve.allow_unsigned,
                      "LOCAL DEVELOPMENT ONLY: enforce a policy whose signatures do not meet "
                      "the threshold (or with no trust file); warns, and every audit record "
                      "says policy.signed: false");
  serve_cmd->add_option("--listen", serve.listen, "Address to listen on (default 127.0.0.1)");
  serve_cmd->add_option("--port", serve.port, "Port; 0 = any free port (default 8080)")
      ->check(CLI::Range(0, 65535));
  serve_cmd->add_option("--upstream", serve.upstreams,
                        "TYPE=URL or NAME:TYPE=URL, TYPE openai, anthropic or gemini, e.g. "
                        "openai=http://127.0.0.1:9000; repeatable; the first is the default; "
                        "replaces the config's (the key: a gemini upstream's from GEMINI_API_KEY)");
  serve_cmd->add_option("--audit-db", serve.audit_db, "Audit database (default: the config's)");
  serve_cmd
      ->add_option("--durability", serve.durability,
                   "Audit durability: group (fsync within 10 ms) or fsync (before each answer)")
      ->check(CLI::IsMember({"group", "fsync"}));
  serve_cmd->add_option("--threads", serve.threads, "I/O threads (default: one per core)");

  CLI::App* audit_cmd = app.add_subcommand("audit", "Verify, export and follow the audit trail");
  audit_cmd->require_subcommand(1);
  AuditVerifyOptions audit_verify;
  CLI::App* verify_cmd = audit_cmd->add_subcommand(
      "verify",
      "Check the hash chain, every stored column, the checkpoint signatures and (--witness) the "
      "signed heads published outside the database: exit 0 'ok N records, M checkpoints', "
      "exit 1 naming the first bad record");
  CLI::Option* verify_db = verify_cmd->add_option(
      "--db", audit_verify.db,
      "Audit database (SQLite); the journal beside it (DB.journal-*) is read too");
  CLI::Option* verify_jsonl =
      verify_cmd->add_option("--jsonl", audit_verify.jsonl, "An export made by `audit export`");
  verify_db->excludes(verify_jsonl);
  verify_cmd
      ->add_option("--pubkey", audit_verify.pubkey,
                   "The instance's public key (PEM) to trust; default: the one the log names")
      ->check(CLI::ExistingFile);
  verify_cmd
      ->add_option("--witness", audit_verify.witness,
                   "The witness file the log publishes its signed heads to (audit.witness.file): "
                   "finds records deleted, rewritten or appended after its heads")
      ->check(CLI::ExistingFile);
  AuditExportOptions audit_export;
  CLI::App* export_cmd = audit_cmd->add_subcommand(
      "export",
      "Write records with their hashes and the checkpoints as JSON lines that verify offline");
  export_cmd
      ->add_option("--db", audit_export.db,
                   "Audit database (SQLite); the journal beside it (DB.journal-*) is read too")
      ->required();
  export_cmd->add_option("--from", audit_export.from, "First sequence number")
      ->capture_default_str();
  export_cmd->add_option("--format", audit_export.format, "Output format")
      ->capture_default_str()
      ->check(CLI::IsMember({"jsonl"}));
  std::string pubkey_db;
  std::string pubkey_key;
  CLI::App* pubkey_cmd = audit_cmd->add_subcommand(
      "pubkey",
      "Print the instance's public key (from its signing key) to keep for `audit verify "
      "--pubkey`");
  pubkey_cmd->add_option("--db", pubkey_db, "Audit database (SQLite): its key is DB.key");
  pubkey_cmd->add_option("--key", pubkey_key, "The signing key (audit.key), if not DB.key");
  pubkey_cmd->require_option(1);
  AuditTailOptions audit_tail;
  CLI::App* tail_cmd = audit_cmd->add_subcommand(
      "tail", "Print records as they reach the database (within milliseconds of the journal)");
  tail_cmd->add_option("--db", audit_tail.db, "Audit database (SQLite)")->required();
  tail_cmd->add_option("--from", audit_tail.from,
                       "Start at this sequence number (default: new only)");
  tail_cmd->add_flag("!--no-follow", audit_tail.follow, "Print what is there and exit");

  if (std::optional<int> code = CheckCommandWords(app, argc, argv, std::cerr)) {
    return *code;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) {  // --help, --version
      app.exit(e);
      return kExitOk;
    }
    ReportUsageError(app, e, std::cerr);
    return kExitUsage;
  }

  if (*check_cmd) {
    return RunCheck(check, std::cout);
  }
  if (*classify_cmd) {
    if (classify.jsonl == !classify.text.empty()) {
      std::cerr << "firebreak classify: give either a TEXT argument or --jsonl\n";
      return kExitUsage;
    }
    if (!classify.audit_db.empty() && !classify.jsonl) {
      std::cerr << "firebreak classify: --audit-db needs --jsonl\n";
      return kExitUsage;
    }
    return RunClassify(classify, std::cin, std::cout, std::cerr);
  }
  if (*test_cmd) {
    return RunTest(test, std::cout, std::cerr);
  }
  if (*eval_cmd) {
    return RunEval(eval, std::cout, std::cerr);
  }
  if (*train_cmd) {
    return RunTrain(train, std::cout, std::cerr);
  }
  if (*verify_cmd) {
    if (audit_verify.db.empty() == audit_verify.jsonl.empty()) {
      std::cerr << "firebreak audit verify: give --db PATH or --jsonl FILE\n";
      return kExitUsage;
    }
    return RunAuditVerify(audit_verify, std::cout, std::cerr);
  }
  if (*export_cmd) {
    return RunAuditExport(audit_export, std::cout, std::cerr);
  }
  if (*pubkey_cmd) {
    return RunAuditPubkey(pubkey_key.empty() ? pubkey_db + ".key" : pubkey_key, std::cout,
                          std::cerr);
  }
  if (*tail_cmd) {
    return RunAuditTail(audit_tail, std::cout, std::cerr);
  }
  if (*keygen_cmd) {
    return RunKeygen(keygen_out, std::cout, std::cerr);
  }
  if (*digest_cmd) {
    return RunDigest(digest_policy, digest_manifest, std::cout, std::cerr);
  }
  if (*sign_cmd) {
    return RunSign(sign_policy, sign_key, sign_party, std::cout, std::cerr);
  }
  if (*verify_policy_cmd) {
    return RunVerify(verify_policy, verify_trust, std::cout, std::cerr);
  }
  if (*verify_receipt_cmd) {
    if (receipt == "-") {
      std::getline(std::cin, receipt);
    }
    return RunVerifyReceipt(receipt, receipt_pubkey, std::cout, std::cerr);
  }
  if (*dashboard_cmd) {
    return RunDashboard(dashboard, std::cout, std::cerr);
  }
  if (*serve_cmd) {
    return serve_command(serve, std::cout, std::cerr);
  }
  if (*demo_cmd) {
    return RunDemo(demo, serve_command, std::cin, std::cout, std::cerr);
  }
  return kExitUsage;
}

}  // namespace firebreak::cli
