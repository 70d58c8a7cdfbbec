#include "firebreak/exchange/receipt.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "firebreak/base/digest.h"

namespace firebreak::exchange {
namespace {

using ::testing::HasSubstr;

Receipt Sample() {
  return {"0123abcd",
          "fb-1-7",
          "BLOCK",
          {"block-surveillance", "default"},
          std::string(64, 'e'),
          42,
          std::string(64, 'f')};
}

TEST(ReceiptTest, RoundTripsThroughItsSignature) {
  base::StatusOr<base::SigningKey> key = base::SigningKey::Generate();
  ASSERT_TRUE(key.ok());
  const std::string token = SignReceipt(Sample(), *key);
  EXPECT_TRUE(token.starts_with("fbr1."));
  base::StatusOr<Receipt> r = VerifyReceipt(token, key->PublicPem());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->instance, "0123abcd");
  EXPECT_EQ(r->request_id, "fb-1-7");
  EXPECT_EQ(r->decision, "BLOCK");
  EXPECT_EQ(r->rules, (std::vector<std::string>{"block-surveillance", "default"}));
  EXPECT_EQ(r->policy, std::string(64, 'e'));
  EXPECT_EQ(r->seq, 42u);
  EXPECT_EQ(r->record_hash, std::string(64, 'f'));
}

TEST(ReceiptTest, AnyChangeOrAnotherKeyFails) {
  base::StatusOr<base::SigningKey> key = base::SigningKey::Generate();
  base::StatusOr<base::SigningKey> other = base::SigningKey::Generate();
  ASSERT_TRUE(key.ok() && other.ok());
  const std::string token = SignReceipt(Sample(), *key);
  // The payload re-signed by another key is not this instance's receipt.
  EXPECT_FALSE(VerifyReceipt(token, other->PublicPem()).ok());

  // Change one field of the payload and keep the signature.
  const std::size_t dot = token.rfind('.');
  std::string payload;
  ASSERT_TRUE(base::Base64UrlDecode(token.substr(5, dot - 5), payload));
  for (auto [from, to] :
       {std::pair{"\"BLOCK\"", "\"ALLOW\""}, {"42", "43"}, {"fb-1-7", "fb-1-8"}}) {
    std::string changed = payload;
    changed.replace(changed.find(from), std::string_view(from).size(), to);
    const std::string forged = "fbr1." + base::Base64UrlEncode(changed) + token.substr(dot);
    base::StatusOr<Receipt> r = VerifyReceipt(forged, key->PublicPem());
    ASSERT_FALSE(r.ok()) << from;
    EXPECT_THAT(r.status().message(), HasSubstr("does not verify"));
  }
  EXPECT_THAT(VerifyReceipt("fbr1.abc", key->PublicPem()).status().message(),
              HasSubstr("malformed"));
  EXPECT_THAT(VerifyReceipt("jwt.abc.def", key->PublicPem()).status().message(),
              HasSubstr("not a Firebreak receipt"));
}

// A payload the key did sign but that is not a receipt's is refused as a
// value (fuzz/corpus/receipt/regression-seq-*: a sequence number that is
// negative, fractional or too large threw from Boost.JSON's to_number).
TEST(ReceiptTest, ASignedPayloadThatIsNotAReceiptIsRefused) {
  base::StatusOr<base::SigningKey> key = base::SigningKey::Generate();
  ASSERT_TRUE(key.ok());
  auto sign = [&](const std::string& seq) {
    const std::string payload =
        R"({"decision":"BLOCK","instance":"i","policy":"p","record_hash":"h","request_id":"r",)"
        R"("rules":["x"],"seq":)" +
        seq + "}";
    return "fbr1." + base::Base64UrlEncode(payload) + "." +
           base::Base64UrlEncode(key->Sign("firebreak-receipt/1\n" + payload));
  };
  for (const char* seq : {"-1", "1.5", "4.0", "1e30", "18446744073709551616", "\"7\"", "null"}) {
    base::StatusOr<Receipt> r = VerifyReceipt(sign(seq), key->PublicPem());
    ASSERT_FALSE(r.ok()) << seq;
    EXPECT_THAT(r.status().message(), HasSubstr("not a Firebreak receipt")) << seq;
  }
  base::StatusOr<Receipt> largest = VerifyReceipt(sign("18446744073709551615"), key->PublicPem());
  ASSERT_TRUE(largest.ok()) << largest.status().ToString();
  EXPECT_EQ(largest->seq, 18446744073709551615u);
  base::StatusOr<Receipt> zero = VerifyReceipt(sign("0"), key->PublicPem());
  ASSERT_TRUE(zero.ok()) << zero.status().ToString();
  EXPECT_EQ(zero->seq, 0u);
}

}  // namespace
}  // namespace firebreak::exchange
