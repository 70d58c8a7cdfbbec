#include "firebreak/tui/dashboard.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace firebreak::tui {
namespace {

using ::testing::HasSubstr;

std::string Screen(const Canvas& c) {
  std::string out;
  for (int r = 0; r < c.rows(); ++r) {
    out += c.Line(r) + "\n";
  }
  return out;
}

base::PolicyEvent Policy(bool verified) {
  return {0,
          "defense-standard",
          "2.0",
          "2026-02-28",
          "74bbe3c1f1fa6e11e2691d2a",
          verified,
          {{"ai_provider", "Anthropic", true, "valid"},
           {"deploying_org", "DoD CDAO", verified, verified ? "valid" : "missing"}},
          7,
          "test"};
}

base::DecisionEvent Decision(std::uint64_t seq, base::EventVerdict decision, std::string rule) {
  base::DecisionEvent d;
  d.time_micros = 1'700'000'000'000'000 + static_cast<std::int64_t>(seq) * 1'000'000;
  d.request_id = "r" + std::to_string(seq);
  d.prompt = "Build a system to track all phone calls of every citizen and flag dissenters.";
  d.categories = {{"bulk_surveillance", 0.93}};
  d.decision = decision;
  d.rules = {std::move(rule)};
  d.intent = "bulk_surveillance";
  d.audit_level = "critical";
  d.seq = seq;
  d.note = "Mass domestic surveillance — hard block";
  d.outcome = "blocked: never reached the model";
  return d;
}

DashboardState Sample(bool verified) {
  DashboardState s;
  s.Apply(Policy(verified));
  for (std::uint64_t i = 1; i <= 7; ++i) {
    s.Apply(
        Decision(i, i % 2 ? base::EventVerdict::kAllow : base::EventVerdict::kBlock,
                 i % 2 ? "allow-analysis" : "block-surveillance"));
  }
  s.Apply(base::AlertEvent{0, 6, "critical", "block-surveillance", "trust_safety",
                                  base::AlertDelivery::kQueued, ""});
  s.Apply(
      base::AlertEvent{0, 6, "critical", "block-surveillance", "inspector_general",
                                  base::AlertDelivery::kQueued, ""});
  s.Apply(
      base::AlertEvent{0, 6, "critical", "block-surveillance", "trust_safety",
                                  base::AlertDelivery::kDelivered, ""});
  return s;
}

// What a judge said shows in the request panel, under the rule.
TEST(DashboardTest, TheRequestPanelSaysWhatTheJudgeSaid) {
  DashboardState s = Sample(true);
  base::DecisionEvent d = Decision(8, base::EventVerdict::kAllow, "allow-analysis");
  d.judge = "gpt-4o-mini: summarization 0.90 (cached)";
  s.Apply(d);
  Canvas c(30, 100);
  Draw(s, {}, c);
  EXPECT_THAT(Screen(c), HasSubstr("judge       gpt-4o-mini: summarization 0.90 (cached)"));
}

TEST(DashboardTest, FourPanelsFitIn80x24) {
  Canvas c(24, 80);
  Draw(Sample(true), {.footer = "q quit"}, c);
  const std::string screen = Screen(c);
  EXPECT_THAT(screen, HasSubstr("Policy"));
  EXPECT_THAT(screen, HasSubstr("defense-standard v2.0"));
  EXPECT_THAT(screen, HasSubstr("digest    74bbe3c1f1fa6e11"));
  EXPECT_THAT(screen, HasSubstr("✓ ai_provider (Anthropic)"));
  EXPECT_THAT(screen, HasSubstr("✓ deploying_org (DoD CDAO)"));
  EXPECT_THAT(screen, HasSubstr("Incoming request"));
  EXPECT_THAT(screen, HasSubstr("bulk_surveillance 0.93"));
  EXPECT_THAT(screen, HasSubstr("decision     ALLOW   audit critical"));
  EXPECT_THAT(screen, HasSubstr("History (7)"));
  EXPECT_THAT(screen, HasSubstr("Alerts (1)"));
  EXPECT_THAT(screen, HasSubstr("block-surveillance → trust_safety ✓  inspector_general …"));
  EXPECT_THAT(c.Line(23), HasSubstr("q quit"));
  EXPECT_EQ(screen.find("UNSIGNED"), std::string::npos);
  // The ALLOW in the request panel is green, the BLOCKs in the history red.
  const int row = static_cast<int>(
      std::count(screen.begin(), screen.begin() + screen.find("decision     ALLOW"), '\n'));
  const int col = TextWidth(c.Line(row).substr(0, c.Line(row).find("ALLOW")));
  EXPECT_EQ(c.at(row, col).style, Style::kAllow);
  for (int r = 0; r < 24; ++r) {
    EXPECT_LE(TextWidth(c.Line(r)), 80) << r;
  }
}

TEST(DashboardTest, AnUnsignedPolicyIsFlaggedInTheTitleAndThePanel) {
  Canvas c(24, 80);
  Draw(Sample(false), {}, c);
  EXPECT_THAT(c.Line(0), HasSubstr("UNSIGNED POLICY"));
  EXPECT_THAT(Screen(c), HasSubstr("✗ deploying_org: missing"));
}

TEST(DashboardTest, SmallTerminalsDegradeToOneLinePerPanel) {
  Canvas c(12, 60);
  Draw(Sample(true), {.footer = "q quit"}, c);
  const std::string screen = Screen(c);
  EXPECT_THAT(c.Line(1), HasSubstr("defense-standard v2.0"));
  EXPECT_THAT(c.Line(2), HasSubstr("ALLOW allow-analysis"));
  EXPECT_THAT(screen, HasSubstr("BLOCK block-surveillance"));
  EXPECT_THAT(c.Line(10), HasSubstr("alerts 1, last: block-surveillance"));
  Canvas tiny(4, 20);
  Draw(Sample(true), {}, tiny);
  EXPECT_THAT(tiny.Line(0), HasSubstr("FIREBREAK"));
}

TEST(CanvasTest, WideAndCombiningGlyphsTakeTheirCells) {
  EXPECT_EQ(TextWidth("abc"), 3);
  EXPECT_EQ(TextWidth("✓"), 1);
  EXPECT_EQ(TextWidth("日本"), 4);
  EXPECT_EQ(TextWidth("e\u0301"), 1);
  Canvas c(1, 6);
  EXPECT_EQ(c.Put(0, 0, "a日本語"), 5);  // the third wide glyph does not fit
  EXPECT_EQ(c.Line(0), "a日本");
}

TEST(CanvasTest, WrapBreaksAtSpacesCutsLongWordsAndMarksWhatIsLeftOut) {
  EXPECT_EQ(Wrap("one two three four", 9, 5),
            (std::vector<std::string>{"one two", "three", "four"}));
  EXPECT_EQ(Wrap("abcdefghij", 4, 5), (std::vector<std::string>{"abcd", "efgh", "ij"}));
  EXPECT_EQ(Wrap("one two three four", 9, 2), (std::vector<std::string>{"one two", "three…"}));
  EXPECT_TRUE(Wrap("", 9, 2).empty());
}

}  // namespace
}  // namespace firebreak::tui
