#include "firebreak/config/server_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>

namespace firebreak::config {
namespace {

using ::testing::HasSubstr;

TEST(ServerConfigTest, ParsesAuditAndTargets) {
  ::setenv("FB_TEST_PD_KEY", "routing-123", 1);
  base::StatusOr<ServerConfig> c = ParseServerConfig(R"(
audit:
  db: data/audit.db
  durability: fsync
  checkpoint_every: 500
  checkpoint_interval_seconds: 30
  text: digest
alerts:
  targets:
    trust_safety: {type: webhook, url: "https://ts.example/hook", headers: {Authorization: "Bearer x"}}
    inspector_general: {type: slack, url: "https://hooks.slack.example/T/B/X"}
    legal_counsel: {type: pagerduty, url: "https://events.pagerduty.example/v2/enqueue", routing_key_env: FB_TEST_PD_KEY}
    soc: {type: log}
)",
                                                     "/etc/firebreak/firebreak.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->audit.db, "/etc/firebreak/data/audit.db");
  EXPECT_EQ(c->audit.durability, "fsync");
  EXPECT_EQ(c->audit.checkpoint_every, 500u);
  EXPECT_EQ(c->audit.checkpoint_interval, std::chrono::seconds(30));
  EXPECT_EQ(c->audit.text, "digest");
  ASSERT_EQ(c->alert_targets.size(), 4u);
  EXPECT_EQ(c->alert_targets.at("legal_counsel").routing_key, "routing-123");
  EXPECT_EQ(c->alert_targets.at("trust_safety").headers[0].second, "Bearer x");
  EXPECT_TRUE(CheckAlertTargets(*c, {"trust_safety", "soc"}, "p.yaml").ok());
}

TEST(ServerConfigTest, DefaultsPutTheAuditDatabaseBesideTheConfig) {
  base::StatusOr<ServerConfig> c = ParseServerConfig("", "/srv/fb/firebreak.yaml");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->audit.db, "/srv/fb/var/audit.db");
  EXPECT_EQ(c->audit.durability, "group");
  EXPECT_TRUE(c->audit.key.empty());  // DB.key
  EXPECT_TRUE(c->audit.witness.file.empty());
  EXPECT_TRUE(c->audit.witness.url.empty());
  EXPECT_EQ(c->audit.max_text_bytes, 16384u);
}

TEST(ServerConfigTest, ParsesTheAuditKeyWitnessAndTextCap) {
  base::StatusOr<ServerConfig> c = ParseServerConfig(R"(audit:
  db: var/audit.db
  key: /etc/firebreak/keys/audit.key
  witness: {file: ../witness/heads.jsonl, url: "https://witness.example/heads",
            headers: {Authorization: "Bearer w"}}
  max_text_bytes: 4096
)",
                                                     "/srv/fb/firebreak.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->audit.key, "/etc/firebreak/keys/audit.key");
  EXPECT_EQ(c->audit.witness.file, "/srv/fb/../witness/heads.jsonl");
  EXPECT_EQ(c->audit.witness.url, "https://witness.example/heads");
  ASSERT_EQ(c->audit.witness.headers.size(), 1u);
  EXPECT_EQ(c->audit.witness.headers[0].second, "Bearer w");
  EXPECT_EQ(c->audit.max_text_bytes, 4096u);

  base::StatusOr<ServerConfig> bad = ParseServerConfig(R"(audit:
  witness: {url: "ftp://x", tls: true}
  max_text_bytes: 0
)",
                                                       "c.yaml");
  ASSERT_FALSE(bad.ok());
  const std::string& m = bad.status().message();
  SCOPED_TRACE(m);
  EXPECT_THAT(m, HasSubstr("c.yaml:2:18: audit.witness.url must be an http:// or https:// URL"));
  EXPECT_THAT(m, HasSubstr("c.yaml:2:29: unknown key 'tls' in audit.witness"));
  EXPECT_THAT(m, HasSubstr("c.yaml:3:19: audit.max_text_bytes must be a positive number"));
  base::StatusOr<ServerConfig> empty = ParseServerConfig("audit:\n  witness: {}\n", "c.yaml");
  ASSERT_FALSE(empty.ok());
  EXPECT_THAT(empty.status().message(), HasSubstr("audit.witness needs a file, a url, or both"));
}

TEST(ServerConfigTest, ErrorsHaveLocations) {
  base::StatusOr<ServerConfig> c = ParseServerConfig(R"(audit:
  durability: sometimes
alerts:
  targets:
    t1: {type: email, url: x}
    t2: {type: pagerduty, url: y, routing_key_env: FB_TEST_UNSET_VARIABLE}
    t3: {type: webhook}
  extra: 1
)",
                                                     "c.yaml");
  ASSERT_FALSE(c.ok());
  const std::string& m = c.status().message();
  SCOPED_TRACE(m);
  EXPECT_THAT(m, HasSubstr("c.yaml:2:15: audit.durability must be group or fsync"));
  EXPECT_THAT(
      m,
      HasSubstr("c.yaml:5:16: alert target 't1': type must be webhook, slack, pagerduty or log"));
  EXPECT_THAT(m, HasSubstr("environment variable FB_TEST_UNSET_VARIABLE is not set"));
  EXPECT_THAT(m, HasSubstr("c.yaml:7:9: alert target 't3' needs a url"));
  EXPECT_THAT(m, HasSubstr("c.yaml:8:3: unknown key 'extra' in alerts"));
}

TEST(ServerConfigTest, RedactionAndSystemAlertsAreValidated) {
  base::StatusOr<ServerConfig> ok = ParseServerConfig(R"(audit:
  text: redacted
  redact: ['\d{3}-\d{2}-\d{4}']
alerts:
  system: [soc]
  targets:
    soc: {type: log}
)",
                                                      "c.yaml");
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->audit.redact.size(), 1u);
  EXPECT_EQ(ok->system_alerts, std::vector<std::string>{"soc"});

  base::StatusOr<ServerConfig> bad = ParseServerConfig(R"(audit:
  text: redacted
  redact: ['(oops']
alerts:
  system: [pager]
)",
                                                       "c.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("c.yaml:3:12: invalid RE2 pattern '(oops'"));
  EXPECT_THAT(bad.status().message(), HasSubstr("alerts.system names undefined target 'pager'"));
}

TEST(ServerConfigTest, PolicyNamingAnUndefinedTargetIsAnError) {
  ServerConfig c;
  c.alert_targets["soc"] = {"soc", "log", "", {}, ""};
  base::Status s = CheckAlertTargets(c, {"soc", "trust_safety", "legal_counsel"}, "policy.yaml");
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("names alert targets the config does not define: "
                                     "legal_counsel, trust_safety"));
}

TEST(ServerConfigTest, ParsesListenerUpstreamsAndPrincipals) {
  ::setenv("FB_TEST_UPSTREAM_KEY", "sk-upstream", 1);
  ::setenv("FB_TEST_CLIENT_KEY", "client-key", 1);
  base::StatusOr<ServerConfig> c = ParseServerConfig(R"(
policy: policies/p.yaml
trust: keys/trust.yaml
server: {listen: 0.0.0.0, port: 9443, threads: 4, max_body_bytes: 1024, read_timeout_seconds: 2.5,
         constraints: none, receipts: false, metrics_auth: admin,
         max_body_bytes_in_flight: 4096}
upstreams:
  - {name: main, type: openai, base_url: "https://api.example", api_key_env: FB_TEST_UPSTREAM_KEY,
     models: ["gpt-*"], default: true, first_byte_timeout_seconds: 30}
  - {type: anthropic, base_url: "https://claude.example", models: ["claude-*"]}
principals:
  - {id: analyst-7, team: intel, attributes: {clearance: secret}, key_env: FB_TEST_CLIENT_KEY}
  - {id: ci, key_sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08, admin: true}
)",
                                                     "/etc/firebreak/firebreak.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->policy, "/etc/firebreak/policies/p.yaml");
  EXPECT_EQ(c->trust, "/etc/firebreak/keys/trust.yaml");
  EXPECT_FALSE(c->server.receipts);
  EXPECT_TRUE(c->server.watch_policy);
  EXPECT_EQ(c->server.address, "0.0.0.0");
  EXPECT_EQ(c->server.port, 9443);
  EXPECT_EQ(c->server.max_body_bytes, 1024u);
  EXPECT_EQ(c->server.max_body_bytes_in_flight, 4096u);
  EXPECT_EQ(c->server.read_timeout, std::chrono::milliseconds(2500));
  EXPECT_EQ(c->server.constraints, "none");
  EXPECT_EQ(c->server.metrics_auth, MetricsAuth::kAdmin);
  ASSERT_EQ(c->upstreams.size(), 2u);
  EXPECT_EQ(c->upstreams[0].api_key, "sk-upstream");
  EXPECT_TRUE(c->upstreams[0].is_default);
  EXPECT_EQ(c->upstreams[0].first_byte_timeout, std::chrono::seconds(30));
  EXPECT_EQ(c->upstreams[1].name, "anthropic");
  ASSERT_EQ(c->principals.size(), 2u);
  // SHA-256 of "client-key": the key itself is never kept.
  EXPECT_EQ(c->principals[0].key_sha256,
            "8eb943e7040b69a94bf39562088223755bff4c2e7c5fc257f1e08f870fe01d35");
  EXPECT_EQ(c->principals[0].attributes.at("clearance"), "secret");
  EXPECT_TRUE(c->principals[1].admin);
}

TEST(ServerConfigTest, MetricsNeedAPrincipalByDefault) {
  base::StatusOr<ServerConfig> c = ParseServerConfig("server: {port: 1}\n", "f.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->server.metrics_auth, MetricsAuth::kPrincipal);
  c = ParseServerConfig("server: {metrics_auth: none}\n", "f.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->server.metrics_auth, MetricsAuth::kNone);
}

TEST(ServerConfigTest, ProxyErrorsSayWhereAndWhat) {
  ::unsetenv("FB_TEST_MISSING_KEY");
  base::StatusOr<ServerConfig> c = ParseServerConfig(R"(
server: {port: 70000, tls_cert: c.pem, colour: red, watch_policy: sometimes, metrics_auth: open}
upstreams:
  - {type: grpc, base_url: "ftp://x"}
  - {name: a, type: openai, base_url: "http://a", api_key_env: FB_TEST_MISSING_KEY}
principals:
  - {id: x, key_sha256: "ABC"}
  - {id: y}
)",
                                                     "f.yaml");
  ASSERT_FALSE(c.ok());
  const std::string& m = c.status().message();
  EXPECT_THAT(m, HasSubstr("f.yaml:2:16: server.port must be 0 (any free port) to 65535"));
  EXPECT_THAT(m, HasSubstr("unknown key 'colour' in server"));
  EXPECT_THAT(m, HasSubstr("server.watch_policy must be true or false"));
  EXPECT_THAT(m, HasSubstr("f.yaml:2:92: server.metrics_auth must be principal (any API key), "
                           "admin (an admin's key) or none (no key)"));
  EXPECT_THAT(m, HasSubstr("server.tls_cert and server.tls_key go together"));
  EXPECT_THAT(m, HasSubstr("upstream type must be openai, anthropic or gemini"));
  EXPECT_THAT(m, HasSubstr("base_url must start with http:// or https://"));
  EXPECT_THAT(m, HasSubstr("environment variable FB_TEST_MISSING_KEY is not set"));
  EXPECT_THAT(m, HasSubstr("key_sha256 must be 64 lower-case hex digits"));
  EXPECT_THAT(m, HasSubstr("principal 'y' needs key_sha256 or key_env"));
}

// fuzz/corpus/config/regression-*: a duration past 2^63 milliseconds (or
// nanoseconds, where it is compared), .inf or .nan was converted to an
// integer, which is undefined; durations are capped at a year.
TEST(ServerConfigTest, DurationsAreFiniteAndAtMostAYear) {
  for (const char* value : {"1e300", ".inf", ".nan", "31536000.5"}) {
    for (const char* key : {"read_timeout_seconds", "idle_timeout_seconds"}) {
      const std::string text = std::string("server: {") + key + ": " + value + "}\n";
      base::StatusOr<ServerConfig> c = ParseServerConfig(text, "d.yaml");
      ASSERT_FALSE(c.ok()) << text;
      EXPECT_THAT(c.status().message(),
                  HasSubstr(std::string("d.yaml:1:") + std::to_string(12 + std::strlen(key)) +
                            ": server." + key + " must be at most 31536000 (a year)"));
    }
  }
  base::StatusOr<ServerConfig> upstream = ParseServerConfig(
      "upstreams:\n  - {type: openai, base_url: \"http://u\", first_byte_timeout_seconds: 1e19}\n",
      "d.yaml");
  ASSERT_FALSE(upstream.ok());
  EXPECT_THAT(upstream.status().message(),
              HasSubstr("first_byte_timeout_seconds must be at most 31536000"));
  base::StatusOr<ServerConfig> interval =
      ParseServerConfig("audit: {checkpoint_interval_seconds: 9223372036854775807}\n", "d.yaml");
  ASSERT_FALSE(interval.ok());
  EXPECT_THAT(interval.status().message(),
              HasSubstr("d.yaml:1:38: audit.checkpoint_interval_seconds must be at most 31536000"));

  base::StatusOr<ServerConfig> longest = ParseServerConfig(
      "server: {read_timeout_seconds: 31536000}\naudit: {checkpoint_interval_seconds: 31536000}\n",
      "d.yaml");
  ASSERT_TRUE(longest.ok()) << longest.status().ToString();
  EXPECT_EQ(longest->server.read_timeout, std::chrono::hours(24 * 365));
  EXPECT_EQ(longest->audit.checkpoint_interval, std::chrono::hours(24 * 365));
}

TEST(ServerConfigTest, TheBodyBudgetHoldsAtLeastOneBodyOfTheLargestSize) {
  base::StatusOr<ServerConfig> c = ParseServerConfig("server: {}\n", "f.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->server.max_body_bytes_in_flight, std::size_t{256} << 20);
  c = ParseServerConfig("server:\n  max_body_bytes: 2048\n  max_body_bytes_in_flight: 1024\n",
                        "f.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(),
              HasSubstr("f.yaml:3:29: server.max_body_bytes_in_flight (1024) must be at least "
                        "server.max_body_bytes (2048)"));
  c = ParseServerConfig("server: {max_body_bytes_in_flight: 0}\n", "f.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(),
              HasSubstr("server.max_body_bytes_in_flight must be a positive number"));
}

TEST(ServerConfigTest, UpstreamFlag) {
  base::StatusOr<UpstreamConfig> u = ParseUpstreamFlag("openai=http://127.0.0.1:9000");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->name, "openai");
  EXPECT_EQ(u->base_url, "http://127.0.0.1:9000");
  u = ParseUpstreamFlag("claude:anthropic=https://api.example");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->name, "claude");
  EXPECT_EQ(u->type, api::Dialect::kAnthropic);
  EXPECT_THAT(ParseUpstreamFlag("openai").status().message(), HasSubstr("expected TYPE=URL"));
  EXPECT_THAT(ParseUpstreamFlag("grpc=http://x").status().message(),
              HasSubstr("openai, anthropic or gemini"));
}

TEST(ServerConfigTest, TheJudgeSection) {
  ::setenv("FB_TEST_JUDGE_KEY", "jk", 1);
  base::StatusOr<ServerConfig> c = ParseServerConfig(R"(
audit: {db: var/a/audit.db}
judge: {type: llama_guard, base_url: "http://127.0.0.1:9", model: llama-guard-3-8b,
        api_key_env: FB_TEST_JUDGE_KEY, timeout_ms: 1500, max_in_flight: 4,
        breaker_failures: 3, breaker_cool_down_seconds: 2.5}
)",
                                                     "/etc/fb/firebreak.yaml");
  ASSERT_TRUE(c.ok()) << c.status().message();
  ASSERT_TRUE(c->judge.has_value());
  EXPECT_EQ(c->judge->type, judge::JudgeType::kLlamaGuard);
  EXPECT_EQ(c->judge->model, "llama-guard-3-8b");
  EXPECT_EQ(c->judge->api_key, "jk");
  EXPECT_EQ(c->judge->timeout, std::chrono::milliseconds(1500));
  EXPECT_EQ(c->judge->max_in_flight, 4);
  EXPECT_EQ(c->judge->breaker_failures, 3);
  EXPECT_EQ(c->judge->breaker_cool_down, std::chrono::milliseconds(2500));
  EXPECT_EQ(c->judge->cache, "/etc/fb/var/a/judge-cache.db");  // beside the audit database
  EXPECT_FALSE(ParseServerConfig("audit: {db: a.db}\n", "f.yaml")->judge.has_value());
  const std::string m =
      ParseServerConfig("judge: {type: oracle, model: m, base_url: ftp://x}\n", "f.yaml")
          .status()
          .message();
  EXPECT_THAT(m, HasSubstr("judge.type must be openai, anthropic or llama_guard"));
  EXPECT_THAT(m, HasSubstr("judge.base_url must start with http:// or https://"));
  EXPECT_THAT(ParseServerConfig("judge: {type: openai, base_url: http://x}\n", "f.yaml")
                  .status()
                  .message(),
              HasSubstr("judge needs a model"));
}

// An upstream whose config names no api_key_env takes its API's own
// variable when it is set (GEMINI_API_KEY for gemini); OpenAI and Anthropic
// have none, so a key in the environment is never sent unasked.
TEST(ServerConfigTest, AGeminiUpstreamTakesItsKeyFromGeminiApiKeyByDefault) {
  ::setenv("GEMINI_API_KEY", "g-key", 1);
  ::setenv("OPENAI_API_KEY", "o-key", 1);
  base::StatusOr<UpstreamConfig> gemini = ParseUpstreamFlag("gemini=http://127.0.0.1:9000");
  base::StatusOr<UpstreamConfig> openai = ParseUpstreamFlag("openai=http://127.0.0.1:9000");
  ::unsetenv("GEMINI_API_KEY");
  ::unsetenv("OPENAI_API_KEY");
  ASSERT_TRUE(gemini.ok() && openai.ok());
  EXPECT_EQ(gemini->type, api::Dialect::kGemini);
  EXPECT_EQ(gemini->api_key, "g-key");
  EXPECT_EQ(gemini->api_key_env, "GEMINI_API_KEY");
  EXPECT_EQ(openai->api_key, "");
  base::StatusOr<UpstreamConfig> unset = ParseUpstreamFlag("gemini=http://127.0.0.1:9000");
  ASSERT_TRUE(unset.ok());
  EXPECT_EQ(unset->api_key, "");
}

}  // namespace
}  // namespace firebreak::config
