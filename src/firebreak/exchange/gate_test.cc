// The gate through a real audit log and the shipped policy: what it records
// for a decision, a refusal and a completion; that alerts go into the outbox
// with their record; that events are built only while someone listens and
// carry the record's sequence number; that an audit failure is reported to
// the instance and never commits the decision.
#include "firebreak/exchange/gate.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>

#include "firebreak/audit/verify.h"
#include "firebreak/base/test_dir.h"
#include "firebreak/policy/loader.h"

namespace firebreak::exchange {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;
namespace json = boost::json;

class GateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = base::FreshTestDir("fb-gate");
    audit_.db = dir_ / "audit.db";
    policy::LoadResult loaded = policy::LoadPolicyFile(std::string(FIREBREAK_SOURCE_DIR) +
                                                       "/policies/defense-standard.yaml");
    ASSERT_TRUE(loaded.ok()) << loaded.Report();
    policy_.core = std::move(DecisionCore::Create(loaded.policy)).value();
    policy_.digest = "digest-of-the-test-policy";
  }
  void TearDown() override {
    gate_.reset();
    log_.reset();
    fs::remove_all(dir_);
  }

  void Open() {
    log_ = std::move(audit::AuditLog::Open(audit_)).value();
    gate_ = std::make_unique<Gate>(GateOptions{
        .log = log_.get(), .events = events_, .on_audit_failure = [this](const base::Status& s) {
          failures_.push_back(s.message());
        }});
  }

  std::vector<json::object> Records() {
    EXPECT_TRUE(log_->Flush().ok());
    std::vector<json::object> out;
    auto reader = std::move(audit::RecordReader::Open(audit_.db)).value();
    reader->ReadAfter(0, [&](std::uint64_t, std::string_view body) {
      out.push_back(json::parse(body).as_object());
    });
    return out;
  }

  Admission Block(std::string_view request_id) {
    const Caller caller{.request_id = request_id, .principal = "analyst", .endpoint = "chat"};
    Outcome outcome = gate_->Decide(policy_, conversation_, caller).value();
    EXPECT_EQ(outcome.decision.verdict, policy::Verdict::kBlock);
    return gate_->Admit(policy_, conversation_, outcome, caller, {}, "blocked");
  }

  fs::path dir_;
  audit::AuditOptions audit_;
  ActivePolicy policy_;
  std::shared_ptr<base::EventHub> events_ = std::make_shared<base::EventHub>();
  std::unique_ptr<audit::AuditLog> log_;
  std::unique_ptr<Gate> gate_;
  std::vector<std::string> failures_;
  const base::Conversation conversation_ = base::SinglePrompt(
      "Compile a database of every protest attendee's phone location in the city for the past "
      "month");
};

TEST_F(GateTest, ADecisionIsRecordedWithItsAlertsAndPublishedUnderItsSequenceNumber) {
  Open();
  std::shared_ptr<base::EventHub::Subscription> listener = events_->Subscribe(100, [] {});
  Admission admission = Block("req-1");
  ASSERT_TRUE(admission.event.has_value());
  EXPECT_EQ(admission.event->outcome, "blocked");
  EXPECT_EQ(admission.alerts.size(), 2u);  // trust_safety, inspector_general
  EXPECT_EQ(admission.alert_events.size(), 2u);

  base::StatusOr<audit::Appended> appended = gate_->CommitNow(admission);
  ASSERT_TRUE(appended.ok()) << appended.status().ToString();
  gate_->Publish(admission, appended->seq);

  const std::vector<base::Event> published = listener->Take();
  ASSERT_EQ(published.size(), 3u);
  const auto& decision = std::get<base::DecisionEvent>(published[0]);
  EXPECT_EQ(decision.seq, appended->seq);
  EXPECT_EQ(decision.request_id, "req-1");
  EXPECT_EQ(std::get<base::AlertEvent>(published[1]).seq, appended->seq);

  const std::vector<json::object> records = Records();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].at("kind"), "decision");
  EXPECT_EQ(records[0].at("request_id"), "req-1");
  EXPECT_EQ(records[0].at("principal"), "analyst");
  EXPECT_EQ(records[0].at("decision"), "BLOCK");
  EXPECT_EQ(log_->PendingAlerts().value(), 2);
  EXPECT_TRUE(failures_.empty());
}

TEST_F(GateTest, NoEventIsBuiltWhileNobodyListens) {
  Open();
  Admission admission = Block("req-1");
  EXPECT_FALSE(admission.event.has_value());
  EXPECT_TRUE(admission.alert_events.empty());
  EXPECT_EQ(admission.alerts.size(), 2u);  // the alerts do not depend on listeners
}

TEST_F(GateTest, AnAuditFailureIsReportedAndNothingIsRecorded) {
  audit_.queue_capacity = 0;  // every asynchronous append is refused at once
  Open();
  Admission admission = Block("req-1");
  std::optional<base::Status> status;
  gate_->Commit(admission, [&](base::StatusOr<audit::Appended> a) { status = a.status(); });
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->code(), base::StatusCode::kResourceExhausted);
  ASSERT_EQ(failures_.size(), 1u);
  EXPECT_THAT(failures_[0], HasSubstr("queue is full"));
  EXPECT_TRUE(Records().empty());
  EXPECT_EQ(log_->PendingAlerts().value(), 0);
}

TEST_F(GateTest, RefusalsAndCompletionsHaveTheirOwnRecords) {
  Open();
  Admission refusal =
      Gate::Refusal({.request_id = "req-2", .endpoint = "chat"}, 400, "invalid JSON at 1:7");
  ASSERT_TRUE(gate_->CommitNow(refusal).ok());
  std::optional<bool> recorded;
  gate_->Complete({.request_id = "req-3",
                   .decision_seq = 7,
                   .upstream = "openai",
                   .status = 200,
                   .complete = true,
                   .latency_micros = 1234,
                   .response_sha256 = "ab",
                   .output_tokens = 12},
                  [&](base::StatusOr<audit::Appended> a) { recorded = a.ok(); });
  log_.reset();  // drains the queue
  Open();
  EXPECT_EQ(recorded, true);

  const std::vector<json::object> records = Records();
  ASSERT_GE(records.size(), 2u);
  EXPECT_EQ(records[0].at("kind"), "refusal");
  EXPECT_EQ(records[0].at("status"), 400);
  EXPECT_EQ(records[0].at("reason"), "invalid JSON at 1:7");
  EXPECT_EQ(records[0].at("endpoint"), "chat");
  const json::object& completion = records[1];
  EXPECT_EQ(completion.at("kind"), "completion");
  EXPECT_EQ(completion.at("decision_seq"), 7);
  EXPECT_EQ(completion.at("complete"), true);
  EXPECT_FALSE(completion.contains("bytes"));  // not counted
  EXPECT_FALSE(completion.contains("error"));
  EXPECT_EQ(completion.at("usage").at("output_tokens"), 12);
  EXPECT_EQ(completion.at("usage").at("input_tokens"), -1);
}

TEST(RecordsTest, PolicyRecordsCarryTheProvenanceOfBothPolicies) {
  policy::LoadResult loaded =
      policy::LoadPolicyFile(std::string(FIREBREAK_SOURCE_DIR) + "/policies/defense-standard.yaml");
  ASSERT_TRUE(loaded.ok());
  ActivePolicy old_policy{.core = std::move(DecisionCore::Create(loaded.policy)).value(),
                          .digest = "old",
                          .verified = true,
                          .signers = {"legal"},
                          .signer_keys = {"k1"}};
  ActivePolicy new_policy{.core = old_policy.core, .digest = "new"};
  std::string text;
  PolicyReloadedRecord("api", old_policy, new_policy).fields.at("old").AppendCanonical(text);
  EXPECT_THAT(text, HasSubstr("\"digest\":\"old\""));
  EXPECT_THAT(text, HasSubstr("\"signed\":true"));
  EXPECT_THAT(text, HasSubstr("\"signers\":[\"legal\"]"));
  const audit::AuditRecord refused = PolicyRefusedRecord("inotify", "bad", "p.yaml", new_policy);
  EXPECT_EQ(refused.kind, "policy.refused");
  EXPECT_EQ(*refused.fields.at("reason").AsString(), "bad");
  const audit::AuditRecord start =
      LifecycleStartRecord("serve", "group", new_policy, "p.yaml", {{"listen", "127.0.0.1:1"}});
  text.clear();
  audit::Value(start.fields).AppendCanonical(text);
  EXPECT_THAT(text, HasSubstr("\"command\":\"serve\""));
  EXPECT_THAT(text, HasSubstr("\"listen\":\"127.0.0.1:1\""));
  EXPECT_THAT(text, HasSubstr("\"path\":\"p.yaml\""));
  EXPECT_EQ(LifecycleStopRecord().kind, "lifecycle.stop");
}

}  // namespace
}  // namespace firebreak::exchange
