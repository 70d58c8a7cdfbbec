// The server config file (firebreak.yaml): where the audit trail lives and
// how durable it is, and the alert targets policies may name. Parsed and
// validated completely (file:line:col errors) before anything starts.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "firebreak/base/status.h"

namespace firebreak::config {

struct AuditConfig {
  std::filesystem::path db = "var/audit.db";
  std::string durability = "group";  // group | fsync
  std::uint64_t checkpoint_every = 1000;
  std::chrono::seconds checkpoint_interval{60};
  std::string text = "by_audit_level";  // by_audit_level | full | digest | redacted
  std::vector<std::string> redact;      // RE2 patterns, with text: redacted
};

struct AlertTargetConfig {
  std::string name;
  std::string type;  // webhook | slack | pagerduty | log
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string routing_key;  // resolved from routing_key_env
};

struct ServerConfig {
  AuditConfig audit;
  std::map<std::string, AlertTargetConfig, std::less<>> alert_targets;
  // Targets told about events of the instance itself: audit store failures,
  // refused policies.
  std::vector<std::string> system_alerts;
};

// Relative paths resolve against the config file's directory. Environment
// variables named by *_env keys are read here; a missing one is an error.
base::StatusOr<ServerConfig> LoadServerConfig(const std::filesystem::path& path);
base::StatusOr<ServerConfig> ParseServerConfig(std::string_view text,
                                               const std::filesystem::path& path);

// Every alert a policy names must be a configured target: the error lists
// the missing ones.
base::Status CheckAlertTargets(const ServerConfig& config, const std::vector<std::string>& named,
                               std::string_view policy);

}  // namespace firebreak::config
