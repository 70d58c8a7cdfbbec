#include "firebreak/base/spelling.h"

#include <gtest/gtest.h>

namespace firebreak::base {
namespace {

TEST(NearestSpelling, WithinTwoEditsTheFirstOfTheNearest) {
  const std::vector<std::string_view> names = {"serve", "verify", "server"};
  EXPECT_EQ(NearestSpelling("serv", names), "serve");     // 1 edit from both serve and server
  EXPECT_EQ(NearestSpelling("verfiy", names), "verify");  // 2 edits
  EXPECT_EQ(NearestSpelling("nosuch", names), std::nullopt);
  EXPECT_EQ(NearestSpelling("x", {}), std::nullopt);
}

}  // namespace
}  // namespace firebreak::base
