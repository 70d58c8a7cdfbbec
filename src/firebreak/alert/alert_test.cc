#include "firebreak/alert/alert.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <sstream>

#include "firebreak/http/test_receiver.h"

namespace firebreak::alert {
namespace {

using ::testing::HasSubstr;
namespace json = boost::json;

constexpr const char* kPayload =
    R"({"audit_seq":7,"decision":"BLOCK","idempotency_key":"inst:7:trust_safety","instance":"inst",)"
    R"("kind":"decision","policy":"defense-standard 2.0","request_id":"req-1","rule":"block-surveillance",)"
    R"("rules":["block-surveillance"],"severity":"critical","summary":"BLOCK by block-surveillance: Mass domestic surveillance","target":"trust_safety","time":"2026-11-28T00:00:00.000000Z"})";

// An in-memory outbox.
class MemoryStore : public AlertStore {
 public:
  std::vector<PendingAlert> pending;
  std::map<std::int64_t, std::int64_t> next_attempt;
  std::vector<std::int64_t> delivered;
  std::vector<std::string> errors;
  std::int64_t now = 0;

  base::StatusOr<std::vector<PendingAlert>> Due(std::size_t) override {
    std::vector<PendingAlert> due;
    for (const PendingAlert& a : pending) {
      if (next_attempt[a.id] <= now) {
        due.push_back(a);
      }
    }
    return due;
  }
  base::Status Delivered(std::int64_t id) override {
    delivered.push_back(id);
    std::erase_if(pending, [&](const PendingAlert& a) { return a.id == id; });
    return base::Status::Ok();
  }
  base::Status Retry(std::int64_t id, int attempts, std::int64_t next,
                     std::string_view error) override {
    for (PendingAlert& a : pending) {
      if (a.id == id) {
        a.attempts = attempts;
      }
    }
    next_attempt[id] = next;
    errors.emplace_back(error);
    return base::Status::Ok();
  }
};

class SenderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    port_ = receiver_.Start();
    ASSERT_NE(port_, 0);
    store_.pending.push_back({1, "trust_safety", "inst:7:trust_safety", kPayload, 0});
  }
  std::string Url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/hook"; }
  Sender MakeSender(TargetType type) {
    AlertTarget target{"trust_safety", type, Url(), {{"Authorization", "Bearer t"}}, "R0UTING"};
    SenderOptions options;
    options.now_micros = [this] { return store_.now; };
    options.log = &log_;
    return Sender(store_, {{"trust_safety", target}}, options);
  }
  json::object Body(std::size_t i) const {
    return json::parse(receiver_.requests().at(i).body).as_object();
  }

  http::TestReceiver receiver_;
  unsigned short port_ = 0;
  MemoryStore store_;
  std::ostringstream log_;
};

TEST_F(SenderTest, WebhookGetsTheAlertObjectAndAnIdempotencyKey) {
  Sender sender = MakeSender(TargetType::kWebhook);
  EXPECT_EQ(sender.RunOnce(), 1u);
  ASSERT_EQ(receiver_.requests().size(), 1u);
  const http::ReceivedRequest r = receiver_.requests()[0];
  EXPECT_EQ(r.target, "/hook");
  EXPECT_EQ(r.headers.at("idempotency-key"), "inst:7:trust_safety");
  EXPECT_EQ(r.headers.at("authorization"), "Bearer t");
  EXPECT_EQ(r.headers.at("content-type"), "application/json");
  EXPECT_EQ(r.body, kPayload);
  EXPECT_EQ(store_.delivered, std::vector<std::int64_t>{1});
}

TEST_F(SenderTest, SlackGetsATextMessage) {
  Sender sender = MakeSender(TargetType::kSlack);
  ASSERT_EQ(sender.RunOnce(), 1u);
  json::object body = Body(0);
  ASSERT_EQ(body.size(), 1u);
  EXPECT_THAT(std::string(body.at("text").as_string()),
              HasSubstr("[Firebreak] critical: BLOCK by block-surveillance"));
  EXPECT_THAT(std::string(body.at("text").as_string()),
              HasSubstr("(request req-1, audit inst:7:trust_safety)"));
}

TEST(RenderRequestTest, ASummaryOnSlackNamesItsAuditRecordAndNoRequest) {
  const AlertTarget slack{"soc", TargetType::kSlack, "https://hooks.example/x", {}, ""};
  const PendingAlert summary{
      3, "soc", "inst:9:soc",
      R"({"folded":4,"kind":"alert_summary","rule":"block-surveillance","severity":"critical",)"
      R"("summary":"4 more alerts of rule block-surveillance to soc folded"})",
      0};
  base::StatusOr<http::Request> r = RenderRequest(slack, summary);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(json::parse(r->body).at("text").as_string(),
            "[Firebreak] critical: 4 more alerts of rule block-surveillance to soc folded "
            "(audit inst:9:soc)");
}

TEST_F(SenderTest, PagerDutyGetsAnEventsV2Trigger) {
  Sender sender = MakeSender(TargetType::kPagerDuty);
  ASSERT_EQ(sender.RunOnce(), 1u);
  json::object body = Body(0);
  EXPECT_EQ(body.at("routing_key").as_string(), "R0UTING");
  EXPECT_EQ(body.at("event_action").as_string(), "trigger");
  EXPECT_EQ(body.at("dedup_key").as_string(), "inst:7:trust_safety");
  const json::object& payload = body.at("payload").as_object();
  EXPECT_EQ(payload.at("severity").as_string(), "critical");
  EXPECT_EQ(payload.at("source").as_string(), "firebreak/inst");
  EXPECT_EQ(payload.at("custom_details").as_object().at("rule").as_string(), "block-surveillance");
}

TEST_F(SenderTest, RetriesWithBackoffUntilTheReceiverAccepts) {
  Sender sender = MakeSender(TargetType::kWebhook);
  receiver_.set_status(503);
  EXPECT_EQ(sender.RunOnce(), 0u);
  ASSERT_EQ(store_.errors.size(), 1u);
  EXPECT_EQ(store_.errors[0], "HTTP 503");
  const std::int64_t first = store_.next_attempt[1];
  EXPECT_GE(first, 250'000);  // 500 ms * [0.5, 1.5)
  EXPECT_LT(first, 750'000);
  EXPECT_EQ(sender.RunOnce(), 0u);  // not due yet: nothing sent
  EXPECT_EQ(receiver_.requests().size(), 1u);

  receiver_.Stop();  // down for a while
  store_.now = first;
  EXPECT_EQ(sender.RunOnce(), 0u);
  EXPECT_THAT(store_.errors[1], HasSubstr("refused"));
  const std::int64_t second = store_.next_attempt[1] - first;
  EXPECT_GE(second, 500'000);  // 1 s * [0.5, 1.5)
  EXPECT_LT(second, 1'500'000);

  ASSERT_EQ(receiver_.Start(port_), port_);  // back
  receiver_.set_status(200);
  store_.now = store_.next_attempt[1];
  EXPECT_EQ(sender.RunOnce(), 1u);
  const std::vector<http::ReceivedRequest> got = receiver_.requests();
  ASSERT_EQ(got.size(), 2u);
  // The retry is the same alert: receivers deduplicate on the key.
  EXPECT_EQ(got[0].headers.at("idempotency-key"), got[1].headers.at("idempotency-key"));
  EXPECT_EQ(got[0].body, got[1].body);
}

TEST_F(SenderTest, AnUnknownTargetStaysPendingWithAReason) {
  store_.pending[0].target = "nobody";
  Sender sender = MakeSender(TargetType::kWebhook);
  EXPECT_EQ(sender.RunOnce(), 0u);
  ASSERT_EQ(store_.errors.size(), 1u);
  EXPECT_THAT(store_.errors[0], HasSubstr("no alert target named 'nobody'"));
  EXPECT_EQ(store_.pending.size(), 1u);
}

TEST_F(SenderTest, LogTargetsWriteTheAlertToTheLog) {
  Sender sender = MakeSender(TargetType::kLog);
  EXPECT_EQ(sender.RunOnce(), 1u);
  EXPECT_THAT(log_.str(), HasSubstr(std::string("alert ") + kPayload));
  EXPECT_TRUE(receiver_.requests().empty());
}

TEST_F(SenderTest, SendNowDeliversOnceOutsideTheOutbox) {
  Sender sender = MakeSender(TargetType::kWebhook);
  const PendingAlert urgent{0, "trust_safety", "inst:audit-failure:trust_safety",
                            R"({"kind":"audit_failure","severity":"critical","summary":"x"})", 0};
  EXPECT_TRUE(sender.SendNow(urgent).ok());
  ASSERT_EQ(receiver_.requests().size(), 1u);
  EXPECT_EQ(receiver_.requests()[0].headers.at("idempotency-key"),
            "inst:audit-failure:trust_safety");
  EXPECT_TRUE(store_.delivered.empty());  // the outbox was not touched
  receiver_.Stop();
  base::Status down = sender.SendNow(urgent);
  EXPECT_EQ(down.code(), base::StatusCode::kUnavailable);
  EXPECT_THAT(log_.str(), HasSubstr("failed"));
}

TEST(TargetTypeTest, Parses) {
  EXPECT_EQ(ParseTargetType("pagerduty"), TargetType::kPagerDuty);
  EXPECT_FALSE(ParseTargetType("email").has_value());
}

}  // namespace
}  // namespace firebreak::alert
