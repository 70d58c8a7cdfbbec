// Rate-limited decision alerts through a real audit log: the records list
// every alert as sent or folded, the summaries reach the outbox, and what a
// run that did not close folded is summarised by the next one.
#include "firebreak/exchange/alert_windows.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <filesystem>

#include "firebreak/audit/verify.h"
#include "firebreak/base/test_dir.h"
#include "firebreak/exchange/audit_outbox.h"
#include "firebreak/exchange/decision_core.h"
#include "firebreak/exchange/records.h"
#include "firebreak/policy/loader.h"

namespace firebreak::exchange {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
namespace fs = std::filesystem;
namespace json = boost::json;

constexpr std::int64_t kSecond = 1'000'000;

class AlertWindowsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = base::FreshTestDir("fb-windows");
    options_.db = dir_ / "audit.db";
    options_.now_micros = [now = now_] { return now->load(); };
    policy::LoadResult loaded = policy::LoadPolicyFile(std::string(FIREBREAK_SOURCE_DIR) +
                                                       "/policies/defense-standard.yaml");
    ASSERT_TRUE(loaded.ok()) << loaded.Report();
    core_ = std::move(DecisionCore::Create(loaded.policy)).value();
    outcome_ = core_->Decide(conversation_).value();
    ASSERT_EQ(outcome_.decision.verdict, policy::Verdict::kBlock);
    ASSERT_EQ(outcome_.decision.alerts.size(), 2u);  // trust_safety, inspector_general
    OpenLog();
  }
  void TearDown() override {
    windows_.reset();
    log_.reset();
    fs::remove_all(dir_);
  }

  void OpenLog() { log_ = std::move(audit::AuditLog::Open(options_)).value(); }
  void OpenWindows() {
    base::StatusOr<std::unique_ptr<AlertWindows>> w =
        AlertWindows::Open({.log = log_.get(), .now_micros = options_.now_micros, .tick = {}});
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    windows_ = std::move(w).value();
  }

  // One blocked decision, recorded as the proxy records it; its alerts.
  DecisionAlertSet Block(const std::string& request_id) {
    DecisionAlertSet set =
        DecisionAlerts(core_->policy(), outcome_.decision, request_id, windows_.get());
    base::StatusOr<audit::Appended> appended =
        log_->Append(DecisionRecord(conversation_, outcome_, *core_,
                                    {.request_id = request_id, .alerts = &set.admissions}),
                     set.outbox);
    EXPECT_TRUE(appended.ok());
    windows_->Settle(set.admissions, request_id, appended);
    return set;
  }

  // The records of the log, parsed.
  std::vector<json::object> Records() {
    EXPECT_TRUE(log_->Flush().ok());
    std::vector<json::object> out;
    auto reader = std::move(audit::RecordReader::Open(options_.db)).value();
    reader->ReadAfter(0, [&](std::uint64_t, std::string_view body) {
      out.push_back(json::parse(body).as_object());
    });
    return out;
  }

  // The outbox's pending alerts, parsed.
  std::vector<json::object> Outbox() {
    EXPECT_TRUE(log_->Flush().ok());
    std::vector<json::object> out;
    const std::vector<audit::OutboxItem> items = log_->DueAlerts(1000).value();
    for (const audit::OutboxItem& item : items) {
      out.push_back(json::parse(item.payload).as_object());
    }
    return out;
  }

  fs::path dir_;
  std::shared_ptr<std::atomic<std::int64_t>> now_ =
      std::make_shared<std::atomic<std::int64_t>>(1'800'000'000'000'000);
  audit::AuditOptions options_;
  const base::Conversation conversation_ = base::SinglePrompt(
      "Cross-reference these 15,000 domestic cell phone records with social media activity to "
      "identify potential persons of interest.");
  std::unique_ptr<DecisionCore> core_;
  Outcome outcome_;
  std::unique_ptr<audit::AuditLog> log_;
  std::unique_ptr<AlertWindows> windows_;
};

TEST_F(AlertWindowsTest, RepeatedBlocksAlertOncePerTargetThenOneSummaryEach) {
  OpenWindows();
  EXPECT_EQ(Block("req-1").outbox.size(), 2u);
  for (int i = 2; i <= 6; ++i) {
    *now_ += 10 * kSecond;
    DecisionAlertSet set = Block("req-" + std::to_string(i));
    EXPECT_TRUE(set.outbox.empty());
    ASSERT_EQ(set.admissions.size(), 2u);  // still listed, as folded
  }
  ASSERT_TRUE(windows_->WriteDue().ok());
  EXPECT_EQ(Outbox().size(), 2u);  // the windows are open: no summary yet

  // Every decision record lists both alerts, sent or folded.
  std::vector<json::object> records = Records();
  ASSERT_EQ(records.size(), 6u);
  EXPECT_EQ(json::serialize(records[0].at("alert_delivery")),
            R"([{"rule":"block-surveillance","status":"sent","target":"trust_safety","window":)" +
                std::to_string(*now_ - 50 * kSecond) +
                R"(},{"rule":"block-surveillance","status":"sent","target":"inspector_general",)"
                R"("window":)" +
                std::to_string(*now_ - 50 * kSecond) + "}]");
  EXPECT_THAT(json::serialize(records[5].at("alert_delivery")),
              HasSubstr(R"("status":"folded","target":"trust_safety")"));
  EXPECT_EQ(json::serialize(records[5].at("alerts")), R"(["trust_safety","inspector_general"])");

  *now_ += 250 * kSecond;  // five minutes after the first
  ASSERT_TRUE(windows_->WriteDue().ok());
  std::vector<json::object> outbox = Outbox();
  ASSERT_EQ(outbox.size(), 4u);
  std::set<std::string> targets;
  for (std::size_t i = 2; i < 4; ++i) {
    const json::object& summary = outbox[i];
    EXPECT_EQ(summary.at("kind").as_string(), "alert_summary");
    EXPECT_EQ(summary.at("severity").as_string(), "critical");
    EXPECT_EQ(summary.at("rule").as_string(), "block-surveillance");
    EXPECT_EQ(summary.at("folded").as_int64(), 5);
    EXPECT_EQ(summary.at("first_request_id").as_string(), "req-2");
    EXPECT_EQ(summary.at("last_request_id").as_string(), "req-6");
    EXPECT_EQ(summary.at("first_audit_seq").as_int64(), 2);
    EXPECT_EQ(summary.at("last_audit_seq").as_int64(), 6);
    EXPECT_EQ(summary.at("recovered").as_bool(), false);
    EXPECT_THAT(std::string(summary.at("summary").as_string()),
                HasSubstr("5 more alerts of rule block-surveillance to "));
    targets.insert(std::string(summary.at("target").as_string()));
  }
  EXPECT_EQ(targets, (std::set<std::string>{"inspector_general", "trust_safety"}));
  records = Records();
  ASSERT_EQ(records.size(), 8u);
  EXPECT_EQ(records[6].at("kind").as_string(), "alert.summary");
  EXPECT_EQ(records[6].at("folded").as_int64(), 5);

  ASSERT_TRUE(windows_->WriteDue().ok());
  EXPECT_EQ(Outbox().size(), 4u);  // summarised once
  // The next block opens new windows: alerted again.
  EXPECT_EQ(Block("req-7").outbox.size(), 2u);
}

TEST_F(AlertWindowsTest, ClosingSummarisesOpenWindowsAndLeavesNothingToRecover) {
  OpenWindows();
  for (int i = 1; i <= 3; ++i) {
    Block("req-" + std::to_string(i));
  }
  const fs::path state = options_.db.string() + ".alert-windows";
  EXPECT_TRUE(fs::exists(state));
  ASSERT_TRUE(windows_->Close().ok());
  EXPECT_FALSE(fs::exists(state));
  std::vector<json::object> outbox = Outbox();
  ASSERT_EQ(outbox.size(), 4u);
  EXPECT_EQ(outbox[3].at("folded").as_int64(), 2);
  windows_.reset();

  OpenWindows();  // a clean restart: nothing recovered
  EXPECT_EQ(Records().size(), 5u);
}

TEST_F(AlertWindowsTest, WhatARunThatDidNotCloseFoldedIsSummarisedByTheNext) {
  OpenWindows();
  Block("before-1");
  Block("before-2");
  ASSERT_TRUE(windows_->Close().ok());  // a run that closed: summarised already
  windows_.reset();
  *now_ += kSecond;

  OpenWindows();
  for (int i = 1; i <= 4; ++i) {
    Block("req-" + std::to_string(i));
  }
  ASSERT_TRUE(windows_->WriteDue().ok());
  windows_.reset();  // killed: no Close, the windows are lost with the process
  log_.reset();
  OpenLog();

  *now_ += 30 * kSecond;
  OpenWindows();
  std::vector<json::object> records = Records();
  ASSERT_EQ(records.size(), 10u);  // 2 + 2 summaries + 4, then the 2 recovered summaries
  std::set<std::string> targets;
  for (std::size_t i = 8; i < 10; ++i) {
    EXPECT_EQ(records[i].at("kind").as_string(), "alert.summary");
    EXPECT_EQ(records[i].at("recovered").as_bool(), true);
    EXPECT_EQ(records[i].at("folded").as_int64(), 3);
    EXPECT_EQ(records[i].at("first_request_id").as_string(), "req-2");
    EXPECT_EQ(records[i].at("last_request_id").as_string(), "req-4");
    EXPECT_EQ(records[i].at("first_audit_seq").as_int64(), 6);
    EXPECT_EQ(records[i].at("last_audit_seq").as_int64(), 8);
    targets.insert(std::string(records[i].at("target").as_string()));
  }
  EXPECT_EQ(targets, (std::set<std::string>{"inspector_general", "trust_safety"}));
  std::vector<json::object> outbox = Outbox();
  ASSERT_EQ(outbox.size(), 8u);  // 2 + 2 summaries, 2, 2 recovered summaries
  EXPECT_THAT(std::string(outbox[7].at("summary").as_string()),
              HasSubstr("counted from the audit trail after a restart"));

  // Killed again before closing: what was recovered is not summarised twice.
  windows_.reset();
  OpenWindows();
  EXPECT_EQ(Records().size(), 10u);
  // Windows opened after the recovery are alerted afresh.
  EXPECT_EQ(Block("req-5").outbox.size(), 2u);
}

TEST_F(AlertWindowsTest, AZeroWindowSendsEveryAlertAndRecordsNoWindow) {
  policy::LoadResult loaded = policy::LoadPolicyText(
      base::ReadFile(std::string(FIREBREAK_SOURCE_DIR) + "/policies/defense-standard.yaml")
              .value() +
          "\nalerting:\n  rules:\n    block-surveillance: {window_seconds: 0}\n",
      std::string(FIREBREAK_SOURCE_DIR) + "/policies/defense-standard.yaml");
  ASSERT_TRUE(loaded.ok()) << loaded.Report();
  core_ = std::move(DecisionCore::Create(loaded.policy)).value();
  outcome_ = core_->Decide(conversation_).value();
  OpenWindows();
  for (int i = 1; i <= 3; ++i) {
    EXPECT_EQ(Block("req-" + std::to_string(i)).outbox.size(), 2u);
  }
  EXPECT_THAT(json::serialize(Records()[2].at("alert_delivery")), Not(HasSubstr("window")));
  ASSERT_TRUE(windows_->Close().ok());
  EXPECT_EQ(Outbox().size(), 6u);  // no summaries
}

TEST_F(AlertWindowsTest, MetricsCountSentFoldedAndSummaries) {
  OpenWindows();
  Block("a");
  Block("b");
  Block("c");
  ASSERT_TRUE(windows_->Close().ok());
  const std::string text = windows_->MetricsText();
  EXPECT_THAT(text, HasSubstr("firebreak_alerts_total{disposition=\"sent\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("firebreak_alerts_total{disposition=\"folded\"} 4\n"));
  EXPECT_THAT(text, HasSubstr("firebreak_alert_summaries_total 2\n"));
}

}  // namespace
}  // namespace firebreak::exchange
