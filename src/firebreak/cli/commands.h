// The subcommands of the `firebreak` binary, each a function of plain
// options. app.cc parses the command line (CLI11) and calls these; they print
// to the given streams and return the process exit code.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

namespace firebreak::cli {

// Exit codes shared by every subcommand.
inline constexpr int kExitOk = 0;
inline constexpr int kExitPolicyFailure = 1;  // invalid policy, failed test
inline constexpr int kExitUsage = 2;          // usage or input error

struct CheckOptions {
  std::string policy;
};
int RunCheck(const CheckOptions& options, std::ostream& out);

struct ClassifyOptions {
  std::string policy;
  std::string text;  // one prompt; empty with jsonl
  bool jsonl = false;
  std::string audit_db;                   // with jsonl: append a decision record per line
  std::string durability;                 // group | fsync; default: the config's
  std::string config = "firebreak.yaml";  // alert targets and audit settings
};
int RunClassify(const ClassifyOptions& options, std::istream& in, std::ostream& out,
                std::ostream& err);

struct TestOptions {
  std::string policy;
  std::vector<std::string> scenario_files;
  bool verbose = false;
  // Pass when at least this fraction of scenarios pass (a quality gate for
  // statistical test sets); 1.0 = every scenario must pass.
  double min_pass_rate = 1.0;
};
int RunTest(const TestOptions& options, std::ostream& out, std::ostream& err);

struct EvalOptions {
  std::string policy;
  std::vector<std::string> data;  // labelled JSONL (or YAML scenario) files
  // Labelled training files ({"text", "label"} lines) besides the policy's
  // examples: no prompt of `data` may appear in them.
  std::vector<std::string> training;
  bool json = false;
  bool list_misses = false;
  // Exit 1 when a figure misses its bar.
  double min_accuracy = 0;
  double max_false_block = 1;
  double min_block_recall = 0;
};
int RunEval(const EvalOptions& options, std::ostream& out, std::ostream& err);

struct TrainOptions {
  std::string policy;
  std::vector<std::string> negatives;  // out-of-scope prompt files (CSV or JSONL)
  std::vector<std::string> data;       // labelled JSONL: {"text": ..., "label": ...}
  std::string out;                     // default: the policy's classifier.model
  std::string vectors;                 // word vectors (scripts/vectors); empty: none
  double vector_scale = 1.0;
  double c = 16.0;
  unsigned hash_bits = 18;
  unsigned seed = 1;
  int cross_validate = 0;  // folds; 0 = none
};
int RunTrain(const TrainOptions& options, std::ostream& out, std::ostream& err);

// Writes an Ed25519 key pair: OUT.key (PEM, mode 0600; never overwritten)
// and OUT.pub, and prints the key id.
int RunKeygen(const std::string& out_name, std::ostream& out, std::ostream& err);

// Prints the digest of a policy's bundle (the policy and the files it
// references); with `manifest`, the manifest it is the SHA-256 of.
int RunDigest(const std::string& policy, bool manifest, std::ostream& out, std::ostream& err);

// Adds (or replaces) `party`'s signature of the policy's bundle digest in
// POLICY.sig.
int RunSign(const std::string& policy, const std::string& key, const std::string& party,
            std::ostream& out, std::ostream& err);

// Reports each trusted party's signature: valid, missing, invalid or unknown
// key; exit 0 only when the trust file's threshold is met.
int RunVerify(const std::string& policy, const std::string& trust, std::ostream& out,
              std::ostream& err);

// Checks an x-firebreak-receipt against the instance's public key (PEM file,
// from `firebreak audit pubkey`) and prints what it attests; exit 0 when the
// signature verifies, 1 when it does not.
int RunVerifyReceipt(const std::string& receipt, const std::string& pubkey, std::ostream& out,
                     std::ostream& err);

struct ServeOptions {
  std::string config = "firebreak.yaml";
  std::string policy;  // default: the config's
  std::string trust;   // default: the config's
  bool allow_unsigned = false;
  std::string listen;                  // default: the config's (127.0.0.1)
  int port = -1;                       // -1: the config's (8080); 0: any free port
  std::vector<std::string> upstreams;  // TYPE=URL; replace the config's
  std::string audit_db;
  std::string durability;
  unsigned threads = 0;
  bool dashboard = false;  // the live dashboard on this terminal (demo --server)
};
// Runs the proxy until SIGINT or SIGTERM, then drains and closes the trail;
// reloads the policy on SIGHUP, a file change or POST /v1/firebreak/reload.
// serve_command.cc is linked into the executable, not into this library:
// the other commands never link the HTTP server, and reach `serve` (as
// `demo --server` does) through the ServeCommand Run() is given.
int RunServe(const ServeOptions& options, std::ostream& out, std::ostream& err);
using ServeCommand = int (*)(const ServeOptions& options, std::ostream& out, std::ostream& err);

struct DemoOptions {
  std::string policy = "policies/defense-standard.yaml";
  std::string scenarios = "scenarios/defense-standard.yaml";
  bool auto_advance = false;
  bool fast = false;
  bool server = false;
  int port = 8080;
  bool interactive = false;
  bool no_cache = false;
  bool exit_when_done = false;
  std::string config = "firebreak.yaml";  // --server: alert targets, upstreams, audit
};
int RunDemo(const DemoOptions& options, ServeCommand serve, std::istream& in, std::ostream& out,
            std::ostream& err);

struct DashboardOptions {
  std::string connect;  // the proxy's base URL
  std::string key_env = "FIREBREAK_ADMIN_KEY";
};
// The live dashboard of a running proxy, until `q` (or, without a terminal,
// its events as JSON lines until interrupted).
int RunDashboard(const DashboardOptions& options, std::ostream& out, std::ostream& err);

struct AuditVerifyOptions {
  std::string db;
  std::string jsonl;    // an export instead of a database
  std::string pubkey;   // trusted instance public key (PEM file)
  std::string witness;  // a witness file of signed heads (JSON lines)
};
int RunAuditVerify(const AuditVerifyOptions& options, std::ostream& out, std::ostream& err);

struct AuditExportOptions {
  std::string db;
  std::uint64_t from = 1;
  std::string format = "jsonl";
};
int RunAuditExport(const AuditExportOptions& options, std::ostream& out, std::ostream& err);

// Prints the instance public key, derived from its signing key (`key`:
// audit.key, or DB.key beside the database): the trusted copy to give
// `audit verify --pubkey`.
int RunAuditPubkey(const std::string& key, std::ostream& out, std::ostream& err);

struct AuditTailOptions {
  std::string db;
  std::uint64_t from = 0;  // 0: only records appended from now on
  bool follow = true;
};
int RunAuditTail(const AuditTailOptions& options, std::ostream& out, std::ostream& err);

}  // namespace firebreak::cli
