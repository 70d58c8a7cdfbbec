#include "firebreak/alert/limiter.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <thread>

namespace firebreak::alert {
namespace {

constexpr std::int64_t kStart = 1'800'000'000'000'000;
constexpr std::int64_t kSecond = 1'000'000;
constexpr AlertLimit kFiveMinutes{300 * kSecond, 1};

class AlertLimiterTest : public ::testing::Test {
 protected:
  std::shared_ptr<std::atomic<std::int64_t>> now_ =
      std::make_shared<std::atomic<std::int64_t>>(kStart);
  AlertLimiter limiter_{[now = now_] { return now->load(); }};

  // Admits one alert and records it as `seq` of request "r<seq>".
  Disposition Alert(std::string_view rule, std::string_view target, std::uint64_t seq,
                    const AlertLimit& limit = kFiveMinutes) {
    Admission a = limiter_.Admit(rule, target, limit, "critical", "BLOCK by " + std::string(rule));
    limiter_.Recorded(a, "r" + std::to_string(seq), seq);
    return a.disposition;
  }
};

TEST_F(AlertLimiterTest, TheFirstAlertOfARuleAndTargetIsSentTheRestFolded) {
  EXPECT_EQ(Alert("block-surveillance", "trust_safety", 1), Disposition::kSent);
  EXPECT_EQ(Alert("block-surveillance", "inspector_general", 1), Disposition::kSent);
  EXPECT_EQ(Alert("block-lethal", "trust_safety", 2), Disposition::kSent);
  for (std::uint64_t seq = 3; seq < 8; ++seq) {
    *now_ += 10 * kSecond;
    EXPECT_EQ(Alert("block-surveillance", "trust_safety", seq), Disposition::kFolded);
  }
  EXPECT_EQ(limiter_.sent_total(), 3u);
  EXPECT_EQ(limiter_.folded_total(), 5u);
}

TEST_F(AlertLimiterTest, AClosedWindowThatFoldedAlertsIsSummarisedOnce) {
  Admission first = limiter_.Admit("block-surveillance", "trust_safety", kFiveMinutes, "critical",
                                   "BLOCK by block-surveillance: mass surveillance");
  limiter_.Recorded(first, "r10", 10);
  *now_ += kSecond;
  Alert("block-surveillance", "trust_safety", 12);
  *now_ += kSecond;
  Alert("block-surveillance", "trust_safety", 11);  // recorded out of order: another thread
  *now_ += kSecond;
  Alert("block-surveillance", "trust_safety", 15);
  Alert("other-rule", "trust_safety", 16);  // sent, never folds: no summary

  EXPECT_TRUE(limiter_.TakeClosed().empty());  // the window is still open
  *now_ = kStart + 300 * kSecond;
  std::vector<FoldedWindow> closed = limiter_.TakeClosed();
  ASSERT_EQ(closed.size(), 1u);
  const FoldedWindow& w = closed[0];
  EXPECT_EQ(w.rule, "block-surveillance");
  EXPECT_EQ(w.target, "trust_safety");
  EXPECT_EQ(w.severity, "critical");
  EXPECT_EQ(w.summary, "BLOCK by block-surveillance: mass surveillance");
  EXPECT_EQ(w.start, kStart);
  EXPECT_EQ(w.end, kStart + 300 * kSecond);
  EXPECT_EQ(w.sent, 1u);
  EXPECT_EQ(w.folded, 3u);
  EXPECT_EQ(w.first_seq, 11u);
  EXPECT_EQ(w.first_request_id, "r11");
  EXPECT_EQ(w.last_seq, 15u);
  EXPECT_EQ(w.last_request_id, "r15");
  EXPECT_TRUE(limiter_.TakeClosed().empty());  // handed out once
  EXPECT_EQ(limiter_.Floor(), 15u);  // only other-rule's window is held, opened after record 15

  // The next alert opens a new window and is sent.
  EXPECT_EQ(Alert("block-surveillance", "trust_safety", 20), Disposition::kSent);
  EXPECT_EQ(Alert("block-surveillance", "trust_safety", 21), Disposition::kFolded);
}

TEST_F(AlertLimiterTest, AnAlertAfterTheWindowEndedKeepsTheOldWindowForItsSummary) {
  Alert("r", "t", 1);
  Alert("r", "t", 2);                  // folded
  *now_ += 301 * kSecond;              // ended, not yet taken
  EXPECT_EQ(Alert("r", "t", 3), Disposition::kSent);  // a new window
  Alert("r", "t", 4);                  // folded into the new one
  std::vector<FoldedWindow> closed = limiter_.TakeClosed();
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed[0].folded, 1u);
  EXPECT_EQ(closed[0].last_seq, 2u);
}

TEST_F(AlertLimiterTest, MaxPerWindowAlertsAreSentBeforeFolding) {
  const AlertLimit three{60 * kSecond, 3};
  std::vector<Disposition> got;
  for (std::uint64_t seq = 1; seq <= 5; ++seq) {
    got.push_back(Alert("r", "t", seq, three));
  }
  EXPECT_THAT(got, ::testing::ElementsAre(Disposition::kSent, Disposition::kSent,
                                          Disposition::kSent, Disposition::kFolded,
                                          Disposition::kFolded));
  *now_ += 60 * kSecond;
  std::vector<FoldedWindow> closed = limiter_.TakeClosed();
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed[0].sent, 3u);
  EXPECT_EQ(closed[0].folded, 2u);
}

TEST_F(AlertLimiterTest, AZeroWindowSendsEveryAlert) {
  for (std::uint64_t seq = 1; seq <= 5; ++seq) {
    EXPECT_EQ(Alert("r", "t", seq, {0, 1}), Disposition::kSent);
  }
  *now_ += 3600 * kSecond;
  EXPECT_TRUE(limiter_.TakeClosed().empty());
  EXPECT_TRUE(limiter_.TakeAll().empty());
}

TEST_F(AlertLimiterTest, TheSummaryWaitsForTheRecordsOfItsFoldedAlerts) {
  Alert("r", "t", 1);
  Admission folded = limiter_.Admit("r", "t", kFiveMinutes);
  *now_ += 300 * kSecond;
  EXPECT_TRUE(limiter_.TakeClosed().empty());  // its record is being written
  limiter_.Recorded(folded, "late", 9);
  std::vector<FoldedWindow> closed = limiter_.TakeClosed();
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed[0].last_request_id, "late");

  // A record whose answer never comes holds its window up for a minute at most.
  Alert("r", "t", 10);
  limiter_.Admit("r", "t", kFiveMinutes);
  *now_ += 300 * kSecond;
  EXPECT_TRUE(limiter_.TakeClosed().empty());
  *now_ += 60 * kSecond;
  closed = limiter_.TakeClosed();
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed[0].folded, 1u);
  EXPECT_EQ(closed[0].first_seq, 0u);  // never recorded
}

TEST_F(AlertLimiterTest, AnAlertWhoseRecordFailedIsAsIfNeverAdmitted) {
  Admission sent = limiter_.Admit("r", "t", kFiveMinutes);
  limiter_.Abandoned(sent);  // the decision was refused: nothing was sent
  EXPECT_EQ(Alert("r", "t", 2), Disposition::kSent);
  Admission folded = limiter_.Admit("r", "t", kFiveMinutes);
  ASSERT_EQ(folded.disposition, Disposition::kFolded);
  limiter_.Abandoned(folded);
  *now_ += 300 * kSecond;
  EXPECT_TRUE(limiter_.TakeClosed().empty());  // nothing folded that was recorded
}

TEST_F(AlertLimiterTest, TakeAllClosesOpenWindowsNow) {
  Alert("r", "t", 1);
  Alert("r", "t", 2);
  *now_ += 30 * kSecond;
  std::vector<FoldedWindow> closed = limiter_.TakeAll();
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed[0].end, kStart + 30 * kSecond);  // cut short at shutdown
  EXPECT_EQ(closed[0].folded, 1u);
  EXPECT_TRUE(limiter_.TakeAll().empty());
}

TEST_F(AlertLimiterTest, TheFloorIsBelowEveryRecordOfTheWindowsHeld) {
  limiter_.Advance(100);  // the log's head at start
  Admission a = limiter_.Admit("r", "t", kFiveMinutes);
  limiter_.Recorded(a, "x", 101);
  EXPECT_EQ(limiter_.Floor(), 100u);
  Alert("r2", "t", 150);  // opened after record 101: above it
  EXPECT_EQ(limiter_.recorded_seq(), 150u);
  Alert("r", "t", 151);   // folds into the first window
  EXPECT_EQ(limiter_.Floor(), 100u);
  limiter_.TakeAll();
  EXPECT_FALSE(limiter_.Floor().has_value());
}

TEST_F(AlertLimiterTest, ConcurrentAlertsSendExactlyOnePerWindow) {
  constexpr int kThreads = 8;
  constexpr int kEach = 500;
  std::atomic<int> sent{0};
  std::atomic<std::uint64_t> seq{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kEach; ++i) {
        Admission a = limiter_.Admit("r", "t", kFiveMinutes);
        sent += a.disposition == Disposition::kSent ? 1 : 0;
        const std::uint64_t s = ++seq;
        limiter_.Recorded(a, "r" + std::to_string(s), s);
      }
    });
  }
  for (std::thread& t : threads) {
    t.join();
  }
  EXPECT_EQ(sent.load(), 1);
  *now_ += 300 * kSecond;
  std::vector<FoldedWindow> closed = limiter_.TakeClosed();
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed[0].folded, static_cast<std::uint64_t>(kThreads * kEach - 1));
  // The sent alert's record may have any sequence number, even the last.
  EXPECT_GE(closed[0].first_seq, 1u);
  EXPECT_LE(closed[0].first_seq, 2u);
  EXPECT_GE(closed[0].last_seq, static_cast<std::uint64_t>(kThreads * kEach - 1));
}

}  // namespace
}  // namespace firebreak::alert
