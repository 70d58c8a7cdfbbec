#include "firebreak/base/event.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace firebreak::base {
namespace {

using ::testing::HasSubstr;

TEST(EventTest, EveryKindRoundTripsThroughJson) {
  PolicyEvent policy{1,
                     "defense-standard",
                     "2.0",
                     "2026-02-28",
                     "ab12",
                     true,
                     {{"ai_provider", "Anthropic", true, "valid"},
                      {"deploying_org", "DoD CDAO", false, "missing"}},
                     7,
                     "serve"};
  DecisionEvent decision;
  decision.time_micros = 2;
  decision.request_id = "fb-1";
  decision.prompt = "Track every citizen";
  decision.categories = {{"bulk_surveillance", 0.93}};
  decision.decision = EventVerdict::kBlock;
  decision.rules = {"block-surveillance"};
  decision.intent = "bulk_surveillance";
  decision.audit_level = "critical";
  decision.seq = 9;
  decision.constraints = {"none"};
  decision.note = "hard block";
  decision.outcome = "blocked";
  AlertEvent alert{3, 9, "critical", "block-surveillance", "trust_safety",
                   AlertDelivery::kDelivered, ""};
  for (const Event& e :
       {Event(policy), Event(decision), Event(alert), Event(StatusEvent{4, "hi"})}) {
    StatusOr<Event> back = ParseEvent(EventJson(e));
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(EventJson(*back), EventJson(e)) << EventKind(e);
  }
  StatusOr<Event> p = ParseEvent(EventJson(policy));
  EXPECT_EQ(std::get<PolicyEvent>(*p).signatories[1].state, "missing");
  EXPECT_FALSE(ParseEvent(R"({"kind":"weather"})").ok());
  EXPECT_FALSE(ParseEvent("[1]").ok());
}

// Events carry their version; a reader reads its own and the unversioned
// ones of proxies before it, and refuses a newer version or a decision or
// delivery state it does not know rather than show something else.
TEST(EventTest, EventsAreVersionedAndTheirEnumsChecked) {
  const std::string json = EventJson(StatusEvent{1, "hi"});
  EXPECT_TRUE(json.starts_with(R"({"v":1,"kind":"status")")) << json;
  EXPECT_TRUE(ParseEvent(R"({"kind":"status","time":1,"text":"hi"})").ok());
  EXPECT_THAT(ParseEvent(R"({"v":2,"kind":"status","text":"hi"})").status().message(),
              HasSubstr("event version 2: this reader knows 1"));
  StatusOr<Event> allow = ParseEvent(R"({"v":1,"kind":"decision","decision":"ALLOW_CONSTRAINED"})");
  ASSERT_TRUE(allow.ok());
  EXPECT_EQ(std::get<DecisionEvent>(*allow).decision, EventVerdict::kAllowConstrained);
  EXPECT_THAT(ParseEvent(R"({"v":1,"kind":"decision","decision":"MAYBE"})").status().message(),
              HasSubstr("unknown decision 'MAYBE'"));
  EXPECT_THAT(ParseEvent(R"({"v":1,"kind":"alert","state":"lost"})").status().message(),
              HasSubstr("unknown delivery state 'lost'"));
}

TEST(EventTest, ASlowSubscriberLosesItsOldestEventsOnly) {
  EventHub hub;
  EXPECT_FALSE(hub.HasSubscribers());
  hub.Publish(PolicyEvent{.name = "p"});  // kept for late subscribers
  hub.Publish(StatusEvent{0, "listening"});
  int notified = 0;
  auto slow = hub.Subscribe(3, [&] { ++notified; });
  auto fast = hub.Subscribe(100);
  EXPECT_TRUE(hub.HasSubscribers());
  for (int i = 1; i <= 5; ++i) {
    hub.Publish(StatusEvent{i, std::to_string(i)});
  }
  EXPECT_EQ(notified, 5);
  std::vector<Event> got = slow->Take();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(std::get<StatusEvent>(got[0]).text, "3");  // policy, status, 1 and 2 dropped
  EXPECT_EQ(slow->dropped(), 4u);
  std::vector<Event> all = fast->Take();
  ASSERT_EQ(all.size(), 7u);
  EXPECT_EQ(std::get<PolicyEvent>(all[0]).name, "p");
  EXPECT_EQ(std::get<StatusEvent>(all[1]).text, "listening");
  EXPECT_EQ(fast->dropped(), 0u);
  EXPECT_TRUE(slow->Take().empty());
  slow.reset();
  fast.reset();
  hub.Publish(StatusEvent{6, "6"});
  EXPECT_FALSE(hub.HasSubscribers());
}

}  // namespace
}  // namespace firebreak::base
