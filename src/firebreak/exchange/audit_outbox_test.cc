// Alerts from a real decision, through the audit outbox, to a real local
// HTTP receiver that is down, then back after a restart of the sender.
#include "firebreak/exchange/audit_outbox.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <filesystem>
#include <sstream>

#include "firebreak/base/digest.h"
#include "firebreak/exchange/decision_core.h"
#include "firebreak/exchange/records.h"
#include "firebreak/http/test_receiver.h"
#include "firebreak/policy/loader.h"

namespace firebreak::exchange {
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

// 136 blocked prompts of 10 MB once added 1.3 GB to the audit database: the
// text a record keeps is capped, and says what it was.
TEST(DecisionRecordTest, StoredTextIsCappedPerRecordWithTheDigestAndLengthOfTheRest) {
  policy::LoadResult loaded =
      policy::LoadPolicyFile(std::string(FIREBREAK_SOURCE_DIR) + "/policies/defense-standard.yaml");
  ASSERT_TRUE(loaded.ok());
  std::unique_ptr<DecisionCore> core = std::move(DecisionCore::Create(loaded.policy)).value();
  const Outcome o = core->Decide(base::SinglePrompt("Summarize the report.")).value();
  auto record = [&](const base::Conversation& c, RecordContext context) {
    context.retention = context.retention == TextRetention::kByAuditLevel ? TextRetention::kFull
                                                                          : context.retention;
    const std::string body = audit::EncodeRecord(DecisionRecord(c, o, *core, context), 1, "t", "i");
    return std::make_pair(body, json::parse(body).as_object());
  };
  // 10 MB of a three-byte character after one byte: every cut at a
  // multiple of 16 KiB falls inside a sequence.
  std::string big = "x";
  while (big.size() < (std::size_t{10} << 20)) {
    big += "\xe2\x82\xac";  // €
  }
  base::Conversation c;
  c.messages = {{base::Role::kSystem, std::string(100, 's')}, {base::Role::kUser, big}};
  c.model = std::string(1000, 'm');
  {
    const auto [body, r] = record(c, {});
    EXPECT_LT(body.size(), std::size_t{20} << 10) << "a 10 MB prompt kept whole";
    EXPECT_TRUE(r.at("text_truncated").as_bool());
    const json::array& messages = r.at("messages").as_array();
    ASSERT_EQ(messages.size(), 2u);
    // The short system prompt whole, the rest of the budget to the long one.
    EXPECT_EQ(messages[0].at("text").as_string(), std::string(100, 's'));
    EXPECT_FALSE(messages[0].as_object().contains("text_truncated"));
    const std::string excerpt(messages[1].at("text").as_string());
    EXPECT_LE(excerpt.size(), config::AuditConfig{}.max_text_bytes - 100);
    EXPECT_GE(excerpt.size(), config::AuditConfig{}.max_text_bytes - 100 - 2);
    EXPECT_EQ(excerpt, big.substr(0, excerpt.size()));
    EXPECT_EQ((excerpt.size() - 1) % 3, 0u) << "cut inside a UTF-8 sequence";
    const json::object& cut = messages[1].at("text_truncated").as_object();
    EXPECT_EQ(cut.at("bytes").as_int64(), static_cast<std::int64_t>(big.size()));
    EXPECT_EQ(cut.at("sha256").as_string(), base::ToHex(base::Sha256Of(big)));
    EXPECT_EQ(r.at("model").as_string().size(), 256u);
    EXPECT_EQ(r.at("model_truncated").at("bytes").as_int64(), 1000);
    // The digest still covers everything.
    EXPECT_EQ(r.at("conversation_digest").as_string(),
              base::ToHex(base::Sha256Of("6:system100:" + std::string(100, 's') + "4:user" +
                                         std::to_string(big.size()) + ":" + big)));
  }
  {
    // Configured smaller; two long messages share it equally.
    base::Conversation two;
    two.messages = {{base::Role::kUser, std::string(5000, 'a')},
                    {base::Role::kAssistant, std::string(9000, 'b')}};
    const auto [body, r] = record(two, {.max_text_bytes = 4096});
    const json::array& messages = r.at("messages").as_array();
    EXPECT_EQ(messages[0].at("text").as_string().size(), 2048u);
    EXPECT_EQ(messages[1].at("text").as_string().size(), 2048u);
  }
  {
    // Many small messages are capped too: the first and last halves are
    // listed, the others counted.
    base::Conversation many;
    for (int i = 0; i < 5000; ++i) {
      many.messages.push_back({base::Role::kUser, "m" + std::to_string(i)});
    }
    const auto [body, r] = record(many, {});
    EXPECT_LT(body.size(), std::size_t{20} << 10);
    const json::array& messages = r.at("messages").as_array();
    ASSERT_EQ(messages.size(), config::AuditConfig{}.max_text_bytes / 64);
    EXPECT_EQ(messages[127].at("text").as_string(), "m127");
    EXPECT_EQ(messages[128].at("text").as_string(), "m4872");
    EXPECT_EQ(r.at("messages_omitted").at("after").as_int64(), 128);
    EXPECT_EQ(r.at("messages_omitted").at("count").as_int64(), 5000 - 256);
    EXPECT_TRUE(r.at("text_truncated").as_bool());
  }
  {
    // Redacted text: the digest is of what would have been stored.
    std::shared_ptr<const Redactor> redactor = Redactor::Create({"secret"}).value();
    base::Conversation secret = base::SinglePrompt(std::string(20000, 'a') + "secret");
    const auto [body, r] =
        record(secret, {.retention = TextRetention::kRedacted, .redactor = redactor.get()});
    EXPECT_THAT(body, Not(HasSubstr("secret")));
    EXPECT_EQ(r.at("messages").at(0).at("text_truncated").at("sha256").as_string(),
              base::ToHex(base::Sha256Of(std::string(20000, 'a') + "[REDACTED]")));
  }
  {
    // Uninspected parts too: the first 64 by field, then how many more and
    // every kind.
    base::Conversation parts = base::SinglePrompt("look");
    for (int i = 0; i < 1000; ++i) {
      parts.uninspected.push_back({i < 999 ? base::ContentKind::kImage : base::ContentKind::kAudio,
                                   "messages[0].content[" + std::to_string(i) + "]"});
    }
    const auto [body, r] = record(parts, {});
    EXPECT_LT(body.size(), std::size_t{8} << 10);
    EXPECT_EQ(r.at("uninspected").as_array().size(), 64u);
    EXPECT_EQ(r.at("uninspected_omitted").as_int64(), 936);
    EXPECT_EQ(r.at("uninspected_kinds"), json::parse(R"(["image","audio"])"));
  }
  {
    // Within the cap: nothing is said to be cut.
    const auto [body, r] = record(base::SinglePrompt("short"), {});
    EXPECT_FALSE(r.contains("text_truncated"));
    EXPECT_FALSE(r.at("messages").at(0).as_object().contains("text_truncated"));
  }
}

}  // namespace
}  // namespace firebreak::exchange
