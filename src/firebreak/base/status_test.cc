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

TEST(DigestTest, Base64UrlRoundTripsAndRejectsForeignText) {
  // RFC 4648 §10 vectors, unpadded, in the URL-safe alphabet.
  EXPECT_EQ(Base64UrlEncode(""), "");
  EXPECT_EQ(Base64UrlEncode("f"), "Zg");
  EXPECT_EQ(Base64UrlEncode("foob"), "Zm9vYg");
  EXPECT_EQ(Base64UrlEncode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(Base64UrlEncode("\xfb\xff"), "-_8");
  std::string out;
  ASSERT_TRUE(Base64UrlDecode("Zm9vYmE", out));
  EXPECT_EQ(out, "fooba");
  ASSERT_TRUE(Base64UrlDecode("-_8", out));
  EXPECT_EQ(out, "\xfb\xff");
  EXPECT_FALSE(Base64UrlDecode("Zm9v+g", out));  // '+' is not URL-safe
  EXPECT_FALSE(Base64UrlDecode("Zm9vY", out));   // no length leaves one character over
  EXPECT_FALSE(Base64UrlDecode("Zh", out));      // non-zero leftover bits
}

}  // namespace
}  // namespace firebreak::base
