#include "firebreak/base/status.h"

#include <gtest/gtest.h>

#include "firebreak/base/digest.h"

namespace firebreak::base {
namespace {

TEST(StatusTest, ContextIsPrepended) {
  Status s = InvalidArgument("bad value").WithContext("in policy.yaml:3:5");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "in policy.yaml:3:5: bad value");
  EXPECT_TRUE(Status::Ok().WithContext("ignored").ok());
}

TEST(StatusTest, StatusOrHoldsValueOrError) {
  StatusOr<int> v = 7;
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, 7);
  StatusOr<int> e = NotFound("nope");
  EXPECT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), StatusCode::kNotFound);
}

TEST(DigestTest, Sha256KnownAnswer) {
  EXPECT_EQ(ToHex(Sha256Of("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

}  // namespace
}  // namespace firebreak::base
