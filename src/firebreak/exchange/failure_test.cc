// The failure table is complete and is the README's: every kind has its
// row in order, a unique name, an answer, a record or a reason, a metric.
#include "firebreak/exchange/failure.h"

#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>
#include <string>

namespace firebreak::exchange {
namespace {

TEST(FailureTest, EveryKindHasItsRowInOrderWithEverythingFilledIn) {
  std::set<std::string_view> names;
  for (int i = 0; i < kFailureCount; ++i) {
    const FailureSpec& f = Failures()[i];
    EXPECT_EQ(static_cast<int>(f.failure), i) << f.name;
    EXPECT_TRUE(names.insert(f.name).second) << f.name;
    EXPECT_FALSE(f.answer.empty()) << f.name;
    EXPECT_FALSE(f.record.empty()) << f.name;
    EXPECT_TRUE(f.metric.starts_with("firebreak_")) << f.name;
    EXPECT_TRUE(f.status == 0 || (f.status >= 400 && f.status < 600)) << f.name;
  }
  EXPECT_EQ(SpecOf(Failure::kPolicyRefused).name, "policy_refused");
}

TEST(FailureTest, TheReadmeListsEveryKindWithItsRecordAndMetric) {
  std::ifstream in(std::string(FIREBREAK_SOURCE_DIR) + "/README.md");
  std::stringstream text;
  text << in.rdbuf();
  const std::string readme = text.str();
  const std::size_t section = readme.find("### Failures");
  ASSERT_NE(section, std::string::npos);
  for (const FailureSpec& f : Failures()) {
    const std::size_t row = readme.find("| `" + std::string(f.name) + "` |", section);
    ASSERT_NE(row, std::string::npos) << f.name << " has no row in README's Failures table";
    const std::string line = readme.substr(row, readme.find('\n', row) - row);
    // The metric's name and the record's kind (or "none") as the table has them.
    const std::string_view metric = f.metric.substr(0, f.metric.find('{'));
    EXPECT_NE(line.find(metric), std::string::npos) << line;
    const std::string_view record = f.record.substr(0, f.record.find_first_of(",: "));
    EXPECT_NE(line.find(record), std::string::npos) << line;
  }
}

}  // namespace
}  // namespace firebreak::exchange
