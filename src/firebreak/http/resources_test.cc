#include "firebreak/http/resources.h"

#include <gtest/gtest.h>
#include <malloc.h>

#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "firebreak/base/sanitizers.h"

namespace firebreak::http {
namespace {

TEST(BodyBudgetTest, ReservesUpToTheLimitAndNoFurther) {
  BodyBudget budget(100);
  EXPECT_TRUE(budget.Reserve(60));
  EXPECT_FALSE(budget.Reserve(41));
  EXPECT_EQ(budget.in_flight(), 60u);
  EXPECT_TRUE(budget.Reserve(40));
  EXPECT_FALSE(budget.Reserve(1));
  budget.Release(60);
  EXPECT_TRUE(budget.Reserve(0));
  EXPECT_TRUE(budget.Reserve(60));
  EXPECT_FALSE(budget.Reserve(static_cast<std::size_t>(-1)));
  EXPECT_EQ(budget.in_flight(), 100u);
}

TEST(BodyBudgetTest, NeverPassesTheLimitUnderContention) {
  BodyBudget budget(1000);
  std::atomic<std::size_t> peak{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20'000; ++i) {
        if (budget.Reserve(300)) {
          std::size_t now = budget.in_flight();
          std::size_t seen = peak.load();
          while (now > seen && !peak.compare_exchange_weak(seen, now)) {
          }
          budget.Release(300);
        }
      }
    });
  }
  for (std::thread& t : threads) {
    t.join();
  }
  EXPECT_LE(peak.load(), 1000u);
  EXPECT_EQ(budget.in_flight(), 0u);
}

TEST(ConnectionsForTest, TwoDescriptorsPerConnectionAfterASpare) {
  EXPECT_EQ(ConnectionsFor(1024, 20), (1024u - 20 - 64) / 2);
  EXPECT_EQ(ConnectionsFor(1'048'576, 30), (1'048'576u - 30 - 64) / 2);
  EXPECT_EQ(ConnectionsFor(64, 20), 1u);
  EXPECT_EQ(ConnectionsFor(0, 0), 1u);
}

TEST(DescriptorsTest, CountsAndReservesDescriptors) {
  const DescriptorLimit limit = CurrentDescriptorLimit();
  EXPECT_GT(limit.soft, 0u);
  EXPECT_LE(limit.soft, limit.hard);
  const std::size_t open = OpenDescriptors();
  EXPECT_GT(open, 2u);  // stdin, stdout, stderr at least
  ReserveDescriptor reserve;
  EXPECT_TRUE(reserve.held());
  EXPECT_EQ(OpenDescriptors(), open + 1);
  EXPECT_TRUE(reserve.Release());
  EXPECT_FALSE(reserve.Release());
  EXPECT_FALSE(reserve.held());
  EXPECT_EQ(OpenDescriptors(), open);
  EXPECT_TRUE(reserve.Acquire());
  EXPECT_TRUE(reserve.Acquire());  // already held: no second descriptor
  EXPECT_EQ(OpenDescriptors(), open + 1);
}

constexpr bool kGlibcMalloc = !base::kAddressSanitizer;  // ASan brings its own allocator

TEST(AllocatorTest, LargeBlocksStayMappedAfterOneIsFreed) {
  if (!kGlibcMalloc) {
    GTEST_SKIP() << "not glibc's allocator";
  }
  MapLargeAllocations(1 << 20);
  // Left to itself, glibc would serve the second and third blocks from the
  // heap: freeing the first raises its threshold past their size.
  for (int i = 0; i < 3; ++i) {
    constexpr std::size_t kSize = 8 << 20;
    char* block = static_cast<char*>(std::malloc(kSize));
    ASSERT_NE(block, nullptr);
    std::memset(block, 1, kSize);
    EXPECT_GE(mallinfo2().hblkhd, kSize) << "block " << i << " is mapped";
    EXPECT_EQ(block[kSize - 1], 1);
    std::free(block);
  }
}

}  // namespace
}  // namespace firebreak::http
