#include "firebreak/config/server_config.h"

#include <re2/re2.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdlib>
#include <set>

#include "firebreak/base/digest.h"

namespace firebreak::config {
namespace {

class Parser {
 public:
  explicit Parser(const std::filesystem::path& path) : path_(path) {}

  std::string At(const YAML::Node& node) const {
    return path_.string() + ":" + std::to_string(node.Mark().line + 1) + ":" +
           std::to_string(node.Mark().column + 1);
  }
  void Error(const YAML::Node& node, const std::string& message) {
    errors_ += (errors_.empty() ? "" : "\n") + At(node) + ": " + message;
  }
  // An empty key list means the keys are names the user chooses.
  bool Map(const YAML::Node& node, const char* what, std::initializer_list<std::string_view> keys) {
    if (!node.IsMap()) {
      Error(node, std::string(what) + " must be a mapping");
      return false;
    }
    if (keys.size() == 0) {
      return true;
    }
    for (const auto& entry : node) {
      const std::string key = entry.first.Scalar();
      if (std::find(keys.begin(), keys.end(), key) == keys.end()) {
        std::string known;
        for (std::string_view k : keys) {
          known += (known.empty() ? "" : ", ") + std::string(k);
        }
        Error(entry.first, "unknown key '" + key + "' in " + what + "; expected one of: " + known);
      }
    }
    return true;
  }
  std::string Scalar(const YAML::Node& node, const char* what) {
    if (!node.IsScalar()) {
      Error(node, std::string(what) + " must be a string");
      return {};
    }
    return node.Scalar();
  }
  template <typename T>
  T Number(const YAML::Node& node, const char* what, T fallback) {
    T value{};
    if (!node.IsScalar() || !YAML::convert<T>::decode(node, value) || value <= 0) {
      Error(node, std::string(what) + " must be a positive number");
      return fallback;
    }
    return value;
  }

  ServerConfig Parse(const YAML::Node& root) {
    ServerConfig config;
    if (root.IsNull()) {
      config.audit.db = path_.parent_path() / config.audit.db;
      return config;
    }
    if (!Map(root, "the config", {"audit", "alerts"})) {
      return config;
    }
    if (const YAML::Node audit = root["audit"];
        audit && Map(audit, "audit",
                     {"db", "durability", "checkpoint_every", "checkpoint_interval_seconds", "text",
                      "redact"})) {
      AuditConfig& a = config.audit;
      if (const YAML::Node n = audit["db"]) {
        a.db = path_.parent_path() / Scalar(n, "audit.db");
      } else {
        a.db = path_.parent_path() / a.db;
      }
      if (const YAML::Node n = audit["durability"]) {
        a.durability = Scalar(n, "audit.durability");
        if (a.durability != "group" && a.durability != "fsync") {
          Error(n, "audit.durability must be group or fsync");
        }
      }
      if (const YAML::Node n = audit["checkpoint_every"]) {
        a.checkpoint_every = Number<std::uint64_t>(n, "audit.checkpoint_every", a.checkpoint_every);
      }
      if (const YAML::Node n = audit["checkpoint_interval_seconds"]) {
        a.checkpoint_interval =
            std::chrono::seconds(Number<std::int64_t>(n, "audit.checkpoint_interval_seconds", 60));
      }
      if (const YAML::Node n = audit["text"]) {
        a.text = Scalar(n, "audit.text");
        if (a.text != "by_audit_level" && a.text != "full" && a.text != "digest" &&
            a.text != "redacted") {
          Error(n, "audit.text must be by_audit_level, full, digest or redacted");
        }
      }
      if (const YAML::Node n = audit["redact"]) {
        if (!n.IsSequence()) {
          Error(n, "audit.redact must be a list of RE2 patterns");
        } else {
          for (const YAML::Node& p : n) {
            const std::string pattern = Scalar(p, "a redaction pattern");
            RE2::Options options;
            options.set_log_errors(false);
            if (RE2 re(pattern, options); !re.ok()) {
              Error(p, "invalid RE2 pattern '" + pattern + "': " + re.error());
            }
            a.redact.push_back(pattern);
          }
        }
      }
      if (a.text == "redacted" && a.redact.empty()) {
        Error(audit, "audit.text is redacted but audit.redact lists no patterns");
      }
    } else {
      config.audit.db = path_.parent_path() / config.audit.db;
    }
    if (const YAML::Node alerts = root["alerts"];
        alerts && Map(alerts, "alerts", {"targets", "system"})) {
      if (const YAML::Node n = alerts["system"]) {
        if (!n.IsSequence()) {
          Error(n, "alerts.system must be a list of target names");
        } else {
          for (const YAML::Node& t : n) {
            config.system_alerts.push_back(Scalar(t, "a target name"));
          }
        }
      }
      if (const YAML::Node targets = alerts["targets"];
          targets && Map(targets, "alerts.targets", {})) {
        for (const auto& entry : targets) {
          ParseTarget(entry.first.Scalar(), entry.second, config);
        }
      }
    }
    for (const std::string& name : config.system_alerts) {
      if (!config.alert_targets.contains(name)) {
        Error(root["alerts"]["system"], "alerts.system names undefined target '" + name + "'");
      }
    }
    return config;
  }

  void ParseTarget(const std::string& name, const YAML::Node& node, ServerConfig& config) {
    if (!Map(node, "an alert target", {"type", "url", "headers", "routing_key_env"})) {
      return;
    }
    AlertTargetConfig t;
    t.name = name;
    if (const YAML::Node n = node["type"]) {
      t.type = Scalar(n, "type");
      if (t.type != "webhook" && t.type != "slack" && t.type != "pagerduty" && t.type != "log") {
        Error(n, "alert target '" + name + "': type must be webhook, slack, pagerduty or log");
      }
    } else {
      Error(node, "alert target '" + name + "' needs a type (webhook, slack, pagerduty or log)");
    }
    if (const YAML::Node n = node["url"]) {
      t.url = Scalar(n, "url");
    } else if (t.type != "log" && !t.type.empty()) {
      Error(node, "alert target '" + name + "' needs a url");
    }
    if (const YAML::Node n = node["headers"]; n && Map(n, "headers", {})) {
      for (const auto& h : n) {
        t.headers.emplace_back(h.first.Scalar(), Scalar(h.second, "header value"));
      }
    }
    if (const YAML::Node n = node["routing_key_env"]) {
      const std::string var = Scalar(n, "routing_key_env");
      const char* value = std::getenv(var.c_str());
      if (value == nullptr || *value == '\0') {
        Error(n, "alert target '" + name + "': environment variable " + var + " is not set");
      } else {
        t.routing_key = value;
      }
    } else if (t.type == "pagerduty") {
      Error(node,
            "alert target '" + name + "' needs routing_key_env (the PagerDuty integration key)");
    }
    config.alert_targets[name] = std::move(t);
  }

  const std::string& errors() const { return errors_; }

 private:
  std::filesystem::path path_;
  std::string errors_;
};

}  // namespace

base::StatusOr<ServerConfig> ParseServerConfig(std::string_view text,
                                               const std::filesystem::path& path) {
  try {
    Parser parser(path);
    ServerConfig config = parser.Parse(YAML::Load(std::string(text)));
    if (!parser.errors().empty()) {
      return base::InvalidArgument(parser.errors());
    }
    return config;
  } catch (const YAML::Exception& e) {
    return base::InvalidArgument(path.string() + ":" + std::to_string(e.mark.line + 1) + ":" +
                                 std::to_string(e.mark.column + 1) + ": invalid YAML: " + e.msg);
  }
}

base::StatusOr<ServerConfig> LoadServerConfig(const std::filesystem::path& path) {
  base::StatusOr<std::string> text = base::ReadFile(path);
  if (!text.ok()) {
    return text.status();
  }
  return ParseServerConfig(*text, path);
}

base::Status CheckAlertTargets(const ServerConfig& config, const std::vector<std::string>& named,
                               std::string_view policy) {
  std::set<std::string> missing;
  for (const std::string& n : named) {
    if (!config.alert_targets.contains(n)) {
      missing.insert(n);
    }
  }
  if (missing.empty()) {
    return base::Status::Ok();
  }
  std::string list;
  for (const std::string& m : missing) {
    list += (list.empty() ? "" : ", ") + m;
  }
  return base::FailedPrecondition("policy " + std::string(policy) +
                                  " names alert targets the config does not define: " + list +
                                  " (add them under alerts.targets)");
}

}  // namespace firebreak::config
