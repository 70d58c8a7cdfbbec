// The server config file (firebreak.yaml): where the audit trail lives and
// how durable it is, and the alert targets policies may name. Parsed and
// validated completely (file:line:col errors) before anything starts.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "firebreak/api/request.h"
#include "firebreak/base/status.h"
#include "firebreak/judge/judge.h"

namespace firebreak::config {

// Where each checkpoint's signed head is published besides the database.
struct AuditWitnessConfig {
  std::filesystem::path file;                                // JSON lines, appended and fsynced
  std::string url;                                           // POSTed the same JSON object
  std::vector<std::pair<std::string, std::string>> headers;  // sent with url
};

struct AuditConfig {
  std::filesystem::path db = "var/audit.db";
  std::filesystem::path key;  // the checkpoint signing key; empty: DB.key beside the database
  AuditWitnessConfig witness;
  std::string durability = "group";  // group | fsync
  std::uint64_t checkpoint_every = 1000;
  std::chrono::seconds checkpoint_interval{60};
  std::string text = "by_audit_level";  // by_audit_level | full | digest | redacted
  std::vector<std::string> redact;      // RE2 patterns, with text: redacted
  // Conversation text a record keeps, in all; beyond it, an excerpt of each
  // message with its length and SHA-256.
  std::size_t max_text_bytes = 16 << 10;
};

struct AlertTargetConfig {
  std::string name;
  std::string type;  // webhook | slack | pagerduty | log
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string routing_key;  // resolved from routing_key_env
};

// Who may read GET /metrics when principals are configured (without them
// the listener is loopback-only and /metrics is open).
enum class MetricsAuth : std::uint8_t {
  kPrincipal,  // any principal's key (the default)
  kAdmin,      // an admin principal's key
  kNone,       // anyone who reaches the listener
};

// The listener and its limits (`server:`).
struct ListenConfig {
  std::string address = "127.0.0.1";
  std::uint16_t port = 8080;
  unsigned threads = 0;  // 0: one per core
  std::size_t max_body_bytes = 10 << 20;
  // Request bodies held at once over all exchanges; past it, 503. At least
  // max_body_bytes.
  std::size_t max_body_bytes_in_flight = 256 << 20;
  std::size_t max_header_bytes = 32 << 10;
  std::size_t max_json_depth = 64;
  std::chrono::milliseconds read_timeout{30'000};
  std::chrono::milliseconds idle_timeout{60'000};
  std::size_t max_connections = 10'000;
  std::chrono::milliseconds drain_timeout{10'000};  // graceful shutdown
  std::string tls_cert;
  std::string tls_key;
  std::string constraints = "system";  // system | none: how ALLOW_CONSTRAINED reaches the model
  bool receipts = true;      // x-firebreak-receipt on every recorded answer (~70 µs: Ed25519)
  bool watch_policy = true;  // reload when the policy, its model, signatures or trust change
  MetricsAuth metrics_auth = MetricsAuth::kPrincipal;  // principal | admin | none
};

// An LLM API the proxy forwards to (`upstreams:`).
struct UpstreamConfig {
  std::string name;
  api::Dialect type = api::Dialect::kOpenAI;  // openai | anthropic | gemini
  std::string base_url;  // the origin (and path prefix) before /v1/...
  std::string api_key;   // resolved from api_key_env; never logged
  std::string api_key_env;  // by default the API's own (GEMINI_API_KEY), when set
  std::vector<std::string> models;  // names served; a trailing * matches a prefix
  bool is_default = false;
  std::chrono::milliseconds connect_timeout{10'000};
  std::chrono::milliseconds first_byte_timeout{120'000};
  std::chrono::milliseconds idle_timeout{120'000};
};

// Who may call the proxy (`principals:`): an API key (its SHA-256, or an
// environment variable holding it) maps to an identity whose attributes
// policy `when` conditions read.
struct PrincipalConfig {
  std::string id;
  std::string team;
  std::map<std::string, std::string, std::less<>> attributes;
  std::string key_sha256;  // hex
  bool admin = false;      // may use the admin endpoints
};

// The LLM judge (`judge:`), asked what the local classifier is unsure of
// when the policy lets one decide (policy::JudgeSpec) and accepts its model.
struct JudgeConfig {
  judge::JudgeType type = judge::JudgeType::kOpenAI;  // openai | anthropic | llama_guard
  std::string base_url;                               // the API's origin, before /v1/...
  std::string model;
  std::string api_key;  // resolved from api_key_env; never logged
  std::string api_key_env;
  std::chrono::milliseconds timeout{10'000};
  int max_in_flight = 16;  // past it, the uncertain decision takes the defaults
  std::filesystem::path cache;  // the answers kept; default: judge-cache.db beside the audit db
  std::int64_t cache_ttl_seconds = 24 * 3600;
  std::int64_t cache_max_entries = 100'000;
  int breaker_failures = 5;  // in a row open the breaker ...
  std::chrono::milliseconds breaker_cool_down{30'000};  // ... for this long
};

struct ServerConfig {
  std::filesystem::path policy;  // the policy `serve` enforces (flags override)
  // The parties whose signatures a policy needs (policy/signature.h); never
  // named by the policy itself.
  std::filesystem::path trust;
  ListenConfig server;
  std::vector<UpstreamConfig> upstreams;
  std::vector<PrincipalConfig> principals;
  AuditConfig audit;
  std::map<std::string, AlertTargetConfig, std::less<>> alert_targets;
  // Targets told about events of the instance itself: audit store failures,
  // refused policies.
  std::vector<std::string> system_alerts;
  std::optional<JudgeConfig> judge;
};

// Relative paths resolve against the config file's directory. Environment
// variables named by *_env keys are read here; a missing one is an error.
base::StatusOr<ServerConfig> LoadServerConfig(const std::filesystem::path& path);
base::StatusOr<ServerConfig> ParseServerConfig(std::string_view text,
                                               const std::filesystem::path& path);

// Every alert a policy names must be a configured target: the error lists
// the missing ones.
// Parses `--upstream TYPE=URL` (also `NAME:TYPE=URL`).
base::StatusOr<UpstreamConfig> ParseUpstreamFlag(std::string_view flag);

base::Status CheckAlertTargets(const ServerConfig& config, const std::vector<std::string>& named,
                               std::string_view policy);

}  // namespace firebreak::config
