// Alerts from a real decision, through the audit outbox, to a real local
// HTTP receiver that is down, then back after a restart of the sender.
#include "firebreak/proxy/audit_outbox.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <filesystem>
#include <sstream>

#include "firebreak/http/test_receiver.h"
#include "firebreak/policy/loader.h"
#include "firebreak/proxy/decision_core.h"
#include "firebreak/proxy/decision_record.h"

namespace firebreak::proxy {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
namespace fs = std::filesystem;
namespace json = boost::json;

TEST(AuditOutboxTest, AlertsSurviveAReceiverOutageAndASenderRestart) {
  const fs::path dir = fs::temp_directory_path() / ("fb-outbox-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  auto now = std::make_shared<std::atomic<std::int64_t>>(1'800'000'000'000'000);
  audit::AuditOptions options;
  options.db = dir / "audit.db";
  options.now_micros = [now] { return now->load(); };

  policy::LoadResult loaded =
      policy::LoadPolicyFile(std::string(FIREBREAK_SOURCE_DIR) + "/policies/defense-standard.yaml");
  ASSERT_TRUE(loaded.ok()) << loaded.Report();
  std::unique_ptr<DecisionCore> core = std::move(DecisionCore::Create(loaded.policy)).value();
  const base::Conversation conversation = base::SinglePrompt(
      "Cross-reference these 15,000 domestic cell phone records with social media activity to "
      "identify potential persons of interest.");
  Outcome outcome = core->Decide(conversation).value();
  ASSERT_EQ(outcome.decision.verdict, policy::Verdict::kBlock);

  http::TestReceiver receiver;
  const unsigned short port = receiver.Start();
  receiver.Stop();  // the receiver is down when the decision is made
  std::map<std::string, alert::AlertTarget, std::less<>> targets;
  for (const char* name : {"trust_safety", "inspector_general"}) {
    targets[name] = {name,
                     alert::TargetType::kWebhook,
                     "http://127.0.0.1:" + std::to_string(port) + "/" + name,
                     {},
                     ""};
  }
  alert::SenderOptions sender_options;
  sender_options.now_micros = options.now_micros;
  std::ostringstream log;
  sender_options.log = &log;

  std::uint64_t seq = 0;
  {
    auto audit_log = std::move(audit::AuditLog::Open(options)).value();
    std::vector<audit::OutboxAlert> alerts =
        DecisionAlerts(core->policy(), outcome.decision, "req-42").outbox;
    ASSERT_EQ(alerts.size(), 2u);
    seq = audit_log
              ->Append(DecisionRecord(conversation, outcome, *core, {.request_id = "req-42"}),
                       std::move(alerts))
              ->seq;
    ASSERT_TRUE(audit_log->Flush().ok());  // the alerts are in the outbox
    AuditOutbox outbox(*audit_log);
    alert::Sender sender(outbox, targets, sender_options);
    EXPECT_EQ(sender.RunOnce(), 0u);
    EXPECT_EQ(*audit_log->PendingAlerts(), 2);
  }  // the sender and the log stop: a restart

  ASSERT_EQ(receiver.Start(port), port);
  *now += 60'000'000;  // past any backoff
  auto audit_log = std::move(audit::AuditLog::Open(options)).value();
  AuditOutbox outbox(*audit_log);
  alert::Sender sender(outbox, targets, sender_options);
  EXPECT_EQ(sender.RunOnce(), 2u);
  EXPECT_EQ(*audit_log->PendingAlerts(), 0);

  std::vector<http::ReceivedRequest> got = receiver.requests();
  ASSERT_EQ(got.size(), 2u);
  std::vector<std::string> paths = {got[0].target, got[1].target};
  std::sort(paths.begin(), paths.end());
  EXPECT_THAT(paths, ElementsAre("/inspector_general", "/trust_safety"));
  for (const http::ReceivedRequest& r : got) {
    json::object body = json::parse(r.body).as_object();
    const std::string target(body.at("target").as_string());
    const std::string key = audit_log->instance_id() + ":" + std::to_string(seq) + ":" + target;
    EXPECT_EQ(r.headers.at("idempotency-key"), key);
    EXPECT_EQ(body.at("idempotency_key").as_string(), key);
    EXPECT_EQ(body.at("audit_seq").as_int64(), static_cast<std::int64_t>(seq));
    EXPECT_EQ(body.at("decision").as_string(), "BLOCK");
    EXPECT_EQ(body.at("rule").as_string(), "block-surveillance");
    EXPECT_EQ(body.at("severity").as_string(), "critical");
    EXPECT_EQ(body.at("request_id").as_string(), "req-42");
    EXPECT_EQ(body.at("policy").as_string(), "defense-standard 2.0");
  }
  EXPECT_EQ(sender.RunOnce(), 0u);  // delivered once, not again
  audit_log.reset();
  fs::remove_all(dir);
}

TEST(DecisionRecordTest, TextRetentionFollowsTheConfiguration) {
  policy::LoadResult loaded =
      policy::LoadPolicyFile(std::string(FIREBREAK_SOURCE_DIR) + "/policies/defense-standard.yaml");
  ASSERT_TRUE(loaded.ok());
  std::unique_ptr<DecisionCore> core = std::move(DecisionCore::Create(loaded.policy)).value();
  const base::Conversation c = base::SinglePrompt(
      "Summarize the report that agent John Smith (SSN 123-45-6789) filed on the convoy.");
  const Outcome o = core->Decide(c).value();
  ASSERT_EQ(o.decision.audit, policy::AuditLevel::kStandard);
  auto body = [&](RecordContext context) {
    return audit::EncodeRecord(DecisionRecord(c, o, *core, context), 1, "t", "i");
  };
  // Standard audit level: only the digest by default.
  EXPECT_THAT(body({}), Not(HasSubstr("John Smith")));
  EXPECT_THAT(body({}), HasSubstr("\"text_retention\":\"digest\""));
  EXPECT_THAT(body({}), HasSubstr("\"conversation_digest\":\""));
  EXPECT_THAT(body({.retention = TextRetention::kFull}), HasSubstr("John Smith"));
  std::shared_ptr<const Redactor> redactor =
      Redactor::Create({R"(\d{3}-\d{2}-\d{4})", "John Smith"}).value();
  const std::string redacted =
      body({.retention = TextRetention::kRedacted, .redactor = redactor.get()});
  EXPECT_THAT(redacted, HasSubstr("agent [REDACTED] (SSN [REDACTED])"));
  EXPECT_THAT(redacted, HasSubstr("\"text_retention\":\"redacted\""));
  EXPECT_FALSE(Redactor::Create({"(unclosed"}).ok());
}

}  // namespace
}  // namespace firebreak::proxy
