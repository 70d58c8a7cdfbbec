#include "firebreak/config/server_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>

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

}  // namespace
}  // namespace firebreak::config
