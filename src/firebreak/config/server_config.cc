#include "firebreak/config/server_config.h"

#include <re2/re2.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdlib>
#include <set>

#include "firebreak/api/provider.h"
#include "firebreak/base/digest.h"

namespace firebreak::config {
namespace {

// An upstream without api_key_env: its API's variable (GEMINI_API_KEY), if set.
void DefaultKey(UpstreamConfig& up) {
  const api::Provider& provider = api::ProviderFor(up.type);
  const std::string_view env = provider.key_env();
  if (const char* value =
          provider.key_env_by_default() ? std::getenv(std::string(env).c_str()) : nullptr;
      value != nullptr && *value != '\0') {
    up.api_key_env = env;
    up.api_key = value;
  }
}

// The longest duration a setting takes: longer is a mistake, and within
// it a duration's nanoseconds fit in 64 bits wherever it is compared.
constexpr std::int64_t kMaxSeconds = 365LL * 24 * 3600;

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
  bool Bool(const YAML::Node& node, const char* what, bool fallback) {
    bool value = fallback;
    if (!node.IsScalar() || !YAML::convert<bool>::decode(node, value)) {
      Error(node, std::string(what) + " must be true or false");
      return fallback;
    }
    return value;
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
    if (!Map(root, "the config",
             {"policy", "trust", "server", "upstreams", "principals", "audit", "alerts",
              "judge"})) {
      return config;
    }
    if (const YAML::Node n = root["policy"]) {
      config.policy = path_.parent_path() / Scalar(n, "policy");
    }
    if (const YAML::Node n = root["trust"]) {
      config.trust = path_.parent_path() / Scalar(n, "trust");
    }
    if (const YAML::Node n = root["server"]) {
      ParseListen(n, config.server);
    }
    if (const YAML::Node n = root["upstreams"]) {
      ParseUpstreams(n, config);
    }
    if (const YAML::Node n = root["principals"]) {
      ParsePrincipals(n, config);
    }
    if (const YAML::Node audit = root["audit"];
        audit && Map(audit, "audit",
                     {"db", "key", "witness", "durability", "checkpoint_every",
                      "checkpoint_interval_seconds", "text", "redact", "max_text_bytes"})) {
      AuditConfig& a = config.audit;
      if (const YAML::Node n = audit["db"]) {
        a.db = path_.parent_path() / Scalar(n, "audit.db");
      } else {
        a.db = path_.parent_path() / a.db;
      }
      if (const YAML::Node n = audit["key"]) {
        a.key = path_.parent_path() / Scalar(n, "audit.key");
      }
      if (const YAML::Node w = audit["witness"];
          w && Map(w, "audit.witness", {"file", "url", "headers"})) {
        if (const YAML::Node n = w["file"]) {
          a.witness.file = path_.parent_path() / Scalar(n, "audit.witness.file");
        }
        if (const YAML::Node n = w["url"]) {
          a.witness.url = Scalar(n, "audit.witness.url");
          if (!a.witness.url.starts_with("http://") && !a.witness.url.starts_with("https://")) {
            Error(n, "audit.witness.url must be an http:// or https:// URL");
          }
        }
        if (const YAML::Node n = w["headers"]; n && Map(n, "audit.witness.headers", {})) {
          for (const auto& h : n) {
            a.witness.headers.emplace_back(h.first.Scalar(), Scalar(h.second, "header value"));
          }
        }
        if (a.witness.file.empty() && a.witness.url.empty()) {
          Error(w, "audit.witness needs a file, a url, or both");
        }
      }
      if (const YAML::Node n = audit["max_text_bytes"]) {
        a.max_text_bytes = Number<std::size_t>(n, "audit.max_text_bytes", a.max_text_bytes);
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
        const auto seconds = Number<std::int64_t>(n, "audit.checkpoint_interval_seconds", 60);
        if (seconds > kMaxSeconds) {
          Error(n, "audit.checkpoint_interval_seconds must be at most " +
                       std::to_string(kMaxSeconds) + " (a year)");
        } else {
          a.checkpoint_interval = std::chrono::seconds(seconds);
        }
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
    if (const YAML::Node n = root["judge"]) {
      ParseJudge(n, config);  // after audit: the cache defaults to beside its database
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

  void ParseJudge(const YAML::Node& node, ServerConfig& config) {
    if (!Map(node, "judge",
             {"type", "base_url", "model", "api_key_env", "timeout_ms", "max_in_flight", "cache",
              "cache_ttl_seconds", "cache_max_entries", "breaker_failures",
              "breaker_cool_down_seconds"})) {
      return;
    }
    JudgeConfig& j = config.judge.emplace();
    if (const YAML::Node n = node["type"];
        !n || !judge::ParseJudgeType(Scalar(n, "judge.type"), &j.type)) {
      Error(n ? n : node, "judge.type must be openai, anthropic or llama_guard");
    }
    if (const YAML::Node n = node["base_url"]) {
      j.base_url = Scalar(n, "judge.base_url");
      if (!j.base_url.starts_with("http://") && !j.base_url.starts_with("https://")) {
        Error(n, "judge.base_url must start with http:// or https://");
      }
    } else {
      Error(node, "judge needs a base_url");
    }
    if (const YAML::Node n = node["model"]) {
      j.model = Scalar(n, "judge.model");
    } else {
      Error(node, "judge needs a model (one the policy's classifier.judge.models accepts)");
    }
    if (const YAML::Node n = node["api_key_env"]) {
      j.api_key_env = Scalar(n, "judge.api_key_env");
      const char* value = std::getenv(j.api_key_env.c_str());
      if (value == nullptr || *value == '\0') {
        Error(n, "judge: environment variable " + j.api_key_env + " is not set");
      } else {
        j.api_key = value;
      }
    }
    if (const YAML::Node n = node["timeout_ms"]) {
      j.timeout = std::chrono::milliseconds(Number<std::int64_t>(n, "judge.timeout_ms", 10'000));
    }
    if (const YAML::Node n = node["max_in_flight"]) {
      j.max_in_flight = Number<int>(n, "judge.max_in_flight", j.max_in_flight);
    }
    j.cache = config.audit.db.parent_path() / "judge-cache.db";
    if (const YAML::Node n = node["cache"]) {
      j.cache = path_.parent_path() / Scalar(n, "judge.cache");
    }
    if (const YAML::Node n = node["cache_ttl_seconds"]) {
      j.cache_ttl_seconds = Number<std::int64_t>(n, "judge.cache_ttl_seconds", j.cache_ttl_seconds);
    }
    if (const YAML::Node n = node["cache_max_entries"]) {
      j.cache_max_entries = Number<std::int64_t>(n, "judge.cache_max_entries", j.cache_max_entries);
    }
    if (const YAML::Node n = node["breaker_failures"]) {
      j.breaker_failures = Number<int>(n, "judge.breaker_failures", j.breaker_failures);
    }
    if (const YAML::Node n = node["breaker_cool_down_seconds"]) {
      j.breaker_cool_down = Seconds(n, "judge.breaker_cool_down_seconds");
    }
  }

  // A duration in seconds, fractions allowed.
  std::chrono::milliseconds Seconds(const YAML::Node& node, const char* what) {
    const double seconds = Number<double>(node, what, 1.0);
    if (!(seconds <= static_cast<double>(kMaxSeconds))) {  // NaN and .inf too
      Error(node,
            std::string(what) + " must be at most " + std::to_string(kMaxSeconds) + " (a year)");
      return std::chrono::seconds(1);
    }
    return std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000.0));
  }

  void ParseListen(const YAML::Node& node, ListenConfig& s) {
    if (!Map(node, "server",
             {"listen", "port", "threads", "max_body_bytes", "max_body_bytes_in_flight",
              "max_header_bytes", "max_json_depth", "read_timeout_seconds", "idle_timeout_seconds",
              "max_connections", "drain_timeout_seconds", "tls_cert", "tls_key", "constraints",
              "receipts", "watch_policy", "metrics_auth"})) {
      return;
    }
    if (const YAML::Node n = node["listen"]) {
      s.address = Scalar(n, "server.listen");
    }
    if (const YAML::Node n = node["port"]) {
      int port = 0;
      if (!n.IsScalar() || !YAML::convert<int>::decode(n, port) || port < 0 || port > 65535) {
        Error(n, "server.port must be 0 (any free port) to 65535");
      }
      s.port = static_cast<std::uint16_t>(port);
    }
    if (const YAML::Node n = node["threads"]) {
      s.threads = Number<unsigned>(n, "server.threads", 1);
    }
    if (const YAML::Node n = node["max_body_bytes"]) {
      s.max_body_bytes = Number<std::size_t>(n, "server.max_body_bytes", s.max_body_bytes);
    }
    if (const YAML::Node n = node["max_body_bytes_in_flight"]) {
      s.max_body_bytes_in_flight =
          Number<std::size_t>(n, "server.max_body_bytes_in_flight", s.max_body_bytes_in_flight);
    }
    if (s.max_body_bytes_in_flight < s.max_body_bytes) {
      const YAML::Node n = node["max_body_bytes_in_flight"];
      Error(n ? n : node["max_body_bytes"],
            "server.max_body_bytes_in_flight (" + std::to_string(s.max_body_bytes_in_flight) +
                ") must be at least server.max_body_bytes (" + std::to_string(s.max_body_bytes) +
                "): a request of the largest size allowed could never be taken");
    }
    if (const YAML::Node n = node["max_header_bytes"]) {
      s.max_header_bytes = Number<std::size_t>(n, "server.max_header_bytes", s.max_header_bytes);
    }
    if (const YAML::Node n = node["max_json_depth"]) {
      s.max_json_depth = Number<std::size_t>(n, "server.max_json_depth", s.max_json_depth);
    }
    if (const YAML::Node n = node["read_timeout_seconds"]) {
      s.read_timeout = Seconds(n, "server.read_timeout_seconds");
    }
    if (const YAML::Node n = node["idle_timeout_seconds"]) {
      s.idle_timeout = Seconds(n, "server.idle_timeout_seconds");
    }
    if (const YAML::Node n = node["drain_timeout_seconds"]) {
      s.drain_timeout = Seconds(n, "server.drain_timeout_seconds");
    }
    if (const YAML::Node n = node["max_connections"]) {
      s.max_connections = Number<std::size_t>(n, "server.max_connections", s.max_connections);
    }
    if (const YAML::Node n = node["tls_cert"]) {
      s.tls_cert = (path_.parent_path() / Scalar(n, "server.tls_cert")).string();
    }
    if (const YAML::Node n = node["tls_key"]) {
      s.tls_key = (path_.parent_path() / Scalar(n, "server.tls_key")).string();
    }
    if (s.tls_cert.empty() != s.tls_key.empty()) {
      Error(node, "server.tls_cert and server.tls_key go together");
    }
    if (const YAML::Node n = node["receipts"]) {
      s.receipts = Bool(n, "server.receipts", s.receipts);
    }
    if (const YAML::Node n = node["watch_policy"]) {
      s.watch_policy = Bool(n, "server.watch_policy", s.watch_policy);
    }
    if (const YAML::Node n = node["metrics_auth"]) {
      const std::string auth = Scalar(n, "server.metrics_auth");
      if (auth == "principal") {
        s.metrics_auth = MetricsAuth::kPrincipal;
      } else if (auth == "admin") {
        s.metrics_auth = MetricsAuth::kAdmin;
      } else if (auth == "none") {
        s.metrics_auth = MetricsAuth::kNone;
      } else {
        Error(n, "server.metrics_auth must be principal (any API key), admin (an admin's key) or "
                 "none (no key)");
      }
    }
    if (const YAML::Node n = node["constraints"]) {
      s.constraints = Scalar(n, "server.constraints");
      if (s.constraints != "system" && s.constraints != "none") {
        Error(n, "server.constraints must be system or none");
      }
    }
  }

  void ParseUpstreams(const YAML::Node& node, ServerConfig& config) {
    if (!node.IsSequence()) {
      Error(node, "upstreams must be a list");
      return;
    }
    int defaults = 0;
    for (const YAML::Node& u : node) {
      if (!Map(u, "an upstream",
               {"name", "type", "base_url", "api_key_env", "models", "default",
                "connect_timeout_seconds", "first_byte_timeout_seconds", "idle_timeout_seconds"})) {
        continue;
      }
      UpstreamConfig up;
      up.name = u["name"] ? Scalar(u["name"], "upstream name") : "";
      const std::string type = u["type"] ? Scalar(u["type"], "upstream type") : "";
      if (const api::Provider* provider = api::ProviderNamed(type)) {
        up.type = provider->dialect();
      } else {
        Error(u["type"] ? u["type"] : u, "upstream type must be " + api::ProviderNames());
      }
      if (up.name.empty()) {
        up.name = type;
      }
      if (const YAML::Node n = u["base_url"]) {
        up.base_url = Scalar(n, "base_url");
        if (!up.base_url.starts_with("http://") && !up.base_url.starts_with("https://")) {
          Error(n, "base_url must start with http:// or https://");
        }
      } else {
        Error(u, "upstream '" + up.name + "' needs a base_url");
      }
      if (const YAML::Node n = u["api_key_env"]) {
        up.api_key_env = Scalar(n, "api_key_env");
        const char* value = std::getenv(up.api_key_env.c_str());
        if (value == nullptr || *value == '\0') {
          Error(n, "upstream '" + up.name + "': environment variable " + up.api_key_env +
                       " is not set");
        } else {
          up.api_key = value;
        }
      }
      if (up.api_key_env.empty()) {
        DefaultKey(up);
      }
      if (const YAML::Node n = u["models"]) {
        if (!n.IsSequence()) {
          Error(n, "models must be a list of model names");
        } else {
          for (const YAML::Node& m : n) {
            up.models.push_back(Scalar(m, "a model name"));
          }
        }
      }
      if (const YAML::Node n = u["default"]) {
        up.is_default = Bool(n, "upstream default", false);
        defaults += up.is_default ? 1 : 0;
      }
      if (const YAML::Node n = u["connect_timeout_seconds"]) {
        up.connect_timeout = Seconds(n, "connect_timeout_seconds");
      }
      if (const YAML::Node n = u["first_byte_timeout_seconds"]) {
        up.first_byte_timeout = Seconds(n, "first_byte_timeout_seconds");
      }
      if (const YAML::Node n = u["idle_timeout_seconds"]) {
        up.idle_timeout = Seconds(n, "idle_timeout_seconds");
      }
      for (const UpstreamConfig& other : config.upstreams) {
        if (other.name == up.name) {
          Error(u, "duplicate upstream name '" + up.name + "'");
        }
      }
      config.upstreams.push_back(std::move(up));
    }
    if (defaults > 1) {
      Error(node, "more than one upstream says default: true");
    }
  }

  void ParsePrincipals(const YAML::Node& node, ServerConfig& config) {
    if (!node.IsSequence()) {
      Error(node, "principals must be a list");
      return;
    }
    for (const YAML::Node& p : node) {
      if (!Map(p, "a principal", {"id", "team", "attributes", "key_sha256", "key_env", "admin"})) {
        continue;
      }
      PrincipalConfig principal;
      if (const YAML::Node n = p["id"]) {
        principal.id = Scalar(n, "principal id");
      } else {
        Error(p, "a principal needs an id");
      }
      if (const YAML::Node n = p["team"]) {
        principal.team = Scalar(n, "principal team");
      }
      if (const YAML::Node n = p["attributes"]; n && Map(n, "attributes", {})) {
        for (const auto& a : n) {
          principal.attributes[a.first.Scalar()] = Scalar(a.second, "an attribute value");
        }
      }
      if (const YAML::Node n = p["admin"]) {
        principal.admin = Bool(n, "admin", false);
      }
      if (const YAML::Node n = p["key_sha256"]) {
        principal.key_sha256 = Scalar(n, "key_sha256");
        if (principal.key_sha256.size() != 64 ||
            principal.key_sha256.find_first_not_of("0123456789abcdef") != std::string::npos) {
          Error(n, "key_sha256 must be 64 lower-case hex digits (sha256sum of the key)");
        }
      } else if (const YAML::Node e = p["key_env"]) {
        const std::string var = Scalar(e, "key_env");
        const char* value = std::getenv(var.c_str());
        if (value == nullptr || *value == '\0') {
          Error(e, "principal '" + principal.id + "': environment variable " + var + " is not set");
        } else {
          principal.key_sha256 = base::ToHex(base::Sha256Of(value));
        }
      } else {
        Error(p, "principal '" + principal.id + "' needs key_sha256 or key_env");
      }
      config.principals.push_back(std::move(principal));
    }
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

base::StatusOr<UpstreamConfig> ParseUpstreamFlag(std::string_view flag) {
  const std::size_t eq = flag.find('=');
  if (eq == std::string_view::npos) {
    return base::InvalidArgument("--upstream '" + std::string(flag) +
                                 "': expected TYPE=URL, e.g. openai=http://127.0.0.1:9000");
  }
  UpstreamConfig up;
  std::string_view head = flag.substr(0, eq);
  if (const std::size_t colon = head.find(':'); colon != std::string_view::npos) {
    up.name = head.substr(0, colon);
    head = head.substr(colon + 1);
  }
  up.name = up.name.empty() ? std::string(head) : up.name;
  up.base_url = flag.substr(eq + 1);
  const api::Provider* provider = api::ProviderNamed(head);
  if (provider == nullptr) {
    return base::InvalidArgument("--upstream '" + std::string(flag) + "': the type must be " +
                                 api::ProviderNames());
  }
  up.type = provider->dialect();
  DefaultKey(up);
  if (!up.base_url.starts_with("http://") && !up.base_url.starts_with("https://")) {
    return base::InvalidArgument("--upstream '" + std::string(flag) +
                                 "': the URL must start with http:// or https://");
  }
  return up;
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
