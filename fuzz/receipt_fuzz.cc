// Fuzz target: an x-firebreak-receipt value verified and parsed as
// `firebreak verify-receipt` does, against the fuzzing key (fuzz_key.h).
// A forged signature cannot be found by fuzzing, so the payload part of a
// well-formed token is also signed with the key and verified again, which
// takes any payload bytes to the parser behind the signature check.
// Beyond not crashing: base64url decoding is canonical (one text per
// bytes); a verified receipt signed again verifies to the same receipt.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "check.h"
#include "firebreak/base/digest.h"
#include "firebreak/exchange/receipt.h"
#include "fuzz_key.h"

namespace {

namespace base = firebreak::base;
namespace exchange = firebreak::exchange;

constexpr std::string_view kPrefix = "fbr1.";
constexpr std::string_view kDomain = "firebreak-receipt/1\n";

const base::SigningKey& Key() {
  static const base::SigningKey key = firebreak::fuzz::LoadKey(firebreak::fuzz::kFuzzPrivatePem);
  return key;
}

bool Same(const exchange::Receipt& a, const exchange::Receipt& b) {
  return a.instance == b.instance && a.request_id == b.request_id && a.decision == b.decision &&
         a.rules == b.rules && a.policy == b.policy && a.seq == b.seq &&
         a.record_hash == b.record_hash;
}

void CheckVerified(const exchange::Receipt& receipt) {
  const std::string token = exchange::SignReceipt(receipt, Key());
  auto again = exchange::VerifyReceipt(token, firebreak::fuzz::kFuzzPublicPem);
  FB_FUZZ_CHECK(again.ok(), "a receipt signed again verifies");
  FB_FUZZ_CHECK(Same(receipt, *again), "a receipt signed again says the same");
}

void CheckBase64(std::string_view text) {
  std::string bytes;
  if (base::Base64UrlDecode(text, bytes)) {
    FB_FUZZ_CHECK(base::Base64UrlEncode(bytes) == text, "base64url decoding is canonical");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view token(reinterpret_cast<const char*>(data), size);
  if (auto receipt = exchange::VerifyReceipt(token, firebreak::fuzz::kFuzzPublicPem);
      receipt.ok()) {
    CheckVerified(*receipt);
  }
  if (!token.starts_with(kPrefix)) {
    return 0;
  }
  std::string_view rest = token.substr(kPrefix.size());
  const std::string_view encoded_payload = rest.substr(0, rest.find('.'));
  CheckBase64(encoded_payload);
  if (encoded_payload.size() < rest.size()) {
    CheckBase64(rest.substr(encoded_payload.size() + 1));
  }
  std::string payload;
  if (!base::Base64UrlDecode(encoded_payload, payload)) {
    return 0;
  }
  std::string message(kDomain);
  message += payload;
  const std::string resigned = std::string(kPrefix) + std::string(encoded_payload) + "." +
                               base::Base64UrlEncode(Key().Sign(message));
  if (auto receipt = exchange::VerifyReceipt(resigned, firebreak::fuzz::kFuzzPublicPem);
      receipt.ok()) {
    CheckVerified(*receipt);
  }
  return 0;
}
